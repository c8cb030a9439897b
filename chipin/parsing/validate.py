"""The checks every parser's output passes before the bot may act on it.

Neither parser is trusted (the model least of all): names must be roster members spelled as the
roster spells them, amounts positive and bounded, currencies real ISO 4217 codes, and the entry
must build through core so its balance changes sum to zero. A failure becomes an ``Unclear``
intent carrying a question for the user, never a partial write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from chipin.core.errors import ChipinError
from chipin.core.money import is_currency
from chipin.core.splits import split_members
from chipin.parsing.intents import (
    BUDGET_PERIODS,
    SPENDING_PERIODS,
    AddExpense,
    EditLast,
    Intent,
    ParseContext,
    RecordPayment,
    SetBudget,
    ShowSpending,
    Unclear,
    to_expense,
    to_payment,
)

MAX_MINOR = 10**12
"""Amounts at or above this many minor units are refused as typos or abuse."""


class ParseRejected(ChipinError):
    """A parsed intent that must not be applied; ``question`` is what to ask the user."""

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question


def _check_members(names: Iterable[str], ctx: ParseContext) -> None:
    roster = set(ctx.members)
    for name in names:
        if name not in roster:
            raise ParseRejected(f"I don't know {name!r} in this group. Who did you mean?")


def _check_amount(minor: int) -> None:
    if isinstance(minor, bool) or not isinstance(minor, int) or minor <= 0:
        raise ParseRejected("What was the amount? It has to be more than zero.")
    if minor >= MAX_MINOR:
        raise ParseRejected("That amount looks too large. Could you check it?")


def _check_currency(code: str | None) -> None:
    if code is None or code != code.upper() or not is_currency(code):
        raise ParseRejected(f"Which currency is {code!r}? Please use a code like EUR or USD.")


def check_intent(intent: Intent, ctx: ParseContext) -> None:
    """Raise :class:`ParseRejected` when ``intent`` is unsafe to apply in this group."""
    if not 0.0 <= intent.confidence <= 1.0:
        raise ParseRejected("internal: confidence out of range")
    match intent:
        case AddExpense():
            _check_currency(intent.currency)
            _check_amount(intent.amount)
            _check_members((m for m, _ in intent.payers), ctx)
            _check_members(split_members(intent.split), ctx)
            for _, paid in intent.payers:
                _check_amount(paid)
            try:
                effects = to_expense(intent, ctx).effects()
            except ChipinError as exc:
                raise ParseRejected(f"I couldn't split that: {exc}. Who should pay what?") from exc
            if sum(effects.values()) != 0:  # pragma: no cover - core guarantees it
                raise ParseRejected("internal: balance changes do not sum to zero")
        case RecordPayment():
            _check_currency(intent.currency)
            _check_amount(intent.amount)
            _check_members((intent.debtor, intent.creditor), ctx)
            try:
                to_payment(intent, ctx)
            except ChipinError as exc:
                raise ParseRejected(f"I couldn't record that payment: {exc}.") from exc
        case SetBudget():
            _check_currency(intent.currency)
            _check_amount(intent.amount)
            if intent.period not in BUDGET_PERIODS:
                raise ParseRejected("Is that budget per week, per month or per year?")
        case ShowSpending():
            if intent.period is not None and intent.period not in SPENDING_PERIODS:
                raise ParseRejected("For which period: this week, this month or this year?")
            if intent.member is not None:
                _check_members((intent.member,), ctx)
        case EditLast():
            if intent.amount is None and not intent.description:
                raise ParseRejected("What should I change in the last entry?")
            if intent.amount is not None and not 0 < intent.amount < MAX_MINOR:
                raise ParseRejected("What should the new amount be?")
            if intent.currency is not None:
                _check_currency(intent.currency)
        case Unclear():
            if not intent.question.strip():
                raise ParseRejected("Sorry, I didn't get that. Could you say it another way?")
        case _:
            pass


def validate_intent(intent: Intent, ctx: ParseContext) -> Intent:
    """``intent`` if it is safe to apply, else an ``Unclear`` carrying the question to ask.

    The returned Unclear keeps the parser's name so the caller can tell who produced it.
    """
    try:
        check_intent(intent, ctx)
    except ParseRejected as exc:
        return Unclear(question=exc.question, confidence=0.0, parser=intent.parser)
    return intent


def with_confidence(intent: Intent, confidence: float) -> Intent:
    return dataclasses.replace(intent, confidence=confidence)
