from __future__ import annotations

from decimal import Decimal

import pytest

from chipin.parsing.amounts import parse_number, resolve_marker, scan_numbers
from chipin.parsing.numbers import words_to_digits


@pytest.mark.parametrize(
    ("raw", "currency", "value"),
    [
        ("60", "USD", "60"),
        ("1,250.50", "USD", "1250.50"),
        ("1.250,50", "EUR", "1250.50"),
        ("12,50", "EUR", "12.50"),
        ("1.200,00", "BRL", "1200.00"),
        ("1,50,000", "INR", "150000"),
        ("12.500", "KWD", "12.500"),
        ("1.200", "EUR", "1200"),
        ("1,250", "USD", "1250"),
    ],
)
def test_numbers_are_read_from_their_separators(raw: str, currency: str, value: str) -> None:
    assert parse_number(raw, currency) == Decimal(value)


def test_a_malformed_grouping_is_not_a_number() -> None:
    assert parse_number("1,2,3.4.5", "USD") is None


@pytest.mark.parametrize(
    ("text", "currency", "value"),
    [
        ("$60", "USD", "60"),
        ("60 eur", "EUR", "60"),
        ("€12,50", "EUR", "12.50"),
        ("r$ 1.200,00", "BRL", "1200.00"),
        ("₹1,50,000", "INR", "150000"),
        ("12.500 kd", "KWD", "12.500"),
        ("60 quid", "GBP", "60"),
        ("3000 yen", "JPY", "3000"),
        ("35 reais", "BRL", "35"),
        ("50 cents", "USD", "0.50"),
    ],
)
def test_currency_markers_before_or_after_the_number(text: str, currency: str, value: str) -> None:
    template, nums = scan_numbers(text, "USD")
    assert template.strip() == "A0"
    assert nums[0].kind == "money"
    assert (nums[0].currency, nums[0].value) == (currency, Decimal(value))


def test_k_multiplies_by_a_thousand() -> None:
    _, nums = scan_numbers("1.5k", "USD")
    assert nums[0].value == 1500


def test_a_dollar_sign_means_the_groups_own_dollar_or_peso() -> None:
    assert resolve_marker("$", "CAD") == "CAD"
    assert resolve_marker("$", "MXN") == "MXN"
    assert resolve_marker("$", "EUR") == "USD"
    assert resolve_marker("bucks", "INR") == "USD"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("twenty bucks", "20 bucks"),
        ("a hundred and fifty", "150"),
        ("three thousand", "3000"),
        ("forty-five euros", "45 euros"),
        ("a tenner", "10"),
        ("a grand", "1000"),
        ("one of us", "one of us"),
        ("one fifty", "one fifty"),
    ],
)
def test_number_words_become_digits_only_when_well_formed(text: str, expected: str) -> None:
    assert words_to_digits(text) == expected


def test_counts_times_and_percent_lists_are_not_money() -> None:
    template, nums = scan_numbers("3 nights at 7:30pm split 50/30/20, 2:1", "USD")
    kinds = [n.kind for n in nums]
    assert kinds == ["percent", "ratio", "count"]
    assert "TIME" in template
