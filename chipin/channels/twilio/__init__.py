"""WhatsApp and SMS through Twilio: inbound normalisation, outbound sending with the REST API
(and the one SMS fallback of a failed WhatsApp message), SMS segment counting and masking of
phone numbers.

The webhook routes live in ``chipin.webhooks.twilio``; phone conversations (groups without group
chats, keywords, numbered options) in ``chipin.bot.phone``.
"""
