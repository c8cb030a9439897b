"""The people pass of the lexer: roster names, "I/me/my", pronouns and unknown names in a message
become placeholders (``P{i}``, ``U{k}``, ``AMB{k}``, ``YOU``, ``WE``, ``PRON``).

Names are taken only where a person is plainly meant. A word the roster does not know becomes an
unknown person ``U{k}`` (so the parser asks about it instead of dropping it) when it is written
with a capital where names go, or, in lower case, where nothing but a person fits: next to a
member in a list ("me and jake", "jake and i") or right after "split with" / "between".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from chipin.parsing.roster import NOT_NAMES, Roster, Status, fold
from chipin.parsing.rules_words import CATEGORY_OF, words

TOKEN = re.compile(r"[A-Z]+\d*|[^\W\d_]+(?:['-][^\W\d_]+)*'?|[^\s\w]|\d+")
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
    rent hotel taxi cab train bus flight tickets sainsbury mcdonald nando macy kohl lowe
    applebee chili arby denny hardee domino"""
)
# Lower-case words that can stand next to "and" or after "split with" without being a person.
_PLAIN_WORDS = words(
    """i me we us you they them he she him her it its this that these those the a an some any
    all both each every everyone everybody rest others other then so also too just only even
    already still now later again back paid pay pays paying got get gets bought buy covered
    cover split splitting shared share sharing spent spend owe owes owed sent send gave give
    went go going did do does done had have has was were is are be been will would can could
    should might must not no yes ok okay thanks thank please pls lol haha yeah but or and nor
    for with from into onto over under of on in at by to up out off about around after before
    since until per each way ways half halves evenly equally together separately cash card
    change tip tax tips fees fee delivery service drinks food stuff things bits extra extras
    more less rest remainder balance difference total whole bill receipt check tab myself
    yourself himself herself ourselves themselves family friends friend people group guys
    girls boys kids mates mate kid children cousin cousins brother brothers sister sisters bro sis
    mum mom dad parents wife husband partner boyfriend girlfriend colleague colleagues coworker
    coworkers flatmate flatmates roommate roommates housemate housemates neighbour neighbor
    neighbours neighbors guest guests lads ladies others driver boss today tonight yesterday
    tomorrow week weeks month months year years everyone someone somebody anyone anybody nobody
    nothing everything something last next other another there here what who whose"""
)
# Words after which "her" is the person, not "her share": "paid her back", "her and Tom".
_NOT_AFTER_HER = words(
    """and or but the a an back some any to for with on at in from now too also yet already pls
    please so then again tomorrow today tonight yesterday last next this that half each"""
)
_BEFORE_OWNER = words("for paid covered got bought grabbed booked and with except")
_FIRM_AFTER = words("between among amongst except excluding minus")
_SPLIT_VERBS = words("split splitting splits shared share sharing halves divide divided")
_LIST_JOINS = words("and & n +")
_MODAL_NAMES = words("will may")
# Names that are also everyday words: taken for the member only when written with a capital or
# where a name goes ("max paid", "with grace"), never in "the bill", "30 max", "in may".
WORD_NAMES = words(
    """will may june april august bill mark grace hope faith joy rose ivy summer autumn dawn
    penny sandy rob pat sue art jack max sky river jay guy chance chase chip frank drew gene
    hunter lane miles nick price ray reed rich sage wade young amber crystal ginger olive pearl
    ruby holly lily daisy iris jade skye storm rain sunny honey cash gray grey brook brooke cliff
    dale glen heath rocky sonny tanner bliss harmony melody liberty star"""
)
_BASE_VERBS = words(
    "pay send get cover buy be do owe transfer venmo split have take grab sort settle put front"
    " you i we he she they"
)


_SPECIAL = {"him", "her", "he", "she", "himself", "herself", "you", "u", "ya", "yours", "your"}
_SPECIAL |= {"we", "our", "ours", "us", "we've", "we're"}
# Words the people pass passes through untouched (unless a member is called that).
_INERT = (NOT_NAMES | NOT_PEOPLE) - set(_CONTRACTIONS) - _SPECIAL - WORD_NAMES


@dataclass(slots=True)
class Names:
    """What the people pass found: the template and the people behind its placeholders."""

    template: str
    words: list[str]
    unknown: list[str] = field(default_factory=list)
    ambiguous: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    fuzzy: bool = False


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


def find_people(s: str, original: str, roster: Roster, sender: int) -> Names:
    """``s`` (lower case, numbers already replaced) with people replaced by placeholders."""
    raw = TOKEN.findall(s)
    caps, starting = _capitalised(original)
    index = roster.index
    names = Names("", words=[w for w in raw if not w[:1].isupper()])
    out: list[str] = []
    others: set[str] = set()
    capitalised = caps | starting
    i = 0
    while i < len(raw):
        word = raw[i]
        if (
            word[:1].isupper()
            or not word[:1].isalpha()
            or (word in _INERT and word not in roster.first_words)
        ):
            out.append(word)
            i += 1
            continue
        if word in _CONTRACTIONS:
            out.extend(_CONTRACTIONS[word].replace("P", f"P{sender}").split())
            i += 1
            continue
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if word in _MODAL_NAMES and nxt in _BASE_VERBS:
            out.append(word)  # "will you pay", "may i": the verb, even in a group with a Will
            i += 1
            continue
        # Longest roster name starting here (multi-word names first).
        matched = _roster_name(raw, i, roster)
        if matched is not None and matched[1] == 1 and word in WORD_NAMES:
            prev = out[-1] if out else ""
            slot = prev in _BEFORE_NAME or nxt in _AFTER_NAME or matched[2]
            if not slot and fold(word) not in capitalised:
                matched = None  # "the bill was 60", "30 max", "in may": the word, not Bill
        if matched is not None:
            member, n, possessive = matched
            out.append(f"P{index[member]}")
            if possessive:
                out.append("'s")
            if index[member] != sender:
                others.add(f"P{index[member]}")
            i += n
            continue
        # "Olly paid 60": a capitalised word doing the paying is a person even at the start.
        known = capitalised if nxt in _PAYING else caps
        # "him"/"she" is whoever else was named, when that is one person only.
        only_other = next(iter(others)) if len(others) == 1 else None
        token = _other_word(word, raw, i, out, known, roster, names, only_other, sender)
        if token.startswith("P") and token[1:].split()[0].isdigit():
            first = token.split()[0]
            if first != f"P{sender}":
                others.add(first)
        out.extend(token.split())
        i += 1
    names.template = _vocative(" ".join(out))
    return names


def _roster_name(raw: list[str], i: int, roster: Roster) -> tuple[str, int, bool] | None:
    first = fold(raw[i])
    if first not in roster.first_words and first.removesuffix("'s").removesuffix("'") not in (
        roster.first_words
    ):
        return None
    for n in range(min(roster.max_words, len(raw) - i), 0, -1):
        chunk = raw[i : i + n]
        if any(not w[:1].isalpha() or w[:1].isupper() for w in chunk):
            continue
        key = fold(" ".join(chunk))
        possessive = key.endswith(("'s", "'")) and len(key) > 3
        base = key.removesuffix("'s").removesuffix("'") if possessive else key
        member = roster.exact(base)
        if member is not None:
            return member, n, possessive
    return None


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


_PERSON_TOKEN = re.compile(r"(?:P|U|AMB)\d+")


def _firm_slot(raw: list[str], i: int, out: list[str], roster: Roster) -> bool:
    """Whether only a person fits at ``raw[i]``: "me and jake", "jake and i", "split with jake",
    "between jake and ..."."""
    prev = out[-1] if out else ""
    before = out[-2] if len(out) > 1 else ""
    if prev in _FIRM_AFTER or (prev == "with" and before in _SPLIT_VERBS):
        return True
    if prev in _LIST_JOINS and _PERSON_TOKEN.fullmatch(before):
        return True
    if i + 2 < len(raw) and raw[i + 1] in _LIST_JOINS:
        after = raw[i + 2]
        return after in ("i", "me", "myself") or roster.exact(fold(after)) is not None
    return False


def _other_word(word: str, raw: list[str], i: int, out: list[str], caps: set[str],
                roster: Roster, names: Names, last_other: str | None,
                sender: int) -> str:  # fmt: skip
    if word in ("him", "her", "he", "she", "himself", "herself"):
        person = last_other or "PRON"
        nxt = raw[i + 1] if i + 1 < len(raw) else ""
        if (
            word == "her"
            and nxt[:1].isalpha()
            and nxt.islower()
            and nxt not in _NOT_AFTER_HER
            and nxt not in _CONTRACTIONS
            and roster.exact(fold(nxt)) is None  # "for her, Thiago and me"
        ):
            return f"{person} 's"  # "for her old bike", "her share": hers, not her
        return person
    if word in ("you", "u", "ya", "yours"):
        return _you(roster, sender)
    if word == "your":
        return f"{_you(roster, sender)} 's"
    if word in ("we", "our", "ours", "us", "we've", "we're"):
        return "OUR" if word in ("our", "ours") else "WE"
    if len(word) < 3 or word in NOT_NAMES or word in NOT_PEOPLE:
        return word  # never a name, wherever it stands (the common case: keep it cheap)
    prev = out[-1] if out else ""
    nxt = raw[i + 1] if i + 1 < len(raw) else ""
    in_slot = prev in _BEFORE_NAME or nxt in _AFTER_NAME or word.endswith(("'s", "'"))
    if not in_slot and not _firm_slot(raw, i, out, roster):
        return word
    key = fold(word)
    base = key.removesuffix("'s").removesuffix("'") if key.endswith(("'s", "'")) else key
    suffix = " 's" if base != key else ""
    if base in NOT_NAMES or base in NOT_PEOPLE or len(base) < 3:
        return word
    resolution = roster.resolve(base)
    if resolution.status is Status.FOUND and resolution.member is not None:
        names.fuzzy = True
        return f"P{roster.index[resolution.member]}{suffix}"
    if resolution.status is Status.AMBIGUOUS:
        names.ambiguous.append((base, resolution.candidates))
        return f"AMB{len(names.ambiguous) - 1}{suffix}"
    owner = bool(suffix) and prev in _BEFORE_OWNER  # "for jake's lunch", "paid jake's share"
    named = _looks_like_a_name(base) and (owner or _firm_slot(raw, i, out, roster))
    if base in caps or named:  # "Jake", "me and jake", "for jake's lunch"
        names.unknown.append(_display(base, raw[i]))
        return f"U{len(names.unknown) - 1}{suffix}"
    return word


def _looks_like_a_name(word: str) -> bool:
    return (
        word.isalpha()
        and word not in _PLAIN_WORDS
        and word not in CATEGORY_OF
        and word.removesuffix("s") not in CATEGORY_OF
    )


def _you(roster: Roster, sender: int) -> str:
    # In a group of two, "you" can only be the other member; elsewhere it names nobody.
    if len(roster.members) == 2 and sender in (0, 1):
        return f"P{1 - sender}"
    return "YOU"


def _display(base: str, typed: str) -> str:
    word = typed.removesuffix("'s").removesuffix("'")
    return word[:1].upper() + word[1:]
