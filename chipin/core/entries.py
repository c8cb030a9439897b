"""Ledger entries: expenses (and refunds) and payments, and their effect on balances.

An entry's *effects* are the change of each member's net balance in the entry's currency:
positive means the group owes that member more. Effects always sum to zero, which is what keeps
every per-currency balance sheet summing to zero.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from chipin.core.errors import InvalidAmount, InvalidSplit
from chipin.core.money import normalize_currency
from chipin.core.splits import Split, allocate_split

Effects = dict[str, int]


def _add(into: Effects, member: str, delta: int) -> None:
    value = into.get(member, 0) + delta
    if value:
        into[member] = value
    else:
        into.pop(member, None)


@dataclass(frozen=True, slots=True)
class Expense:
    """Money someone paid for the group.

    ``amount`` is in minor units; a negative amount is a refund (money the payers received back
    for the group), which mirrors an expense exactly.
    """

    currency: str
    """ISO 4217 code, upper case."""
    amount: int
    """Total in minor units; negative for a refund."""
    paid_by: tuple[tuple[str, int], ...]
    """Who paid how much (minor units, same sign as ``amount``, summing to it)."""
    split: Split
    """Who owes what of it."""
    description: str
    date: dt.date
    category: str | None = None
    notes: str = ""
    author: str | None = None
    shares: tuple[tuple[str, int], ...] = field(init=False)
    """Each member's part of the amount, computed once from ``split``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        if self.amount == 0:
            raise InvalidAmount("an expense of zero records nothing")
        if not self.paid_by:
            raise InvalidSplit("an expense needs at least one payer")
        payers = [m for m, _ in self.paid_by]
        if len(set(payers)) != len(payers):
            raise InvalidSplit("a payer is listed twice")
        if sum(a for _, a in self.paid_by) != self.amount:
            raise InvalidSplit("what the payers paid does not add up to the total")
        if any(a and (a < 0) != (self.amount < 0) for _, a in self.paid_by):
            raise InvalidSplit("payer amounts must have the sign of the total")
        object.__setattr__(self, "shares", tuple(allocate_split(self.split, self.amount).items()))

    def effects(self) -> Effects:
        out: Effects = {}
        for member, paid in self.paid_by:
            _add(out, member, paid)
        for member, share in self.shares:
            _add(out, member, -share)
        return out

    def members(self) -> tuple[str, ...]:
        seen = dict.fromkeys(m for m, _ in self.paid_by)
        seen.update(dict.fromkeys(m for m, _ in self.shares))
        return tuple(seen)


@dataclass(frozen=True, slots=True)
class Payment:
    """A transfer between two members that settles debt: ``debtor`` paid ``creditor``."""

    currency: str
    amount: int
    """Minor units, > 0."""
    debtor: str
    """Who paid (their balance goes up)."""
    creditor: str
    """Who received (their balance goes down)."""
    date: dt.date
    notes: str = ""
    method: str | None = None
    """How it was paid, when known ("venmo", "pix", "cash")."""
    author: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "currency", normalize_currency(self.currency))
        if self.amount <= 0:
            raise InvalidAmount("a payment must be a positive amount")
        if self.debtor == self.creditor:
            raise InvalidSplit("a member cannot pay themselves")

    def effects(self) -> Effects:
        return {self.debtor: self.amount, self.creditor: -self.amount}

    def members(self) -> tuple[str, ...]:
        return (self.debtor, self.creditor)


Entry = Expense | Payment
