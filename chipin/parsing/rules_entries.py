"""What the entry readers share: the patterns over a message's template, who paid (``_payers``)
and who shares the cost (``_participants``).

Works on the template of :mod:`chipin.parsing.rules_lex` ("P0 paid A0 for dinner , split with P1
and P2"). The readers (:mod:`~chipin.parsing.rules_payments`, :mod:`~chipin.parsing.rules_expense`,
:mod:`~chipin.parsing.rules_debts`) each build an intent, return an ``Unclear`` with the question
to ask, or return None when the message is not a record after all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from chipin.core.errors import ChipinError
from chipin.core.money import to_minor
from chipin.parsing.amounts import Num
from chipin.parsing.intents import ParseContext, Unclear
from chipin.parsing.rules_lex import Lexed
from chipin.parsing.rules_words import OUTSIDERS, PAYER_VERBS, words

P = r"P\d+"
WHO = rf"(?:{P}|GN\d+|GSOME|GE|G|WE|YOU|PRON|U\d+|AMB\d+)\b"
LIST = rf"{WHO}(?: (?:, )?(?:and |& |\+ |n |, )?{WHO})*"
_ADV = (
    r"(?: (?:has|have|had|just|already|finally|also|then|and|actually|kindly|generously|did"
    r"|ok|so))*"
)
_EXCEPT = (
    r"(?:except|but|minus|excluding|apart from|other than|besides|without|not|exc|expect|save"
    r"|bar|excl)(?: for)?"
)

_MULTI_PAYER = re.compile(
    rf"(?P<p>{P}){_ADV} (?:paid|payed|pd|covered|put in|put|spent|chipped in|contributed|fronted"
    rf"|gave) (?:in )?(?P<a>A\d+)"
)
_BOTH_PAID = re.compile(
    rf"(?P<p>{P}) (?:and|&) (?P<q>{P}){_ADV} (?:paid|payed|covered|put in|spent|chipped in"
    rf"|contributed|fronted) (?:in )?(?P<a>A\d+) (?:each|apiece|a piece)\b"
    rf"|(?P<p2>{P}) (?:and|&) (?P<q2>{P}) (?:each|both) (?:paid|payed|covered|put in|spent"
    rf"|chipped in|contributed|fronted) (?:in )?(?P<a2>A\d+)(?! (?:total|together|between))"
)
_AND_PAIR = re.compile(rf"^ ?(?:,|and|, and) (?P<p>{P}) (?:did |paid |put in |spent )?(?P<a>A\d+)")
_SUBJECT = re.compile(
    rf"(?:^| )(?P<p>{WHO}|[a-z']+)(?: (?:and|&) (?P<p2>{WHO}))?{_ADV} {PAYER_VERBS}\b"
)
_PASSIVE = re.compile(
    rf"\b(?:paid|payed|covered|bought|got|booked|ordered|picked up|put|fronted)(?: for)? by "
    rf"(?P<p>{WHO})|\bon (?P<q>{P}) 's (?:card|tab|account|credit|amex|visa)"
    rf"|(?P<r>{P}) 's (?:card|credit card|amex|visa|treat)|courtesy of (?P<s>{P})"
    rf"|(?P<t>{P}) got (?:it|this|that)"
)
_OWES = re.compile(
    rf"(?P<debtors>{LIST}(?: {_EXCEPT} {LIST})?)(?: (?:still|also|now|each|both|all))*"
    rf" (?:owes|owed|owing|owe)\b(?: (?P<cred>{WHO}))?(?P<each> each)?(?: (?P<a>A\d+))?"
)
_SPLIT = re.compile(
    r"\b(?:split|splitting|splits|share|shared|sharing|divide|divided|dividing|halves|go halves"
    r"|going halves|go dutch|went halves|50/50|shared between|spread)\b"
)
_SPLIT_LIST = re.compile(
    rf"\b(?:split|splitting|splits|shared?|sharing|divided?|dividing|halves|spread)"
    rf"(?: (?![,.;:]|with\b|between\b|among\b|amongst\b)[^ ]+){{0,5}}?"
    rf" (?P<prep>with|between|among|amongst|btw|by|w|and|across|for) (?P<list>{LIST}"
    rf"(?: {_EXCEPT} {LIST})?)"
)
_FOR_LIST = re.compile(
    rf"(?:^| )(?:for|on behalf of|covering|covered) (?P<list>{LIST}(?: {_EXCEPT} {LIST})?)"
    rf"(?P<poss> 's)?"
)
_SPLIT_SUBJECT = re.compile(
    rf"(?:^| )(?P<list>{WHO}(?: (?:, )?(?:and |& |\+ )?{WHO})+)(?: (?:just|also|all|both))* "
    r"(?:split|shared|share|went halves on|went dutch on|divided)\b"
)
_PAIR_SUBJECT = re.compile(
    rf"(?:^| )(?P<list>{WHO}(?: (?:, )?(?:and |& |\+ )?{WHO})+)(?: (?:just|also|all|both))* "
    r"(?:got|bought|did|had|ordered|grabbed|took)\b"
)
_BARE_LIST = re.compile(
    rf"(?:^|[,.;:(-] )(?P<list>{LIST})(?: [,.;!)]|$)"
    rf"|A\d+ (?:(?:each|pp|per person|a head) (?:for )?)?(?P<list2>{WHO}(?: (?:, )?(?:and |& |\+ )?"
    rf"{WHO})+)(?: [,.;!]|$)"
)
_WE_HAD = re.compile(r"(?:^|[,.;!] )WE (?:all |both )?(?:got|had|ordered|grabbed|did|took|went)\b")
_BETWEEN_LIST = re.compile(
    rf"(?:^| )(?:between|among|amongst) (?P<list>{LIST}(?: {_EXCEPT} {LIST})?)"
)
_WITH_LIST = re.compile(rf"(?:^| )with (?P<list>{LIST}(?: {_EXCEPT} {LIST})?)")
_N_WAYS = re.compile(
    r"\b(?:C|A)(\d+) ways\b|\b(?:split|divided?)(?: it)? (?:in|into|by) (?:C|A)(\d+)\b"
)
_EACH = re.compile(
    r"^ ?(?:each|pp|p\.p|per person|per head|a head|a person|apiece|a piece|ea|each one)\b"
)
_PAIR = re.compile(rf"(?P<p>{P})(?: (?::|-|=|owes?|pays?|gets?|for))? (?P<a>A\d+)(?! each)")
_PAIR_FOR = re.compile(rf"(?P<a>A\d+) (?:for|from) (?P<p>{P})(?! 's| (?:,|and|&|\+|n) {WHO})")
_SHARE_WORDS = re.compile(r"\b(?:shares?|nights?|days?|portions?|weights?|parts?|units?|slices?)\b")
_SHARE_PAIR = re.compile(rf"(?P<p>{P})(?: :| -| =| had| stayed| gets?| has)? (?:A|C)(?P<n>\d+)")
_HALF = re.compile(r"\b(?:half|halves|50/50|fifty fifty|go dutch|went dutch)\b")
_SHARED_OBJECT = re.compile(r"\b(?:the|OUR|this|that|these|those|everyone's|group|shared)\b")
# "Mia's lunch 15", "Amelia's pizza was 14": a short note of what one person had.
_VERBISH = (
    r"(?:needs?|needed|wants?|wanted|will|would|should|could|might|must|costs?|broke|gets?|got"
    r"|has|had|have|is|are|was|were)\b"
)
HEAD_POSSESSIVE = re.compile(
    rf"^({P}) 's(?: (?!{_VERBISH})[a-z][a-z'&-]*){{1,4}}(?: (?:was|were|is|=|:|-))? A\d+"
)
_PERSONAL = re.compile(
    r"(?:^| )(?:P(?P<i>\d+) 's|a new|new|myself)\b"
    r"|\b(?:bought|got|grabbed|ordered|treated|paid for) P(?P<j>\d+) (?:a|an|some|the)\b"
)


@dataclass(slots=True)
class Reading:
    """What the rules found in one message, filled in step by step."""

    lexed: Lexed
    ctx: ParseContext
    template: str
    confidence: float = 0.95
    used: set[int] = field(default_factory=set)
    """Number indices already explained (a payer's amount, someone's exact share)."""

    def member(self, token: str) -> str:
        return self.ctx.members[int(token[1:])]

    def num(self, token: str) -> Num:
        return self.lexed.nums[int(token[1:])]


def distinct(r: Reading, tokens: list[str]) -> list[str]:
    """One token per distinct amount: people repeat or translate themselves ("paguei 150 ...,
    I paid 150")."""
    seen: dict[tuple[Decimal, str | None], str] = {}
    for token in tokens:
        num = r.num(token)
        seen.setdefault((num.value, num.currency or r.ctx.currency), token)
    return list(seen.values())


_MONEY_TOKEN = re.compile(r"\bA\d+\b")


def money_tokens(template: str) -> list[str]:
    return _MONEY_TOKEN.findall(template)


def _currency(nums: list[Num], ctx: ParseContext) -> str | None:
    explicit = {n.currency for n in nums if n.currency}
    if len(explicit) > 1:
        return None
    return explicit.pop() if explicit else ctx.currency


def _minor(num: Num, currency: str) -> int | None:
    try:
        return to_minor(num.value, currency)
    except ChipinError:
        return None


def _who_problem(r: Reading, tokens: list[str]) -> Unclear | None:
    """A question when a listed person is not a roster member we can pin down."""
    for token in tokens:
        if token.startswith("U"):
            name = r.lexed.unknown[int(token[1:])]
            return Unclear(question=f"I don't know {name} in this group. Who did you mean?")
        if token.startswith("AMB"):
            typed, options = r.lexed.ambiguous[int(token[3:])]
            return Unclear(question=f"Which {typed} do you mean: {' or '.join(options)}?")
        if token.startswith("GSOME"):
            return Unclear(question="Which of you share it? Please name them.")
        if token in ("WE", "YOU", "PRON") or token.startswith("GN"):
            return None  # the caller asks its own, more specific question
    return None


def _members_of(r: Reading, text: str) -> tuple[list[str], str | None]:
    """Roster members a people list names (groups expanded, exclusions applied), or a question."""
    people: list[str] = []
    parts = re.split(rf" {_EXCEPT} ", text, maxsplit=1)
    included, excluded = parts[0], parts[1] if len(parts) > 1 else ""
    for who in re.findall(WHO, included):
        if who == "G":
            people.extend(r.ctx.members)
        elif who == "GE":
            people.extend(m for m in r.ctx.members if m != r.ctx.sender)
        elif re.fullmatch(P, who):
            people.append(r.member(who))
        elif who.startswith("GN"):
            named = _named_with_speaker(r)
            if len(named) != int(who[2:]):
                return [], f"Which {who[2:]} of you should share it?"
            people.extend(named)  # "the three of us: him, me and Ana"
        elif who in ("WE",):
            people.extend(r.ctx.members)
        else:
            problem = _who_problem(r, [who])
            return [], problem.question if problem else "Who exactly should share it?"
    if excluded:
        if not people:
            people = list(r.ctx.members)
        drop_tokens = re.findall(WHO, excluded)
        problem = _who_problem(r, drop_tokens)
        if problem:
            return [], problem.question
        drop = {r.member(tok) for tok in drop_tokens if re.fullmatch(P, tok)}
        people = [m for m in people if m not in drop]
    return list(dict.fromkeys(people)), None


def _payers(r: Reading) -> tuple[list[tuple[str, str | None]], str | None, bool]:
    """(member, amount token or None) of who paid, a question, and whether an outsider paid."""
    t = r.template
    multi = list(_MULTI_PAYER.finditer(t))
    pairs = [(m["p"], m["a"]) for m in multi]
    if len(pairs) == 1:
        follow = _AND_PAIR.match(t[multi[0].end() :])
        if follow:
            pairs.append((follow["p"], follow["a"]))
    if len({p for p, _ in pairs}) >= 2:
        return [(r.member(p), a) for p, a in pairs], None, False
    both = _BOTH_PAID.search(t)
    if both:
        first, second = both["p"] or both["p2"], both["q"] or both["q2"]
        each = both["a"] or both["a2"]
        return [(r.member(first), each), (r.member(second), each)], None, False
    passive = _PASSIVE.search(t)
    if passive:
        token = next(g for g in passive.groups() if g)
        if token.startswith("P"):
            return [(r.member(token), None)], None, False
        return [], _payer_question(r, token), False
    for m in _SUBJECT.finditer(t):
        token = m["p"]
        if re.fullmatch(P, token):
            if m["p2"]:
                # "Noah and I got petrol, I paid 70": the pair shares it, one of them paid.
                said = [x["p"] for x in multi]
                if len(said) == 1 and said[0] in (token, m["p2"]):
                    return [(r.member(said[0]), None)], None, False
                return [], "How much did each of you pay?", False
            return [(r.member(token), None)], None, False
        if re.fullmatch(WHO, token):
            return [], _payer_question(r, token), False
        if token not in SUBJECT_FILLERS:
            return [], None, True  # "mom paid", "the bar charged us": not a member paying
    r.confidence -= 0.05
    return [(r.ctx.sender, None)], None, False


SUBJECT_FILLERS = words(
    """and then just also so ok okay finally already actually yeah yes yep oh well who that which
    lol haha hey btw again i it this ive fine sure alright right cool anyway but k kk now
    literally basically kindly generously quickly earlier first only each both"""
)


def outsider_before(template: str, start: int) -> bool:
    """Whether the word right before position ``start`` is a non-member doing the verb."""
    before = template[:start].split()
    if not before:
        return False
    word = before[-1]
    return bool(re.fullmatch(r"[a-z']+", word)) and (
        word in OUTSIDERS or word not in SUBJECT_FILLERS
    )


def _payer_question(r: Reading, token: str) -> str:
    problem = _who_problem(r, [token])
    return problem.question if problem else "Who paid it?"


@dataclass(slots=True)
class _People:
    members: list[str]
    explicit: bool
    question: str | None = None
    head_only: bool = False
    """Only a possessive at the start named them ("Mia's lunch 15")."""


def _participants(r: Reading, payers: list[str]) -> _People:
    t = r.template
    split_m = _SPLIT_LIST.search(t)
    if split_m:
        people, question = _members_of(r, split_m["list"])
        if split_m["prep"] in ("with", "w", "and") and not re.search(r"\bG\b", split_m["list"]):
            people = list(dict.fromkeys([*payers, *people]))
        return _People(people, True, question)
    subject = _SPLIT_SUBJECT.search(t)
    if subject:
        people, question = _members_of(r, subject["list"])
        return _People(list(dict.fromkeys([*payers, *people])), True, question)
    for_m = _FOR_LIST.search(t) or _BETWEEN_LIST.search(t)
    if for_m:
        people, question = _members_of(r, for_m["list"])
        return _People(people, True, question)
    group = re.search(rf"(?:^| )(?:G|GE)\b(?: {_EXCEPT} {LIST})?", t)
    if group:
        people, question = _members_of(r, group.group(0).strip())
        return _People(people, True, question)
    if _WE_HAD.search(t):  # "we got pho, 48, on my card"; but not "we're even, sent you 30"
        r.confidence -= 0.1
        return _People(list(r.ctx.members), True)
    pair = _PAIR_SUBJECT.search(t)
    if pair and set(payers) <= {r.member(x) for x in re.findall(rf"\b{P}\b", pair["list"])}:
        people, question = _members_of(r, pair["list"])  # "Noah and I got petrol, I paid 70"
        return _People(people, True, question)
    with_m = _WITH_LIST.search(t)
    if with_m:
        people, question = _members_of(r, with_m["list"])
        r.confidence -= 0.1
        return _People(list(dict.fromkeys([*payers, *people])), True, question)
    bare = _BARE_LIST.search(t)
    if bare:
        people, question = _members_of(r, bare["list"] or bare["list2"])
        if not question and not set(payers) & set(people) and len(people) > 1:
            # "pizza 30, Raj and Mia": for them only, or shared with the payer too?
            question = f"Should {' and '.join(people)} share it with {payers[0]}, or owe it all?"
        return _People(people, True, question)
    head = HEAD_POSSESSIVE.match(t)
    if head and r.member(head.group(1)) not in payers:
        return _People([r.member(head.group(1))], True, head_only=True)
    ways = _N_WAYS.search(t)
    if ways:
        n = int(r.lexed.nums[int(ways.group(1) or ways.group(2))].value)
        if n == len(r.ctx.members):
            return _People(list(r.ctx.members), True)
        named = list(dict.fromkeys([*payers, *(r.member(p) for p in re.findall(P, t))]))
        if len(named) == n:
            return _People(named, True)
        return _People([], True, f"Which {n} people share it?")
    gn = re.search(r"\bGN(\d+)\b", t)
    if gn:
        n = int(gn.group(1))
        named = list(dict.fromkeys([*payers, *_named_with_speaker(r)]))
        if len(named) == n:
            return _People(named, True)
        return _People([], True, f"Which {n} of you share it?")
    return _People(list(r.ctx.members), False)


def _named_with_speaker(r: Reading) -> list[str]:
    """Members a message names, with its author: "the 3 of us" always includes the speaker."""
    named = [r.member(p) for p in re.findall(rf"\b{P}\b", r.template)]
    return list(dict.fromkeys([*named, r.ctx.sender]))


def _in_roster_order(r: Reading, people: list[str]) -> tuple[str, ...]:
    # Equal splits list members in roster order so the leftover cent does not depend on phrasing.
    chosen = set(people)
    return tuple(m for m in r.ctx.members if m in chosen)
