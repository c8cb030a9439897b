"""The offline rules parser: chat text to a validated Intent, deterministically and without I/O.

It favours precision: a message is recorded only when it says who paid and for whom in a shape
the rules know; money talk that is a plan, a question, an opinion or a gift is ``none``; money that
looks meant for the ledger but cannot be read safely is ``unclear`` with a question
(:mod:`chipin.parsing.rules_doubts` lists what makes the rules stop: people outside the roster,
"Raj or Mia", a correction half-way, hints of a subset when no list was read). Confidence is high
only when every part was read from the message rather than defaulted. A message that addresses
the bot (:mod:`chipin.parsing.safety`) never yields an entry.
"""

from __future__ import annotations

import dataclasses
import re

from chipin.core.errors import ChipinError
from chipin.parsing.intents import (
    AddExpense,
    Intent,
    NoIntent,
    ParseContext,
    Unclear,
    to_expense,
)
from chipin.parsing.rules_commands import detect_command
from chipin.parsing.rules_doubts import people_doubt
from chipin.parsing.rules_entries import HEAD_POSSESSIVE, Reading, money_tokens
from chipin.parsing.rules_expense import read_expense
from chipin.parsing.rules_lex import Lexed, lex
from chipin.parsing.rules_payments import _GOT_FROM_OTHER, read_payment
from chipin.parsing.rules_words import (
    CATEGORY_OF,
    FUTURE,
    GIFT,
    HABIT,
    HEDGE,
    NEGATION,
    OPINION,
    PAY_VERBS,
    PAYER_VERBS,
    is_question,
    words,
)
from chipin.parsing.safety import refuse_if_steered
from chipin.parsing.validate import validate_intent

_CLAUSE = re.compile(r" (?:[,.;!]|-|but|though|although|because|cause|cos|so) ")
_RECORD_SIGNAL = re.compile(
    rf"\b(?:{PAY_VERBS}|{PAYER_VERBS}|split|splitting|shared?|sharing|divided?|owes?|owed|owing"
    r"|halves|dutch|received|got)\b|\bfor (?:P\d+|G|GE)\b"
    r"|\bP\d+ (?::|-|=)? ?A\d+"
    r"|A\d+ (?:[,:-] )?(?:P\d+|G)(?: (?:, )?(?:and |& |\+ )?P\d+)+ ?[.!]?$"
)
_NOT_PERSON = re.compile(r"(?:, )?\bnot (P\d+)\b")
# "for Ishaan's and Neha's tickets" -> "for Ishaan and Neha's tickets" (one possessive list).
_POSSESSIVE_LIST = re.compile(r"\b(P\d+) 's (and|&|,) (?=P\d+ 's)")
# "paid Tom's share of the tickets" -> "paid for Tom's share": Tom owes it.
_SHARE_OF = re.compile(
    r"\b(paid|covered|got|payed) (P\d+ 's (?:share|part|portion|half|bit|cut))\b"
)
_STOP = words(
    """a an the and or for on of to in at by with from was were is are it its it's this that
    these those i me my we our us you your he she they them his her their just also already
    paid pay payed got get bought covered spent split splitting share shared owe owes owed
    each per person total came come comes cost costs so ok okay yeah yes hey guys all everyone
    everybody except but back sent gave transferred via over thru through venmo pix upi cash
    half halves evenly equally between among amongst ways way please pls thanks thx lol haha
    then and had have has did do does be been being out up down into like about around
    yesterday today tonight last night ago week month year off put picked grabbed fronted
    booked ordered handled took care"""
)


def parse_rules(text: str, ctx: ParseContext) -> Intent:
    """Text to a validated Intent (see the module docstring for the policy)."""
    if ctx.sender not in ctx.members:
        return Unclear(question=f"{ctx.sender} is not a member of this group yet.", confidence=0.0)
    lexed = lex(text, ctx.members.index(ctx.sender), ctx.members, ctx.currency, ctx.today)
    intent = _read(lexed, ctx)
    if isinstance(intent, AddExpense):
        intent = dataclasses.replace(intent, description=_describe(lexed))
        if _only_the_payer_shares(intent, ctx):
            # Nothing to record, and likely a list of people the rules missed.
            intent = Unclear(question="Who shares it with you?", confidence=0.3)
    # A message that addresses the bot is not a plain statement of money, whatever it says.
    money = any(n.kind in ("money", "bare") for n in lexed.nums)
    return refuse_if_steered(validate_intent(intent, ctx), text, mentions_money=money)


def _only_the_payer_shares(intent: AddExpense, ctx: ParseContext) -> bool:
    try:
        return not any(to_expense(intent, ctx).effects().values())
    except ChipinError:
        return False  # validate_intent turns it into a question


def _read(lexed: Lexed, ctx: ParseContext) -> Intent:
    command = detect_command(lexed.low, lexed, ctx)
    if command is not None:
        return command
    template = _NOT_PERSON.sub(r"except \1", lexed.template)
    if "'s" in template:
        template = _POSSESSIVE_LIST.sub(r"\1 \2 ", template)
        template = _SHARE_OF.sub(r"\1 for \2", template)
    lexed.template = template
    amounts = money_tokens(lexed.template)
    if not amounts:
        return NoIntent(confidence=0.9)
    reason = _not_a_record(lexed)
    if reason is not None:
        return NoIntent(confidence=reason)
    reading = Reading(lexed, ctx, lexed.template)
    if lexed.fuzzy:
        reading.confidence -= 0.1
    payment = read_payment(reading)
    if payment is not None:
        return payment
    doubt = people_doubt(lexed.template)
    if doubt:
        return Unclear(question=doubt)  # "taxi 30, me and the girls"
    if not (_RECORD_SIGNAL.search(lexed.template) or HEAD_POSSESSIVE.match(lexed.template)):
        return _shorthand(lexed, ctx, reading)
    if _STATEMENT.search(lexed.template) and not _ACTION.search(lexed.template):
        return _statement(lexed, reading)
    expense = read_expense(reading)
    return expense if expense is not None else NoIntent(confidence=0.7)


def _not_a_record(lexed: Lexed) -> float | None:
    """A confidence for ``none`` when the money talk is a question, plan, gift or refusal."""
    low, template = lexed.low, lexed.template
    if is_question(low, template):
        return 0.85
    if GIFT.search(template) or _offering(lexed):
        return 0.8  # "my treat", "dinner's on me", "I got this"
    if "RANGE" in template or (
        _GOT_FROM_OTHER.search(template) and not re.search(r"\bfrom P\d+", template)
    ):
        return 0.75
    clauses = _CLAUSE.split(f" {template} ")
    if FUTURE.search(clauses[0]):
        return 0.8  # "gonna grab groceries, ~50": the message opens with a plan
    for clause in clauses:
        if not (money_tokens(clause) or _RECORD_SIGNAL.search(clause)):
            continue
        if any(p.search(clause) for p in (FUTURE, NEGATION, HEDGE, HABIT)):
            return 0.8
    return None


def _offering(lexed: Lexed) -> bool:
    """ "I got this": the speaker offers to pay (but "I got it, split with Raj" says who paid)."""
    t = lexed.template
    if "got this" not in t:
        return False
    return f"P{lexed.sender} got this" in t and not _SHARING_WORD.search(t)


_SHARING_WORD = re.compile(r"\b(?:split|splitting|shared?|sharing|between|with|owes?|each)\b")


def _shorthand(lexed: Lexed, ctx: ParseContext, reading: Reading) -> Intent:
    """ "groceries 45.20", "wifi 60 yesterday": a household cost and an amount, nothing else. The
    speaker paid and everyone shares. "uber 23" or "dinner was 60" asks who paid and who shares;
    anything chattier is ``none``."""
    t = lexed.template
    words = [w for w in t.split() if re.fullmatch(r"[a-z][a-z'&-]*", w)]
    amounts = money_tokens(t)
    other = re.findall(r"\b(?:P\d+|U\d+|AMB\d+|WE|YOU|PRON|C\d+|PCT\d+|R\d+|TIME)\b", t)
    distinct = {(reading.num(a).value, reading.num(a).currency) for a in amounts}
    if len(distinct) != 1 or other or OPINION.search(lexed.low):
        return NoIntent(confidence=0.7)
    num = reading.num(amounts[0])
    known = [w for w in words if _category(w)]
    if _STATEMENT.search(t):
        billish = known or re.search(r"\b(?:total|bill|check|receipt|tab)\b", t)
        if billish and len(words) <= 8:
            return _statement(lexed, reading)
        return NoIntent(confidence=0.7)
    if len(words) > 5:
        return NoIntent(confidence=0.7)
    if not known:
        money_like = num.currency is not None or "." in num.raw or "," in num.raw
        if money_like and 0 < len(words) <= 3:
            return Unclear(question=f"Who paid the {num.raw}, and who shares it?")
        return NoIntent(confidence=0.6)
    if not any(_category(w) in HOUSEHOLD for w in known) and not re.search(r"\bGE?\b", t):
        # "uber 18", "pizza 30": an outing's cost, shared by whoever was there: ask who.
        return Unclear(question=f"Who paid the {num.raw}, and who shares it?", confidence=0.5)
    shorthand = Lexed(
        f"P{lexed.sender} paid {t} for G", lexed.nums, lexed.date, words=lexed.words,
        sender=lexed.sender, low=lexed.low,
    )  # fmt: skip
    intent = read_expense(Reading(shorthand, ctx, shorthand.template, confidence=0.75))
    if isinstance(intent, AddExpense):
        return dataclasses.replace(intent, confidence=0.75)
    return intent if intent is not None else NoIntent(confidence=0.6)


HOUSEHOLD = frozenset({"groceries", "utilities", "rent", "household"})
"""Costs a whole group shares by nature: a bare "groceries 45" is split with everyone."""


def _category(word: str) -> str | None:
    return CATEGORY_OF.get(word) or CATEGORY_OF.get(word.removesuffix("s"))


_ACTION = re.compile(
    rf"\b(?:{PAY_VERBS}|{PAYER_VERBS}|split|splitting|shared?|sharing|divided?|owes?|owed|owing"
    r"|halves|dutch|received)\b"
)


def _statement(lexed: Lexed, reading: Reading) -> Intent:
    """A cost stated but not said to be paid: "dinner was 60" asks who paid; "rent is 2400",
    "tickets are 300 each" are talk."""
    t = lexed.template
    amounts = money_tokens(t)
    past = re.search(r"\b(?:was|were|came|totall?ed)\b", t)
    per_head = re.search(r"\b(?:each|pp|per person|per head|a head|apiece)\b", t)
    if not past or per_head or OPINION.search(lexed.low):
        return NoIntent(confidence=0.7)
    raw = reading.num(amounts[0]).raw if amounts else "amount"
    return Unclear(question=f"Who paid the {raw}, and who shares it?", confidence=0.5)


_STATEMENT = re.compile(r"\b(?:was|were|is|are|came|comes|costs?|it's|total(?:led)?|be)\b")


def _describe(lexed: Lexed) -> str:
    """A short description: the words after "for"/"on", else the first content words."""
    tokens = lexed.template.split()
    runs: list[list[str]] = [[]]
    after_for: list[str] = []
    for i, token in enumerate(tokens):
        content = re.fullmatch(r"[a-z][a-z'&-]*", token) and token not in _STOP
        if content:
            runs[-1].append(token)
            if i > 0 and tokens[i - 1] in ("for", "on", "the") and not after_for:
                after_for = runs[-1]
        elif runs[-1]:
            runs.append([])
    best = after_for or next((run for run in runs if run), [])
    return " ".join(best[:4])
