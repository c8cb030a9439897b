"""Reading an expense out of a message's template: who paid, how much, who shares it and how.

Stated debts ("Raj owes me 20") are read by :mod:`chipin.parsing.rules_debts`; the checks that
turn an uncertain reading into a question live in :mod:`chipin.parsing.rules_doubts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

from chipin.core.splits import (
    EqualSplit,
    ExactSplit,
    PercentSplit,
    SharesSplit,
    Split,
    split_members,
)
from chipin.parsing.intents import AddExpense, Intent, Unclear
from chipin.parsing.rules_debts import read_debt, read_debts
from chipin.parsing.rules_doubts import (
    correction_doubt,
    debt_in_passing,
    debt_or_payment,
    default_doubt,
    is_chatter,
    people_doubt,
    spending_doubt,
    unread_debt,
    unstated_payer,
    vague_debt,
)
from chipin.parsing.rules_entries import (
    _OWES,
    _PAIR,
    _PAIR_FOR,
    _PERSONAL,
    _SHARE_PAIR,
    _SHARE_WORDS,
    _SHARED_OBJECT,
    P,
    Reading,
    _currency,
    _in_roster_order,
    _minor,
    _participants,
    _payers,
    _who_problem,
    distinct,
    money_tokens,
    outsider_before,
)
from chipin.parsing.rules_words import PAY_VERBS, PAYER_VERBS, category_of

_PCT_PAIR = re.compile(
    rf"(?P<p>{P})(?: (?::|-|=|pays|gets|takes|covers|owes|has))? PCT(?P<n>\d+)"
    rf"|PCT(?P<n2>\d+) (?:for|from|is|to) (?P<p2>{P})"
)
# "25 each", "10000 yen for the ryokan per person": an amount per head, within its clause.
_PER_PERSON = re.compile(
    r"(?:A\d+)(?: (?![,.;]|and\b)[^ ]+){0,5}? (?:each|pp|per person|per head|a head|apiece"
    r"|a piece|a person)\b(?! way)"
)
# "Sam's burrito was 11 and mine was 13": what each person had.
_POSSESSIVE_PAIR = re.compile(
    rf"(?P<p>{P})(?: 's)?(?: [a-z]+){{0,2}} (?:was|is|came to|=|:) (?P<a>A\d+)"
)
_COPULA = re.compile(r"\b(?:was|were|is|are|came|comes|costs?|it's|total(?:led)?)\b")
_SUBJECT_PAID = re.compile(rf"\b{P}(?: (?:just|already|also))? (?:paid|covered|bought|got)\b")
_ANY_VERB = re.compile(rf"\b(?:{PAY_VERBS}|{PAYER_VERBS})\b")
_PLUS = re.compile(
    r"(A\d+) (?:\+|plus) (A\d+)|(A\d+) (?:and|with) (A\d+) (?:tip|tax|service|delivery|fees?)\b"
)


def read_expense(r: Reading) -> Intent | None:
    t = r.template
    verb = _ANY_VERB.search(t)
    if verb and outsider_before(t, verb.start()):
        return None  # "my mom sent 2000", "the bar charged us 90": not a member paying
    doubt = people_doubt(t) or correction_doubt(t)
    if doubt:
        return Unclear(question=doubt)
    payers, question, outsider = _payers(r)
    if outsider:
        return None
    if question:
        return Unclear(question=question)
    owes = list(_OWES.finditer(t))
    doubt = debt_or_payment(t) or vague_debt(t) or debt_in_passing(t)
    if doubt:
        return Unclear(question=doubt)
    if owes and payers and _SUBJECT_PAID.search(t):
        # "Arjun paid 1,800, me and Kavya owe him half": a payment and a debt in one breath.
        return Unclear(question="Who paid, and how much does each person owe?")
    creditor = payers[0][0] if payers else r.ctx.sender
    if len(owes) > 1:
        return read_debts(r, owes, creditor)
    if owes:
        return read_debt(r, owes[0], creditor)
    doubt = unread_debt(t, read=False) or unstated_payer(
        t, verb is not None, format_raw(r, money_tokens(t))
    )
    if doubt:
        return Unclear(question=doubt)
    payer_names = [p for p, _ in payers]
    people = _participants(r, payer_names)
    if people.question:
        return Unclear(question=people.question)
    problem = _who_problem(r, re.findall(r"\b(?:U|AMB)\d+\b", t))
    if problem:
        return problem
    return _expense(r, payers, people.members, people.explicit, people.head_only)


def _expense(r: Reading, payers: list[tuple[str, str | None]], people: list[str],
             explicit: bool, head_only: bool) -> Intent | None:  # fmt: skip
    t = r.template
    amounts = money_tokens(t)
    used = {a for _, a in payers if a}
    share_mode = bool(_SHARE_WORDS.search(t))
    pairs: list[tuple[str, str]] = []
    if share_mode:
        share_tokens = {f"A{m['n']}" for m in _SHARE_PAIR.finditer(t)}
        used |= share_tokens
        explicit = explicit or len(list(_SHARE_PAIR.finditer(t))) >= 2
    else:
        pairs = [(m["p"], m["a"]) for m in _PAIR.finditer(t) if m["a"] not in used]
        pairs += [(m["p"], m["a"]) for m in _PAIR_FOR.finditer(t) if m["a"] not in used]
        owned = [(m["p"], m["a"]) for m in _POSSESSIVE_PAIR.finditer(t) if m["a"] not in used]
        if len(owned) >= 2 and not pairs:
            pairs = owned
    rest = distinct(r, [a for a in amounts if a not in used and a not in {a for _, a in pairs}])
    if len(pairs) == 1 and not rest:
        pairs = []  # "split with Raj 60": one name next to the only amount is not a share
        rest = [a for a in amounts if a not in used]
    if pairs:
        explicit = True
    all_nums = [r.num(a) for a in amounts]
    currency = _currency(all_nums, r.ctx)
    if currency is None:
        return Unclear(question="That mixes currencies. Which currency was it in?")
    if any(_minor(n, currency) is None for n in all_nums):
        return Unclear(question=f"I can't read that amount in {currency}.")

    def minor(token: str) -> int:
        value = _minor(r.num(token), currency)
        assert value is not None  # checked above for every amount
        return value

    if len(payers) > 1 and not explicit:
        # Several people paying is group spending by nature, but who shares was not said.
        explicit = True
        r.confidence -= 0.1
    each_total = _each_and_total(r, rest, people, pairs, minor)
    if each_total is not None:
        rest = [each_total]  # "120 for ifood, 40 each me, Thiago and Rafael": the 120 is the total
    if any(a for _, a in payers):  # several payers with their amounts
        total = sum(minor(a) for _, a in payers if a)
        if any(minor(a) != total for a in rest):
            return Unclear(question="Which amount is the total, and who paid what?")
        paid = tuple((p, minor(a)) for p, a in payers if a)
    else:
        total_or_none = _total(r, rest, pairs, minor)
        if total_or_none is None:
            shown = ", ".join(r.num(a).raw for a in amounts)
            return Unclear(question=f"I see several amounts ({shown}). Which one is the total?")
        total = total_or_none
        paid = ((payers[0][0], total),)
    if not explicit and set(re.findall(rf"\b{P}\b|\bYOU\b|\bPRON\b", t)) - {
        f"P{r.ctx.members.index(p)}" for p, _ in payers
    }:
        return Unclear(question=f"Who should split the {format_raw(r, amounts)}?")
    doubt = None if explicit else default_doubt(t, format_raw(r, amounts))
    if doubt:
        return Unclear(question=doubt)
    if not explicit and is_chatter(r.lexed.low):
        return None  # "petrol is so cheap here, filled up for 4": banter, not a bill to split
    if not explicit and not _looks_shared(r):
        if _is_personal(r) or re.search(r"\bspent\b", t):
            return None
        return Unclear(question=f"What was the {format_raw(r, amounts)} for, and who shares it?")
    verbs = [m.group(0) for m in _ANY_VERB.finditer(t)]
    doubt = spending_doubt(t, verbs, format_raw(r, amounts))
    if doubt:
        return Unclear(question=doubt)
    if head_only and _COPULA.search(t) and not re.search(PAYER_VERBS, t):
        return Unclear(question=f"Who paid the {format_raw(r, amounts)}?")
    each_token = next((a for a in rest if _PER_PERSON.match(t, t.index(a))), None)
    split_or_q = _split(r, people, pairs, minor, total, payers[0][0])
    if isinstance(split_or_q, str):
        return Unclear(question=split_or_q)
    split = split_or_q
    if set(split_members(split)) <= {p for p, _ in paid}:
        # Only the payer shares it: their own purchase ("for my haircut"), or a list not read.
        return Unclear(question="Who shares it with you?") if _SPLIT_WORD.search(t) else None
    if each_token and each_total is None and isinstance(split, EqualSplit) and not used:
        total = minor(each_token) * len(split.members)
        paid = ((paid[0][0], total),)
    if total <= 0:
        return Unclear(question="What was the amount?")
    if not explicit:
        r.confidence -= 0.15
    return AddExpense(
        payers=paid, amount=total, currency=currency, split=split, date=r.lexed.date,
        category=category_of(r.lexed.words), confidence=max(r.confidence, 0.0),
    )  # fmt: skip


_SPLIT_WORD = re.compile(r"\b(?:split|splitting|shared?|sharing|halves|half|between|with|each)\b")


def _each_and_total(r: Reading, rest: list[str], people: list[str], pairs: list[tuple[str, str]],
                    to_minor: Callable[[str], int]) -> str | None:  # fmt: skip
    """The total when a message gives both it and a price per head that agree with it."""
    if len(rest) != 2 or pairs or not people:
        return None
    t = r.template
    each = [a for a in rest if _PER_PERSON.match(t, t.index(a))]
    if len(each) != 1:
        return None
    other = rest[0] if rest[1] == each[0] else rest[1]
    return other if to_minor(other) == to_minor(each[0]) * len(people) else None


def format_raw(r: Reading, amounts: list[str]) -> str:
    return r.num(amounts[0]).raw if amounts else "amount"


def _is_personal(r: Reading) -> bool:
    """ "my haircut", "a new phone": the speaker's own purchase, not the group's."""
    for m in _PERSONAL.finditer(r.template):
        who = m["i"] or m["j"]
        if who is None or int(who) == r.lexed.sender:
            return True
    return False


def _looks_shared(r: Reading) -> bool:
    """Whether an expense with no one named is plausibly for the group (a known shared kind of
    thing, or "the"/"our" something) rather than a personal purchase being mentioned."""
    if _is_personal(r):
        return False
    return category_of(r.lexed.words) is not None or bool(_SHARED_OBJECT.search(r.template))


def _total(
    r: Reading, rest: list[str], pairs: list[tuple[str, str]], to_minor: Callable[[str], int]
) -> int | None:
    if len(rest) == 1:
        return to_minor(rest[0])
    if not rest and pairs:
        return sum((to_minor(a)) for _, a in pairs)
    equals = re.search(r"= (A\d+)", r.template)
    if equals and equals.group(1) in rest:
        # "4 x 12 = 48": the result is the total when the figures before it make it.
        clause = r.template[: equals.start()].split(",")[-1]
        figures = [r.num(tok).value for tok in re.findall(r"\b[AC]\d+\b", clause)]
        product = Decimal(1)
        for value in figures:
            product *= value
        if figures and r.num(equals.group(1)).value in (product, sum(figures)):
            return to_minor(equals.group(1))
    items = [a for a in rest if re.search(rf"\b{a} (?:for|on) (?:the |a |some )?[a-z]", r.template)]
    if len(rest) >= 2 and items == rest:
        return sum(to_minor(a) for a in rest)  # "350 for the auto and 150 for chai"
    plus = _PLUS.search(r.template)
    if plus and len(rest) == 2 and {g for g in plus.groups() if g} == set(rest):
        return sum((to_minor(a)) for a in rest)
    return None


def _split(r: Reading, people: list[str], pairs: list[tuple[str, str]],
           to_minor: Callable[[str], int], total: int, payer: str) -> Split | str:  # fmt: skip
    """The split, or a question when the message's split cannot be read safely."""
    t = r.template
    if pairs:
        parts = {r.member(p): (to_minor(a)) for p, a in pairs}
        if len(parts) != len(pairs):
            return "Someone is listed twice. Who owes what?"
        missing = total - sum(parts.values())
        if missing > 0 and payer not in parts:
            parts[payer] = missing
        if sum(parts.values()) != total:
            return "The parts don't add up to the total. Who owes what?"
        return ExactSplit(tuple((m, parts[m]) for m in _in_roster_order(r, list(parts))))
    pct_pairs = [(m["p"] or m["p2"], m["n"] or m["n2"]) for m in _PCT_PAIR.finditer(t)]
    if pct_pairs:
        values = {r.member(p): r.lexed.nums[int(n)].value for p, n in pct_pairs}
        return _percent(r, values)
    lists = re.findall(r"\b(PCT|R)(\d+)\b", t)
    if lists:
        kind, index = lists[0]
        values_list = r.lexed.nums[int(index)].values
        if len(values_list) != len(people):
            return f"Who gets which part of {r.lexed.nums[int(index)].raw}?"
        weights = dict(zip(people, values_list, strict=True))
        return _percent(r, weights) if kind == "PCT" else _shares(r, weights)
    if _SHARE_WORDS.search(t):
        shares = {
            r.member(m["p"]): r.lexed.nums[int(m["n"])].value for m in _SHARE_PAIR.finditer(t)
        }
        if len(shares) >= 2:
            return _shares(r, shares)
    if not people:
        return "Who should split it?"
    return EqualSplit(_in_roster_order(r, people))


def _percent(r: Reading, values: dict[str, Decimal]) -> Split | str:
    if sum(values.values()) != 100:
        return "The percentages don't add up to 100. Who pays what share?"
    return PercentSplit(tuple((m, values[m]) for m in _in_roster_order(r, list(values))))


def _shares(r: Reading, values: dict[str, Decimal]) -> Split | str:
    if sum(values.values()) <= 0:
        return "Those shares add up to nothing. Who pays what share?"
    return SharesSplit(tuple((m, values[m]) for m in _in_roster_order(r, list(values))))
