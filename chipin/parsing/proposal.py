"""What the Gemini parser asks the model for (the :class:`Proposal` schema) and how a proposal
becomes an Intent: nothing in it is trusted.

The model answers JSON matching :class:`Proposal` (shaped for Gemini's schema subset: enums, lists
of ``{name, amount}`` objects, amounts as decimal strings). :func:`proposal_to_intent` resolves
every name through the roster, refuses amounts, members and currencies the message does not
contain (:mod:`chipin.parsing.grounding`; defence in depth against prompt injection, on top of the
system instruction and :mod:`chipin.parsing.safety`), builds the Intent and runs the shared
:func:`~chipin.parsing.validate.validate_intent`.
"""

from __future__ import annotations

import math
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, Field

from chipin.core.errors import ChipinError
from chipin.core.splits import (
    AdjustmentSplit,
    EqualSplit,
    ExactSplit,
    PercentSplit,
    SharesSplit,
    Split,
)
from chipin.parsing.grounding import Reader, Refused, label, quoted
from chipin.parsing.intents import (
    AddExpense,
    EditLast,
    Help,
    Intent,
    Join,
    NoIntent,
    ParseContext,
    RecordPayment,
    SetBudget,
    ShowBalances,
    ShowSpending,
    Unclear,
    Undo,
)
from chipin.parsing.safety import INJECTION_QUESTION, addresses_the_bot
from chipin.parsing.validate import validate_intent

PARSER_NAME = "gemini"


class ProposalKind(StrEnum):
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


class SplitType(StrEnum):
    EQUAL = "equal"
    EXACT = "exact"
    PERCENT = "percent"
    SHARES = "shares"
    ADJUSTMENT = "adjustment"


class Period(StrEnum):
    """The periods of intents.SPENDING_PERIODS (budgets accept week, month, year)."""

    TODAY = "today"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    LAST_WEEK = "last_week"
    LAST_MONTH = "last_month"
    LAST_YEAR = "last_year"
    ALL = "all"


class NameAmount(BaseModel):
    name: str = Field(description="A group member, spelled as in the member list.")
    amount: str = Field(description='A plain decimal number as the message states it, e.g. "20".')


class Proposal(BaseModel):
    """What the model proposes. Nothing here is trusted until validated against the text."""

    kind: ProposalKind
    amount: str | None = Field(None, description="Total as a plain decimal string, e.g. '60.50'.")
    currency: str | None = Field(None, description="ISO 4217 code if the message names one.")
    payers: list[NameAmount] = Field(
        default_factory=list,
        description="Who paid how much. Empty when the speaker paid everything.",
    )
    split_type: SplitType | None = None
    participants: list[str] = Field(
        default_factory=list, description="Members sharing an equal or adjustment split."
    )
    split_parts: list[NameAmount] = Field(
        default_factory=list,
        description="Exact amounts, percentages, share weights, or +/- adjustments per member.",
    )
    debtor: str | None = Field(None, description="record_payment: who paid the money.")
    creditor: str | None = Field(None, description="record_payment: who received it.")
    method: str | None = None
    description: str | None = None
    category: str | None = None
    date: str | None = Field(None, description="YYYY-MM-DD when the message says which day.")
    period: Period | None = None
    member: str | None = None
    confidence: float = Field(description="0 to 1: how sure you are every field is right.")


WRITE_PROPOSALS = frozenset(
    {
        ProposalKind.ADD_EXPENSE,
        ProposalKind.RECORD_PAYMENT,
        ProposalKind.SET_BUDGET,
        ProposalKind.UNDO,
        ProposalKind.EDIT_LAST,
    }
)
UNCLEAR_QUESTION = (
    "Sorry, I couldn't read that safely. Could you say it plainly, e.g. "
    "'I paid 60 for dinner, split with Ana and Raj' or 'I paid Raj 20'?"
)


def proposal_to_intent(proposal: Proposal, text: str, ctx: ParseContext) -> Intent:
    """The validated Intent a proposal stands for, or an ``Unclear`` asking what is missing."""
    confidence = proposal.confidence if math.isfinite(proposal.confidence) else 0.0
    confidence = min(1.0, max(0.0, confidence))
    if proposal.kind in WRITE_PROPOSALS and addresses_the_bot(text):
        return Unclear(question=INJECTION_QUESTION, confidence=0.0, parser=PARSER_NAME)
    try:
        intent = _build(proposal, Reader(text, ctx), confidence)
    except Refused as refused:
        return Unclear(question=refused.question, confidence=0.0, parser=PARSER_NAME)
    except ChipinError as exc:  # a split core refuses to build (a member twice, bad weights)
        return Unclear(
            question=f"I couldn't split that: {exc}.", confidence=0.0, parser=PARSER_NAME
        )
    return validate_intent(intent, ctx)


def _build(p: Proposal, r: Reader, confidence: float) -> Intent:
    match p.kind:
        case ProposalKind.ADD_EXPENSE:
            return _build_expense(p, r, confidence)
        case ProposalKind.RECORD_PAYMENT:
            currency = r.currency(p.currency)
            amount = r.minor(p.amount, currency, "amount")
            r.require_grounded([r.decimal(p.amount, "amount")])
            if not p.debtor or not p.creditor:
                raise Refused("Who paid whom?")
            return RecordPayment(
                debtor=r.member(p.debtor),
                creditor=r.member(p.creditor),
                amount=amount,
                currency=currency,
                method=label(p.method),
                date=r.date(p.date),
                confidence=confidence,
                parser=PARSER_NAME,
            )
        case ProposalKind.SET_BUDGET:
            currency = r.currency(p.currency)
            amount = r.minor(p.amount, currency, "budget")
            r.require_grounded([r.decimal(p.amount, "budget")])
            return SetBudget(
                amount=amount,
                currency=currency,
                period=p.period.value if p.period else "",
                category=label(p.category),
                confidence=confidence,
                parser=PARSER_NAME,
            )
        case ProposalKind.SHOW_SPENDING:
            return ShowSpending(
                period=p.period.value if p.period else None,
                category=label(p.category),
                member=r.member(p.member) if p.member else None,
                confidence=confidence,
                parser=PARSER_NAME,
            )
        case ProposalKind.EDIT_LAST:
            new_amount = r.decimal(p.amount, "new amount") if p.amount else None
            if new_amount is not None:
                r.require_grounded([new_amount])
            return EditLast(
                amount=new_amount,
                currency=r.currency(p.currency) if p.currency else None,
                description=quoted(p.description, r.text, 100),
                confidence=confidence,
                parser=PARSER_NAME,
            )
        case ProposalKind.UNCLEAR:
            # The model's own wording is not relayed: it could carry text injected by the message.
            return Unclear(question=UNCLEAR_QUESTION, confidence=0.0, parser=PARSER_NAME)
        case ProposalKind.SHOW_BALANCES:
            return ShowBalances(confidence=confidence, parser=PARSER_NAME)
        case ProposalKind.UNDO:
            return Undo(confidence=confidence, parser=PARSER_NAME)
        case ProposalKind.HELP:
            return Help(confidence=confidence, parser=PARSER_NAME)
        case ProposalKind.JOIN:
            return Join(confidence=confidence, parser=PARSER_NAME)
    return NoIntent(confidence=confidence, parser=PARSER_NAME)


def _build_expense(p: Proposal, r: Reader, confidence: float) -> AddExpense:
    currency = r.currency(p.currency)
    total = r.decimal(p.amount, "total")
    parts = [(r.member(x.name), r.decimal(x.amount, f"amount for {x.name}")) for x in p.split_parts]
    payers = [(r.member(x.name), r.decimal(x.amount, f"amount {x.name} paid")) for x in p.payers]
    split_type = p.split_type or (SplitType.EXACT if parts else SplitType.EQUAL)

    # Grounding. A total may be implied by amounts the text states ("20 each" -> the parts add up),
    # and one remainder per list may be derived ("the rest is mine"); core re-checks every sum.
    def adds_up(values: list[Decimal]) -> bool:
        return bool(values) and all(map(r.grounded, values)) and sum(values) == total

    exact = [v for _, v in parts] if split_type is SplitType.EXACT else []
    if not (r.grounded(total) or adds_up([v for _, v in payers]) or adds_up(exact)):
        r.require_grounded([total])
    r.require_grounded([v for _, v in payers], derived=1)
    match split_type:
        case SplitType.EXACT | SplitType.PERCENT:
            r.require_grounded([v for _, v in parts], derived=1)
        case SplitType.ADJUSTMENT:
            r.require_grounded([v for _, v in parts])
        case SplitType.SHARES:
            r.require_grounded([v for _, v in parts if v != 1])
        case SplitType.EQUAL:
            pass

    amount = r.minor(str(total), currency, "total")
    payer_minor: tuple[tuple[str, int], ...] = ((r.ctx.sender, amount),)
    if payers:
        payer_minor = tuple((m, r.minor(str(v), currency, f"amount {m} paid")) for m, v in payers)
    split: Split
    match split_type:
        case SplitType.EQUAL:
            members = r.members(p.participants) or _everyone_or_refuse(r)
            split = EqualSplit(members)
        case SplitType.EXACT:
            split = ExactSplit(
                tuple((m, r.minor(str(v), currency, f"part of {m}")) for m, v in parts)
            )
        case SplitType.PERCENT:
            split = PercentSplit(tuple(parts))
        case SplitType.SHARES:
            split = SharesSplit(tuple(parts))
        case SplitType.ADJUSTMENT:
            members = r.members(p.participants) or _everyone_or_refuse(r)
            split = AdjustmentSplit(
                members, tuple((m, r.minor(str(v), currency, f"extra for {m}")) for m, v in parts)
            )
    return AddExpense(
        payers=payer_minor,
        amount=amount,
        currency=currency,
        split=split,
        description=quoted(p.description, r.text, 100) or "",
        category=label(p.category),
        date=r.date(p.date),
        confidence=confidence,
        parser=PARSER_NAME,
    )


def _everyone_or_refuse(r: Reader) -> tuple[str, ...]:
    if set(r.ctx.members) <= r.mentioned:
        return r.ctx.members
    raise Refused("Who shared it? Name the people, or say 'everyone'.")
