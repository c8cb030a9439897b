"""Messages that speak to the bot instead of the group ("ignore previous instructions", fake
``<system>`` tags): neither parser records anything from them.

User text is data, never instructions (ARCHITECTURE.md §3). The Gemini parser is told so in its
system instruction, but a model can still be steered; the rules parser cannot be steered, yet a
message written to steer a model is not a plain statement of an expense either. So one check,
shared by both, turns any intent that would change the ledger into a question when the message
addresses the bot.
"""

from __future__ import annotations

import re
import unicodedata

from chipin.parsing.intents import Intent, IntentKind, Unclear

GUARDED_KINDS = frozenset(
    {
        IntentKind.ADD_EXPENSE,
        IntentKind.RECORD_PAYMENT,
        IntentKind.SET_BUDGET,
        IntentKind.UNDO,
        IntentKind.EDIT_LAST,
    }
)
"""Intents that change the group's data: refused when the message addresses the bot."""

INJECTION_QUESTION = (
    "That message reads like instructions to me, so I won't record anything from it. "
    "Please state the expense or payment plainly, e.g. 'I paid 60 for dinner, split with Ana'."
)

_TARGETS = (
    r"(?:instructions?|prompts?|rules|directives|guidelines|guardrails|constraints|programming"
    r"|system)"
)
_INJECTION = re.compile(
    # "ignore previous instructions", "disregard all the rules above", "forget your prompt"
    r"\b(?:ignore|disregard|forget|override|overrule|bypass|skip|drop|delete|erase)\s+"
    r"(?:(?:all|any|every|of|the|your|my|these|those|previous|prior|above|earlier|former"
    r"|preceding|original|initial|system|other|existing|old|current|safety)\s+){0,4}"
    rf"{_TARGETS}\b"
    r"|\b(?:ignore|disregard|forget)\s+(?:everything|all|anything)\s+(?:above|before|else"
    r"|you\s+(?:were|have\s+been)\s+told)"
    # "system prompt", "SYSTEM:", "[system]", "### system", chat-template tokens, fake tags
    r"|\bsystem\s*(?:prompt|message|instructions?|override|note)\b"
    r"|(?:^|[\n>\]])\s*(?:system|assistant|developer)\s*:"
    r"|[\[(]\s*(?:system|admin|developer|assistant)\s*[\])]|#{2,}\s*(?:system|instructions?)\b"
    r"|<\|?\s*/?\s*(?:system|user|assistant|user_message|instructions?|prompt|im_start|im_end"
    r"|sys|inst)\s*\|?>|\[/?inst\]|<<\s*/?\s*sys\s*>>"
    # a new role or mode for the bot
    r"|\byou\s+(?:are|'re|re)\s+now\b|\byou\s+will\s+now\b|\bfrom\s+now\s+on\s*,?\s+(?:you|the"
    r"\s+bot|always)\b|\bnew\s+(?:instructions?|rules|role|task|persona)\b"
    r"|\b(?:developer|admin|god|debug|dan|unrestricted|maintenance)\s+mode\b|\bjailbr[eo]a?k"
    r"|\bact\s+as\s+(?:a|an|my|the|if\s+you|though)\b|\bpretend\s+(?:to\s+be|you|that\s+you)\b"
    r"|\brole-?play\s+as\b|\bas\s+an\s+ai\b|\blanguage\s+model\b"
    r"|\b(?:reveal|print|show|repeat|output)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+)?"
    r"(?:prompt|instructions)\b"
    r"|\b(?:record|log|add|write|save|enter)\s+(?:it|this|that)?\s*without\s+(?:asking"
    r"|confirmation|confirming|checking|validation)\b",
    re.IGNORECASE,
)
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060-\u2064\ufeff\u00ad]")
# Every alternative of _INJECTION contains one of these (in lower case): a cheap test that lets
# almost every chat message skip the long pattern.
_CUES = re.compile(
    r"instruction|prompt|rule|directive|guideline|guardrail|constraint|programming|system|ignor"
    r"|disregard|forget|assistant|developer|admin|<|\[|now|new|mode|jailbr|act\s+as|pretend|role"
    r"|as\s+an\s+ai|language|without"
)


def addresses_the_bot(text: str) -> bool:
    """Whether ``text`` tries to instruct the parser (a prompt injection) rather than state money.

    The text is normalised first (compatibility forms, zero-width characters, curly quotes), so
    "ｉｇｎｏｒｅ previous instructions" or "ig\u200bnore ..." are caught as well.
    """
    cleaned = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).replace("’", "'")
    if _CUES.search(cleaned.lower()) is None:
        return False
    return _INJECTION.search(cleaned) is not None


def refuse_if_steered(intent: Intent, text: str, *, mentions_money: bool = False) -> Intent:
    """``intent``, or an ``Unclear`` when ``text`` addresses the bot and the intent would change
    the ledger (or the text mentions money at all, with ``mentions_money``: the user is told why
    nothing was recorded). The Unclear keeps the parser's name so callers can tell who answered."""
    if (intent.kind in GUARDED_KINDS or mentions_money) and addresses_the_bot(text):
        return Unclear(question=INJECTION_QUESTION, confidence=0.0, parser=intent.parser)
    return intent
