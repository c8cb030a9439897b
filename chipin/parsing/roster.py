"""Resolving a name as people type it ("raj", "José's", "mia s", "Rja") to a roster member.

Matching is case- and accent-insensitive, takes a unique first (or other) name of a multi-word
member, strips possessives, and forgives small typos (rapidfuzz OSA distance). Whatever is
ambiguous or unknown is reported as such: this module never guesses a member.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from rapidfuzz.distance import OSA

# Words that sit where names sit ("split with them", "for all") and must never be fuzzed into a
# name: "and" is one edit from "Ana", "me" from "Mo".
_NOT_NAMES = """a an and the for with me my i i'm im mine myself you your yours u him her them
    they us we our
    it its he she all everyone everybody group rest others other guys of to from on in at by or but
    each both his hers their theirs who what this that these those just also too back paid pay
    sent gave got owes owe split half"""
NOT_NAMES = frozenset(_NOT_NAMES.split())


class Status(StrEnum):
    FOUND = "found"
    AMBIGUOUS = "ambiguous"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The outcome of resolving one typed name."""

    typed: str
    status: Status
    member: str | None = None
    """The roster member, when ``status`` is FOUND."""
    candidates: tuple[str, ...] = ()
    """The members it could be, when AMBIGUOUS."""

    @property
    def found(self) -> bool:
        return self.status is Status.FOUND


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Case- and accent-free form used for every comparison ("José" -> "jose")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().replace("’", "'").split())


def strip_possessive(word: str) -> str:
    for suffix in ("'s", "'", "’s", "’"):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            return word[: -len(suffix)]
    return word


def _max_typos(length: int) -> int:
    # Short names are often other real names one letter away (Tom/Tim, Jon/John): only allow a
    # swap of two letters there, which rules out most other names.
    if length >= 8:
        return 2
    if length >= 5:
        return 1
    return 0


class Roster:
    """An index over one group's member names; build it once per roster (see :func:`roster_for`)."""

    def __init__(self, members: tuple[str, ...]) -> None:
        self.members = members
        self.index = {m: i for i, m in enumerate(members)}
        self._full: dict[str, str] = {}
        parts: dict[str, set[str]] = {}
        for member in members:
            key = fold(member)
            self._full[key] = member
            # "Marc-André" is typed "marc andre" or just "marc" too.
            self._full.setdefault(key.replace("-", " "), member)
            for token in re.split(r"[\s-]+", key):
                if len(token) >= 2:
                    parts.setdefault(token, set()).add(member)
        # A part of a name ("Ana" of "Ana Lopez") resolves only when it names one member and is
        # not itself the full name of another.
        self._parts = {
            t: next(iter(ms)) for t, ms in parts.items() if len(ms) == 1 and t not in self._full
        }
        self._ambiguous_parts = {t: tuple(sorted(ms)) for t, ms in parts.items() if len(ms) > 1}
        self.max_words = max((len(key.split()) for key in self._full), default=1)
        self.first_words = frozenset(key.split()[0] for key in [*self._full, *parts] if key)
        """The first word of every name or name part: a cheap "could a name start here?"."""

    def exact(self, key: str) -> str | None:
        """The member whose full name or unique name part is ``key`` (already folded), if any."""
        return self._full.get(key) or self._parts.get(key)

    def resolve(self, typed: str) -> Resolution:
        key = fold(strip_possessive(typed.strip().strip('.,;:!?"()')))
        key = strip_possessive(key)
        if not key or key in NOT_NAMES:
            return Resolution(typed, Status.UNKNOWN)
        if key in self._full:
            return Resolution(typed, Status.FOUND, self._full[key])
        if key in self._parts:
            return Resolution(typed, Status.FOUND, self._parts[key])
        if key in self._ambiguous_parts:
            full_matches = [m for m in self._ambiguous_parts[key] if fold(m) == key]
            if len(full_matches) == 1:
                return Resolution(typed, Status.FOUND, full_matches[0])
            return Resolution(typed, Status.AMBIGUOUS, candidates=self._ambiguous_parts[key])
        return self._fuzzy(typed, key)

    def _fuzzy(self, typed: str, key: str) -> Resolution:
        # A held key ("Leaa", "Raaj") is the commonest typo of a short name.
        squeezed = re.sub(r"(.)\1+", r"\1", key)
        if squeezed != key:
            for name, member in [*self._full.items(), *self._parts.items()]:
                if re.sub(r"(.)\1+", r"\1", name) == squeezed:
                    return Resolution(typed, Status.FOUND, member)
        hits: dict[str, int] = {}
        for name, member in [*self._full.items(), *self._parts.items()]:
            limit = _max_typos(len(name))
            distance = OSA.distance(key, name)
            swapped = len(key) == len(name) >= 3 and distance == 1 and sorted(key) == sorted(name)
            if distance <= limit or swapped:
                hits[member] = min(distance, hits.get(member, distance))
        if not hits:
            return Resolution(typed, Status.UNKNOWN)
        best = min(hits.values())
        closest = tuple(sorted(m for m, d in hits.items() if d == best))
        if len(closest) == 1:
            return Resolution(typed, Status.FOUND, closest[0])
        return Resolution(typed, Status.AMBIGUOUS, candidates=closest)

    def is_name_word(self, word: str) -> bool:
        """Whether ``word`` (folded) starts or is a roster name; cheap, exact only."""
        return word in self._full or word in self._parts or word in self._ambiguous_parts


@lru_cache(maxsize=1024)
def roster_for(members: tuple[str, ...]) -> Roster:
    """A cached Roster: groups send many messages with the same roster."""
    return Roster(members)
