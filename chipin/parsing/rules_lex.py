"""Turn a chat message into its *shape*: a template such as ``"P0 paid A0 for dinner , split with
P1 and P2"`` plus the numbers, people and date behind each placeholder.

Placeholders: ``P{i}`` roster member i (the speaker's "I/me/my" too; "my" becomes ``P{i} 's``),
``G`` the whole group, ``GN{n}`` "the n of us" when n is not the group size, ``GSOME`` "some of
us" (people not named), ``U{k}`` a name
that is not in the roster, ``AMB{k}`` an ambiguous name, ``WE``/``YOU``/``PRON`` people the
rules cannot pin down, and the number placeholders of :mod:`chipin.parsing.amounts`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field

from chipin.parsing.amounts import Num, scan_numbers
from chipin.parsing.numbers import words_to_digits
from chipin.parsing.roster import roster_for
from chipin.parsing.rules_dates import find_date
from chipin.parsing.rules_people import find_people

_GROUP = re.compile(
    r"\b(?:all\s+of\s+us|all\s+of\s+you|us\s+all|each\s+of\s+us|every\s*(?:one|body)(?!\s+else)"
    r"|the\s+(?:whole\s+|entire\s+)?(?:group|gang|team|crew|squad|house|flat|household|lot)"
    # ... but not "the house stuff", "the flat deposit": there it names a thing
    r"(?!\s+(?!(?:and|but|so|for|this|last|on|in|at|from|to|with|because|since|as|or|too|again"
    r"|please|pls|thanks|lol|ok|is|was|were|are|except|minus|not|too|each|equally|evenly)\b)[a-z])"
    r"|y'?all|you\s+guys|the\s+guys|all\s+the\s+guys|whole\s+group)\b"
)
_EVERYONE_ELSE = re.compile(
    r"\b(?:every\s*(?:one|body)|all\s+the\s+others|the\s+others)\s+else\b|\bthe\s+rest(?:\s+of\s+(?:us|you|the\s+group))?\b|\beveryone\s+else\b"
)
_N_OF_US = re.compile(
    r"\b(?:the|all|us)\s+C(\d+)\s+of\s+us\b|\bboth\s+of\s+us\b|\ball\s+(?:the\s+)?[AC](\d+)\b"
)
_BETWEEN_US = re.compile(r"\b(between|among|amongst|btw|with)\s+us\b")
# "split with all", "among all": everyone (but not "all the drinks", "all 3 of them").
_WITH_ALL = re.compile(
    r"\b(with|among|amongst|between|btw|across|for|by)\s+all\b(?!\s+(?:the|of|my|our|these|those"
    r"|[AC]\d))"
)
# "us 3", "us two": a head count when small and not money ("Raj paid us 30" is not one).
_US_N = re.compile(r"\bus\s+(?:all\s+)?[AC](\d+)\b")
# "some of us", "a few of them": people the message does not name.
_SOME_OF = re.compile(
    r"\b(?:some|a\s+few|few|most|half|a\s+couple|couple|several|a\s+bunch|a\s+lot|lots|two"
    r"|three|others|any|none)\s+of\s+(?:us|you|them|the\s+group|the\s+guys)\b"
)
_MAX_HEADS = 20


@dataclass(slots=True)
class Lexed:
    """A message's template and what its placeholders stand for."""

    template: str
    nums: list[Num]
    date: dt.date | None
    unknown: list[str] = field(default_factory=list)
    """Names typed that are not in the roster (``U{k}``)."""
    ambiguous: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fuzzy: bool = False
    """Whether a name was matched only up to a typo."""
    words: list[str] = field(default_factory=list)
    """The original words in order, for descriptions."""
    sender: int = -1
    low: str = ""
    """The normalised message in lower case, before any placeholder."""


_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_BETWEEN = re.compile(r"\bb/w\b|\bbtwn\b", re.IGNORECASE)
_WITH = re.compile(r"\bw/(?=\s|\w)|\bw\b(?=\s+[^\W\d])", re.IGNORECASE)
# Groups mix languages: the few words that carry the split in French/Portuguese/Spanish.
_FOREIGN_WITH = re.compile(r"\b(?:avec|com|con)\b(?=\s+\w)")
_BANK_VERB = re.compile(r"\bbank[\s-]+transferr?ed\b", re.IGNORECASE)


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _BETWEEN.sub("between", text)
    text = _WITH.sub("with ", text)
    if "ank" in text:
        text = _BANK_VERB.sub("transferred", text)
    return _FOREIGN_WITH.sub("with", text)


def lex(text: str, sender_index: int, members: tuple[str, ...], currency: str,
        today: dt.date) -> Lexed:  # fmt: skip
    original = normalise(text)
    s = words_to_digits(original.lower())
    s, date = find_date(s, today)
    s, nums = scan_numbers(s, currency)
    s = _N_OF_US.sub(lambda m: _n_of_us(m, nums, len(members)), s)
    if "us " in s:
        s = _US_N.sub(lambda m: _us_n(m, nums, len(members)), s)
    if " of " in s:
        s = _SOME_OF.sub(" GSOME ", s)
    s = _EVERYONE_ELSE.sub(" GE ", s)
    s = _GROUP.sub(" G ", s)
    s = _BETWEEN_US.sub(r"\1 G", s)
    if " all" in s:
        s = _WITH_ALL.sub(r"\1 G", s)
    names = find_people(s, original, roster_for(members), sender_index)
    return Lexed(
        names.template, nums, date, unknown=names.unknown, ambiguous=names.ambiguous,
        fuzzy=names.fuzzy, words=names.words, sender=sender_index, low=original.lower(),
    )  # fmt: skip


def _n_of_us(m: re.Match[str], nums: list[Num], size: int) -> str:
    index = m.group(1) or m.group(2)
    n = int(nums[int(index)].value) if index is not None else 2
    return " G " if n == size else f" GN{n} "


def _us_n(m: re.Match[str], nums: list[Num], size: int) -> str:
    num = nums[int(m.group(1))]
    n = num.value
    if num.currency or n != n.to_integral_value() or not 1 < n <= _MAX_HEADS:
        return m.group(0)
    return " G " if n == size else f" GN{int(n)} "
