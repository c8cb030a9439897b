"""Dates in expense messages: "yesterday", "last night", "on Saturday", "3 days ago", "on the 12th",
"on March 3". Relative to the group's today (``ParseContext.today``, already in its timezone).

The common relative words are read here by hand: dateparser costs about 2 ms a call, which alone
would cap the parser near 500 messages/s. dateparser still reads explicit calendar dates
("on 14 March", "on 11/14"), which are rare, through a cache.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache

WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tue": 1, "tues": 1, "wednesday": 2, "wed": 2,
    "thursday": 3, "thu": 3, "thurs": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_WEEKDAY = "|".join(sorted(WEEKDAYS, key=len, reverse=True))
_DATE = re.compile(
    r"\b(?:"
    r"(?P<dby>(?:the\s+)?day\s+before\s+yesterday)"
    r"|(?P<yday>yesterday|yday|last\s+night)"
    r"|(?P<today>today|tonight|this\s+(?:morning|afternoon|evening)|earlier\s+today)"
    r"|(?P<ago>(?P<n>\d+|a|an|one|two|three|four|five|six)\s+(?P<unit>days?|weeks?)\s+ago)"
    rf"|(?:on\s+|last\s+|this\s+past\s+|past\s+)(?P<wd>{_WEEKDAY})(?:\s+(?:night|morning|evening))?"
    r"|(?:on\s+)?the\s+(?P<dom>\d{1,2})(?:st|nd|rd|th)\b"
    rf"|(?P<cal>(?:on\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTHS})"
    rf"|(?:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?)(?:,?\s+\d{{4}})?)"
    r"|on\s+(?P<num>\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?)"
    r")\b"
)
_SMALL = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def find_date(text: str, today: dt.date) -> tuple[str, dt.date | None]:
    """``text`` (lower case) with the first date phrase replaced by " DATE ", and that date.

    A phrase that names a day that cannot be read (or lies in the future) is left in place
    and no date is returned.
    """
    match = _DATE.search(text)
    if match is None:
        return text, None
    day = _resolve(match, today)
    if day is None or day > today:
        return text, None
    return text[: match.start()] + " DATE " + text[match.end() :], day


def _resolve(m: re.Match[str], today: dt.date) -> dt.date | None:
    if m.group("dby"):
        return today - dt.timedelta(days=2)
    if m.group("yday"):
        return today - dt.timedelta(days=1)
    if m.group("today"):
        return today
    if m.group("ago"):
        n_text = m.group("n")
        n = int(n_text) if n_text.isdigit() else _SMALL[n_text]
        days = n * 7 if m.group("unit").startswith("week") else n
        return today - dt.timedelta(days=days)
    if m.group("wd"):
        back = (today.weekday() - WEEKDAYS[m.group("wd")]) % 7 or 7
        return today - dt.timedelta(days=back)
    if m.group("dom"):
        dom = int(m.group("dom"))
        return _day_of_month(today, dom)
    text = m.group("cal") or m.group("num")
    return _calendar(text.removeprefix("on").strip(), today) if text else None


def _day_of_month(today: dt.date, dom: int) -> dt.date | None:
    """The most recent ``dom``-th of a month, this month's or the last one's."""
    year, month = today.year, today.month
    for _ in range(2):
        try:
            day = dt.date(year, month, dom)
        except ValueError:
            day = None
        if day is not None and day <= today:
            return day
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return None


@lru_cache(maxsize=4096)
def _calendar(text: str, today: dt.date) -> dt.date | None:
    import dateparser  # imported lazily: it takes ~0.5 s to load and most messages never need it

    base = dt.datetime(today.year, today.month, today.day, 12, tzinfo=dt.UTC)
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": base.replace(tzinfo=None),
            "PREFER_DATES_FROM": "past",
            "REQUIRE_PARTS": ["day", "month"],
        },
    )
    return parsed.date() if parsed is not None else None
