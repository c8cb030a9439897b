"""Messages that ask the bot something rather than record money: help, join, undo, balances,
spending reports, budgets and corrections of the last entry."""

from __future__ import annotations

import re
from decimal import Decimal

from chipin.core.errors import ChipinError
from chipin.core.money import to_minor
from chipin.parsing.intents import (
    EditLast,
    Help,
    Intent,
    Join,
    ParseContext,
    SetBudget,
    ShowBalances,
    ShowSpending,
    Unclear,
    Undo,
)
from chipin.parsing.rules_lex import Lexed
from chipin.parsing.rules_words import CATEGORY_NAMES, FUTURE, category_of

_HELP = re.compile(
    r"^(?:/help|/start\s+help|help(?:\s+me)?|\?+|what\s+can\s+(?:you|i|this(?:\s+bot)?|chipin|"
    r"the\s+bot)\s+do|how\s+(?:does|do)\s+(?:this|it|chipin|the\s+bot|you)(?:\s+bot|\s+thing)?\s+work"
    r"|what\s+(?:can|do|should)\s+i\s+(?:say|type|write|send)|(?:show\s+(?:me\s+)?)?(?:the\s+)?"
    r"commands|instructions|usage|how\s+to\s+use(?:\s+this|\s+chipin|\s+the\s+bot)?"
    r"|how\s+(?:do|can|should)\s+i\s+(?:use|add|log|record|enter|split|track|settle|start|undo"
    r"|set|put|see|check|pay|join|remove|delete|edit|fix|change)\b.*"
    r"|what\s+(?:are\s+)?(?:the\s+)?commands.*|what\s+is\s+this(?:\s+bot)?|who\s+are\s+you"
    r"|help\s+pls|help\s+please|pls\s+help|halp)[.!?\s]*$"
)
_JOIN = re.compile(
    r"^(?:/join|/start|join|join\s+(?:the\s+)?(?:group|ledger|chipin)|(?:please\s+|pls\s+)?"
    r"(?:add|include)\s+me(?:\s+(?:to|in)\s+(?:the\s+)?(?:group|ledger|this|chipin|list|"
    r"expenses|splits?))?|count\s+me\s+in|(?:i\s+)?(?:want|wanna|would\s+like|'d\s+like|"
    r"d\s+like)\s+to\s+join.*|(?:let\s+me|can\s+i|may\s+i)\s+join.*|i'?m\s+joining|sign\s+me\s+up"
    r"|i'?m\s+in|me\s+too|add\s+me\s+please|hi,?\s+i'?m\s+new.*|i'?m\s+new\s+here.*)[.!\s]*$"
)
_OOPS = r"(?:(?:oops|oh\s+no|sorry|wait|ugh|argh|no|my\s+bad|whoops|ok|actually)[,.!\s]*)*"
# "undo, wrong amount", "delete that pls, typo": a reason after the command.
_REASON = (
    r"(?:[,.!\s]+(?:wrong\s+(?:amount|one|person|people|group|entry|expense|currency)|my\s+bad"
    r"|mistake|typo|sorry|oops|pls|please))*"
)
_UNDO = re.compile(
    rf"^{_OOPS}(?:/undo|undo"
    r"|delete|remove|cancel|revert|reverse|erase|void|scrap|drop|take\s+back|nuke|kill)"
    r"(?:\s+(?:that|it|this|please|pls|the\s+last(?:\s+(?:one|expense|entry|payment|thing|item"
    r"|record|transaction|message))?|last(?:\s+(?:one|expense|entry|payment))?|my\s+last"
    r"(?:\s+(?:one|expense|entry|payment|message))?|what\s+i\s+just\s+(?:added|said|sent|logged"
    r"|wrote|entered)|the\s+(?:previous|latest)(?:\s+(?:one|expense|entry|payment))?|that\s+"
    rf"(?:one|expense|entry|payment|last\s+one)))*{_REASON}[.!\s]*$"
    rf"|^{_OOPS}(?:scratch\s+that|never\s*mind(?:\s+(?:that|the\s+last\s+one))?|forget\s+(?:that"
    r"|it|the\s+last\s+one)|ignore\s+(?:that|the\s+last\s+one|my\s+last\s+message)|that\s+was"
    r"\s+(?:wrong|a\s+mistake)|wrong\s+one|mistake)[,.!\s]*(?:(?:please\s+)?(?:delete|remove"
    r"|undo)(?:\s+(?:it|that))?)?[.!\s]*$"
)
_BALANCES = re.compile(
    r"\bwho(?:\s+(?:all|still|else))?\s+owes\s+(?:what|who|whom|me|us|how\s+much|money"
    r"|anything|the\s+most|who\s+what)"
    r"|\bwho(?:'s|\s+is)\s+owed|\b(?:what|how\s+much)\s+(?:do|does|did)\s+(?:i|[a-z]+)\s+owe"
    r"|\bhow\s+much\s+(?:do|does|am|is|are)\s+(?:[a-z]+\s+){1,4}(?:owe|owed)|\bwhat(?:'s|\s+is)\s+(?:my|our"
    r"|the|his|her)\s+(?:balance|tab|total|standing|debt)|\bbalances?\b|\bwhere\s+(?:do\s+)?"
    r"(?:we|things|i)\s+stand|\bwhere\s+(?:are\s+)?we\s+at\b|\bhow\s+(?:do\s+we|are\s+we)\s+stand(?:ing)?|\bare\s+we\s+(?:all\s+)?"
    r"(?:even|square|squared|settled|good|quits)|\bwhat(?:'s|\s+is)\s+(?:the\s+)?damage"
    r"|\bsettle\s*up\b|\bhow\s+(?:do|should|can)\s+we\s+settle|\bwho\s+(?:needs\s+to|should"
    r"|has\s+to|must)\s+pay\s+(?:who|whom)|\bshow\s+(?:me\s+)?(?:the\s+|our\s+|my\s+)?(?:balances?"
    r"|debts|tab|totals|who\s+owes)|^/(?:balance|balances|owes|debts|settle)\b|\btally\b"
    r"|\bwho(?:'s|\s+is)\s+in\s+the\s+red|\bam\s+i\s+(?:owed|in\s+the\s+red|in\s+debt)"
    r"|\bdo\s+i\s+owe\s+(?:[a-z]+\s+)?(?:anyone|anybody|anything|money)|\bwhat\s+do\s+we\s+owe|\bthe\s+tab\b"
    r"|\bwho\s+owes\b.*\?|\bhow\s+much\s+(?:do\s+)?i\s+owe"
)
_SPENDING = re.compile(
    r"\bhow\s+much\s+(?:money\s+)?(?:did|have|has|do|does)\s+(?:we|i|[a-z]+)\s+(?:spen[dt]|paid"
    r"|pay)|\bhow\s+much\s+(?:was|has\s+been|have\s+we|did\s+we|went)\s+(?:spent|on|to)"
    r"|\bwhat\s+(?:did|have)\s+(?:we|i)\s+spen[dt]|\b(?:total|our|my|group|monthly|weekly)\s+"
    r"(?:spend(?:ing)?|expenses|spent)\b|\bspending\b|\bspent\s+so\s+far|\bexpenses?\s+(?:this|"
    r"last|for\s+the)\s+(?:week|month|year)|\bshow\s+(?:me\s+)?(?:the\s+|our\s+)?(?:expenses|"
    r"breakdown|stats|report)|\bbreakdown\b|^/(?:spending|stats|report)\b|\bhow\s+much\s+"
    r"(?:money\s+)?(?:goes|went)\s+(?:on|to|into)|\bover\s+(?:the\s+|our\s+)?budget|\bhow(?:'s|"
    r"\s+is|\s+are)\s+(?:we\s+doing\s+on|the|our)\s+budget|\bwhat\s+have\s+we\s+spent"
    r"|\bhow\s+much\s+(?:have|did)\s+we\s+(?:spend|spent)"
)
_PERIODS = (
    (re.compile(r"\blast\s+week\b"), "last_week"),
    (re.compile(r"\blast\s+month\b"), "last_month"),
    (re.compile(r"\blast\s+year\b"), "last_year"),
    (re.compile(r"\b(?:today|tonight)\b"), "today"),
    (re.compile(r"\b(?:this\s+week|weekly|per\s+week|a\s+week|week)\b"), "week"),
    (re.compile(r"\b(?:this\s+month|monthly|per\s+month|a\s+month|month)\b"), "month"),
    (re.compile(r"\b(?:this\s+year|yearly|annual|per\s+year|a\s+year|year)\b"), "year"),
    (re.compile(r"\b(?:all\s+time|so\s+far|ever|in\s+total|overall|altogether|total)\b"), "all"),
)
_BUDGET_WORD = re.compile(r"\bbudget|\b(?:cap|limit|max|maximum)\b|\bkeep\b.*\bunder\b")
_BUDGET_PERIOD = re.compile(
    r"(?:\b(?:per|a|an|each|every|/)\s*|/)(week|wk|month|mo|year|yr)\b"
    r"|\b(weekly|monthly|yearly|annual|annually)\b|\bthis\s+(week|month|year)\b"
)
_EDIT = re.compile(
    r"^(?:(?:oops|sorry|wait|no|nah|correction|typo|my\s+bad|oh|ah|hmm|err|ugh|actually|edit"
    r"|fix|update|whoops|sry)\s*[,.!:;-]*\s*)*(?:actually\s*,?\s*)?(?:it\s+was|it\s+is|it's|its"
    r"|that\s+was|that's|thats|make\s+(?:it|that)|change\s+(?:it|that|the\s+amount|the\s+last"
    r"\s+(?:one|expense|entry)|the\s+last\s+one)?\s*to|should\s+(?:have\s+been|be)|should'?ve\s+been"
    r"|it\s+should\s+(?:be|have\s+been)|it\s+should'?ve\s+been|the\s+(?:last\s+one|amount|total|last\s+expense|bill)\s+"
    r"(?:was|is|should\s+be)|correction|typo|edit|fix|update)\s*[:,-]?\s*(?:actually\s+)?"
    r"(?P<a>A\d+)(?:\s*,?\s*not\s+A\d+)?(?:\s*(?:actually|not\s+A\d+|instead|sorry|oops|"
    r"my\s+bad|total|in\s+total|[.!,]))*\s*$"
    r"|^(?:(?:sorry|oops|wait|no|correction|actually)\s*[,.!:;-]*\s*)*(?P<b>A\d+)\s*,?\s*not\s+"
    r"A\d+(?:\s*(?:actually|sorry|[.!]))*\s*$"
)
_EDIT_DESC = re.compile(
    r"^(?:actually\s*,?\s*)?(?:it\s+was\s+for|that\s+was\s+for|change\s+(?:the\s+)?description"
    r"\s+to|rename\s+(?:it|that|the\s+last\s+one)\s+to)\s+(?:the\s+)?(?P<d>[a-z][a-z ]{1,40}?)"
    r"(?:\s*,?\s*not\s+(?:for\s+)?(?:the\s+)?[a-z ]+)?[.!]*$"
)
_PERIOD_WORDS = {
    "wk": "week", "mo": "month", "yr": "year", "weekly": "week", "monthly": "month",
    "yearly": "year", "annual": "year", "annually": "year",
}  # fmt: skip
_PERSON = re.compile(r"\bP(\d+)\b")


def detect_command(low: str, lexed: Lexed, ctx: ParseContext) -> Intent | None:
    """The command a message gives, or None when it may be a record (or talk)."""
    stripped = low.strip()
    if _HELP.match(stripped):
        return Help()
    if _JOIN.match(stripped):
        return Join()
    if _UNDO.match(stripped):
        return Undo()
    template = lexed.template
    has_money = any(n.kind in ("money", "bare") for n in lexed.nums)
    question = "?" in stripped
    planned = FUTURE.search(template) and not question  # "will settle up on sunday"
    if (not has_money or question) and not planned:
        if _SPENDING.search(stripped):
            return _spending(stripped, lexed, ctx)
        if _BALANCES.search(stripped):
            return ShowBalances()
    if has_money and _BUDGET_WORD.search(template) and not question and _is_budget(stripped):
        return _budget(stripped, lexed, ctx)
    if has_money:
        edit = _EDIT.match(template)
        if edit:
            return _edit(lexed, int((edit.group("a") or edit.group("b"))[1:]))
    desc = _EDIT_DESC.match(stripped)
    if desc:
        return EditLast(description=desc.group("d").strip(), confidence=0.85)
    return None


def _is_budget(text: str) -> bool:
    """ "budget", or a cap with a period ("cap drinks at 200 a week"); "30 max" alone is not."""
    return "budget" in text or _BUDGET_PERIOD.search(text) is not None


def _period(text: str) -> str | None:
    for pattern, period in _PERIODS:
        if pattern.search(text):
            return period
    return None


def _spending(text: str, lexed: Lexed, ctx: ParseContext) -> ShowSpending:
    member = None
    people = {int(i) for i in _PERSON.findall(lexed.template)}
    if re.search(r"\b(?:did|have|has|do|does)\s+(?:i|P\d+)\s+spen|\bmy\s+spending", text):
        member = ctx.sender
    others = [ctx.members[i] for i in people if ctx.members[i] != ctx.sender]
    if len(others) == 1:
        member = others[0]
    return ShowSpending(period=_period(text), category=category_of(lexed.words), member=member)


def _budget(text: str, lexed: Lexed, ctx: ParseContext) -> Intent:
    money = [n for n in lexed.nums if n.kind in ("money", "bare")]
    if len(money) != 1:
        return Unclear(question="Which amount should the budget be?", confidence=0.3)
    num = money[0]
    currency = num.currency or ctx.currency
    try:
        minor = to_minor(num.value, currency)
    except ChipinError:
        return Unclear(question=f"I can't read {num.raw!r} as an amount in {currency}.")
    period_match = _BUDGET_PERIOD.search(text)
    period = "month"
    if period_match:
        word = next(g for g in period_match.groups() if g)
        period = _PERIOD_WORDS.get(word, word)
    category = category_of(lexed.words)
    if category is None:
        named = re.search(r"\b(?:for|on)\s+(?:the\s+)?([a-z]{3,20})\b", text)
        if named and named.group(1) in CATEGORY_NAMES:
            category = named.group(1)
    confidence = 0.9 if period_match else 0.75
    return SetBudget(amount=minor, currency=currency, period=period, category=category,
                     confidence=confidence)  # fmt: skip


def _edit(lexed: Lexed, index: int) -> Intent:
    num = lexed.nums[index]
    return EditLast(amount=Decimal(num.value), currency=num.currency, confidence=0.85)
