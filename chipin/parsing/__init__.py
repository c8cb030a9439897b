"""Text to Intent: the offline rules parser, roster name resolution and the shared validation.

Public entry points: :func:`chipin.parsing.rules.parse_rules`, the intent records in
:mod:`chipin.parsing.intents`, :func:`chipin.parsing.validate.validate_intent` and
:class:`chipin.parsing.roster.Roster`.
"""
