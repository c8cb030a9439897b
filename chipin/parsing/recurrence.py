"""Recurrence phrases in a message: "rent 1200 every month on the 1st, split equally".

:func:`split_recurrence` finds the phrase, returns the message without it (for the ordinary
parser) and the rule it states. Hand-written: dateparser reads dates, not repetition rules.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {
    "day": "day",
    "daily": "day",
    "week": "week",
    "weekly": "week",
    "month": "month",
    "monthly": "month",
    "year": "year",
    "yearly": "year",
    "annually": "year",
}
_WEEKDAY = (
    r"(?P<weekday>mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:rs(?:day)?)?"
    r"|fri(?:day)?|sat(?:urday)?|sun(?:day)?)s?"
)
_PATTERN = re.compile(
    r"(?:,?\s*)\b(?:"
    r"every\s+(?:(?P<n>\d{1,2}|other)\s+)?(?P<unit>day|week|month|year)s?"
    r"|(?P<adverb>daily|weekly|monthly|yearly|annually)"
    r"|every\s+" + _WEEKDAY + r")\b"
    r"(?:\s+on\s+(?:the\s+)?(?P<dom>\d{1,2})(?:st|nd|rd|th)?(?:\s+of\s+(?:the|each|every)\s+month)?"
    r"|\s+on\s+" + _WEEKDAY.replace("weekday", "on_weekday") + r")?",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Recurrence:
    frequency: str
    interval: int = 1
    day: int | None = None
    """Day of month (monthly/yearly) or weekday 0=Monday (weekly)."""

    def first_on_or_after(self, today: dt.date) -> dt.date:
        """Where the rule starts: the first matching day from ``today`` on (month ends clamp)."""
        if self.frequency == "week" and self.day is not None:
            return today + dt.timedelta(days=(self.day - today.weekday()) % 7)
        if self.frequency in ("month", "year") and self.day is not None:
            year, month = today.year, today.month
            if today.day > min(self.day, calendar.monthrange(year, month)[1]):
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            return dt.date(year, month, min(self.day, calendar.monthrange(year, month)[1]))
        return today


def _weekday(word: str | None) -> int | None:
    if not word:
        return None
    prefix = word.lower()[:3]
    return next(i for i, name in enumerate(WEEKDAYS) if name.startswith(prefix))


def split_recurrence(text: str) -> tuple[str, Recurrence | None]:
    """The text without its recurrence phrase, and the rule (None when there is none)."""
    match = _PATTERN.search(text)
    if match is None:
        return text, None
    weekday = _weekday(match.group("weekday") or match.group("on_weekday"))
    if match.group("unit"):
        unit = match.group("unit").lower()
        n = match.group("n")
        interval = 2 if n and n.lower() == "other" else int(n) if n else 1
    elif match.group("adverb"):
        unit, interval = _UNITS[match.group("adverb").lower()], 1
    else:
        unit, interval = "week", 1
    if unit == "day" and weekday is not None:
        unit = "week"
    dom = match.group("dom")
    day: int | None
    if unit == "week":
        day = weekday
    elif dom is not None and 1 <= int(dom) <= 31:
        day = int(dom)
    else:
        day = None
    remaining = (text[: match.start()] + text[match.end() :]).strip(" ,.;")
    return " ".join(remaining.split()), Recurrence(unit, max(1, interval), day)
