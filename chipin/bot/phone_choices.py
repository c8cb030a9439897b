"""A reply's buttons on a phone: offered as short answers at the end of the text, remembered per
person (``phone_contacts.offered``), and mapped back when that person answers.

One convention for both directions, so what the text says is exactly what is understood:

- several actions are numbered: "Reply 1 to confirm, 2 to cancel.";
- a lone action is its word: "Reply UNDO to undo." A number is never reused for the follow-up
  of a numbered answer, so a "1" sent twice confirms a draft once and does not undo it.

An answer is the shown key ("1", "undo"), an action's label or verb ("confirm"), or the id of a
WhatsApp quick-reply button (``ButtonPayload``). Opt-out and help words are never offered as
keys, and are read before any answer (``chipin.bot.phone.route``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chipin.core.records import name_key

OPTIONS_TTL = dt.timedelta(hours=24)
"""How long a reply's options can be answered; drafts also expire on their own."""

# Twilio's own keywords. On SMS it blocks the number itself on an opt-out word, so every word
# counts; on WhatsApp nothing does that for us, and "cancel" or "end" are ordinary words there.
OPT_OUT = {
    "sms": frozenset(
        {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"}
    ),
    "whatsapp": frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "OPTOUT"}),
}
OPT_IN = frozenset({"START", "YES", "UNSTOP"})
HELP = frozenset({"HELP", "INFO"})
RESERVED = OPT_OUT["sms"] | OPT_OUT["whatsapp"] | OPT_IN | HELP
"""Never offered as an answer: "2 to cancel" typed as "cancel" on SMS would block the number."""
SAFE_VERBS = {"cancel": "drop it", "stop": "stop it", "end": "end it", "quit": "leave it"}
"""What the text says instead of a reserved label ("2 to drop it")."""


@dataclass(frozen=True, slots=True)
class Choice:
    key: str
    """What to reply: "1", "2" or a word ("UNDO")."""
    verb: str
    """How the options line says it: "confirm", "drop it"."""
    label: str
    data: str
    """The button's data ("c:12"), pressed when the choice is made."""


def choices(actions: Sequence[Mapping[str, Any]]) -> list[Choice]:
    """The answers that stand for ``actions``, in their order."""
    labels = [" ".join(str(a.get("label", "")).split()) for a in actions]
    verbs = [
        SAFE_VERBS.get(label.lower(), label.lower()) if label.upper() in RESERVED else label.lower()
        for label in labels
    ]
    if len(actions) == 1 and labels[0].isalpha() and labels[0].upper() not in RESERVED:
        keys = [labels[0].upper()]
    else:
        keys = [str(n) for n in range(1, len(actions) + 1)]
    return [
        Choice(k, v, label, str(a.get("data", "")))
        for k, v, label, a in zip(keys, verbs, labels, actions, strict=True)
    ]


def offer_line(actions: Sequence[Mapping[str, Any]]) -> str:
    """ "Reply 1 to confirm, 2 to drop it." / "Reply UNDO to undo." / "" without actions."""
    parts = [f"{c.key} to {c.verb}" for c in choices(actions)]
    return f"Reply {', '.join(parts)}." if parts else ""


def offered_actions(
    offered: Mapping[str, Any] | None, group_id: int, now: dt.datetime
) -> list[Any]:
    """The actions still open to answer in ``group_id`` (a contact's ``offered``)."""
    if not offered or offered.get("group_id") != group_id:
        return []
    try:
        at = dt.datetime.fromisoformat(str(offered.get("at")))
    except ValueError:
        return []
    if not dt.timedelta(0) <= now - at < OPTIONS_TTL:
        return []
    return list(offered.get("actions") or [])


def pick(actions: Sequence[Mapping[str, Any]], answers: Sequence[str]) -> Choice | None:
    """The choice the first of ``answers`` that means one makes (a button's payload, the word
    before it became a command, the text)."""
    options = choices(actions)
    for answer in answers:
        said = name_key(answer.strip().rstrip(".!"))
        if not said:
            continue
        for choice in options:
            if said in (name_key(choice.key), name_key(choice.label), name_key(choice.verb)):
                return choice
            if answer == choice.data:  # a quick-reply button whose id is the action's data
                return choice
    return None


def is_number(text: str) -> bool:
    """Short digits: an answer to options, never an expense ("1", "2", "12")."""
    return text.isdigit() and len(text) <= 2


def offer(group_id: int, actions: Sequence[Mapping[str, Any]], now: dt.datetime) -> dict[str, Any]:
    """The ``offered`` value that remembers ``actions``."""
    kept = [{"label": str(a.get("label", "")), "data": str(a.get("data", ""))} for a in actions]
    return {"group_id": group_id, "actions": kept, "at": now.isoformat()}
