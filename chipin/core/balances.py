"""Balances, who-owes-whom, currency conversion and a member's passbook, derived from entries.

Everything here is a pure function of the ledger (an iterable of entries in ledger order), so the
store never has to keep a balance column that could drift from the entries it summarises. All
arithmetic is on integer minor units, or on exact :class:`~fractions.Fraction` values where a
conversion needs them; nothing is ever a float.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import ChipinError
from chipin.core.money import allocate, currency_exponent, normalize_currency

__all__ = [
    "InvalidRate",
    "MissingRate",
    "PassbookLine",
    "balances",
    "convert_balances",
    "expense_debts",
    "pairwise_debts",
    "passbook",
]


class MissingRate(ChipinError):
    """A balance is in a currency the group has set no conversion rate for."""

    def __init__(self, currency: str, target: str) -> None:
        super().__init__(
            f"no exchange rate from {currency} to {target}: set one before converting balances"
        )
        self.currency = currency
        self.target = target


class InvalidRate(ChipinError):
    """A conversion rate that is not a finite positive exact number."""


def _add(into: dict[str, int], member: str, delta: int) -> None:
    """Add ``delta`` to ``member``, dropping the key when it reaches zero (so zeros never show)."""
    value = into.get(member, 0) + delta
    if value:
        into[member] = value
    else:
        into.pop(member, None)


def balances(entries: Iterable[Entry]) -> dict[str, dict[str, int]]:
    """Net balance of every member, per currency: currency → member → minor units.

    Positive means the group owes the member (they paid more than their share); negative means
    they owe the group. Currencies are never mixed: a group that spent in EUR and JPY has two
    balance sheets until someone chooses rates (see :func:`convert_balances`). Members whose
    balance is zero are left out, and so are currencies in which everyone is settled, so an empty
    result means "all square". Each currency's balances sum to exactly zero because every entry's
    effects do.
    """
    out: dict[str, dict[str, int]] = {}
    for entry in entries:
        sheet = out.setdefault(entry.currency, {})
        for member, delta in entry.effects().items():
            _add(sheet, member, delta)
    return {currency: sheet for currency, sheet in out.items() if sheet}


def expense_debts(expense: Expense) -> dict[tuple[str, str], int]:
    """What each participant of one expense owes each payer: (debtor, creditor) → minor units.

    Each participant's share is owed to the payers in proportion to what each paid. Done naively
    (``allocate`` each share over the payers independently) the rounding of every share can favour
    the same payer, so payers would be owed more or less than they actually paid and the pairwise
    view would stop agreeing with the balances. Instead the shares are taken in split order and
    each is allocated over what the payers are *still* owed: the first participant's share is
    exactly proportional to what each paid, and the last participant takes exactly what is left.
    The resulting matrix therefore has row sums equal to the shares and column sums equal to the
    amounts paid, and every cell stays close to its exact proportional value (only rounding
    carried over from earlier rows moves it).

    A payer's share owed to themselves is dropped (it is not a debt). For a refund (negative
    amount) everything is mirrored, so the values come out negative: the payer who received the
    money back owes it to the participants. Zero cells are left out.
    """
    sign = -1 if expense.amount < 0 else 1
    still_owed = {payer: sign * paid for payer, paid in expense.paid_by}
    out: dict[tuple[str, str], int] = {}
    for debtor, share in expense.shares:
        part_total = sign * share
        if part_total == 0:
            continue
        payers = [p for p, owed in still_owed.items() if owed > 0]
        parts = allocate(part_total, [still_owed[p] for p in payers])
        for creditor, part in zip(payers, parts, strict=True):
            still_owed[creditor] -= part
            if part and creditor != debtor:
                key = (debtor, creditor)
                out[key] = out.get(key, 0) + sign * part
    assert not any(still_owed.values()), "the shares and the payments disagree"
    return out


def pairwise_debts(entries: Iterable[Entry]) -> dict[str, dict[tuple[str, str], int]]:
    """The un-simplified "who owes whom", per currency: (debtor, creditor) → positive minor units.

    This is the view people can check against their memory ("I owe Raj for the taxi"), before any
    settle-up simplification reroutes debts through third parties. Expenses contribute
    :func:`expense_debts`; a payment from ``debtor`` to ``creditor`` reduces what the debtor owes
    the creditor, and if it overshoots the creditor now owes the difference back. Debts between
    the same two people are netted into one direction; settled pairs are omitted, as are
    currencies with no debts left. Keys are sorted, so the result is deterministic.

    For every member, (sum owed to them) - (sum they owe) equals their :func:`balances` entry.
    """
    net: dict[str, dict[tuple[str, str], int]] = {}

    def owe(currency: str, debtor: str, creditor: str, amount: int) -> None:
        # Store each pair once, ordered by name; a positive value means first owes second.
        sheet = net.setdefault(currency, {})
        if debtor < creditor:
            key, signed = (debtor, creditor), amount
        else:
            key, signed = (creditor, debtor), -amount
        sheet[key] = sheet.get(key, 0) + signed

    for entry in entries:
        if isinstance(entry, Payment):
            owe(entry.currency, entry.debtor, entry.creditor, -entry.amount)
        else:
            for (debtor, creditor), amount in expense_debts(entry).items():
                owe(entry.currency, debtor, creditor, amount)

    out: dict[str, dict[tuple[str, str], int]] = {}
    for currency, sheet in net.items():
        debts: dict[tuple[str, str], int] = {}
        for (first, second), value in sheet.items():
            if value > 0:
                debts[(first, second)] = value
            elif value < 0:
                debts[(second, first)] = -value
        if debts:
            out[currency] = dict(sorted(debts.items()))
    return out


def _exact_rate(code: str, rate: object) -> Fraction:
    if isinstance(rate, float) or not isinstance(rate, Decimal | int | Fraction):
        raise InvalidRate(f"the rate for {code} must be an exact decimal, got {rate!r}")
    if isinstance(rate, Decimal) and not rate.is_finite():
        raise InvalidRate(f"the rate for {code} must be a finite number, got {rate}")
    exact = Fraction(rate)
    if exact <= 0:
        raise InvalidRate(f"the rate for {code} must be positive, got {rate}")
    return exact


def convert_balances(
    by_currency: Mapping[str, Mapping[str, int]],
    rates: Mapping[str, Decimal],
    target: str,
) -> dict[str, int]:
    """Every member's balances in all currencies as one balance in ``target`` minor units.

    ``rates[code]`` is how many units (major units, as people quote rates) of ``target`` one unit
    of ``code`` is worth; the group sets them, because "the rate" is whatever the group agrees
    to settle at. The target's own rate is 1 and need not be given (giving another value is an
    error). Minor units of currencies with different exponents (JPY 0, EUR 2, KWD 3) are scaled
    exactly, and each member's total is summed as a :class:`~fractions.Fraction` before any
    rounding, so rounding happens once per member, not once per currency.

    Rounding must not create or destroy money: each member is floored, and the units still
    needed to reach the (rounded) exact total, zero for real balance sheets, go one each to the
    largest fractional remainders, ties broken by member name so the result is reproducible.
    Members who end at zero are omitted.

    Raises :class:`MissingRate` for a currency with a non-zero balance and no rate, and
    :class:`InvalidRate` for a rate that is not a finite positive exact number.
    """
    target = normalize_currency(target)
    target_scale = Fraction(10) ** currency_exponent(target)
    normalized_rates = {normalize_currency(code): rate for code, rate in rates.items()}
    given_target = normalized_rates.get(target)
    if given_target is not None and _exact_rate(target, given_target) != 1:
        raise InvalidRate(f"the rate of {target} to itself must be 1, got {given_target}")

    exact: dict[str, Fraction] = {}
    for code, sheet in by_currency.items():
        if not any(sheet.values()):
            continue
        currency = normalize_currency(code)
        if currency == target:
            rate = Fraction(1)
        elif currency in normalized_rates:
            rate = _exact_rate(currency, normalized_rates[currency])
        else:
            raise MissingRate(currency, target)
        # minor(code) -> major(code) -> major(target) -> minor(target)
        factor = rate * target_scale / Fraction(10) ** currency_exponent(currency)
        for member, minor in sheet.items():
            exact[member] = exact.get(member, Fraction(0)) + minor * factor

    floors = {member: value.numerator // value.denominator for member, value in exact.items()}
    total = round(sum(exact.values(), Fraction(0)))
    leftover = total - sum(floors.values())
    by_remainder = sorted(exact, key=lambda m: (-(exact[m] - floors[m]), m))
    for member in by_remainder[:leftover]:
        floors[member] += 1
    return {member: value for member, value in sorted(floors.items()) if value}


PassbookKind = Literal["expense", "refund", "payment"]


@dataclass(frozen=True, slots=True)
class PassbookLine:
    """One line of a member's statement: an entry that touched them and where it left them.

    ``delta`` is always ``paid - share``. For a payment, ``share`` is 0 and ``paid`` is the amount
    the member sent (positive, for the debtor) or received (negative, for the creditor).
    """

    entry_id: str
    date: dt.date
    kind: PassbookKind
    description: str
    currency: str
    delta: int
    """Change of the member's balance in ``currency`` (minor units)."""
    balance: int
    """The member's running balance in ``currency`` after this entry."""
    paid: int
    """What the member paid in this entry."""
    share: int
    """The member's part of this entry."""


def passbook(entries: Iterable[tuple[str, Entry]], member: str) -> list[PassbookLine]:
    """A member's statement: every entry that touched them, with a running balance per currency.

    It answers "why do I owe 23.40?" line by line, so it lists every entry the member is part
    of, including ones that left their balance unchanged (they paid exactly their own share):
    leaving those out would make people think an expense was forgotten. ``entries`` yields
    ``(entry_id, entry)`` in ledger order; the last line of each currency shows the member's
    :func:`balances` value in it.
    """
    running: dict[str, int] = {}
    lines: list[PassbookLine] = []
    for entry_id, entry in entries:
        if member not in entry.members():
            continue
        kind: PassbookKind
        if isinstance(entry, Payment):
            kind = "payment"
            paid = entry.amount if member == entry.debtor else -entry.amount
            share = 0
            description = f"{entry.debtor} paid {entry.creditor}"
            if entry.notes:
                description += f": {entry.notes}"
        else:
            kind = "expense" if entry.amount > 0 else "refund"
            paid = dict(entry.paid_by).get(member, 0)
            share = dict(entry.shares).get(member, 0)
            description = entry.description
        delta = paid - share
        balance = running.get(entry.currency, 0) + delta
        running[entry.currency] = balance
        lines.append(
            PassbookLine(
                entry_id=entry_id,
                date=entry.date,
                kind=kind,
                description=description,
                currency=entry.currency,
                delta=delta,
                balance=balance,
                paid=paid,
                share=share,
            )
        )
    return lines
