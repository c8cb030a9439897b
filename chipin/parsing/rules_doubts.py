"""Doubts: signs that a message says more about who pays or who shares than the rules read.

An entry is recorded only when every person in the message is accounted for. These checks look at
the template of :mod:`chipin.parsing.rules_lex` for what a careful bookkeeper would stop at (people
outside the roster, "Raj or Mia", a correction in mid-sentence, a debt whose debtor was not read)
and return the question to ask instead of an entry. Each returns None when it sees no doubt.
"""

from __future__ import annotations

import re

from chipin.parsing.rules_words import OPINION, PAY_VERBS

# People who are not (or not plainly) members: "with my cousin", "for the kids", "and friends".
_OUTSIDER_NOUNS = (
    r"(?:friends?|mates?|buddies|buddy|pals?|kids?|children|child|sons?|daughters?|cousins?"
    r"|brothers?|sisters?|bro|sis|siblings?|mum|mom|mother|dad|father|parents|family|wife"
    r"|husband|partner|boyfriend|girlfriend|bf|gf|fianc[ée]e?|colleagues?|coworkers?|co-workers?"
    r"|boss|flatmates?|roommates?|housemates?|neighbou?rs?|guests?|girls|boys|ladies|lads"
    r"|people|folks|others|someone|somebody|strangers?|date|team)"
)
_DETERMINERS = (
    r"(?:my|his|her|their|our|your|YOU 's|P\d+ 's|P\d+|PRON|the|some|a|an|few|couple|of|other"
    r"|two|three|four|new|best|C\d+|A\d+)"
)
_OUTSIDER_CUE = re.compile(_OUTSIDER_NOUNS)
_OUTSIDERS_SHARING = re.compile(
    rf"(?:^| )(?:with|and|&|\+|for|between|among|amongst|plus|including|incl) "
    rf"(?:{_DETERMINERS} )*{_OUTSIDER_NOUNS}\b"
)
# "me and the driver", "split with Arjun and his sister": someone the roster cannot place.
_THIRD_PARTY = re.compile(
    r"(?:^| )(?:P\d+|U\d+|AMB\d+) (?:and|&|\+|n) (?:the|my|his|her|their|our|your|a|an) [a-z]"
    r"|\b(?:split|shared?|splitting|sharing|splits)(?: (?:it|this|that|the bill))? (?:with|between"
    r"|among|amongst) (?:the|my|his|her|their|our|your|a|an) [a-z]"
)
_EITHER = re.compile(r"\b(?:P|U|AMB)\d+ (?:or|/|nor) (?:P|U|AMB)\d+\b|\beither (?:P|U|AMB)\d+")
# "... wait also Lena", ", actually 65", "I mean": the message corrects itself half-way.
_SELF_CORRECTION = re.compile(
    r"(?:[,.;!?-]|\.\.\.) ?(?:(?:oh|no|oops|sorry|hmm|ah) )*(?:wait|actually|i mean|P\d+ mean"
    r"|scratch that|or rather|correction|make that|never ?mind|no no)\b"
    r"|(?:^| )(?:no wait|wait no|sorry i mean|P\d+ mean)\b"
)
_OWE_WORD = re.compile(r"\b(?:owes?|owed|owing)\b")
_PLACEHOLDER = re.compile(r"\b(?:A|P|U|AMB)\d+\b")
_COPULA = re.compile(r"\b(?:was|were|came to|come to|comes to|costs?|cost us|totall?ed)\b")


def people_doubt(template: str) -> str | None:
    """A question when people the rules cannot place share the cost or are offered as options."""
    if _OUTSIDER_CUE.search(template) and _OUTSIDERS_SHARING.search(template):
        return (
            "I can only split between members of this group. Who exactly shares it? "
            "Please name them."
        )
    if _THIRD_PARTY.search(template):
        return "Who is that? I can only split between members of this group. Please name them."
    if _EITHER.search(template):
        return "Which one of them? Please name exactly who pays or owes."
    return None


def correction_doubt(template: str) -> str | None:
    """A question when the message changes its mind part-way ("60... wait, 65")."""
    for m in _SELF_CORRECTION.finditer(template):
        if _PLACEHOLDER.search(template, 0, m.start()):
            return (
                "Sounds like that changed part-way. Could you send it again in one go, "
                "with the final amount and who shares it?"
            )
    return None


# "he owes more", "Raj owes the rest": a debt without its amount.
_VAGUE_DEBT = re.compile(
    r"\b(?:owes?|owed|owing)(?: (?:P\d+|YOU|PRON))? (?:a bit |a little |a lot |way |much )?"
    r"(?:more|less|extra|the rest|the difference|the remainder|something|some|a bit|a little"
    r"|a lot|most|half|double|twice)\b"
)


def vague_debt(template: str) -> str | None:
    if _VAGUE_DEBT.search(template):
        return "How much exactly does each person owe?"
    return None


# "the 20 I owe you": a debt named in passing (being paid, or asked about), not a new one.
_DEBT_IN_PASSING = re.compile(r"\bthe A\d+ (?:that )?(?:P\d+|YOU|PRON|WE) (?:owed?|owes)\b")


def debt_in_passing(template: str) -> str | None:
    if _DEBT_IN_PASSING.search(template):
        return "Is that a payment of the debt, or a new debt? Who paid whom, and how much?"
    return None


def unread_debt(template: str, read: bool) -> str | None:
    """A question when the message speaks of owing but no debtor and creditor were read."""
    if not read and _OWE_WORD.search(template):
        return 'Who owes whom, and how much? Try: "Raj owes me 20".'
    return None


def unstated_payer(template: str, has_pay_verb: bool, amount: str) -> str | None:
    """ "the churrasco was 320, split 4 ways": a cost stated but not who paid it."""
    if not has_pay_verb and _COPULA.search(template):
        return f"Who paid the {amount}?"
    return None


_SPENT = re.compile(r"\bspent\b")
_SHARING = re.compile(
    r"\b(?:split|splitting|shared?|sharing|between|among|amongst|each|owes?|owed|half|halves"
    r"|ways|for (?:G|GE|GN\d+|P\d+|WE)\b)"
)


def spending_doubt(template: str, verbs: list[str], amount: str) -> str | None:
    """ "spent 200 at bunnings": spending reported, but not said to be shared."""
    if verbs and all(v == "spent" for v in verbs) and not _SHARING.search(template):
        return f"Should I split the {amount}? If so, who shares it?"
    return None


# Left over when no list of people was read: "dinner 60 with jake", "half each", "both of them".
_UNREAD_WITH = re.compile(
    r"\bwith (?!(?:cash|card|venmo|pix|upi|paypal|zelle|revolut|gpay|apple pay|tip|tax|the card"
    r"|P\d+ 's (?:card|account))\b)(?:[a-z]|U\d|WE|YOU|PRON|OUR)"
)
_UNREAD_SPLIT = re.compile(
    r"\b(?:half|halves|halfsies|50/50|fifty fifty|dutch|each|both|apiece|pp|per person|per head"
    r"|between|among|amongst|ways|YOU|PRON)\b"
)


def default_doubt(template: str, amount: str) -> str | None:
    """A question when the rules would assume everyone shares, but the message hints otherwise."""
    if _UNREAD_WITH.search(template) or _UNREAD_SPLIT.search(template):
        return f"Who shares the {amount}? Please name them (or say 'everyone')."
    return None


_PAID_WHAT_IS_OWED = re.compile(rf"\b{PAY_VERBS}\b[^,.;!?]*\b(?:owe|owes|owed|owing)\b")


def debt_or_payment(template: str) -> str | None:
    """ "sent Raj the 20 I owe him": settling a debt, or a new one? Only the shapes the payment
    rules know are safe (they run first); the rest is asked about."""
    if "owe" in template and _PAID_WHAT_IS_OWED.search(template):
        return "Was that a payment to settle a debt, or a new expense? Who paid whom, how much?"
    return None


def is_chatter(low: str) -> bool:
    """Opinions and banter ("lol", "rip-off", "so cheap"): no entry is guessed from them."""
    return OPINION.search(low) is not None
