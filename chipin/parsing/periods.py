"""A month named in a question ("what did I spend in October?"), for spending reports."""

from __future__ import annotations

import re

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_NAMED = re.compile(
    r"\b(?:in|for|during|of)\s+(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|"
    r"june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    re.IGNORECASE,
)


def named_month(text: str) -> int | None:
    """1..12 when the text asks about a month by name ("in October", "for sept"), else None."""
    match = _NAMED.search(text)
    if match is None:
        return None
    prefix = match.group("month").lower()[:3]
    return next(i for i, name in enumerate(_MONTHS, 1) if name.startswith(prefix))
