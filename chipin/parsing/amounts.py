"""Amounts and currencies as people type them: "$60", "€12,50", "R$ 1.200,00", "₹1,50,000",
"1.5k", "12.500 KD", "60 quid", "a tenner".

:func:`scan_numbers` finds every number in a (lower-cased) message, decides what it is (money with
a currency, a bare number that may be money, a count, a percentage, a ratio, a time) and replaces
it with a placeholder token so the rules can read the message's shape ("A0", "C1", "PCT2" ...).
Babel parses numbers for one known locale; chat text mixes conventions within one group, so the
separators are read here from their shape instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from chipin.core.money import currency_exponent, is_currency
from chipin.parsing.rules_words import words

# Currencies written with a "$" sign: a bare "$" means the group's currency when it is one of
# these (a Mexican group's "$" is pesos), US dollars otherwise.
DOLLAR_SIGN = words("USD AUD CAD NZD SGD HKD MXN ARS CLP COP TWD BRL JMD TTD BSD BBD FJD NAD LRD")
_FAMILY = {
    "dollar": ("USD", frozenset({*DOLLAR_SIGN} - {"BRL", "MXN", "ARS", "CLP", "COP"})),
    "yen": ("JPY", frozenset({"JPY", "CNY"})),
    "rupee": ("INR", frozenset({"INR", "PKR", "NPR", "LKR", "MUR", "SCR"})),
    "dinar": ("KWD", frozenset({"KWD", "BHD", "JOD", "IQD", "TND", "LYD", "RSD", "DZD", "MKD"})),
    "dirham": ("AED", frozenset({"AED", "MAD"})),
    "peso": ("MXN", frozenset({"MXN", "ARS", "CLP", "COP", "PHP", "UYU", "DOP", "CUP"})),
    "krona": ("SEK", frozenset({"SEK", "NOK", "DKK", "ISK"})),
    "franc": ("CHF", frozenset({"CHF", "XOF", "XAF"})),
    "pound": ("GBP", frozenset({"GBP", "EGP"})),
}
# Marker (lower case) -> a fixed ISO code, or a family resolved against the group's currency.
MARKERS: dict[str, str] = {
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "quid": "GBP",
    "pound": "pound", "pounds": "pound",
    "$": "$", "bucks": "$", "buck": "$", "dollar": "dollar", "dollars": "dollar",
    "us$": "USD", "usd": "USD", "a$": "AUD", "au$": "AUD", "aud": "AUD", "c$": "CAD",
    "ca$": "CAD", "cad": "CAD", "nz$": "NZD", "nzd": "NZD", "s$": "SGD", "sgd": "SGD",
    "hk$": "HKD", "hkd": "HKD", "mx$": "MXN", "mxn": "MXN",
    "r$": "BRL", "brl": "BRL", "reais": "BRL", "reals": "BRL",
    "¥": "yen", "yen": "JPY", "jpy": "JPY", "yuan": "CNY", "rmb": "CNY", "cny": "CNY",
    "₹": "INR", "inr": "INR", "rs": "rupee", "rs.": "rupee", "rupee": "rupee",
    "rupees": "rupee",
    "kd": "KWD", "kwd": "KWD", "dinar": "dinar", "dinars": "dinar", "bd": "BHD", "bhd": "BHD",
    "dirham": "dirham", "dirhams": "dirham", "aed": "AED", "dhs": "AED", "dh": "dirham",
    "chf": "CHF", "franc": "franc", "francs": "franc", "fr": "CHF",
    "peso": "peso", "pesos": "peso",
    "₩": "KRW", "krw": "KRW", "won": "KRW", "฿": "THB", "baht": "THB", "thb": "THB",
    "rand": "ZAR", "zar": "ZAR", "zł": "PLN", "zloty": "PLN", "zlotys": "PLN", "pln": "PLN",
    "₺": "TRY", "lira": "TRY", "rm": "MYR", "ringgit": "MYR", "myr": "MYR",
    "₪": "ILS", "ils": "ILS", "nis": "ILS", "shekel": "ILS", "shekels": "ILS",
    "₦": "NGN", "naira": "NGN", "ngn": "NGN", "₱": "PHP", "php": "PHP", "₫": "VND", "vnd": "VND",
    "kr": "krona", "krona": "krona", "kronor": "krona", "krone": "krona", "kroner": "krona",
    "sek": "SEK", "nok": "NOK", "dkk": "DKK", "czk": "CZK", "huf": "HUF", "idr": "IDR",
    "egp": "EGP", "sar": "SAR", "qar": "QAR", "omr": "OMR", "jod": "JOD", "cop": "COP",
    "ars": "ARS", "clp": "CLP", "pkr": "PKR", "twd": "TWD",
}  # fmt: skip
# Fractions of a unit: "50 cents", "80p".
SUBUNITS = {"cents": "$", "cent": "$", "c": "$", "p": "GBP", "pence": "GBP", "paise": "INR"}


def resolve_marker(marker: str, group_currency: str) -> str | None:
    """The ISO code a currency marker means in a group whose currency is ``group_currency``."""
    key = marker.lower().strip()
    value = MARKERS.get(key)
    if value is None:
        upper = key.upper()
        return upper if len(upper) == 3 and is_currency(upper) else None
    if value == "$":
        return group_currency if group_currency in DOLLAR_SIGN else "USD"
    if value in _FAMILY:
        default, members = _FAMILY[value]
        return group_currency if group_currency in members else default
    return value


def parse_number(raw: str, currency: str) -> Decimal | None:
    """A number typed with any common separators, or None when its shape is not a number.

    "1,250.50" and "1.250,50" -> 1250.50; "12,50" -> 12.50; "1,50,000" -> 150000 (Indian
    grouping); "1.200" -> 1200 unless the currency has 3 decimals (KWD: "12.500" is 12.5).
    """
    if "," in raw and "." in raw:
        decimal_sep = "," if raw.rfind(",") > raw.rfind(".") else "."
        group_sep = "." if decimal_sep == "," else ","
        whole, _, frac = raw.rpartition(decimal_sep)
        if decimal_sep in whole or not _grouped(whole, group_sep):
            return None
        return _decimal(whole.replace(group_sep, "") + "." + frac)
    sep = "," if "," in raw else "." if "." in raw else ""
    if not sep:
        return _decimal(raw)
    parts = raw.split(sep)
    if len(parts) > 2:
        return _decimal(raw.replace(sep, "")) if _grouped(raw, sep) else None
    whole, frac = parts
    if len(frac) == 3 and whole != "0" and currency_exponent(currency) != 3:
        return _decimal(whole + frac)  # "1,250" / "1.200": a thousands separator
    return _decimal(whole + "." + frac)


def _grouped(number: str, sep: str) -> bool:
    groups = number.split(sep)
    if not groups[0] or len(groups[0]) > 3 or any(not g.isdigit() for g in groups):
        return False
    tail = groups[1:]
    if not tail:
        return True
    # Western groups of three, or Indian lakh/crore groups of two ending in a group of three.
    return all(len(g) == 3 for g in tail) or (
        len(tail[-1]) == 3 and all(len(g) == 2 for g in tail[:-1])
    )


def _decimal(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@dataclass(frozen=True, slots=True)
class Num:
    """One number found in a message, with what it was read as."""

    kind: str
    """"money" (explicit currency), "bare" (may be money), "count", "percent", "ratio",
    "range", "time"."""
    value: Decimal
    currency: str | None = None
    """The explicit currency, for "money"."""
    values: tuple[Decimal, ...] = ()
    """The parts of a ratio or percent list ("50/30/20")."""
    raw: str = ""


_PREFIX = (
    r"(?P<pre>r\$|us\$|au\$|a\$|ca\$|c\$|nz\$|s\$|hk\$|mx\$|\$|€|£|¥|₹|₩|₪|₦|฿|₱|₺|₫"
    r"|(?:rs\.?|inr|kd|bd|eur|usd|gbp|brl|jpy|kwd|aud|cad|chf|cny|mxn|sek|nok|dkk|aed|sar|zar|rm"
    r"|sgd|hkd|nzd|pln|try|ils|thb|krw|php|idr|czk|huf)(?=\s?\d))"
)
_POST_WORDS = "|".join(
    sorted((re.escape(k.strip()) for k in MARKERS if k[0].isalpha()), key=len, reverse=True)
)
_POST = rf"(?P<post>€|\$|£|¥|₹|₩|₪|₦|฿|₱|₺|₫|zł|(?:{_POST_WORDS}|cents?|pence|paise|p)\b)"
_NUMBER = re.compile(
    rf"(?<![\w.,/:$€£¥₹])(?:{_PREFIX}\s?)?(?P<num>\d[\d.,]*\d|\d)(?P<k>k\b)?"
    rf"(?:[ \t]?{_POST})?"
)
_RATIO = re.compile(
    r"(?<![\w.,/:$€£¥₹])(\d+(?:\.\d+)?%?(?:\s?[/:-]\s?\d+(?:\.\d+)?%?)+)(?![\w/:]|[.,]\d)"
)
# Words after a bare number that make it a count or a measure rather than money.
COUNT_WORDS = words(
    """nights night days day people persons person ppl pax of shares share ways way times x pm
    am h hr hrs hours hour min mins minutes km miles mi kg lbs items guests slices pieces rounds
    st nd rd th weeks week months month years year tickets beers drinks pizzas coffees adults
    kids rooms beds seats portions bottles cans plates meals"""
)
_BEFORE_COUNT = frozenset(
    {"at", "#", "no", "number", "room", "table", "in", "those", "platform", "gate"}
)
_WORD_AFTER = re.compile(r"\s*([a-z]+|%)")
_WORD_BEFORE = re.compile(r"([a-z#]+)\s*$")


def _ratio_kind(parts: list[Decimal], seps: set[str], text: str, end: int) -> str:
    if ":" in seps and re.match(r"\s*(?:am|pm)\b", text[end:]):
        return "time"
    if sum(parts) == 100 and seps <= {"/", "-"}:
        return "percent"
    if ":" in seps or "/" in seps:
        return "ratio"
    return "range"


def _is_year(value: Decimal, word_before: str) -> bool:
    # "still owes me from 2019", "back in 2024": a year, not an amount.
    return (
        1990 <= value <= 2100
        and value == value.to_integral_value()
        and word_before
        in (
            "from",
            "in",
            "since",
            "of",
            "until",
            "till",
            "by",
            "back",
            "year",
        )
    )


def scan_numbers(text: str, group_currency: str) -> tuple[str, list[Num]]:
    """``text`` (lower case) with each number replaced by a placeholder, and the numbers.

    Placeholders: ``A{i}`` for money or bare numbers, ``C{i}`` counts, ``PCT{i}`` percentages
    (and percent lists), ``R{i}`` ratios, ``RANGE``/``TIME`` for ranges and clock times.
    """
    found: list[Num] = []

    def ratio(match: re.Match[str]) -> str:
        raw = match.group(1)
        seps = set(re.findall(r"[/:-]", raw))
        try:
            parts = [Decimal(p) for p in re.split(r"\s?[/:-]\s?", raw.replace("%", ""))]
        except InvalidOperation:
            return raw
        kind = _ratio_kind(parts, seps, text, match.end())
        if kind in ("time", "range"):
            return f" {kind.upper()} "
        found.append(Num(kind, parts[0], values=tuple(parts), raw=raw))
        tag = "PCT" if kind == "percent" else "R"
        return f" {tag}{len(found) - 1} "

    def number(match: re.Match[str]) -> str:
        raw = match.group(0)
        pre, post = match.group("pre"), match.group("post")
        currency = resolve_marker(pre, group_currency) if pre else None
        subunit = None
        if post in SUBUNITS:
            subunit = resolve_marker(SUBUNITS[post], group_currency)
        elif post and currency is None:
            currency = resolve_marker(post, group_currency)
        value = parse_number(match.group("num"), currency or subunit or group_currency)
        if value is None:
            return raw
        if match.group("k"):
            value *= 1000
        if subunit:
            value /= 10 ** currency_exponent(subunit)
            currency = subunit
        tail = text[match.end() :]
        if currency:
            found.append(Num("money", value, currency, raw=raw))
            return f" A{len(found) - 1} "
        after = _WORD_AFTER.match(tail)
        before = _WORD_BEFORE.search(text, 0, match.start())
        next_word = after.group(1) if after else ""
        if next_word in ("%", "percent", "pct"):
            found.append(Num("percent", value, values=(value,), raw=raw))
            return f" PCT{len(found) - 1} "
        is_count = (
            next_word in COUNT_WORDS
            or (before is not None and before.group(1) in _BEFORE_COUNT)
            or _is_year(value, before.group(1) if before else "")
        )
        found.append(Num("count" if is_count else "bare", value, raw=raw))
        return f" {'C' if is_count else 'A'}{len(found) - 1} "

    if _RATIO_HINT.search(text):
        text = _TIME.sub(" TIME ", text)
        text = _RATIO.sub(ratio, text)
    text = _CLOCK.sub(" TIME ", text)
    text = _NUMBER.sub(number, text)
    return text, found


_RATIO_HINT = re.compile(r"\d\s?[/:-]\s?\d")
_TIME = re.compile(r"(?<![\d.,])\d{1,2}:\d{2}(?:\s?[ap]m\b)?(?![\d:])")
_CLOCK = re.compile(r"(?<![\d.,$€£])\b\d{1,2}\s?[ap]m\b")
