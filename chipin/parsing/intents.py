"""What a chat message asks for: the Intent every parser returns, and its JSON form.

Intents are immutable records, one class per kind, so the bot can ``match`` on them and a parser
cannot forget a field its kind needs. Amounts are integer minor units of ``currency`` (as in
:mod:`chipin.core.money`); members are roster names exactly as the group spells them.
Every parser's output goes through :func:`chipin.parsing.validate.validate_intent` before use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import ClassVar

from chipin.core.entries import Expense, Payment
from chipin.core.money import format_minor
from chipin.core.splits import Split


class IntentKind(StrEnum):
    ADD_EXPENSE = "add_expense"
    RECORD_PAYMENT = "record_payment"
    SHOW_BALANCES = "show_balances"
    SHOW_SPENDING = "show_spending"
    SET_BUDGET = "set_budget"
    UNDO = "undo"
    EDIT_LAST = "edit_last"
    HELP = "help"
    JOIN = "join"
    NONE = "none"
    UNCLEAR = "unclear"


WRITE_KINDS = frozenset({IntentKind.ADD_EXPENSE, IntentKind.RECORD_PAYMENT})
"""Kinds that record a ledger entry (what a wrong write is counted on)."""

BUDGET_PERIODS = ("week", "month", "year")
SPENDING_PERIODS = ("today", "week", "month", "year", "last_week", "last_month", "last_year", "all")


@dataclass(frozen=True, slots=True)
class ParseContext:
    """Who is speaking in which group: everything a parser may know besides the text."""

    sender: str
    """The roster name of the member who wrote the message."""
    members: tuple[str, ...]
    """The group's roster, as the group spells the names."""
    currency: str
    """The group's default ISO 4217 currency."""
    today: dt.date
    """The message's date in the group's timezone (relative dates resolve against it)."""
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True, kw_only=True)
class _IntentBase:
    confidence: float = 1.0
    """0..1: how sure the parser is that every part was read right (the router asks Gemini
    when the rules parser is unsure)."""
    parser: str = "rules"
    """Which parser produced it: "rules" or "gemini"."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AddExpense(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.ADD_EXPENSE
    payers: tuple[tuple[str, int], ...]
    """Who paid how much (minor units, summing to ``amount``)."""
    amount: int
    """Total in minor units, > 0."""
    currency: str
    split: Split
    """Who owes what of it, keyed by roster names."""
    description: str = ""
    category: str | None = None
    date: dt.date | None = None
    """The day it happened when the message says so; None means the message's day."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordPayment(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.RECORD_PAYMENT
    debtor: str
    """Who paid (their balance goes up)."""
    creditor: str
    """Who received it."""
    amount: int
    currency: str
    method: str | None = None
    """"venmo", "pix", "upi", "cash", ... when said."""
    date: dt.date | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowBalances(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.SHOW_BALANCES


@dataclass(frozen=True, slots=True, kw_only=True)
class ShowSpending(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.SHOW_SPENDING
    period: str | None = None
    """One of SPENDING_PERIODS, or None for the default (this month)."""
    category: str | None = None
    member: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SetBudget(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.SET_BUDGET
    amount: int
    currency: str
    period: str
    """One of BUDGET_PERIODS."""
    category: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Undo(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.UNDO


@dataclass(frozen=True, slots=True, kw_only=True)
class EditLast(_IntentBase):
    """A correction of the last entry ("actually it was 70").

    ``amount`` is a Decimal in major units, not minor units: without a currency in the message
    the amount belongs to the last entry's currency, which only the ledger knows.
    """

    kind: ClassVar[IntentKind] = IntentKind.EDIT_LAST
    amount: Decimal | None = None
    currency: str | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Help(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.HELP


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(_IntentBase):
    kind: ClassVar[IntentKind] = IntentKind.JOIN


@dataclass(frozen=True, slots=True, kw_only=True)
class NoIntent(_IntentBase):
    """Talk that records nothing (IntentKind.NONE)."""

    kind: ClassVar[IntentKind] = IntentKind.NONE


@dataclass(frozen=True, slots=True, kw_only=True)
class Unclear(_IntentBase):
    """Looks like money but cannot be read safely: ask ``question`` back."""

    kind: ClassVar[IntentKind] = IntentKind.UNCLEAR
    question: str


Intent = (
    AddExpense
    | RecordPayment
    | ShowBalances
    | ShowSpending
    | SetBudget
    | Undo
    | EditLast
    | Help
    | Join
    | NoIntent
    | Unclear
)

JsonValue = str | int | float | bool | None | dict[str, str]


@lru_cache(maxsize=256)  # validation and the JSON output build the same entry
def to_expense(intent: AddExpense, ctx: ParseContext) -> Expense:
    """The core entry an AddExpense records (raises core errors when it cannot)."""
    return Expense(
        currency=intent.currency,
        amount=intent.amount,
        paid_by=intent.payers,
        split=intent.split,
        description=intent.description,
        date=intent.date or ctx.today,
        category=intent.category,
        author=ctx.sender,
    )


def to_payment(intent: RecordPayment, ctx: ParseContext) -> Payment:
    return Payment(
        currency=intent.currency,
        amount=intent.amount,
        debtor=intent.debtor,
        creditor=intent.creditor,
        date=intent.date or ctx.today,
        method=intent.method,
        author=ctx.sender,
    )


def _deltas(effects: dict[str, int], currency: str) -> dict[str, str]:
    return {m: format_minor(v, currency) for m, v in effects.items() if v}


def intent_to_json(intent: Intent, ctx: ParseContext) -> dict[str, JsonValue]:
    """The stable JSON form printed by ``chipin parse`` (amounts as minor-digit strings)."""
    out: dict[str, JsonValue] = {"intent": intent.kind.value}
    match intent:
        case AddExpense():
            out["currency"] = intent.currency
            out["deltas"] = _deltas(to_expense(intent, ctx).effects(), intent.currency)
            out["amount"] = format_minor(intent.amount, intent.currency)
            if intent.description:
                out["description"] = intent.description
            if intent.category:
                out["category"] = intent.category
            if intent.date:
                out["date"] = intent.date.isoformat()
        case RecordPayment():
            out["currency"] = intent.currency
            out["deltas"] = _deltas(to_payment(intent, ctx).effects(), intent.currency)
            out["amount"] = format_minor(intent.amount, intent.currency)
            if intent.method:
                out["method"] = intent.method
            if intent.date:
                out["date"] = intent.date.isoformat()
        case SetBudget():
            out["currency"] = intent.currency
            out["amount"] = format_minor(intent.amount, intent.currency)
            out["period"] = intent.period
            out["category"] = intent.category
        case ShowSpending():
            out["period"] = intent.period
            out["category"] = intent.category
            out["member"] = intent.member
        case EditLast():
            if intent.amount is not None:
                out["amount"] = str(intent.amount)
            if intent.currency:
                out["currency"] = intent.currency
            if intent.description:
                out["description"] = intent.description
        case Unclear():
            out["question"] = intent.question
        case _:
            pass
    out["parser"] = intent.parser
    return out
