"""Splits: every kind of split turns any total into parts that add up to it exactly."""

from __future__ import annotations

import itertools
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipin.core.errors import InvalidSplit
from chipin.core.money import format_minor, to_minor
from chipin.core.splits import (
    AdjustmentSplit,
    EqualSplit,
    ExactSplit,
    Item,
    ItemsSplit,
    PercentSplit,
    SharesSplit,
    Split,
    allocate_split,
    split_members,
)

CURRENCIES = ["JPY", "EUR", "USD", "KWD", "BHD", "CLP", "ISK"]
MEMBERS = ["Ana", "Raj", "Mia", "Tom", "Zoe", "Lu"]
SPLIT_KINDS = ["equal", "exact", "percent", "shares", "adjustment", "items"]

FAST = settings(max_examples=150, deadline=None)


def _partition(draw: st.DrawFn, total: int, n: int) -> list[int]:
    """``n`` non-negative ints that add up to ``total`` (>= 0)."""
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=n - 1, max_size=n - 1)))
    bounds = [0, *cuts, total]
    return [b - a for a, b in itertools.pairwise(bounds)]


@st.composite
def splits(draw: st.DrawFn, magnitude: int, kinds: list[str] = SPLIT_KINDS) -> Split:
    """A valid split of a total of ``magnitude`` minor units (or of its negative: a refund)."""
    members = tuple(draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=5, unique=True)))
    n = len(members)
    kind = draw(st.sampled_from(kinds))
    if kind == "equal":
        return EqualSplit(members)
    if kind == "exact":
        return ExactSplit(tuple(zip(members, _partition(draw, magnitude, n), strict=True)))
    if kind == "percent":
        places = draw(st.integers(0, 4))
        units = _partition(draw, 100 * 10**places, n)
        return PercentSplit(
            tuple((m, Decimal(u).scaleb(-places)) for m, u in zip(members, units, strict=True))
        )
    if kind == "shares":
        raw = draw(st.lists(st.integers(0, 400), min_size=n, max_size=n))
        if not any(raw):
            raw[0] = 1
        return SharesSplit(tuple((m, Decimal(r) / 4) for m, r in zip(members, raw, strict=True)))
    if kind == "adjustment":
        # Adjustments no larger than a quarter of an equal part keep every part non-negative.
        bound = magnitude // (4 * n)
        adjusted = draw(st.lists(st.sampled_from(members), max_size=n, unique=True))
        return AdjustmentSplit(
            members,
            tuple((m, draw(st.integers(-bound, bound))) for m in adjusted),
        )
    # Itemised: a discount (negative extra) may go down to the whole bill, a surcharge must leave
    # at least one unit of items to spread it over.
    extra = draw(st.integers(-magnitude, magnitude - 1)) if magnitude else 0
    n_items = draw(st.integers(1, 4))
    amounts = _partition(draw, magnitude - extra, n_items)
    items = tuple(
        Item(
            f"item {i}",
            amount,
            tuple(draw(st.lists(st.sampled_from(members), min_size=1, unique=True))),
        )
        for i, amount in enumerate(amounts)
    )
    return ItemsSplit(items, extra)


@st.composite
def totals_and_splits(draw: st.DrawFn, allow_zero: bool = True) -> tuple[str, int, Split]:
    """A currency, a total in its minor units (negative for refunds) and a split of it."""
    currency = draw(st.sampled_from(CURRENCIES))
    low = 0 if allow_zero else 1
    magnitude = draw(st.one_of(st.integers(low, 50), st.integers(low, 10**12)))
    total = magnitude * draw(st.sampled_from([1, -1]))
    # Amounts reach the ledger as text in major units; go through that door.
    total = to_minor(format_minor(total, currency), currency)
    return currency, total, draw(splits(abs(total)))


# --- properties ---------------------------------------------------------------------------------


@FAST
@given(case=totals_and_splits())
def test_every_split_of_every_amount_in_every_currency_sums_exactly_to_the_total(
    case: tuple[str, int, Split],
) -> None:
    _, total, split = case
    parts = allocate_split(split, total)
    assert sum(parts.values()) == total
    assert tuple(parts) == split_members(split)
    if total > 0:
        assert all(p >= 0 for p in parts.values())
    if total < 0:
        assert all(p <= 0 for p in parts.values())


@FAST
@given(case=totals_and_splits())
def test_a_refund_is_split_as_the_exact_mirror_of_the_expense(case: tuple[str, int, Split]) -> None:
    _, total, split = case
    expense = allocate_split(split, abs(total))
    refund = allocate_split(split, -abs(total))
    assert refund == {m: -p for m, p in expense.items()}


@FAST
@given(case=totals_and_splits(), data=st.data())
def test_equal_parts_differ_by_at_most_one_unit_and_the_leftover_goes_first(
    case: tuple[str, int, Split], data: st.DataObject
) -> None:
    _, total, _ = case
    members = data.draw(st.lists(st.sampled_from(MEMBERS), min_size=1, unique=True))
    parts = list(allocate_split(EqualSplit(tuple(members)), total).values())
    magnitudes = [abs(p) for p in parts]
    assert max(magnitudes) - min(magnitudes) <= 1
    assert magnitudes == sorted(magnitudes, reverse=True)
    assert magnitudes.count(max(magnitudes)) == (abs(total) % len(members) or len(members))


@FAST
@given(case=totals_and_splits())
def test_percent_and_shares_parts_are_within_one_unit_of_the_exact_proportion(
    case: tuple[str, int, Split],
) -> None:
    _, total, split = case
    if isinstance(split, PercentSplit):
        weights = {m: Fraction(p) for m, p in split.percents}
    elif isinstance(split, SharesSplit):
        weights = {m: Fraction(s) for m, s in split.shares}
    else:
        return
    weight_sum = sum(weights.values())
    for member, part in allocate_split(split, total).items():
        assert abs(part - total * weights[member] / weight_sum) < 1


@FAST
@given(case=totals_and_splits(allow_zero=False))
def test_an_exact_split_that_is_off_by_one_unit_is_refused(case: tuple[str, int, Split]) -> None:
    _, total, split = case
    if not isinstance(split, ExactSplit):
        return
    with pytest.raises(InvalidSplit, match="do not add up"):
        allocate_split(split, total + (1 if total > 0 else -1))


# --- examples -----------------------------------------------------------------------------------


def test_equal_split_gives_the_leftover_cent_to_the_first_listed_member() -> None:
    assert allocate_split(EqualSplit(("Ana", "Raj", "Mia")), 10000) == {
        "Ana": 3334,
        "Raj": 3333,
        "Mia": 3333,
    }
    assert allocate_split(EqualSplit(("Mia", "Ana", "Raj")), 10000) == {
        "Mia": 3334,
        "Ana": 3333,
        "Raj": 3333,
    }


def test_equal_split_of_two_leftover_cents_gives_them_to_the_first_two_members() -> None:
    assert list(allocate_split(EqualSplit(("Ana", "Raj", "Mia")), 200).values()) == [67, 67, 66]


def test_an_equal_refund_takes_the_leftover_cent_from_the_first_listed_member() -> None:
    assert allocate_split(EqualSplit(("Ana", "Raj", "Mia")), -10000) == {
        "Ana": -3334,
        "Raj": -3333,
        "Mia": -3333,
    }


def test_yen_split_three_ways_has_no_cents_to_hand_out() -> None:
    assert list(allocate_split(EqualSplit(("Ana", "Raj", "Mia")), 1000).values()) == [
        334,
        333,
        333,
    ]


def test_percent_split_must_add_up_to_100() -> None:
    with pytest.raises(InvalidSplit, match="add up to 90"):
        PercentSplit((("Ana", Decimal(60)), ("Raj", Decimal(30))))
    with pytest.raises(InvalidSplit):
        PercentSplit((("Ana", Decimal("50.01")), ("Raj", Decimal(50))))
    with pytest.raises(InvalidSplit, match="negative"):
        PercentSplit((("Ana", Decimal(110)), ("Raj", Decimal(-10))))


def test_percent_split_takes_fractional_percentages() -> None:
    split = PercentSplit(
        (("Ana", Decimal("33.33")), ("Raj", Decimal("33.33")), ("Mia", Decimal("33.34")))
    )
    assert allocate_split(split, 10000) == {"Ana": 3333, "Raj": 3333, "Mia": 3334}
    assert allocate_split(split, 100) == {"Ana": 33, "Raj": 33, "Mia": 34}


def test_exact_split_must_add_up_to_the_total() -> None:
    split = ExactSplit((("Ana", 1500), ("Raj", 2500)))
    assert allocate_split(split, 4000) == {"Ana": 1500, "Raj": 2500}
    assert allocate_split(split, -4000) == {"Ana": -1500, "Raj": -2500}
    with pytest.raises(InvalidSplit):
        allocate_split(split, 4001)
    with pytest.raises(InvalidSplit, match="negative"):
        ExactSplit((("Ana", -1), ("Raj", 2)))


def test_shares_split_weighs_each_member_by_their_shares() -> None:
    split = SharesSplit((("Raj", Decimal(2)), ("Me", Decimal(1))))
    assert allocate_split(split, 9000) == {"Raj": 6000, "Me": 3000}
    halves = SharesSplit((("Ana", Decimal("1.5")), ("Raj", Decimal("0.5"))))
    assert allocate_split(halves, 1000) == {"Ana": 750, "Raj": 250}
    with pytest.raises(InvalidSplit, match="zero"):
        SharesSplit((("Ana", Decimal(0)), ("Raj", Decimal(0))))


def test_shares_split_refuses_infinite_shares() -> None:
    # An infinite share would otherwise get past validation and crash allocation with an
    # OverflowError that is no ChipinError.
    with pytest.raises(InvalidSplit):
        allocate_split(SharesSplit((("Ana", Decimal("Infinity")), ("Raj", Decimal(1)))), 100)


def test_splits_refuse_not_a_number_weights_with_a_split_error() -> None:
    with pytest.raises(InvalidSplit):
        SharesSplit((("Ana", Decimal("NaN")), ("Raj", Decimal(1))))
    with pytest.raises(InvalidSplit):
        PercentSplit((("Ana", Decimal("NaN")), ("Raj", Decimal(100))))


def test_adjustment_split_adds_each_members_extra_on_top_of_an_equal_part() -> None:
    # 100.00 for three, Raj had no wine: 10.00 less for him, the rest shared equally.
    split = AdjustmentSplit(("Ana", "Raj", "Mia"), (("Raj", -1000),))
    assert allocate_split(split, 10000) == {"Ana": 3667, "Raj": 2667, "Mia": 3666}
    assert allocate_split(split, -10000) == {"Ana": -3667, "Raj": -2667, "Mia": -3666}


def test_adjustments_larger_than_the_bill_are_refused() -> None:
    with pytest.raises(InvalidSplit, match="larger than the total"):
        allocate_split(AdjustmentSplit(("Ana", "Raj"), (("Ana", 600), ("Raj", 500))), 1000)
    with pytest.raises(InvalidSplit, match="negative part"):
        allocate_split(AdjustmentSplit(("Ana", "Raj"), (("Raj", -2000),)), 1000)
    with pytest.raises(InvalidSplit, match="not in the split"):
        AdjustmentSplit(("Ana", "Raj"), (("Mia", 100),))


def test_itemised_tip_is_spread_in_proportion_to_each_subtotal() -> None:
    split = ItemsSplit(
        (
            Item("pizza", 3000, ("Ana", "Raj")),
            Item("wine", 2000, ("Ana",)),
            Item("salad", 1000, ("Mia",)),
        ),
        extra=1200,
    )
    # Subtotals 35.00 / 15.00 / 10.00 of 60.00; the 12.00 tip is 20% of each.
    assert allocate_split(split, 7200) == {"Ana": 4200, "Raj": 1800, "Mia": 1200}
    assert split_members(split) == ("Ana", "Raj", "Mia")


def test_itemised_discount_comes_off_in_proportion_and_cannot_exceed_the_bill() -> None:
    split = ItemsSplit((Item("menu", 3000, ("Ana",)), Item("menu", 1000, ("Raj",))), extra=-400)
    assert allocate_split(split, 3600) == {"Ana": 2700, "Raj": 900}
    assert allocate_split(split, -3600) == {"Ana": -2700, "Raj": -900}


def test_itemised_items_and_extra_must_add_up_to_the_total() -> None:
    split = ItemsSplit((Item("pizza", 3000, ("Ana", "Raj")),), extra=300)
    with pytest.raises(InvalidSplit, match="do not add up"):
        allocate_split(split, 3000)
    with pytest.raises(InvalidSplit, match="cost nothing"):
        allocate_split(ItemsSplit((Item("water", 0, ("Ana",)),), extra=100), 100)
    with pytest.raises(InvalidSplit):
        ItemsSplit(())


def test_a_split_cannot_list_a_member_twice_or_nobody() -> None:
    with pytest.raises(InvalidSplit, match="twice"):
        EqualSplit(("Ana", "Ana"))
    with pytest.raises(InvalidSplit, match="at least one"):
        EqualSplit(())
    with pytest.raises(InvalidSplit, match="twice"):
        ExactSplit((("Ana", 1), ("Ana", 2)))
    with pytest.raises(InvalidSplit, match="twice"):
        Item("taxi", 100, ("Raj", "Raj"))
