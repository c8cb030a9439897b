"""Grounding a model's proposal in the message: every name, amount, currency and date it returns
must be in the text (or the roster) before it may become an Intent.

The :class:`Reader` indexes what a message actually contains (numbers in every plausible reading,
the members it mentions, ambiguous names) and turns proposed values into trusted ones, raising
:class:`Refused` with the question to ask the user when a value is not backed by the text.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_name, get_currency_symbol

from chipin.core.errors import ChipinError
from chipin.core.money import is_currency, normalize_currency, parse_minor
from chipin.parsing.intents import ParseContext
from chipin.parsing.numbers import words_to_digits
from chipin.parsing.roster import Status, fold, roster_for

_NUMBER = re.compile(r"(?<![\d.,])(\d+(?:[.,'’]\d+)*)(\s?[kK]\b)?")
_SELF_WORDS = frozenset({"i", "i'm", "im", "i've", "ive", "me", "my", "mine", "myself"})
_GROUP_WORDS = frozenset({"everyone", "everybody", "all", "us", "we", "our", "group", "y'all"})


def numbers_in(text: str) -> set[Decimal]:
    """Every value a number in ``text`` could mean ("1,000" is 1000 or 1.000; "1.5k" is 1500;
    "twenty-five" is 25, read by the rules parser's number-word reader)."""
    found: set[Decimal] = set()
    for match in _NUMBER.finditer(f"{text}\n{words_to_digits(text)}"):
        token, kilo = match.group(1), match.group(2)
        readings = {token.replace(",", "").replace(".", "").replace("'", "").replace("’", "")}
        pieces = re.split(r"[.,'’]", token)
        if len(pieces) > 1:  # the last separator as the decimal point, the others as grouping
            readings.add("".join(pieces[:-1]) + "." + pieces[-1])
        for reading in readings:
            value = Decimal(reading)
            found.add(value * 1000 if kilo else value)
    return found


def currency_mentioned(code: str, text: str) -> bool:
    folded = fold(text)
    if re.search(rf"\b{code.lower()}\b", folded):
        return True
    symbol = get_currency_symbol(code, locale="en")
    if symbol != code and symbol in text:
        return True
    name = fold(get_currency_name(code, locale="en")).split()[-1]  # "US Dollar" -> "dollar"
    return re.search(rf"\b{re.escape(name)}s?\b", folded) is not None


class Refused(Exception):
    """A proposal the code will not accept; ``question`` goes back to the user."""

    def __init__(self, question: str) -> None:
        super().__init__(question)
        self.question = question


class Reader:
    """Turns a proposal into an Intent, checking each piece against the roster and the text."""

    def __init__(self, text: str, ctx: ParseContext) -> None:
        self.text = text
        self.ctx = ctx
        self.roster = roster_for(ctx.members)
        self.numbers = numbers_in(text)
        words = re.findall(r"[\w'’]+", fold(text))
        self.mentioned: set[str] = {ctx.sender}  # the author is implied by writing the message
        self.ambiguous: dict[str, tuple[str, ...]] = {}
        if _GROUP_WORDS.intersection(words):
            self.mentioned.update(ctx.members)
        for size in range(1, self.roster.max_words + 1):
            for i in range(len(words) - size + 1):
                phrase = " ".join(words[i : i + size])
                resolution = self.roster.resolve(phrase)
                if resolution.status is Status.FOUND and resolution.member:
                    self.mentioned.add(resolution.member)
                elif resolution.status is Status.AMBIGUOUS:
                    self.ambiguous[phrase] = resolution.candidates

    def member(self, typed: str) -> str:
        """The roster member the model named, if the text names them too; never a guess."""
        if fold(typed) in _SELF_WORDS:
            return self.ctx.sender
        resolution = self.roster.resolve(typed)
        if resolution.status is Status.AMBIGUOUS:
            raise Refused(f"Which {typed} do you mean: {' or '.join(resolution.candidates)}?")
        if resolution.status is not Status.FOUND or resolution.member is None:
            raise Refused(f"I don't know {typed!r} in this group. Who did you mean?")
        member = resolution.member
        if member not in self.mentioned:
            for phrase, candidates in self.ambiguous.items():
                if member in candidates:
                    raise Refused(f"Which {phrase} do you mean: {' or '.join(candidates)}?")
            raise Refused(f"Your message doesn't mention {member}. Who was involved?")
        return member

    def members(self, typed: list[str]) -> tuple[str, ...]:
        return tuple(self.member(name) for name in typed)

    def decimal(self, raw: str | None, what: str) -> Decimal:
        try:
            value = Decimal((raw or "").strip())
        except InvalidOperation:
            raise Refused(f"What is the {what}? I couldn't read a number.") from None
        if not value.is_finite():
            raise Refused(f"What is the {what}? I couldn't read a number.")
        return value

    def grounded(self, value: Decimal) -> bool:
        return abs(value) in self.numbers

    def require_grounded(self, values: list[Decimal], *, derived: int = 0) -> None:
        """All ``values`` must appear in the text, except ``derived`` of them (a remainder such
        as "the rest is mine", which the model computes and core re-checks as a sum)."""
        if sum(1 for v in values if not self.grounded(v)) > derived:
            raise Refused(
                "Some amounts aren't in your message. Please write each amount as it should be "
                "recorded, e.g. 'I paid 60 for dinner, split with Ana and Raj'."
            )

    def currency(self, proposed: str | None) -> str:
        if not proposed or proposed.strip().upper() == self.ctx.currency:
            return self.ctx.currency
        code = proposed.strip().upper()
        if not is_currency(code):
            raise Refused(f"Which currency is {proposed!r}? Please use a code like EUR or USD.")
        if not currency_mentioned(code, self.text):
            raise Refused(f"Was that in {self.ctx.currency} or {code}? Please name the currency.")
        return normalize_currency(code)

    def minor(self, raw: str | None, currency: str, what: str) -> int:
        value = self.decimal(raw, what)
        try:
            return parse_minor(str(value), currency)
        except ChipinError as exc:
            raise Refused(f"What is the {what}? {exc}.") from None

    def date(self, raw: str | None) -> dt.date | None:
        if not raw:
            return None
        try:
            day = dt.date.fromisoformat(raw.strip())
        except ValueError:
            raise Refused("Which day was that? Please write a date like 2024-05-31.") from None
        # A day after today or more than a year back is far likelier a misreading than a fact.
        if day > self.ctx.today or day < self.ctx.today - dt.timedelta(days=366):
            raise Refused(f"Did you mean {day.isoformat()}? Please confirm the date.")
        return day


def short_text(value: str | None, limit: int) -> str | None:
    """Free text from the model, trimmed and without control characters (it is shown in chats)."""
    if value is None:
        return None
    cleaned = " ".join("".join(c for c in value if c.isprintable()).split())
    return cleaned[:limit] or None


def label(value: str | None) -> str | None:
    """A label (category, payment method): a few plain lower-case words or nothing."""
    short = (short_text(value, 30) or "").lower()
    return short if re.fullmatch(r"[^\W_]+(?:[ &-][^\W_]+){0,3}", short) else None


def quoted(value: str | None, text: str, limit: int) -> str | None:
    """A description only if every word of it is in the message: the ledger shows descriptions
    to the whole group, so the model must not be able to author one (a link, a demand)."""
    short = short_text(value, limit)
    if short is None:
        return None
    said = set(re.findall(r"\w+", fold(text)))
    return short if set(re.findall(r"\w+", fold(short))) <= said else None
