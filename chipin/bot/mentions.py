"""People named by a channel's mentions (a Telegram text_mention carries the user's id): they
become members the parser can resolve, and the mention reads as their roster name.

A mention is ``{"text": span as typed, "user_id"?: channel user id, "name"?: display name,
"handle"?: @username without the @}`` in ``message.extra["mentions"]``. A mention by handle
alone resolves to the member whose identity has that @username (learned when they spoke).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any

from chipin.bot.messages import InboundMessage
from chipin.core.records import Group
from chipin.parsing.intents import ParseContext
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


def _people(message: InboundMessage) -> list[dict[str, Any]]:
    mentioned = message.extra.get("mentions") or []
    return [m for m in mentioned if m.get("user_id") and m.get("name")]


def _handles(message: InboundMessage) -> list[dict[str, Any]]:
    """@username mentions without a user id: known members by their stored handle."""
    mentioned = message.extra.get("mentions") or []
    return [m for m in mentioned if m.get("handle") and not m.get("user_id") and m.get("text")]


def _as_sender(message: InboundMessage, mention: dict[str, Any]) -> InboundMessage:
    return dataclasses.replace(
        message, sender_id=str(mention["user_id"]), sender_name=str(mention["name"]), extra={}
    )


def resolve(
    engine: ConversationEngine, uow: SqlUnitOfWork, group: Group, message: InboundMessage
) -> InboundMessage:
    """The message with each mentioned person's span replaced by their roster name (the name
    they have, or will get in :func:`learn`), for the parser."""
    text = message.text
    for mention in _people(message):
        name = engine.member_name_for(uow, group, _as_sender(message, mention))
        text = text.replace(str(mention["text"]), name, 1)
    for mention in _handles(message):
        member_id = uow.conversations.member_by_handle(group.id, message.channel, mention["handle"])
        known = {m.id: m.name for m in uow.ledger.members(group.id)}
        if member_id is not None and member_id in known:
            text = text.replace(str(mention["text"]), known[member_id], 1)
    return dataclasses.replace(message, text=text) if text != message.text else message


def with_mentioned(ctx: ParseContext, message: InboundMessage) -> ParseContext:
    """A new group's parse context with the people the first message mentions in its roster
    (they become members in :func:`learn`, under the same names)."""
    names = list(ctx.members)
    for mention in _people(message):
        name = " ".join(str(mention["name"]).split())
        if name and name not in names:
            names.append(name)
    return dataclasses.replace(ctx, members=tuple(names))


def learn(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    group: Group,
    message: InboundMessage,
    now: dt.datetime,
) -> None:
    """Add the mentioned people the group does not know yet, linked to their channel ids."""
    for mention in _people(message):
        engine.ensure_member(uow, group, _as_sender(message, mention), now)
