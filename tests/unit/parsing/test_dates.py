from __future__ import annotations

import datetime as dt

import pytest

from chipin.parsing.rules_dates import find_date

TODAY = dt.date(2026, 11, 21)  # Saturday


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("dinner yesterday", dt.date(2026, 11, 20)),
        ("last night", dt.date(2026, 11, 20)),
        ("on saturday", dt.date(2026, 11, 14)),
        ("last fri", dt.date(2026, 11, 20)),
        ("3 days ago", dt.date(2026, 11, 18)),
        ("on the 25th", dt.date(2026, 10, 25)),
        ("on march 3", dt.date(2026, 3, 3)),
    ],
)
def test_relative_dates_resolve_against_the_groups_today(text: str, day: dt.date) -> None:
    assert find_date(text, TODAY)[1] == day


def test_a_message_without_a_date_has_none() -> None:
    assert find_date("paid 60 for dinner", TODAY) == ("paid 60 for dinner", None)


def test_parsed_expense_carries_the_date(ctx: object) -> None:
    from chipin.parsing.intents import AddExpense
    from chipin.parsing.rules import parse_rules
    from tests.unit.parsing.conftest import make_ctx

    intent = parse_rules("I paid 60 for dinner yesterday, split with Raj", make_ctx())
    assert isinstance(intent, AddExpense)
    assert intent.date == dt.date(2026, 11, 20)
