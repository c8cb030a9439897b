"""The values a message becomes on its way through the conversation engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chipin.bot.commands import Command
from chipin.bot.messages import InboundMessage, Reply
from chipin.core.records import Group, Member
from chipin.parsing.intents import Intent, ParseContext
from chipin.parsing.recurrence import Recurrence


@dataclass(frozen=True, slots=True)
class Turn:
    """A message made ready to apply: who said it where, and what it asks for."""

    inbox_id: int
    message: InboundMessage
    conversation_key: str
    ctx: ParseContext | None = None
    command: Command | None = None
    intent: Intent | None = None
    recurrence: Recurrence | None = None
    """"… every month on the 1st": the intent is to be set up as a recurring entry."""


@dataclass(slots=True)
class Outcome:
    """What applying a turn did: the replies to queue and what the dashboard should show."""

    replies: list[Reply] = field(default_factory=list)
    result: dict[str, Any] = field(default_factory=dict)
    entry_id: int | None = None
    needs_review: bool = False


@dataclass(frozen=True, slots=True)
class Scene:
    """The group and speaker of a turn, once they exist."""

    group: Group
    sender: Member
    ctx: ParseContext
    message: InboundMessage
    inbox_id: int
