"""Settle-up plans: correct, minimal, deterministic and stable while people pay."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from unittest.mock import patch

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chipin.core import settle
from chipin.core.errors import ChipinError, InvalidAmount
from chipin.core.settle import (
    EXACT_LIMIT,
    InvalidTransfer,
    Transfer,
    UnbalancedBalances,
    settle_plan,
)

PROPERTIES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- helpers ---------------------------------------------------------------------------------------


def after(balances: Mapping[str, int], plan: Sequence[Transfer]) -> dict[str, int]:
    """The balances once every transfer of ``plan`` has been paid."""
    left = dict(balances)
    for transfer in plan:
        left[transfer.debtor] = left.get(transfer.debtor, 0) + transfer.amount
        left[transfer.creditor] = left.get(transfer.creditor, 0) - transfer.amount
    return left


def assert_valid(balances: Mapping[str, int], plan: Sequence[Transfer]) -> None:
    """Zeroes everyone, pays only from debtors to creditors, at most n - 1 transfers."""
    assert all(value == 0 for value in after(balances, plan).values())
    for transfer in plan:
        assert balances[transfer.debtor] < 0 < balances[transfer.creditor]
        assert isinstance(transfer.amount, int)
        assert transfer.amount > 0
    nonzero = sum(1 for value in balances.values() if value)
    assert len(plan) <= max(0, nonzero - 1)


def brute_force_minimum(balances: Mapping[str, int]) -> int:
    """Fewest transfers, by trying every way to clear the first open member against another one.

    Deliberately independent of the implementation (no pairs, no zero-sum partitions): in some
    minimal plan every transfer clears one member's whole balance, so trying all such sequences
    finds the minimum. Only usable for a handful of members.
    """
    open_ = [value for value in balances.values() if value]

    def search(start: int) -> int:
        while start < len(open_) and open_[start] == 0:
            start += 1
        if start == len(open_):
            return 0
        best = len(open_)
        for other in range(start + 1, len(open_)):
            if open_[other] * open_[start] < 0:
                open_[other] += open_[start]
                best = min(best, 1 + search(start + 1))
                open_[other] -= open_[start]
        return best

    return search(0)


def recorded(balances: Mapping[str, int], transfer: Transfer) -> dict[str, int]:
    """The balances after ``transfer`` was recorded as a payment."""
    return after(balances, [transfer])


names = st.text(alphabet="abcdeABCDE éü", min_size=1, max_size=4)
amounts = st.integers(-30, 30) | st.integers(-(10**15), 10**15)


@st.composite
def balance_sets(
    draw: st.DrawFn, max_members: int = 9, values: st.SearchStrategy[int] = amounts
) -> dict[str, int]:
    """A group's balances: any values for all members but one, who balances the rest."""
    members = draw(st.lists(names, min_size=1, max_size=max_members, unique=True))
    head = draw(st.lists(values, min_size=len(members) - 1, max_size=len(members) - 1))
    return dict(zip(members, [*head, -sum(head)], strict=True))


# -- properties ------------------------------------------------------------------------------------


@PROPERTIES
@given(balance_sets(max_members=EXACT_LIMIT))
def test_a_plan_zeroes_every_balance_with_at_most_n_minus_one_transfers(
    balances: dict[str, int],
) -> None:
    assert_valid(balances, settle_plan(balances))


@PROPERTIES
@given(balance_sets(max_members=40))
def test_the_greedy_beyond_the_exact_limit_is_valid_too(balances: dict[str, int]) -> None:
    with patch.object(settle, "EXACT_LIMIT", 0):
        assert_valid(balances, settle_plan(balances))


@PROPERTIES
@given(balance_sets(max_members=7, values=st.integers(-12, 12)))
def test_small_groups_get_the_true_minimum_number_of_transfers(balances: dict[str, int]) -> None:
    assert len(settle_plan(balances)) == brute_force_minimum(balances)


@PROPERTIES
@given(balance_sets(max_members=7, values=amounts))
def test_the_minimum_holds_for_large_amounts_too(balances: dict[str, int]) -> None:
    assert len(settle_plan(balances)) == brute_force_minimum(balances)


@PROPERTIES
@given(st.data(), balance_sets(max_members=12))
def test_the_plan_does_not_depend_on_the_order_of_the_balances(
    data: st.DataObject, balances: dict[str, int]
) -> None:
    shuffled = dict(data.draw(st.permutations(list(balances.items()))))
    assert settle_plan(shuffled) == settle_plan(balances)
    with patch.object(settle, "EXACT_LIMIT", 0):
        assert settle_plan(shuffled) == settle_plan(balances)


@PROPERTIES
@given(st.data(), balance_sets(max_members=12, values=st.integers(-40, 40) | amounts))
def test_recording_a_suggested_payment_leaves_the_other_suggestions_alone(
    data: st.DataObject, balances: dict[str, int]
) -> None:
    plan = settle_plan(balances)
    assume(plan)
    index = data.draw(st.integers(0, len(plan) - 1))
    now = recorded(balances, plan[index])
    assert settle_plan(now, previous=plan) == plan[:index] + plan[index + 1 :]


@PROPERTIES
@given(st.data(), balance_sets(max_members=12, values=st.integers(-40, 40) | amounts))
def test_recording_part_of_a_suggested_payment_only_reduces_that_suggestion(
    data: st.DataObject, balances: dict[str, int]
) -> None:
    plan = settle_plan(balances)
    assume(any(transfer.amount > 1 for transfer in plan))
    index = data.draw(st.sampled_from([i for i, t in enumerate(plan) if t.amount > 1]))
    suggested = plan[index]
    part = data.draw(st.integers(1, suggested.amount - 1))
    now = recorded(balances, Transfer(suggested.debtor, suggested.creditor, part))
    adjusted = [*plan]
    adjusted[index] = Transfer(suggested.debtor, suggested.creditor, suggested.amount - part)
    fresh = settle_plan(now)
    if len(adjusted) <= len(fresh):
        assert settle_plan(now, previous=plan) == adjusted
    else:  # the part paid made a shorter plan possible (e.g. it left an exact pair): take it
        assert settle_plan(now, previous=plan) == fresh


@PROPERTIES
@given(st.data(), balance_sets(max_members=30, values=st.integers(-40, 40) | amounts))
def test_beyond_the_exact_limit_a_recorded_payment_keeps_the_plan_unless_a_fresh_one_is_shorter(
    data: st.DataObject, balances: dict[str, int]
) -> None:
    with patch.object(settle, "EXACT_LIMIT", 0):
        plan = settle_plan(balances)
        assume(plan)
        index = data.draw(st.integers(0, len(plan) - 1))
        now = recorded(balances, plan[index])
        kept = plan[:index] + plan[index + 1 :]
        result = settle_plan(now, previous=plan)
        assert result == kept or len(result) < len(kept)
        assert_valid(now, result)


# -- examples --------------------------------------------------------------------------------------


def test_three_friends_settle_in_two_transfers() -> None:
    plan = settle_plan({"Ann": 2000, "Bob": -1500, "Cid": -500})
    assert plan == [Transfer("Bob", "Ann", 1500), Transfer("Cid", "Ann", 500)]


def test_a_group_that_is_already_square_needs_no_transfer() -> None:
    assert settle_plan({}) == []
    assert settle_plan({"Ann": 0, "Bob": 0}) == []


def test_people_who_owe_exactly_what_another_is_owed_pay_each_other_directly() -> None:
    plan = settle_plan({"Ann": -700, "Bob": 500, "Cid": -500, "Dee": 700})
    assert plan == [Transfer("Ann", "Dee", 700), Transfer("Cid", "Bob", 500)]


def test_subgroups_that_cancel_out_settle_among_themselves() -> None:
    # Largest-debt-first would need five transfers here; {Cy, Bo, Di} and {Al, Fe, Ed} cancel out.
    balances = {"Al": -200, "Bo": 300, "Cy": -600, "Di": 300, "Ed": 400, "Fe": -200}
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert plan == [
        Transfer("Al", "Ed", 200),
        Transfer("Cy", "Bo", 300),
        Transfer("Cy", "Di", 300),
        Transfer("Fe", "Ed", 200),
    ]


def test_equal_shares_need_one_transfer_per_debtor() -> None:
    # Twelve people owe 10.00 each to six people who are each owed 20.00.
    balances = {f"debtor{i:02d}": -1000 for i in range(12)}
    balances |= {f"creditor{i}": 2000 for i in range(6)}
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert len(plan) == 12


def triangles(count: int, seed: int, scale: int = 1) -> dict[str, int]:
    """``count`` triples summing to zero, no opposite pairs, names shuffled across triples."""
    rng = random.Random(seed)
    magnitudes = rng.sample(range(1_000, 1_000_000), 2 * count)
    values: list[int] = []
    for a, b in zip(magnitudes[::2], magnitudes[1::2], strict=True):
        values += [a * scale, b * scale, -(a + b) * scale]
    member_names = [f"member{i:02d}" for i in range(len(values))]
    rng.shuffle(member_names)
    return dict(zip(member_names, values, strict=True))


def test_eighteen_members_in_six_cancelling_triples_need_twelve_transfers() -> None:
    balances = triangles(6, seed=18)
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert len(plan) == 12


def test_the_exact_limit_is_still_exact() -> None:
    balances = triangles(EXACT_LIMIT // 3, seed=24)
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert len(plan) == 2 * (EXACT_LIMIT // 3)


def test_amounts_far_beyond_int64_are_settled_exactly() -> None:
    balances = triangles(4, seed=7, scale=10**20)
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert len(plan) == 8


def test_a_thousand_members_get_a_valid_plan() -> None:
    rng = random.Random(1000)
    values = [rng.randint(-(10**8), 10**8) for _ in range(999)]
    balances = {f"member{i:04d}": value for i, value in enumerate([*values, -sum(values)])}
    plan = settle_plan(balances)
    assert_valid(balances, plan)
    assert plan == sorted(plan, key=lambda t: (t.debtor, t.creditor))


def test_balances_that_do_not_add_up_are_refused() -> None:
    with pytest.raises(UnbalancedBalances, match="add up to zero") as raised:
        settle_plan({"Ann": 100, "Bob": -99})
    assert isinstance(raised.value, ValueError)
    assert isinstance(raised.value, ChipinError)


def test_a_balance_that_is_not_whole_minor_units_is_refused() -> None:
    with pytest.raises(InvalidAmount):
        settle_plan({"Ann": 1.5, "Bob": -1.5})  # type: ignore[dict-item]


@pytest.mark.parametrize(
    ("debtor", "creditor", "amount"), [("a", "b", 0), ("a", "b", -5), ("a", "a", 5)]
)
def test_a_transfer_is_a_positive_payment_between_two_people(
    debtor: str, creditor: str, amount: int
) -> None:
    with pytest.raises(InvalidTransfer):
        Transfer(debtor, creditor, amount)


# -- keeping the plan that was shown ---------------------------------------------------------------


def test_recording_suggested_payments_one_by_one_keeps_the_rest_of_the_plan() -> None:
    balances = triangles(5, seed=3)
    shown = settle_plan(balances)
    while shown:
        middle = len(shown) // 2
        balances = recorded(balances, shown[middle])
        now = settle_plan(balances, previous=shown)
        assert now == shown[:middle] + shown[middle + 1 :]
        shown = now


def test_an_unchanged_plan_is_kept_in_its_own_order() -> None:
    balances = {"Ann": -700, "Bob": 500, "Cid": -500, "Dee": 700}
    shown = list(reversed(settle_plan(balances)))
    assert settle_plan(balances, previous=shown) == shown


def test_a_plan_for_other_balances_is_ignored() -> None:
    balances = {"Ann": 2000, "Bob": -1500, "Cid": -500}
    shown = settle_plan(balances)
    balances = {"Ann": 2600, "Bob": -1800, "Cid": -800}  # a new expense came in
    assert settle_plan(balances, previous=shown) == settle_plan(balances)


def test_an_overpayment_replans_from_scratch() -> None:
    balances = {"Ann": 2000, "Bob": -1500, "Cid": -500}
    shown = settle_plan(balances)
    balances = recorded(balances, Transfer("Cid", "Ann", 800))  # Cid is now owed 300
    assert settle_plan(balances, previous=shown) == settle_plan(balances)
    assert settle_plan(balances) == [Transfer("Bob", "Ann", 1200), Transfer("Bob", "Cid", 300)]


def test_a_longer_plan_than_necessary_is_not_kept() -> None:
    balances = {"Ann": -700, "Bob": 500, "Cid": -500, "Dee": 700}
    roundabout = [
        Transfer("Ann", "Bob", 500),
        Transfer("Ann", "Dee", 200),
        Transfer("Cid", "Dee", 500),
    ]
    assert settle_plan(balances, previous=roundabout) == settle_plan(balances)


def test_a_payment_between_people_with_no_suggestion_between_them_replans() -> None:
    balances = {"Ann": 2000, "Bob": -1500, "Cid": -500}
    shown = settle_plan(balances)
    balances = recorded(balances, Transfer("Bob", "Cid", 100))
    assert settle_plan(balances, previous=shown) == settle_plan(balances)
