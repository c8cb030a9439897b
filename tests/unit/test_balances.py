"""Balances, pairwise debts, conversion and passbooks, derived from a ledger of entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipin.core.balances import (
    InvalidRate,
    MissingRate,
    PassbookLine,
    balances,
    convert_balances,
    expense_debts,
    pairwise_debts,
    passbook,
)
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import ChipinError, InvalidSplit
from chipin.core.money import currency_exponent
from chipin.core.splits import EqualSplit, ExactSplit, Item, ItemsSplit, SharesSplit
from tests.unit.test_splits import CURRENCIES, MEMBERS, _partition, splits

DAY = dt.date(2024, 5, 1)
FAST = settings(max_examples=100, deadline=None)


# --- strategies ---------------------------------------------------------------------------------


@st.composite
def expenses(draw: st.DrawFn, currency: str | None = None) -> Expense:
    """An expense (or refund) with one to three payers and any kind of split."""
    code = currency or draw(st.sampled_from(CURRENCIES))
    payers = draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True))
    magnitude = draw(st.one_of(st.integers(len(payers), 40), st.integers(len(payers), 10**9)))
    sign = draw(st.sampled_from([1, 1, -1]))
    paid = [p + 1 for p in _partition(draw, magnitude - len(payers), len(payers))]
    return Expense(
        currency=code,
        amount=sign * magnitude,
        paid_by=tuple((m, sign * a) for m, a in zip(payers, paid, strict=True)),
        split=draw(splits(magnitude)),
        description=draw(st.sampled_from(["dinner", "taxi", "hotel", "groceries"])),
        date=DAY + dt.timedelta(days=draw(st.integers(0, 30))),
    )


@st.composite
def payments(draw: st.DrawFn, currency: str | None = None) -> Payment:
    debtor, creditor = draw(st.lists(st.sampled_from(MEMBERS), min_size=2, max_size=2, unique=True))
    return Payment(
        currency=currency or draw(st.sampled_from(CURRENCIES)),
        amount=draw(st.one_of(st.integers(1, 40), st.integers(1, 10**9))),
        debtor=debtor,
        creditor=creditor,
        date=DAY,
    )


@st.composite
def ledgers(draw: st.DrawFn) -> list[Entry]:
    """A ledger in at most three currencies, mixing expenses, refunds and payments."""
    used = draw(st.lists(st.sampled_from(CURRENCIES), min_size=1, max_size=3, unique=True))
    entry = st.sampled_from(used).flatmap(lambda c: st.one_of(expenses(c), payments(c)))
    return draw(st.lists(entry, max_size=12))


def rates_for(target: str) -> st.SearchStrategy[dict[str, Decimal]]:
    positive = st.integers(1, 10**7).map(lambda n: Decimal(n).scaleb(-4))
    return st.fixed_dictionaries({c: positive for c in CURRENCIES if c != target})


def _owed_minus_owing(debts: dict[tuple[str, str], int]) -> dict[str, int]:
    net: dict[str, int] = {}
    for (debtor, creditor), amount in debts.items():
        net[creditor] = net.get(creditor, 0) + amount
        net[debtor] = net.get(debtor, 0) - amount
    return {m: v for m, v in net.items() if v}


# --- properties ---------------------------------------------------------------------------------


@FAST
@given(ledger=ledgers())
def test_balances_sum_to_zero_in_every_currency(ledger: list[Entry]) -> None:
    sheets = balances(ledger)
    assert set(sheets) <= {e.currency for e in ledger}
    for sheet in sheets.values():
        assert sheet
        assert sum(sheet.values()) == 0
        assert all(sheet.values()), "settled members are omitted"


@FAST
@given(ledger=ledgers())
def test_balances_are_what_each_member_paid_minus_their_share(ledger: list[Entry]) -> None:
    expected: dict[str, dict[str, int]] = {}
    for e in ledger:
        sheet = expected.setdefault(e.currency, {})
        if isinstance(e, Payment):
            sheet[e.debtor] = sheet.get(e.debtor, 0) + e.amount
            sheet[e.creditor] = sheet.get(e.creditor, 0) - e.amount
        else:
            for m, paid in e.paid_by:
                sheet[m] = sheet.get(m, 0) + paid
            for m, share in e.shares:
                sheet[m] = sheet.get(m, 0) - share
    cleaned = {c: {m: v for m, v in s.items() if v} for c, s in expected.items()}
    assert balances(ledger) == {c: s for c, s in cleaned.items() if s}


@FAST
@given(ledger=ledgers())
def test_pairwise_debts_net_to_each_members_balance(ledger: list[Entry]) -> None:
    sheets = balances(ledger)
    debts = pairwise_debts(ledger)
    assert set(debts) == set(sheets)
    for currency, pairs in debts.items():
        for (debtor, creditor), amount in pairs.items():
            assert amount > 0
            assert debtor != creditor
            assert (creditor, debtor) not in pairs, "each pair is netted into one direction"
        assert _owed_minus_owing(pairs) == sheets[currency]


@FAST
@given(expense=expenses())
def test_one_expense_owes_each_payer_exactly_what_they_paid_beyond_their_share(
    expense: Expense,
) -> None:
    debts = expense_debts(expense)
    assert all(d != c for d, c in debts)
    sign = 1 if expense.amount > 0 else -1
    shares = dict(expense.shares)
    for payer, paid in expense.paid_by:
        owed_to_payer = sum(v for (_, c), v in debts.items() if c == payer)
        # Others owe the payer what they paid minus the part of it that covered their own share.
        assert 0 <= sign * owed_to_payer <= sign * paid
        owed_by_payer = sum(v for (d, _), v in debts.items() if d == payer)
        assert owed_to_payer - owed_by_payer == paid - shares.get(payer, 0)
    for (debtor, _), amount in debts.items():
        assert sign * amount > 0
        assert debtor in shares


@FAST
@given(expense=expenses())
def test_a_refund_mirrors_the_pairwise_debts_of_its_expense(expense: Expense) -> None:
    mirror = Expense(
        currency=expense.currency,
        amount=-expense.amount,
        paid_by=tuple((m, -a) for m, a in expense.paid_by),
        split=expense.split,
        description="refund",
        date=DAY,
    )
    assert expense_debts(mirror) == {k: -v for k, v in expense_debts(expense).items()}
    assert balances([expense, mirror]) == {}
    assert pairwise_debts([expense, mirror]) == {}


@FAST
@given(data=st.data(), ledger=ledgers(), target=st.sampled_from(CURRENCIES))
def test_converted_balances_sum_to_zero_and_round_each_member_by_less_than_a_unit(
    data: st.DataObject, ledger: list[Entry], target: str
) -> None:
    rates = data.draw(rates_for(target))
    sheets = balances(ledger)
    converted = convert_balances(sheets, rates, target)
    assert sum(converted.values()) == 0
    assert all(converted.values())
    exact: dict[str, Fraction] = {}
    for currency, sheet in sheets.items():
        rate = Fraction(1) if currency == target else Fraction(rates[currency])
        scale = Fraction(10) ** (currency_exponent(target) - currency_exponent(currency))
        for member, minor in sheet.items():
            exact[member] = exact.get(member, Fraction(0)) + minor * rate * scale
    for member, value in exact.items():
        assert abs(converted.get(member, 0) - value) < 1


@FAST
@given(ledger=ledgers(), member=st.sampled_from(MEMBERS))
def test_passbook_running_balance_ends_at_the_members_balance(
    ledger: list[Entry], member: str
) -> None:
    lines = passbook(((f"e{i}", e) for i, e in enumerate(ledger)), member)
    touched = [f"e{i}" for i, e in enumerate(ledger) if member in e.members()]
    assert [line.entry_id for line in lines] == touched
    last: dict[str, int] = {}
    for line in lines:
        assert line.delta == line.paid - line.share
        assert line.balance == last.get(line.currency, 0) + line.delta
        last[line.currency] = line.balance
    sheets = balances(ledger)
    for currency in {e.currency for e in ledger}:
        assert last.get(currency, 0) == sheets.get(currency, {}).get(member, 0)


# --- balances and pairwise debts: examples ------------------------------------------------------


def _dinner(amount: int = 9000, **kw: object) -> Expense:
    fields: dict[str, object] = {
        "currency": "EUR",
        "amount": amount,
        "paid_by": (("Ana", amount),),
        "split": EqualSplit(("Ana", "Raj", "Mia")),
        "description": "dinner",
        "date": DAY,
    }
    fields.update(kw)
    return Expense(**fields)  # type: ignore[arg-type]


def test_the_payer_is_owed_everyone_elses_share() -> None:
    assert balances([_dinner()]) == {"EUR": {"Ana": 6000, "Raj": -3000, "Mia": -3000}}
    assert pairwise_debts([_dinner()]) == {"EUR": {("Mia", "Ana"): 3000, ("Raj", "Ana"): 3000}}


def test_balances_omit_members_who_are_settled_and_keep_currencies_apart() -> None:
    ledger: list[Entry] = [
        _dinner(),
        Payment("EUR", 3000, "Raj", "Ana", DAY),
        _dinner(3000, currency="JPY", paid_by=(("Mia", 3000),)),
    ]
    assert balances(ledger) == {
        "EUR": {"Ana": 3000, "Mia": -3000},
        "JPY": {"Mia": 2000, "Ana": -1000, "Raj": -1000},
    }
    assert (
        balances(
            [
                _dinner(),
                Payment("EUR", 3000, "Raj", "Ana", DAY),
                Payment("EUR", 3000, "Mia", "Ana", DAY),
            ]
        )
        == {}
    )


def test_each_share_is_owed_to_the_payers_in_proportion_to_what_they_paid() -> None:
    expense = _dinner(paid_by=(("Ana", 6000), ("Raj", 3000)))
    # Mia's 30.00 is owed 20.00 to Ana and 10.00 to Raj; Raj's and Ana's shares cross and net.
    assert pairwise_debts([expense]) == {
        "EUR": {("Mia", "Ana"): 2000, ("Mia", "Raj"): 1000, ("Raj", "Ana"): 1000}
    }
    assert balances([expense]) == {"EUR": {"Ana": 3000, "Mia": -3000}}


def test_rounding_never_owes_a_payer_more_than_they_paid() -> None:
    # Two payers of 1 unit each, two participants of 1 unit each. Allocating each share on its
    # own would send both leftover units to the first payer (ties go first), so Ana would be
    # owed 2 for the 1 she paid and Raj nothing.
    expense = Expense("JPY", 2, (("Ana", 1), ("Raj", 1)), EqualSplit(("Mia", "Tom")), "sweets", DAY)
    debts = pairwise_debts([expense])["JPY"]
    assert debts == {("Mia", "Ana"): 1, ("Tom", "Raj"): 1}


def test_a_payer_who_paid_exactly_their_share_owes_and_is_owed_nothing() -> None:
    expense = _dinner(
        paid_by=(("Ana", 6000), ("Raj", 3000)), split=ExactSplit((("Ana", 6000), ("Raj", 3000)))
    )
    assert balances([expense]) == {}
    # Each payer's share is spread over both payers in proportion, and those cross debts net out.
    assert pairwise_debts([expense]) == {}


def test_a_payment_reduces_what_the_debtor_owes_the_creditor() -> None:
    ledger: list[Entry] = [_dinner(), Payment("EUR", 1000, "Raj", "Ana", DAY)]
    assert pairwise_debts(ledger) == {"EUR": {("Mia", "Ana"): 3000, ("Raj", "Ana"): 2000}}


def test_an_overpayment_turns_the_debt_around() -> None:
    ledger: list[Entry] = [_dinner(), Payment("EUR", 5000, "Raj", "Ana", DAY)]
    assert pairwise_debts(ledger) == {"EUR": {("Ana", "Raj"): 2000, ("Mia", "Ana"): 3000}}
    assert balances(ledger) == {"EUR": {"Ana": 1000, "Raj": 2000, "Mia": -3000}}


def test_a_payment_between_people_without_shared_expenses_is_a_debt_of_its_own() -> None:
    assert pairwise_debts([Payment("USD", 500, "Tom", "Zoe", DAY)]) == {
        "USD": {("Zoe", "Tom"): 500}
    }


def test_a_refund_received_by_one_member_is_owed_to_everyone_sharing_it() -> None:
    refund = _dinner(-9000, paid_by=(("Ana", -9000),), description="deposit back")
    assert balances([refund]) == {"EUR": {"Ana": -6000, "Raj": 3000, "Mia": 3000}}
    assert pairwise_debts([refund]) == {"EUR": {("Ana", "Mia"): 3000, ("Ana", "Raj"): 3000}}


def test_a_refund_is_accepted_exactly_when_the_expense_it_mirrors_is() -> None:
    # "Refunds mirror expenses exactly": an expense listing a payer who paid 0 is accepted, so
    # the same refund listing a payer who got 0 back must be accepted too (or both refused).
    def make(sign: int) -> Expense:
        return _dinner(sign * 9000, paid_by=(("Ana", sign * 9000), ("Raj", 0)))

    try:
        expense: Expense | None = make(1)
    except InvalidSplit:
        expense = None
    try:
        refund: Expense | None = make(-1)
    except InvalidSplit:
        refund = None
    assert (expense is None) == (refund is None)


def test_shares_and_itemised_splits_show_up_in_balances() -> None:
    shares = _dinner(split=SharesSplit((("Raj", Decimal(2)), ("Ana", Decimal(1)))))
    items = _dinner(
        7200,
        split=ItemsSplit(
            (
                Item("pizza", 3000, ("Ana", "Raj")),
                Item("wine", 2000, ("Ana",)),
                Item("salad", 1000, ("Mia",)),
            ),
            extra=1200,
        ),
        paid_by=(("Mia", 7200),),
    )
    assert balances([shares, items]) == {"EUR": {"Ana": 1800, "Raj": -7800, "Mia": 6000}}


# --- conversion ---------------------------------------------------------------------------------


def test_convert_balances_respects_each_currencys_decimals() -> None:
    sheets = {"JPY": {"Ana": 1000, "Raj": -1000}, "KWD": {"Ana": -1000, "Mia": 1000}}
    rates = {"JPY": Decimal("0.0062"), "KWD": Decimal("2.98")}
    # 1000 yen = 6.20 EUR; 1.000 KWD = 2.98 EUR.
    assert convert_balances(sheets, rates, "EUR") == {"Ana": 322, "Mia": 298, "Raj": -620}


def test_convert_balances_into_a_currency_without_decimals() -> None:
    sheets = {"EUR": {"Ana": 1050, "Raj": -1050}}
    assert convert_balances(sheets, {"EUR": Decimal("162.5")}, "jpy") == {
        "Ana": 1706,
        "Raj": -1706,
    }


def test_convert_rounding_still_sums_to_zero_and_breaks_ties_by_name() -> None:
    rates = {"EUR": Decimal(50)}  # one cent is half a yen
    assert convert_balances({"EUR": {"Ana": 1, "Raj": 1, "Mia": -2}}, rates, "JPY") == {
        "Ana": 1,
        "Mia": -1,
    }
    assert convert_balances({"EUR": {"Zoe": 1, "Raj": 1, "Mia": -2}}, rates, "JPY") == {
        "Raj": 1,
        "Mia": -1,
    }


def test_convert_rounding_gives_leftover_units_to_the_largest_remainders() -> None:
    # 0.3, 0.3 and 0.4 of a yen for three people who paid, -1 yen for the one who owes.
    rates = {"EUR": Decimal(10)}
    sheets = {"EUR": {"Ana": 3, "Raj": 3, "Zoe": 4, "Mia": -10}}
    assert convert_balances(sheets, rates, "JPY") == {"Mia": -1, "Zoe": 1}


def test_the_target_currency_needs_no_rate() -> None:
    sheets = {"EUR": {"Ana": 500, "Raj": -500}, "USD": {"Ana": -100, "Raj": 100}}
    assert convert_balances(sheets, {"USD": Decimal("0.9")}, "EUR") == {"Ana": 410, "Raj": -410}
    with pytest.raises(InvalidRate):
        convert_balances(sheets, {"USD": Decimal("0.9"), "EUR": Decimal(2)}, "EUR")


def test_a_currency_without_a_rate_is_refused_by_name() -> None:
    sheets = {"EUR": {"Ana": 500, "Raj": -500}, "JPY": {"Ana": -100, "Raj": 100}}
    with pytest.raises(MissingRate, match="JPY") as caught:
        convert_balances(sheets, {}, "EUR")
    assert isinstance(caught.value, ChipinError)
    assert caught.value.currency == "JPY"


def test_rates_must_be_finite_positive_exact_numbers() -> None:
    sheets = {"USD": {"Ana": 100, "Raj": -100}}
    for bad in (Decimal(0), Decimal(-1), Decimal("Infinity"), Decimal("NaN"), 0.9):
        with pytest.raises(InvalidRate):
            convert_balances(sheets, {"USD": bad}, "EUR")  # type: ignore[dict-item]


# --- passbook -----------------------------------------------------------------------------------


def test_passbook_lists_every_entry_that_touched_the_member_with_a_running_balance() -> None:
    ledger: list[tuple[str, Entry]] = [
        ("e1", _dinner()),
        ("e2", Expense("EUR", 1500, (("Raj", 1500),), EqualSplit(("Raj", "Mia")), "taxi", DAY)),
        ("e3", Payment("EUR", 2000, "Raj", "Ana", DAY, notes="half")),
        ("e4", _dinner(-900, paid_by=(("Ana", -900),), description="corkage back")),
        ("e5", Expense("EUR", 400, (("Raj", 400),), EqualSplit(("Raj",)), "snack", DAY)),
        ("e6", Expense("EUR", 100, (("Ana", 100),), EqualSplit(("Ana",)), "gum", DAY)),
    ]
    lines = passbook(ledger, "Raj")
    assert lines == [
        PassbookLine("e1", DAY, "expense", "dinner", "EUR", -3000, -3000, 0, 3000),
        PassbookLine("e2", DAY, "expense", "taxi", "EUR", 750, -2250, 1500, 750),
        PassbookLine("e3", DAY, "payment", "Raj paid Ana: half", "EUR", 2000, -250, 2000, 0),
        PassbookLine("e4", DAY, "refund", "corkage back", "EUR", 300, 50, 0, -300),
        PassbookLine("e5", DAY, "expense", "snack", "EUR", 0, 50, 400, 400),
    ]
    assert lines[-1].balance == balances(e for _, e in ledger)["EUR"]["Raj"]
    ana = passbook(ledger, "Ana")
    assert [line.entry_id for line in ana] == ["e1", "e3", "e4", "e6"]
    assert ana[1].paid == -2000 and ana[1].share == 0 and ana[1].delta == -2000


def test_passbook_keeps_a_running_balance_per_currency() -> None:
    ledger: list[tuple[str, Entry]] = [
        ("a", _dinner()),
        ("b", _dinner(3000, currency="JPY", paid_by=(("Mia", 3000),))),
        ("c", _dinner(300)),
    ]
    lines = passbook(ledger, "Raj")
    assert [(line.currency, line.balance) for line in lines] == [
        ("EUR", -3000),
        ("JPY", -1000),
        ("EUR", -3100),
    ]


def test_passbook_lines_are_frozen() -> None:
    line = passbook([("e1", _dinner())], "Mia")[0]
    with pytest.raises(AttributeError):
        line.balance = 0  # type: ignore[misc]
    assert not hasattr(line, "__dict__")
