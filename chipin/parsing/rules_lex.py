"""Turn a chat message into its *shape*: a template such as ``"P0 paid A0 for dinner , split with
P1 and P2"`` plus the numbers, people and date behind each placeholder.

Placeholders: ``P{i}`` roster member i (the speaker's "I/me/my" too; "my" becomes ``P{i} 's``),
``G`` the whole group, ``GN{n}`` "the n of us" when n is not the group size, ``U{k}`` a name
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
from chipin.parsing.roster import NOT_NAMES, Roster, Status, fold, roster_for
from chipin.parsing.rules_dates import find_date
from chipin.parsing.rules_words import words

_TOKEN = re.compile(r"[A-Z]+\d*|[^\W\d_]+(?:'[^\W\d_]+)*'?|[^\s\w]|\d+")
_GROUP = re.compile(
    r"\b(?:all\s+of\s+us|all\s+of\s+you|us\s+all|each\s+of\s+us|every\s*(?:one|body)(?!\s+else)"
    r"|the\s+(?:whole\s+|entire\s+)?(?:group|gang|team|crew|squad|house|flat|household|lot)"
    r"|y'?all|you\s+guys|the\s+guys|all\s+the\s+guys|whole\s+group)\b"
)
_EVERYONE_ELSE = re.compile(
    r"\b(?:every\s*(?:one|body)|all\s+the\s+others|the\s+others)\s+else\b|\bthe\s+rest(?:\s+of\s+(?:us|you|the\s+group))?\b|\beveryone\s+else\b"
)
_N_OF_US = re.compile(
    r"\b(?:the|all|us)\s+C(\d+)\s+of\s+us\b|\bboth\s+of\s+us\b|\ball\s+(?:the\s+)?[AC](\d+)\b"
)
_BETWEEN_US = re.compile(r"\b(between|among|amongst|btw|with)\s+us\b")
_CONTRACTIONS = {
    "i'm": "P am", "im": "P am", "i've": "P have", "ive": "P have", "i'd": "P would",
    "i'll": "P will", "ill": "P will", "i": "P", "me": "P", "myself": "P", "mine": "P",
    "my": "P 's", "moi": "P",
}  # fmt: skip
# Tokens after which a word is read as a name ("split with Tom", "except Tom") and before which
# ("Tom owes", "Tom paid"): only there are unknown capitalised words taken for people and
# typos fuzzed, so "the Uber" or "and" are never turned into members.
_BEFORE_NAME = words(
    "with and except minus excluding but for to from , & paid pay sent gave owe owes venmo'd "
    "venmoed repaid reimbursed"
)
_AFTER_NAME = words(
    "owes owe paid pays sent gave got covered bought and , 's owes venmoed venmo'd fronted "
    "transferred has had still"
)
_PAYING = words("paid payed sent gave covered bought got owes venmoed venmo'd fronted")
# Capitalised words that are not people (brands, apps, places people pay for).
NOT_PEOPLE = words(
    """uber lyft bolt grab ola airbnb booking netflix spotify hulu disney costco tesco lidl aldi
    walmart target amazon venmo paypal zelle pix upi revolut wise splitwise starbucks mcdonalds
    ikea zara h&m whole foods trader joe's kfc subway dominos domino's deliveroo doordash ubereats
    swiggy zomato ifood rappi tfl bart mta shell bp esso chevron apple google steam wifi internet
    christmas xmas easter halloween thanksgiving diwali eid new year nye friday saturday sunday
    monday tuesday wednesday thursday january february march april may june july august
    september october november december ok okay thanks lol omg btw fyi pls please yes no hey hi
    hello guys dinner lunch breakfast brunch pizza sushi coffee beer wine drinks groceries gas
    rent hotel taxi cab train bus flight tickets"""
)


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


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    text = _BETWEEN.sub("between", text)
    text = _WITH.sub("with ", text)
    return _FOREIGN_WITH.sub("with", text)


_CAPITAL = re.compile(r"(?:(\S)\s*|^\s*)\b([^\W\d_a-z][^\W\d_]*)")


def _capitalised(original: str) -> tuple[set[str], set[str]]:
    """Folded words written with a capital: those inside a sentence, and those starting one."""
    inside: set[str] = set()
    starting: set[str] = set()
    for m in _CAPITAL.finditer(original):
        word = m.group(2)
        if word == "I":
            continue
        (inside if m.group(1) and m.group(1) not in ".!?\n" else starting).add(fold(word))
    return inside, starting


def lex(text: str, sender_index: int, members: tuple[str, ...], currency: str,
        today: dt.date) -> Lexed:  # fmt: skip
    original = normalise(text)
    s = words_to_digits(original.lower())
    s, date = find_date(s, today)
    s, nums = scan_numbers(s, currency)
    s = _N_OF_US.sub(lambda m: _n_of_us(m, nums, len(members)), s)
    s = _EVERYONE_ELSE.sub(" GE ", s)
    s = _GROUP.sub(" G ", s)
    s = _BETWEEN_US.sub(r"\1 G", s)
    roster = roster_for(members)
    lexed = _people(s, original, nums, date, roster, sender_index)
    lexed.low = original.lower()
    return lexed


def _n_of_us(m: re.Match[str], nums: list[Num], size: int) -> str:
    index = m.group(1) or m.group(2)
    n = int(nums[int(index)].value) if index is not None else 2
    return " G " if n == size else f" GN{n} "


def _people(s: str, original: str, nums: list[Num], date: dt.date | None, roster: Roster,
            sender: int) -> Lexed:  # fmt: skip
    raw = _TOKEN.findall(s)
    caps, starting = _capitalised(original)
    index = roster.index
    lexed = Lexed("", nums, date, words=[w for w in raw if not w[:1].isupper()], sender=sender)
    out: list[str] = []
    others: set[str] = set()
    i = 0
    while i < len(raw):
        word = raw[i]
        if word[:1].isupper() or not word[:1].isalpha():
            out.append(word)
            i += 1
            continue
        if word in _CONTRACTIONS:
            out.extend(_CONTRACTIONS[word].replace("P", f"P{sender}").split())
            i += 1
            continue
        # Longest roster name starting here (multi-word names first).
        matched = False
        for n in range(min(roster.max_words, len(raw) - i), 0, -1):
            words = raw[i : i + n]
            if any(not w[:1].isalpha() or w[:1].isupper() for w in words):
                continue
            key = fold(" ".join(words))
            possessive = key.endswith(("'s", "'")) and len(key) > 3
            base = key.removesuffix("'s").removesuffix("'") if possessive else key
            member = roster.exact(base)
            if member is None:
                continue
            out.append(f"P{index[member]}")
            if possessive:
                out.append("'s")
            if index[member] != sender:
                others.add(out[-2] if possessive else out[-1])
            i += n
            matched = True
            break
        if matched:
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        # "Olly paid 60": a capitalised word doing the paying is a person even at the start.
        known = caps | starting if nxt in _PAYING else caps
        # "him"/"her" is whoever else was named, when that is one person only.
        only_other = next(iter(others)) if len(others) == 1 else None
        token = _other_word(word, raw, i, out, known, roster, index, lexed, only_other)
        if token.startswith("P") and token[1:].split()[0].isdigit():
            first = token.split()[0]
            if first != f"P{sender}":
                others.add(first)
        out.extend(token.split())
        i += 1
    lexed.template = _vocative(" ".join(out))
    return lexed


_VOCATIVE = re.compile(
    r"^(?:[a-z]+ )?(P\d+) [,:!]|[,!] (P\d+) ?[.!]*$|(P\d+) (?:[,!] )?YOU\b"
    r"|\bYOU (?:[,!] )?(P\d+)|(P\d+) !"
)


def _vocative(template: str) -> str:
    """ "Tom, you owe me 25" / "sent you 20, Raj": "you" is the person addressed."""
    if "YOU" not in template:
        return template
    m = _VOCATIVE.search(template)
    if m is None:
        return template
    person = next(g for g in m.groups() if g)
    return re.sub(r"\bYOU\b", person, template)


def _other_word(word: str, raw: list[str], i: int, out: list[str], caps: set[str],
                roster: Roster, index: dict[str, int], lexed: Lexed,
                last_other: str | None) -> str:  # fmt: skip
    if word in ("him", "her"):
        return last_other or "PRON"
    if word in ("you", "u", "ya"):
        return _you(roster, lexed.sender)
    if word in ("we", "our", "ours", "us", "we've", "we're"):
        return "OUR" if word in ("our", "ours") else "WE"
    prev = out[-1] if out else ""
    nxt = raw[i + 1] if i + 1 < len(raw) else ""
    in_slot = prev in _BEFORE_NAME or nxt in _AFTER_NAME or word.endswith(("'s", "'"))
    if not in_slot:
        return word
    key = fold(word)
    base = key.removesuffix("'s").removesuffix("'") if key.endswith(("'s", "'")) else key
    suffix = " 's" if base != key else ""
    if base in NOT_NAMES or base in NOT_PEOPLE or len(base) < 3:
        return word
    resolution = roster.resolve(base)
    if resolution.status is Status.FOUND and resolution.member is not None:
        lexed.fuzzy = True
        return f"P{index[resolution.member]}{suffix}"
    if resolution.status is Status.AMBIGUOUS:
        lexed.ambiguous.append((base, resolution.candidates))
        return f"AMB{len(lexed.ambiguous) - 1}{suffix}"
    if base in caps:
        lexed.unknown.append(_display(base, raw[i]))
        return f"U{len(lexed.unknown) - 1}{suffix}"
    return word


def _you(roster: Roster, sender: int) -> str:
    # In a group of two, "you" can only be the other member; elsewhere it names nobody.
    if len(roster.members) == 2 and sender in (0, 1):
        return f"P{1 - sender}"
    return "YOU"


def _display(base: str, typed: str) -> str:
    word = typed.removesuffix("'s").removesuffix("'")
    return word[:1].upper() + word[1:]
