"""Explicit commands ("/settle Raj 20", "/currency EUR", "add Priya"), read before the natural
language parser: they are unambiguous, so they never go to a model."""

from __future__ import annotations

import re
from dataclasses import dataclass

COMMAND = re.compile(
    r"^/(?P<name>[a-z_]+)(?:@\w+)?(?:\s+(?P<args>.*))?$", re.IGNORECASE | re.DOTALL
)
ADD_GUEST = re.compile(
    r"^add\s+(?P<name>[^\d@/#:,;]{1,60}?)\s*(?:to the group|as a guest)?[.!]?$", re.IGNORECASE
)
SETTLE_ARGS = re.compile(
    r"^(?P<name>.+?)\s+(?P<amount>\d[\d.,]*)\s*(?P<currency>[A-Za-z]{3})?$", re.IGNORECASE
)

PLAIN_COMMANDS = {
    "budgets": "budget",
    "our budgets": "budget",
    "show budgets": "budget",
    "recurring": "recurring",
    "history": "history",
}
"""Whole messages that are commands without a slash."""
REMOVE_BUDGET = re.compile(
    r"^(?:/budget\s+)?(?:remove|delete|cancel|drop|stop)\s+(?:the\s+|our\s+|my\s+)?"
    r"(?:(?P<period>weekly|monthly|yearly)\s+)?(?:(?P<category>[a-z][\w-]*)\s+)?budget\b",
    re.IGNORECASE,
)
""""remove the food budget", "/budget remove monthly food budget"."""

ALIASES = {
    "start": "help",
    "help": "help",
    "balance": "balance",
    "balances": "balance",
    "settle": "settle",
    "undo": "undo",
    "delete": "delete",
    "locale": "locale",
    "history": "history",
    "currency": "currency",
    "timezone": "timezone",
    "tz": "timezone",
    "add": "add",
    "join": "join",
    "budget": "budget",
    "budgets": "budget",
    "digest": "digest",
    "digests": "digest",
    "reminders": "reminders",
    "reminder": "reminders",
    "recurring": "recurring",
    "category": "category",
    "spending": "spending",
}


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    """A canonical name from ALIASES' values, or "unknown"."""
    args: str = ""
    word: str = ""
    """What was typed, for the "unknown command" answer."""


@dataclass(frozen=True, slots=True)
class SettleArgs:
    name: str
    amount: str
    currency: str | None


def read_command(text: str, roster: tuple[str, ...] = ()) -> Command | None:
    """A command, or None when the text is for the natural-language parser."""
    stripped = text.strip()
    match = COMMAND.match(stripped)
    if match:
        word = match.group("name").lower()
        return Command(ALIASES.get(word, "unknown"), (match.group("args") or "").strip(), word)
    plain = PLAIN_COMMANDS.get(stripped.lower().rstrip("?!. "))
    if plain is not None:
        return Command(plain, "", plain)
    if REMOVE_BUDGET.match(stripped):
        return Command("budget", stripped, "budget")
    guest = ADD_GUEST.match(stripped)
    if guest:
        name = " ".join(guest.group("name").split())
        known = {m.casefold() for m in roster}
        # "add Priya" adds a person; "add the wine" or a known member is for the parser
        if name.casefold() not in known and name[:1].isupper() and len(name.split()) <= 3:
            return Command("add", name, "add")
    return None


def read_settle_args(args: str) -> SettleArgs | None:
    match = SETTLE_ARGS.match(args.strip())
    if not match:
        return None
    return SettleArgs(match.group("name").strip(), match.group("amount"), match.group("currency"))
