"""Which parser answers a message: the offline rules first, Gemini when the rules are unsure.

``PARSER`` picks the mode: ``rules`` (never call Gemini), ``gemini`` (always ask Gemini, the rules
result being the fallback) or ``auto`` (the rules when they are confident, otherwise Gemini if a
key is configured). The returned Intent's ``parser`` field says who answered:

- ``"rules"``: the rules parser's result was used as is;
- ``"gemini"``: Gemini's proposal, resolved and validated (possibly an ``Unclear`` it led to);
- ``"rules-fallback"``: Gemini failed (timeout, API error, unusable output) and the answer is the
  rules result, or an ``Unclear`` asking to rephrase when the rules had nothing usable either.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Final

from chipin.parsing.gemini import GeminiError, GeminiParser
from chipin.parsing.intents import Intent, IntentKind, ParseContext, Unclear
from chipin.parsing.rules import parse_rules

logger = logging.getLogger(__name__)

MODES: Final = ("auto", "rules", "gemini")
RULES_CONFIDENT: Final = 0.9
"""In auto mode, a rules result at least this confident is used without asking Gemini."""
FALLBACK = "rules-fallback"
FALLBACK_QUESTION = (
    "Sorry, I couldn't understand that just now. Could you put it like "
    "'I paid 60 for dinner, split with Ana and Raj' or 'I paid Raj 20'?"
)


def rules_are_confident(intent: Intent, threshold: float = RULES_CONFIDENT) -> bool:
    return intent.kind is not IntentKind.UNCLEAR and intent.confidence >= threshold


async def parse_text(
    text: str,
    ctx: ParseContext,
    *,
    mode: str = "auto",
    gemini: GeminiParser | None = None,
    confident_at: float = RULES_CONFIDENT,
) -> Intent:
    """The validated Intent for ``text`` in the group described by ``ctx``.

    Raises ValueError for an unknown ``mode`` or for ``mode="gemini"`` without a parser (a
    configuration error that should stop startup, not be answered per message).
    """
    _check_mode(mode, gemini)
    rules = parse_rules(text, ctx)  # validated already
    offline = _offline_answer(rules, mode=mode, gemini=gemini, confident_at=confident_at)
    if offline is not None:
        return offline
    assert gemini is not None
    try:
        return await gemini.parse(text, ctx)
    except GeminiError as exc:
        logger.warning("gemini gave no usable answer (%s); using the rules result", exc.reason)
        return _fallback(rules)


def parse_offline(
    text: str,
    ctx: ParseContext,
    *,
    mode: str = "auto",
    gemini: GeminiParser | None = None,
    confident_at: float = RULES_CONFIDENT,
) -> Intent | None:
    """:func:`parse_text`'s answer when it needs no Gemini call, else None. Synchronous, so
    the worker can parse inside its transaction when the parse is this cheap."""
    _check_mode(mode, gemini)
    return _offline_answer(
        parse_rules(text, ctx), mode=mode, gemini=gemini, confident_at=confident_at
    )


def _check_mode(mode: str, gemini: GeminiParser | None) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown parser mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "gemini" and gemini is None:
        raise ValueError("PARSER=gemini needs a Gemini parser: set GEMINI_API_KEY")


def _offline_answer(
    rules: Intent, *, mode: str, gemini: GeminiParser | None, confident_at: float
) -> Intent | None:
    # The rules run first in every mode: they are cheap, and they are the fallback when the
    # model fails.
    if mode == "rules" or gemini is None:
        return rules
    if mode == "auto" and rules_are_confident(rules, confident_at):
        return rules
    return None


def _fallback(rules: Intent) -> Intent:
    """The rules result when it says something; otherwise a question, never silence: the message
    went to Gemini because the rules could not read it with confidence."""
    if rules.kind is IntentKind.NONE:
        return Unclear(question=FALLBACK_QUESTION, confidence=0.0, parser=FALLBACK)
    return dataclasses.replace(rules, parser=FALLBACK)
