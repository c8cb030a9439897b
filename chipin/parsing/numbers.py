"""Number words to digits: "twenty-five" -> "25", "a hundred and fifty" -> "150", and slang.

Written by hand because no installed library does it (text2num is not a dependency) and the
vocabulary a chat needs is small: cardinals up to the millions, "a"/"an" before a multiplier,
and money slang (tenner, fiver, grand, pony is left out: too rare to be worth a false reading).
"""

from __future__ import annotations

import re

UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}  # fmt: skip
SCALES = {"hundred": 100, "thousand": 1000, "grand": 1000, "million": 1_000_000, "k": 1000}
SLANG = {"tenner": 10, "fiver": 5, "twenty-note": 20}

_WORD = (
    r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fourty|fifty|sixty|seventy"
    r"|eighty|ninety|hundred|thousand|million)"
)
# A run of number words, optionally led by "a"/"an" and joined by hyphens or "and".
_RUN = re.compile(
    rf"\b(?:(?:an?|one)\s+(?=(?:hundred|thousand|grand|million|tenner|fiver)\b))?"
    rf"{_WORD}(?:(?:\s+and\s+|[\s-]+){_WORD})*\b"
    r"|\b(?:an?\s+)?(?:tenner|fiver)s?\b"
    r"|\ban?\s+grand\b"
    r"|\b\d+(?:\.\d+)?\s+(?:hundred|thousand|grand|million)\b",
    re.IGNORECASE,
)
# After a run, a currency word makes even "one" an amount ("one euro").
_MONEY_AFTER = re.compile(
    r"\s*(?:bucks?|dollars?|euros?|pounds?|quid|rupees?|reais|reals?|yen|dinars?|pesos?|€|\$|£)",
    re.IGNORECASE,
)


def words_value(words: list[str]) -> int | None:
    """Value of a tokenised run of number words, or None when it is not a well-formed number.

    Ill-formed runs ("one fifty", "five six") are refused rather than guessed.
    """
    total = 0
    current = 0
    last = ""  # kind of the previous word: "", "unit", "tens", "scale"
    for word in words:
        w = word.lower()
        if w in ("a", "an", "and"):
            continue
        if w in SLANG:
            current = (current or 1) * SLANG[w]
            last = "scale"
        elif w in UNITS:
            if last == "unit" or (last == "tens" and UNITS[w] >= 10):
                return None
            current += UNITS[w]
            last = "unit"
        elif w in TENS:
            if last in ("unit", "tens") and current % 100:
                return None
            current += TENS[w]
            last = "tens"
        elif w == "hundred":
            current = (current or 1) * 100
            last = "scale"
        elif w in SCALES:
            total += (current or 1) * SCALES[w]
            current = 0
            last = "scale"
        else:
            return None
    return total + current if last else None


def _replace(match: re.Match[str]) -> str:
    raw = match.group(0)
    words = [w for w in re.split(r"[\s-]+", raw) if w]
    if words[0][0].isdigit():
        # "2 grand", "1.5 thousand": digits times a scale word.
        from decimal import Decimal

        value = Decimal(words[0]) * SCALES[words[1].lower()]
        return format(value.normalize(), "f")
    plural_slang = [w.rstrip("sS") if w.lower().rstrip("s") in SLANG else w for w in words]
    number = words_value(plural_slang)
    if number is None:
        return raw
    is_slang_or_scaled = any(
        w.lower() in SLANG or w.lower() in SCALES for w in plural_slang
    ) or bool(_MONEY_AFTER.match(match.string, match.end()))
    # A lone "one"/"two" is usually a count ("one of us", "two pizzas"), and it is harmless to
    # turn counts into digits; "one" alone would be read as an amount too eagerly, so keep it.
    if number < 2 and not is_slang_or_scaled:
        return raw
    return str(number)


def words_to_digits(text: str) -> str:
    """``text`` with spelled-out numbers replaced by digits; everything else untouched."""
    if not _HAS_WORD.search(text.lower()):  # a case-blind pattern is ten times slower
        return text
    return _RUN.sub(_replace, text)


_HAS_WORD = re.compile(
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|teen|twenty|thirty|forty|"
    r"fourty|fifty|sixty|seventy|eighty|ninety|hundred|thousand|grand|million|tenner|fiver)",
)
