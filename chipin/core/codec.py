"""Splits to and from plain JSON objects, and renaming the members a split refers to.

The same shapes serve the ``chipin-ledger/1`` file format (member names, decimal-string amounts)
and the database (member ids, integer minor units): ``minor=True`` selects the latter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from chipin.core.errors import InvalidSplit
from chipin.core.money import format_minor, parse_minor
from chipin.core.splits import (
    AdjustmentSplit,
    EqualSplit,
    ExactSplit,
    Item,
    ItemsSplit,
    PercentSplit,
    SharesSplit,
    Split,
)

SPLIT_TYPES = ("equal", "exact", "percent", "shares", "adjustment", "items")


def rename_split(split: Split, rename: Callable[[str], str]) -> Split:
    """The same split with every member key passed through ``rename`` (names ↔ ids)."""
    match split:
        case EqualSplit(members=ms):
            return EqualSplit(tuple(map(rename, ms)))
        case ExactSplit(amounts=pairs):
            return ExactSplit(tuple((rename(m), a) for m, a in pairs))
        case PercentSplit(percents=pairs):
            return PercentSplit(tuple((rename(m), p) for m, p in pairs))
        case SharesSplit(shares=pairs):
            return SharesSplit(tuple((rename(m), s) for m, s in pairs))
        case AdjustmentSplit(members=ms, adjustments=adj):
            return AdjustmentSplit(tuple(map(rename, ms)), tuple((rename(m), a) for m, a in adj))
        case ItemsSplit(items=items, extra=extra):
            return ItemsSplit(
                tuple(Item(i.description, i.amount, tuple(map(rename, i.members))) for i in items),
                extra,
            )
    raise InvalidSplit(f"unknown split {split!r}")  # pragma: no cover


def _dec(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text


def split_to_json(split: Split, currency: str, *, minor: bool = False) -> dict[str, Any]:
    def amt(value: int) -> str | int:
        return value if minor else format_minor(value, currency)

    match split:
        case EqualSplit(members=ms):
            return {"type": "equal", "members": list(ms)}
        case ExactSplit(amounts=pairs):
            return {"type": "exact", "amounts": {m: amt(a) for m, a in pairs}}
        case PercentSplit(percents=pairs):
            return {"type": "percent", "percents": {m: _dec(p) for m, p in pairs}}
        case SharesSplit(shares=pairs):
            return {"type": "shares", "shares": {m: _dec(s) for m, s in pairs}}
        case AdjustmentSplit(members=ms, adjustments=adj):
            return {
                "type": "adjustment",
                "members": list(ms),
                "adjustments": {m: amt(a) for m, a in adj},
            }
        case ItemsSplit(items=items, extra=extra):
            return {
                "type": "items",
                "items": [
                    {
                        "description": i.description,
                        "amount": amt(i.amount),
                        "members": list(i.members),
                    }
                    for i in items
                ],
                "extra": amt(extra),
            }
    raise InvalidSplit(f"unknown split {split!r}")  # pragma: no cover


def split_from_json(obj: Any, currency: str, *, minor: bool = False) -> Split:
    """Parse a split object; raises :class:`InvalidSplit` with a message naming what is wrong."""
    if not isinstance(obj, Mapping):
        raise InvalidSplit('split must be an object with a "type"')
    kind = obj.get("type")

    def amount(value: Any, what: str) -> int:
        if minor:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            raise InvalidSplit(f"{what} must be an integer number of minor units")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidSplit(f'{what} must be a decimal string like "20.00"')
        try:
            return parse_minor(str(value), currency)
        except Exception as exc:
            raise InvalidSplit(f"{what}: {exc}") from None

    def names(value: Any, what: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise InvalidSplit(f"{what} must be a list of member names")
        return tuple(value)

    def mapping(value: Any, what: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping) or not value:
            raise InvalidSplit(f"{what} must be a non-empty object of member → value")
        return value

    def number(value: Any, what: str) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise InvalidSplit(f'{what} must be a decimal string like "1.5"')
        try:
            result = Decimal(str(value))
        except InvalidOperation:
            raise InvalidSplit(f"{what} is not a number: {value!r}") from None
        if not result.is_finite():
            raise InvalidSplit(f"{what} is not a finite number")
        return result

    match kind:
        case "equal":
            return EqualSplit(names(obj.get("members"), "equal split members"))
        case "exact":
            pairs = mapping(obj.get("amounts"), "exact split amounts")
            return ExactSplit(tuple((m, amount(v, f"amount for {m}")) for m, v in pairs.items()))
        case "percent":
            pairs = mapping(obj.get("percents"), "percent split percents")
            return PercentSplit(tuple((m, number(v, f"percent for {m}")) for m, v in pairs.items()))
        case "shares":
            pairs = mapping(obj.get("shares"), "shares split shares")
            return SharesSplit(tuple((m, number(v, f"shares for {m}")) for m, v in pairs.items()))
        case "adjustment":
            adj = obj.get("adjustments") or {}
            if not isinstance(adj, Mapping):
                raise InvalidSplit("adjustments must be an object of member → amount")
            return AdjustmentSplit(
                names(obj.get("members"), "adjustment split members"),
                tuple((m, amount(v, f"adjustment for {m}")) for m, v in adj.items()),
            )
        case "items":
            raw_items = obj.get("items")
            if not isinstance(raw_items, list) or not raw_items:
                raise InvalidSplit('items split needs a non-empty "items" list')
            items = []
            for n, raw in enumerate(raw_items, 1):
                if not isinstance(raw, Mapping):
                    raise InvalidSplit(f"item {n} must be an object")
                desc = raw.get("description", "")
                items.append(
                    Item(
                        str(desc) if desc is not None else "",
                        amount(raw.get("amount"), f"item {n} amount"),
                        names(raw.get("members"), f"item {n} members"),
                    )
                )
            extra = obj.get("extra", 0 if minor else "0")
            return ItemsSplit(tuple(items), amount(extra, "extra"))
    raise InvalidSplit(f"unknown split type {kind!r} (expected one of {', '.join(SPLIT_TYPES)})")
