"""Money as integer minor units of an ISO 4217 currency.

Every amount in Chipin is an ``int`` count of minor units (cents, fils, yen) plus a currency code;
floats never appear. Exponents come from the ISO 4217 list as packaged by ``iso4217`` (JPY 0,
EUR 2, KWD 3); the few codes without one (gold, SDR, ...) are refused: they are not money people
split in a chat.
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache

from babel import Locale
from babel.numbers import NumberPattern
from iso4217 import Currency

from chipin.core.errors import CurrencyMismatch, InvalidAmount, InvalidSplit, UnknownCurrency


@lru_cache(maxsize=512)
def currency_exponent(code: str) -> int:
    """Number of minor-unit digits of an ISO 4217 currency (JPY 0, EUR 2, KWD 3)."""
    try:
        exponent = Currency(code.upper()).exponent
    except ValueError:
        raise UnknownCurrency(code) from None
    if exponent is None:
        raise UnknownCurrency(code)
    return int(exponent)


def normalize_currency(code: str) -> str:
    """Upper-case and validate a currency code."""
    upper = code.strip().upper()
    currency_exponent(upper)
    return upper


def is_currency(code: str) -> bool:
    try:
        currency_exponent(code)
    except UnknownCurrency:
        return False
    return True


MAX_MINOR = 10**17
"""Largest magnitude accepted, in minor units: far beyond any real bill, well inside BIGINT."""
_EXACT = Context(prec=200)  # wide enough that scaling never rounds what was typed


def to_minor(amount: Decimal | int | str, currency: str) -> int:
    """Exact conversion of a decimal amount to minor units.

    Refuses amounts with more precision than the currency has ("1.005 EUR") instead of rounding:
    a ledger that silently rounds input stops summing to what people typed.
    """
    exponent = currency_exponent(currency)
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation:
        raise InvalidAmount(f"{amount!r} is not a number") from None
    if not value.is_finite():
        raise InvalidAmount(f"{amount!r} is not a finite amount")
    if value.adjusted() > 40:
        raise InvalidAmount(f"{amount} is too large an amount")
    scaled = value.scaleb(exponent, context=_EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
        raise InvalidAmount(
            f"{amount} has more than {exponent} decimal places, "
            f"which {currency.upper()} does not have"
        )
    minor = int(scaled)
    if abs(minor) > MAX_MINOR:
        raise InvalidAmount(f"{amount} is too large an amount")
    return minor


def parse_minor(text: str, currency: str) -> int:
    """Parse a plain decimal string ("20.00", "-3.5", "3000") into minor units."""
    stripped = text.strip()
    if not stripped or any(c not in "+-.0123456789" for c in stripped):
        raise InvalidAmount(f"{text!r} is not a plain decimal amount")
    return to_minor(stripped, currency)


def format_minor(minor: int, currency: str) -> str:
    """Minor units as a decimal string in the currency's digits: "20.00", "3000", "1.250"."""
    exponent = currency_exponent(currency)
    sign = "-" if minor < 0 else ""
    digits = str(abs(minor))
    if exponent == 0:
        return sign + digits
    digits = digits.rjust(exponent + 1, "0")
    return f"{sign}{digits[:-exponent]}.{digits[-exponent:]}"


def minor_to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-currency_exponent(currency))


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An exact amount: ``minor`` units of ``currency`` (an upper-case ISO 4217 code)."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.minor, int) or isinstance(self.minor, bool):
            raise InvalidAmount(f"minor units must be an int, got {self.minor!r}")
        object.__setattr__(self, "currency", normalize_currency(self.currency))

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> Money:
        """Money from a major-unit amount: ``Money.of("60.00", "EUR")``."""
        code = normalize_currency(currency)
        return cls(to_minor(amount, code), code)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, normalize_currency(currency))

    @property
    def amount(self) -> str:
        """The plain decimal string, e.g. "20.00"."""
        return format_minor(self.minor, self.currency)

    def to_decimal(self) -> Decimal:
        return minor_to_decimal(self.minor, self.currency)

    def format(self, locale: str = "en_US") -> str:
        """Locale-aware display with the currency's symbol ("€60.00", "60,00 €", "¥3,000")."""
        return _localized(self.minor, self.currency, locale, "currency")

    def _same(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(self.currency, other.currency)

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __bool__(self) -> bool:
        return self.minor != 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def format_number(minor: int, currency: str, locale: str = "en_US") -> str:
    """The amount's number for a locale, without a symbol: "1,250.50", "1.250,50", "1,50,000.00"."""
    return _localized(minor, currency, locale, "decimal")


def _localized(minor: int, currency: str, locale: str, kind: str) -> str:
    """Babel's pattern for the locale (its grouping: 1,50,000 in en_IN), with the fraction digits
    forced to the ISO 4217 exponent: CLDR's display digits are fewer for a few currencies (IQD),
    and no minor unit may be hidden."""
    loc, pattern = _pattern(locale, currency_exponent(currency), kind)
    text: str = pattern.apply(
        minor_to_decimal(minor, currency), loc, currency=currency, currency_digits=False
    )
    return text


@lru_cache(maxsize=256)
def _pattern(locale: str, exponent: int, kind: str) -> tuple[Locale, NumberPattern]:
    """Parsing the locale and copying its pattern cost more than formatting: done once each."""
    loc = Locale.parse(locale)
    base = loc.currency_formats["standard"] if kind == "currency" else loc.decimal_formats[None]
    pattern = copy(base)
    pattern.frac_prec = (exponent, exponent)
    return loc, pattern


Weight = int | Fraction | Decimal


def allocate(total: int, weights: Sequence[Weight]) -> list[int]:
    """Split ``total`` minor units in proportion to ``weights`` so the parts sum exactly.

    Largest remainder (Hamilton) method, computed with exact fractions: each part first gets the
    floor of its exact quota, then the units left over go one each to the parts with the largest
    fractional remainders. **Ties go to the earlier part**, so the leftover unit of an equal split
    lands on the members in the order the split lists them. A negative total (a refund) is
    allocated as its absolute value and negated, so refunds mirror expenses exactly.
    """
    if not weights:
        raise InvalidSplit("nothing to split between")
    exact = [Fraction(w) for w in weights]
    if any(w < 0 for w in exact):
        raise InvalidSplit("split weights cannot be negative")
    weight_sum = sum(exact, Fraction(0))
    if weight_sum == 0:
        raise InvalidSplit("split weights add up to zero")
    if total < 0:
        return [-part for part in allocate(-total, weights)]
    quotas = [total * w / weight_sum for w in exact]
    parts = [q.numerator // q.denominator for q in quotas]
    leftover = total - sum(parts)
    by_remainder = sorted(range(len(quotas)), key=lambda i: (-(quotas[i] - parts[i]), i))
    for i in by_remainder[:leftover]:
        parts[i] += 1
    return parts
