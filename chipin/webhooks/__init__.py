"""Inbound webhooks, one module per provider: verify the sender, store in the inbox, answer 2xx.

Thin by design: normalisation lives in ``chipin.channels.<provider>``, the conversation in
``chipin.bot``; a webhook never calls a provider or a model before it answers.
"""
