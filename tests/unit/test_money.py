"""Money: exact minor units, ISO 4217 exponents, locale formatting, largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chipin.core.errors import (
    ChipinError,
    CurrencyMismatch,
    InvalidAmount,
    InvalidSplit,
    UnknownCurrency,
)
from chipin.core.money import (
    Money,
    allocate,
    currency_exponent,
    format_minor,
    is_currency,
    normalize_currency,
    parse_minor,
    to_minor,
)

CURRENCIES = ["JPY", "EUR", "USD", "KWD", "BHD", "CLP", "ISK"]
EXPONENTS = {"JPY": 0, "EUR": 2, "USD": 2, "KWD": 3, "BHD": 3, "CLP": 0, "ISK": 0}

currencies = st.sampled_from(CURRENCIES)
minor_amounts = st.integers(min_value=-(10**15), max_value=10**15)
weights = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=1000),
        st.fractions(min_value=0, max_value=100, max_denominator=50),
        st.decimals(min_value=0, max_value=100, places=3),
    ),
    min_size=1,
    max_size=8,
).filter(lambda ws: sum(Fraction(w) for w in ws) > 0)

FAST = settings(max_examples=150, deadline=None)


# --- currencies and exponents -------------------------------------------------------------------


@pytest.mark.parametrize(("code", "exponent"), sorted(EXPONENTS.items()))
def test_each_currency_has_its_iso_4217_number_of_decimals(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert currency_exponent(code.lower()) == exponent


def test_kwd_amounts_have_three_decimals() -> None:
    fils = Money.of("1.250", "KWD")
    assert fils.minor == 1250
    assert fils.amount == "1.250"
    assert str(Money(5, "KWD")) == "0.005 KWD"
    assert Money.of("2", "BHD").minor == 2000


def test_yen_has_no_minor_unit() -> None:
    assert Money.of("3000", "JPY").minor == 3000
    assert Money(3000, "JPY").amount == "3000"
    with pytest.raises(InvalidAmount):
        Money.of("3000.5", "JPY")


def test_money_refuses_more_decimals_than_the_currency_has() -> None:
    with pytest.raises(InvalidAmount, match="more than 2 decimal places"):
        Money.of("1.005", "EUR")
    with pytest.raises(InvalidAmount, match="more than 3 decimal places"):
        to_minor("0.0001", "KWD")
    with pytest.raises(InvalidAmount, match="more than 0 decimal places"):
        to_minor(Decimal("12.5"), "ISK")


def test_trailing_zeros_beyond_the_currency_digits_are_not_extra_precision() -> None:
    assert to_minor("1.000", "EUR") == 100
    assert to_minor(Decimal("3000.00"), "JPY") == 3000
    assert to_minor(7, "KWD") == 7000


def test_to_minor_never_silently_rounds_a_long_amount() -> None:
    # 30 significant digits: more than the default decimal context keeps (28). The docstring
    # promises refusal instead of rounding, so this must either be exact or refused.
    text = "1234567890123456789012345678.91"
    try:
        minor = to_minor(text, "EUR")
    except InvalidAmount:
        return
    assert minor == 123456789012345678901234567891


def test_to_minor_refuses_a_long_amount_with_too_many_decimals() -> None:
    with pytest.raises(InvalidAmount):
        to_minor("12345678901234567890123456789.015", "EUR")


def test_non_numbers_and_infinities_are_not_amounts() -> None:
    for bad in ("abc", "", "NaN", "Infinity", "1.2.3"):
        with pytest.raises(InvalidAmount):
            to_minor(bad, "EUR")


def test_parse_minor_accepts_only_plain_decimals() -> None:
    assert parse_minor(" 20.00 ", "EUR") == 2000
    assert parse_minor("-3.5", "EUR") == -350
    assert parse_minor("3000", "JPY") == 3000
    for bad in ("1e3", "1,000.00", "€5", "five", "", "  "):
        with pytest.raises(InvalidAmount):
            parse_minor(bad, "EUR")


def test_unknown_and_non_money_currency_codes_are_refused() -> None:
    for code in ("EURO", "XYZ", "XAU", ""):
        with pytest.raises(UnknownCurrency):
            currency_exponent(code)
        assert not is_currency(code)
    with pytest.raises(UnknownCurrency):
        Money(100, "XAU")
    assert normalize_currency(" eur ") == "EUR"


def test_money_minor_units_must_be_an_int() -> None:
    for bad in (1.5, Decimal("1"), "100", True):
        with pytest.raises(InvalidAmount):
            Money(bad, "EUR")  # type: ignore[arg-type]


def test_money_keeps_currency_codes_upper_case() -> None:
    # Money(…, "eur") must not become a different currency from Money(…, "EUR"): either it is
    # normalised (as Money.of and the entries do) or it is refused.
    try:
        lower = Money(100, "eur")
    except ChipinError:
        return
    assert lower.currency == "EUR"
    assert lower + Money(1, "EUR") == Money(101, "EUR")


# --- arithmetic and formatting ------------------------------------------------------------------


def test_money_only_adds_up_within_one_currency() -> None:
    assert Money(150, "EUR") + Money(50, "EUR") == Money(200, "EUR")
    assert Money(150, "EUR") - Money(200, "EUR") == Money(-50, "EUR")
    assert -Money(5, "JPY") == Money(-5, "JPY")
    assert abs(Money(-5, "JPY")) == Money(5, "JPY")
    assert not Money.zero("usd")
    with pytest.raises(CurrencyMismatch, match="EUR and USD"):
        Money(1, "EUR") + Money(1, "USD")
    with pytest.raises(CurrencyMismatch):
        Money(1, "JPY") - Money(1, "EUR")


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (2000, "EUR", "20.00"),
        (-5, "EUR", "-0.05"),
        (0, "USD", "0.00"),
        (3000, "JPY", "3000"),
        (-7, "CLP", "-7"),
        (1250, "KWD", "1.250"),
        (1, "BHD", "0.001"),
        (-123456, "KWD", "-123.456"),
    ],
)
def test_format_minor_writes_exactly_the_currency_digits(
    minor: int, currency: str, text: str
) -> None:
    assert format_minor(minor, currency) == text


def test_format_uses_the_locale() -> None:
    eur = Money.of("1234567.50", "EUR")
    assert eur.format("en_US") == "€1,234,567.50"
    assert eur.format("de_DE") == "1.234.567,50\xa0€"
    assert eur.format("en_IN") == "€12,34,567.50"
    assert Money.of("3000", "JPY").format("en_US") == "¥3,000"
    assert Money.of("-1.250", "KWD").format("de_DE") == "-1,250\xa0KWD"


def test_format_never_hides_minor_units() -> None:
    # ISO 4217 gives IQD three decimals while CLDR displays it with none: the display must not
    # turn 0.005 IQD into "IQD0" or 1.250 IQD into "IQD1".
    assert "0.005" in Money(5, "IQD").format("en_US")
    assert "1.250" in Money(1250, "IQD").format("en_US")


@FAST
@given(minor=minor_amounts, currency=currencies)
def test_format_and_parse_round_trip_exactly(minor: int, currency: str) -> None:
    text = format_minor(minor, currency)
    assert parse_minor(text, currency) == minor
    assert Money.of(text, currency) == Money(minor, currency)
    assert Money(minor, currency).to_decimal() == Decimal(text)
    decimals = text.partition(".")[2]
    assert len(decimals) == EXPONENTS[currency]


@FAST
@given(minor=st.integers(min_value=-(10**12), max_value=10**12), currency=currencies)
def test_english_display_shows_the_same_digits_as_the_plain_amount(
    minor: int, currency: str
) -> None:
    shown = Money(minor, currency).format("en_US").replace(",", "")
    assert format_minor(abs(minor), currency) in shown
    assert shown.startswith("-") == (minor < 0)


# --- allocate -----------------------------------------------------------------------------------


def test_allocate_gives_leftover_units_to_the_earlier_parts_on_ties() -> None:
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(200, [1, 1, 1]) == [67, 67, 66]
    assert allocate(-100, [1, 1, 1]) == [-34, -33, -33]
    assert allocate(5, [1, 1, 1, 1, 1, 1, 1]) == [1, 1, 1, 1, 1, 0, 0]


def test_allocate_gives_leftover_units_to_the_largest_remainders_first() -> None:
    # Quotas 1.5, 2.7, 5.8: remainders .5, .7, .8, one unit left -> the .8 part gets it.
    assert allocate(10, [15, 27, 58]) == [1, 3, 6]
    assert allocate(10, [Decimal("1.5"), Decimal("2.7"), Decimal("5.8")]) == [1, 3, 6]


def test_allocate_refuses_what_cannot_be_split() -> None:
    with pytest.raises(InvalidSplit):
        allocate(100, [])
    with pytest.raises(InvalidSplit):
        allocate(100, [0, 0])
    with pytest.raises(InvalidSplit):
        allocate(100, [2, -1])


def test_allocate_zero_gives_everyone_nothing() -> None:
    assert allocate(0, [1, 2, 3]) == [0, 0, 0]


@FAST
@given(total=minor_amounts, ws=weights)
def test_allocate_parts_sum_exactly_and_stay_within_one_unit_of_the_exact_quota(
    total: int, ws: list[int | Fraction | Decimal]
) -> None:
    parts = allocate(total, ws)
    assert len(parts) == len(ws)
    assert sum(parts) == total
    weight_sum = sum(Fraction(w) for w in ws)
    for part, w in zip(parts, ws, strict=True):
        quota = total * Fraction(w) / weight_sum
        assert abs(part - quota) < 1
        if w == 0:
            assert part == 0


@FAST
@given(total=minor_amounts, ws=weights)
def test_allocate_mirrors_refunds_exactly(total: int, ws: list[int | Fraction | Decimal]) -> None:
    assert allocate(-total, ws) == [-p for p in allocate(total, ws)]


@FAST
@given(total=st.integers(min_value=0, max_value=10**12), ws=weights)
def test_allocate_leftover_rule_is_largest_remainder_then_earlier_part(
    total: int, ws: list[int | Fraction | Decimal]
) -> None:
    parts = allocate(total, ws)
    weight_sum = sum(Fraction(w) for w in ws)
    quotas = [total * Fraction(w) / weight_sum for w in ws]
    floors = [q.numerator // q.denominator for q in quotas]
    remainders = [q - f for q, f in zip(quotas, floors, strict=True)]
    bumped = [p - f for p, f in zip(parts, floors, strict=True)]
    assert set(bumped) <= {0, 1}
    assert sum(bumped) == total - sum(floors)
    winners = [i for i, b in enumerate(bumped) if b]
    losers = [i for i, b in enumerate(bumped) if not b]
    for w in winners:
        for lo in losers:
            assert remainders[w] >= remainders[lo]
            if remainders[w] == remainders[lo]:
                assert w < lo, "on a tie the earlier part gets the leftover unit"
    assert allocate(total, ws) == parts  # deterministic


@FAST
@given(total=minor_amounts, n=st.integers(min_value=1, max_value=12))
def test_equal_allocation_puts_the_bigger_parts_first(total: int, n: int) -> None:
    parts = allocate(total, [1] * n)
    assert max(parts) - min(parts) <= 1
    magnitudes = [abs(p) for p in parts]
    assert magnitudes == sorted(magnitudes, reverse=True)
