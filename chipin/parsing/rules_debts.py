"""Stated debts: "Raj owes me 20", "Raj and Mia owe me 40 in total", "Ava owes me 15 and Ethan
owes me 15". Each is recorded as an expense the creditor paid for the debtors."""

from __future__ import annotations

import re

from chipin.core.splits import EqualSplit, ExactSplit, Split
from chipin.parsing.intents import AddExpense, Intent, Unclear
from chipin.parsing.rules_entries import (
    _EACH,
    _HALF,
    P,
    Reading,
    _currency,
    _in_roster_order,
    _members_of,
    _minor,
    _who_problem,
    distinct,
    money_tokens,
)

_TOTAL_WORDS = re.compile(
    r"\b(?:total|in total|altogether|between (?:them|the \w+|you)|combined)\b"
)


def read_debt(r: Reading, owes: re.Match[str], payer: str) -> Intent:
    t = r.template
    cred = owes["cred"]
    if cred is None:
        creditor = payer
        r.confidence -= 0.1
    elif re.fullmatch(P, cred):
        creditor = r.member(cred)
    else:
        problem = _who_problem(r, [cred])
        return problem or Unclear(question="Who is owed the money?")
    if re.match(rf" (?:,|and|&|\+) (?:{P}|U\d+)", t[owes.end("cred") :] if cred else ""):
        return Unclear(question="Who is owed how much? Please send one debt at a time.")
    debtors_text = owes["debtors"]
    if re.search(r"\bWE\b", debtors_text):
        debtors = [m for m in r.ctx.members if m != creditor]
    else:
        debtors, question = _members_of(r, debtors_text)
        if question:
            return Unclear(question=question)
    amounts = distinct(r, money_tokens(t))
    if len(amounts) != 1:
        return Unclear(question="How much is owed, and by whom?")
    token = amounts[0]
    num = r.num(token)
    currency = _currency([num], r.ctx) or r.ctx.currency
    minor = _minor(num, currency)
    if minor is None:
        return Unclear(question=f"I can't read {num.raw!r} as an amount in {currency}.")
    after = t[t.index(token) + len(token) :]
    each = bool(owes["each"] or _EACH.match(after))
    adjacent = owes["a"] is not None
    if re.search(r"\bGE\b", debtors_text) and not (each or adjacent):
        # "paid 60 for dinner, the rest of you owe me": is the creditor's own share in the 60?
        return Unclear(
            question=f"Should {num.raw} be split with you too, or do they owe all of it?"
        )
    others = [d for d in debtors if d != creditor]
    if not others:
        return Unclear(question='Who owes whom? Try: "Raj owes me 20".')
    if _HALF.search(t) and len(others) == 1 and not each:
        if minor % 2:
            return Unclear(question=f"Half of {num.raw} doesn't divide evenly. How much exactly?")
        minor //= 2
    split: Split
    if each:
        split = ExactSplit(tuple((d, minor) for d in _in_roster_order(r, others)))
        total = minor * len(others)
    elif len(debtors) == 1:
        split = ExactSplit(((debtors[0], minor),))
        total = minor
    elif adjacent and not _TOTAL_WORDS.search(t):
        amount = num.raw
        return Unclear(question=f"Does each of them owe {amount}, or {amount} in total?")
    else:
        split = EqualSplit(_in_roster_order(r, debtors))
        total = minor
    return AddExpense(
        payers=((creditor, total),), amount=total, currency=currency, split=split,
        date=r.lexed.date, confidence=r.confidence,
    )  # fmt: skip


def read_debts(r: Reading, owes: list[re.Match[str]], payer: str) -> Intent:
    """Several debts in one message, each "<member> owes <creditor> <amount>" to one creditor."""
    creditor: str | None = None
    parts: dict[str, str] = {}
    for m in owes:
        cred = m["cred"]
        if not re.fullmatch(P, m["debtors"]) or m["a"] is None or m["each"]:
            return Unclear(question="How much does each of them owe, and to whom?")
        if cred is not None and not re.fullmatch(P, cred):
            return _who_problem(r, [cred]) or Unclear(question="Who is owed the money?")
        owed = r.member(cred) if cred else payer
        debtor = r.member(m["debtors"])
        if creditor not in (None, owed) or debtor == owed or debtor in parts:
            return Unclear(question="Who owes whom, and how much? Please send one debt at a time.")
        creditor = owed
        parts[debtor] = m["a"]
    assert creditor is not None  # owes is never empty
    used = set(parts.values())
    leftover = [a for a in distinct(r, money_tokens(r.template)) if a not in used]
    currency = _currency([r.num(a) for a in money_tokens(r.template)], r.ctx)
    if currency is None:
        return Unclear(question="That mixes currencies. Which currency was it in?")
    minors = {d: _minor(r.num(a), currency) for d, a in parts.items()}
    amounts = {d: v for d, v in minors.items() if v is not None}
    if len(amounts) != len(minors):
        return Unclear(question=f"I can't read those amounts in {currency}.")
    total = sum(amounts.values())
    if leftover:
        # "paid 100 for the cabin, Raj owes 40, Mia 30": the rest was the payer's own share.
        bill = _minor(r.num(leftover[0]), currency)
        if len(leftover) > 1 or creditor != payer or bill is None or bill < total:
            return Unclear(question="Which amount is the total, and who owes what?")
    split = ExactSplit(tuple((d, amounts[d]) for d in _in_roster_order(r, list(amounts))))
    return AddExpense(
        payers=((creditor, total),), amount=total, currency=currency, split=split,
        date=r.lexed.date, confidence=r.confidence,
    )  # fmt: skip
