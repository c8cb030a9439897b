"""Reading a payment between members out of a message's template: "Raj sent me 30", "paid Mia
back 12", "got 25 from Tom", "paid the 20 I owed Raj"."""

from __future__ import annotations

import re

from chipin.parsing.intents import Intent, NoIntent, RecordPayment, Unclear
from chipin.parsing.rules_entries import (
    _ADV,
    P,
    Reading,
    _currency,
    _minor,
    money_tokens,
    outsider_before,
)
from chipin.parsing.rules_words import METHODS, PAY_VERBS

_PAY_TO = re.compile(
    rf"(?:^| )(?:(?P<d>{P}){_ADV} )?{PAY_VERBS}(?: back)? (?P<c>{P})(?! 's)"
    rf"(?: back)?(?: (?:the|a|an|his|her|their|{P} 's|full|whole|remaining|rest|other|of))*"
    rf" (?P<a>A\d+)"
)
_PAY_AMOUNT_TO = re.compile(
    rf"(?:^| )(?:(?P<d>{P}){_ADV} )?{PAY_VERBS}(?: back)? (?:the )?(?P<a>A\d+)(?: back)?"
    rf"(?: (?!to\b)[a-z'@]+){{0,3}} (?:back )?to (?P<c>{P})(?! 's)"
)
# "paid the 20 I owed Raj", "sent Mia the 15 I owe her": settling a debt the message names.
_PAY_OWED = re.compile(
    rf"(?:^| )(?:{PAY_VERBS}|here'?s|here 's|here is|sending|paying|transferring)(?: back)?"
    rf"(?: (?P<c2>{P}))? (?:the |your )?(?P<a>A\d+) (?:that )?(?P<d>{P}) (?:owed?|owes) "
    rf"(?P<c>{P})\b"
)
# Money sent to "the group" or "us": no one member received it.
_TO_GROUP = re.compile(r" to (?:G|GE|WE|GSOME|GN\d+)\b")
_MONEY_VERB = re.compile(rf"\b{PAY_VERBS}\b")
_GOT_FROM = re.compile(
    rf"(?:^| )(?:(?P<c>{P}){_ADV} )?(?:got|received|recieved|collected|recovered|got paid)"
    rf"(?: back)? (?:the )?(?P<a>A\d+)(?: back)?(?: (?!from\b)[a-z'@]+){{0,3}} from (?P<d>{P})"
)
_PAID_BACK = re.compile(
    rf"(?:^| )(?:(?P<d>{P}){_ADV} )?{PAY_VERBS} (?:(?P<c>{P}) back|back (?P<c2>{P}))"
)
_SETTLED = re.compile(rf"(?:^| )(?:(?P<d>{P}) )?(?:settled|squared)(?: up)? with (?P<c>{P})")
_GOT_FROM_OTHER = re.compile(r"\b(?:got|received|recieved|won|found|withdrew)\b.*\bfrom\b")
_METHOD = re.compile(
    r"\b(?:via|on|over|through|by|with|using|thru|per|in)\s+(?P<m>[a-z'-]+)|\b(?P<v>venmo'?e?d|"
    r"zelle'?d|pix'?e?d|paypal+'?e?d|upi'?d|cashapped|revoluted|e-transferred|wired)\b"
)


def read_payment(r: Reading) -> Intent | None:
    t = r.template
    amounts = money_tokens(t)
    debtor = creditor = amount = None
    m: re.Match[str] | None = None
    to_group = _TO_GROUP.search(t)
    if to_group and _MONEY_VERB.search(t, 0, to_group.start()):
        return Unclear(question="Which member did you send it to?")
    for pattern in (_PAY_TO, _PAY_AMOUNT_TO, _PAY_OWED, _GOT_FROM):
        m = pattern.search(t)
        if m:
            debtor, creditor, amount = m.group("d"), m.group("c"), m.group("a")
            if pattern is _GOT_FROM:
                debtor, creditor = m.group("d"), m.group("c")
                creditor = creditor or f"P{r.lexed.sender}"
            break
    if amount is None:
        m = _PAID_BACK.search(t) or _SETTLED.search(t)
        if m is None or len(amounts) != 1:
            return None
        groups = m.groupdict()
        debtor, creditor, amount = groups.get("d"), groups.get("c") or groups.get("c2"), amounts[0]
        r.confidence = 0.8 if m.re is _PAID_BACK else 0.7
    if debtor is None and m is not None and outsider_before(t, m.start()):
        return NoIntent(confidence=0.7)  # "my mom sent me 100": not between members
    debtor = debtor or f"P{r.lexed.sender}"
    named = set(re.findall(rf"\b{P}\b", t)) - {debtor, creditor}
    if named and len(amounts) > 1:
        return Unclear(question="That's more than one payment. Could you send them one at a time?")
    if len({(r.num(a).value, r.num(a).currency) for a in amounts}) == 1:
        amounts = amounts[:1]  # the same amount said twice ("... 70 no pix, sent me 70")
    if len(amounts) > 1:
        return Unclear(question="I see more than one amount. Could you send one payment at a time?")
    if debtor == creditor or creditor is None:
        return Unclear(question='Who paid whom? Try: "Raj sent me 30".')
    currency = _currency([r.num(amount)], r.ctx) or r.ctx.currency
    minor = _minor(r.num(amount), currency)
    if minor is None:
        return Unclear(question=f"I can't read {r.num(amount).raw!r} as an amount in {currency}.")
    return RecordPayment(
        debtor=r.member(debtor), creditor=r.member(creditor), amount=minor, currency=currency,
        method=_method(r.lexed.low), date=r.lexed.date, confidence=r.confidence,
    )  # fmt: skip


def _method(low: str) -> str | None:
    for m in _METHOD.finditer(low):
        word = (m.group("m") or m.group("v") or "").replace("'", "")
        for key, method in METHODS.items():
            if word == key.replace("'", ""):
                return method
    return None
