"""How an amount is shared: equal, exact, percent, shares, adjustment and itemised splits.

Members are plain string keys here (names at the edges, ids in the store). Every split turns a
total into per-member parts with :func:`chipin.core.money.allocate` (largest remainder), so the
parts always sum to the total exactly. **Leftover-unit rule**: when a total does not divide evenly,
the leftover minor units go to the members with the largest fractional remainders, and among
equal remainders to the member listed first in the split. An equal split of 100.00 between
Ana, Raj and Mia therefore gives Ana 33.34, Raj 33.33, Mia 33.33.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from chipin.core.errors import InvalidSplit
from chipin.core.money import allocate

HUNDRED = Decimal(100)


def _decimals(
    pairs: Iterable[tuple[str, Decimal | int | str]], what: str
) -> tuple[tuple[str, Decimal], ...]:
    """Weights as exact Decimals; floats are refused (0.1 is not a tenth in binary)."""
    out = []
    for member, raw in pairs:
        if isinstance(raw, float | bool):
            raise InvalidSplit(f"{what} for {member} must be a Decimal, int or string, not {raw!r}")
        try:
            value = Decimal(raw)
        except ArithmeticError:
            raise InvalidSplit(f"{what} for {member} is not a number: {raw!r}") from None
        if not value.is_finite():
            raise InvalidSplit(f"{what} for {member} is not a finite number")
        out.append((member, value))
    return tuple(out)


def _unique(members: Iterable[str], what: str) -> tuple[str, ...]:
    out = tuple(members)
    if not out:
        raise InvalidSplit(f"{what} needs at least one member")
    if len(set(out)) != len(out):
        raise InvalidSplit(f"{what} lists a member twice")
    return out


@dataclass(frozen=True, slots=True)
class EqualSplit:
    """Everyone listed owes the same (up to one leftover unit)."""

    members: tuple[str, ...]

    def __post_init__(self) -> None:
        _unique(self.members, "an equal split")


@dataclass(frozen=True, slots=True)
class ExactSplit:
    """Each member owes a stated amount (minor units); the amounts must add up to the total."""

    amounts: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        _unique((m for m, _ in self.amounts), "an exact split")
        if any(a < 0 for _, a in self.amounts):
            raise InvalidSplit("an exact split cannot give a member a negative part")


@dataclass(frozen=True, slots=True)
class PercentSplit:
    """Each member owes a percentage; the percentages must add up to exactly 100."""

    percents: tuple[tuple[str, Decimal], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "percents", _decimals(self.percents, "the percentage"))
        _unique((m for m, _ in self.percents), "a percent split")
        if any(p < 0 for _, p in self.percents):
            raise InvalidSplit("a percentage cannot be negative")
        total = sum((p for _, p in self.percents), Decimal(0))
        if total != HUNDRED:
            raise InvalidSplit(f"percentages add up to {total}, not 100")


@dataclass(frozen=True, slots=True)
class SharesSplit:
    """Each member owes in proportion to a weight ("Raj 2 shares, me 1"; fractions allowed)."""

    shares: tuple[tuple[str, Decimal], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "shares", _decimals(self.shares, "the share"))
        _unique((m for m, _ in self.shares), "a shares split")
        if any(s < 0 for _, s in self.shares):
            raise InvalidSplit("a share cannot be negative")
        if sum((s for _, s in self.shares), Decimal(0)) <= 0:
            raise InvalidSplit("the shares add up to zero")


@dataclass(frozen=True, slots=True)
class AdjustmentSplit:
    """Equal split of what remains after per-member extras: each owes an equal part plus their
    adjustment (minor units, may be negative: "Raj had no wine, 10 less for him")."""

    members: tuple[str, ...]
    adjustments: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        _unique(self.members, "an adjustment split")
        unknown = [m for m, _ in self.adjustments if m not in self.members]
        if unknown:
            raise InvalidSplit(f"adjustment for {unknown[0]!r}, who is not in the split")
        if len({m for m, _ in self.adjustments}) != len(self.adjustments):
            raise InvalidSplit("an adjustment split lists a member twice")


@dataclass(frozen=True, slots=True)
class Item:
    """One line of an itemised bill, shared equally by its members."""

    description: str
    amount: int
    members: tuple[str, ...]

    def __post_init__(self) -> None:
        _unique(self.members, f"item {self.description!r}")


@dataclass(frozen=True, slots=True)
class ItemsSplit:
    """An itemised bill: each item is split equally among its members, then ``extra`` (tax, tip,
    service; may be negative for a discount) is spread in proportion to each member's subtotal."""

    items: tuple[Item, ...]
    extra: int = 0

    def __post_init__(self) -> None:
        if not self.items:
            raise InvalidSplit("an itemised split needs at least one item")


Split = EqualSplit | ExactSplit | PercentSplit | SharesSplit | AdjustmentSplit | ItemsSplit


def split_members(split: Split) -> tuple[str, ...]:
    """The members a split involves, in the order it lists them (first appearance)."""
    match split:
        case EqualSplit(members=members) | AdjustmentSplit(members=members):
            return members
        case ExactSplit(amounts=pairs):
            return tuple(m for m, _ in pairs)
        case PercentSplit(percents=pairs):
            return tuple(m for m, _ in pairs)
        case SharesSplit(shares=pairs):
            return tuple(m for m, _ in pairs)
        case ItemsSplit(items=items):
            seen: dict[str, None] = {}
            for item in items:
                seen.update(dict.fromkeys(item.members))
            return tuple(seen)
    raise InvalidSplit(f"unknown split {split!r}")  # pragma: no cover - exhaustive above


def allocate_split(split: Split, total: int) -> dict[str, int]:
    """Each member's part of ``total`` minor units; the parts sum to ``total`` exactly.

    Raises :class:`InvalidSplit` when the split cannot produce that total (exact amounts or items
    that do not add up, adjustments larger than the bill).
    """
    match split:
        case EqualSplit(members=members):
            return dict(zip(members, allocate(total, [1] * len(members)), strict=True))
        case ExactSplit(amounts=pairs):
            parts = dict(pairs)
            if sum(parts.values()) != abs(total):
                raise InvalidSplit("the exact amounts do not add up to the total")
            sign = -1 if total < 0 else 1
            return {m: sign * a for m, a in parts.items()}
        case PercentSplit(percents=pairs):
            weights = [Fraction(p) for _, p in pairs]
            return dict(zip((m for m, _ in pairs), allocate(total, weights), strict=True))
        case SharesSplit(shares=pairs):
            weights = [Fraction(s) for _, s in pairs]
            return dict(zip((m for m, _ in pairs), allocate(total, weights), strict=True))
        case AdjustmentSplit(members=members, adjustments=adjustments):
            return _allocate_adjustment(members, dict(adjustments), total)
        case ItemsSplit(items=items, extra=extra):
            return _allocate_items(items, extra, total)
    raise InvalidSplit(f"unknown split {split!r}")  # pragma: no cover


def _allocate_adjustment(
    members: tuple[str, ...], extra: dict[str, int], total: int
) -> dict[str, int]:
    sign = -1 if total < 0 else 1
    remaining = abs(total) - sum(extra.values())
    if remaining < 0:
        raise InvalidSplit("the adjustments are larger than the total")
    base = allocate(remaining, [1] * len(members))
    parts = {m: b + extra.get(m, 0) for m, b in zip(members, base, strict=True)}
    if any(p < 0 for p in parts.values()):
        raise InvalidSplit("an adjustment leaves a member with a negative part")
    return {m: sign * p for m, p in parts.items()}


def _allocate_items(items: tuple[Item, ...], extra: int, total: int) -> dict[str, int]:
    sign = -1 if total < 0 else 1
    if sum(i.amount for i in items) + extra != abs(total):
        raise InvalidSplit("the items and the extra do not add up to the total")
    subtotal: dict[str, int] = {}
    for item in items:
        if item.amount < 0:
            raise InvalidSplit(f"item {item.description!r} has a negative amount")
        for m, part in zip(
            item.members, allocate(item.amount, [1] * len(item.members)), strict=True
        ):
            subtotal[m] = subtotal.get(m, 0) + part
    members = list(subtotal)
    if extra and sum(subtotal.values()) == 0:
        raise InvalidSplit("an extra cannot be spread over items that cost nothing")
    extra_parts = allocate(extra, [subtotal[m] for m in members]) if extra else [0] * len(members)
    parts = {m: subtotal[m] + e for m, e in zip(members, extra_parts, strict=True)}
    if any(p < 0 for p in parts.values()):
        raise InvalidSplit("the discount is larger than a member's items")
    return {m: sign * p for m, p in parts.items()}
