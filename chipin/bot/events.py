"""Chat events: members joining and leaving, the chat renamed, the bot removed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chipin.bot.messages import InboundMessage, Reply
from chipin.core.records import Group
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot.turns import Outcome


def on_event(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    group: Group,
    message: InboundMessage,
    now: dt.datetime,
) -> Outcome:
    result: dict[str, Any] = {"event": message.event}
    conversation = uow.conversations.get(message.channel, message.chat_id)
    match message.event:
        case "member_joined":
            member = engine_member(engine, uow, group, message, now)
            return Outcome(
                replies=[Reply("welcome", {"group": group.name, "name": member})],
                result=result | {"member": member},
            )
        case "member_left":
            member_id = uow.conversations.member_for(group.id, message.channel, message.sender_id)
            if member_id is not None:
                uow.ledger.set_member_active(group.id, member_id, False)
            return Outcome(result=result)
        case "title_changed" if message.chat_title:
            title = " ".join(message.chat_title.split())
            if uow.ledger.group_by_name(title) is None:
                uow.ledger.update_group(group.id, name=title)
            if conversation is not None:
                uow.conversations.update(conversation.id, now, title=title)
            return Outcome(result=result | {"title": title})
        case "bot_removed":
            if conversation is not None:
                uow.conversations.update(conversation.id, now, active=False)
                uow.outbox.cancel_conversation(conversation.key, now, "the bot was removed")
            return Outcome(result=result)
    return Outcome(result=result | {"outcome": "ignored"})


def engine_member(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    group: Group,
    message: InboundMessage,
    now: dt.datetime,
) -> str:
    name = engine.member_name_for(uow, group, message)
    member = uow.ledger.member_by_name(group.id, name) or uow.ledger.add_member(group.id, name, now)
    if not member.active:
        uow.ledger.set_member_active(group.id, member.id, True)
    return member.name
