"""Chat events: members joining and leaving, the chat renamed or moved, the bot added or removed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import structlog

from chipin.bot.messages import InboundMessage, Reply
from chipin.core.records import Group
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot.turns import Outcome

log = structlog.get_logger("chipin.bot")


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
            member = engine.ensure_member(uow, group, message, now).name
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
            title = uow.ledger.unique_group_name(
                " ".join(message.chat_title.split()), keep=group.id
            )
            uow.ledger.update_group(group.id, name=title)
            if conversation is not None:
                uow.conversations.update(conversation.id, now, title=message.chat_title)
            return Outcome(result=result | {"title": title})
        case "bot_added":
            if conversation is not None and not conversation.active:
                uow.conversations.update(conversation.id, now, active=True)
            return Outcome(replies=[Reply("help", {"group": group.name})], result=result)
        case "bot_removed":
            if conversation is not None:
                uow.conversations.update(conversation.id, now, active=False)
                uow.outbox.cancel_conversation(conversation.key, now, "the bot was removed")
            return Outcome(result=result)
    return Outcome(result=result | {"outcome": "ignored"})


def on_migrated(uow: SqlUnitOfWork, message: InboundMessage, now: dt.datetime) -> Outcome:
    """The chat moved to a new id (a Telegram group became a supergroup): the conversation, and
    so the group and its ledger, follow it. Both notices of one move arrive in the old chat's
    conversation; the second finds nothing left to move."""
    result: dict[str, Any] = {"event": "migrated"}
    new_id = str(message.extra.get("new_chat_id") or "")
    old = uow.conversations.get(message.channel, message.chat_id)
    if not new_id or old is None:
        return Outcome(result=result | {"outcome": "nothing to move"})
    target = uow.conversations.get(message.channel, new_id)
    if target is None:
        uow.conversations.update(old.id, now, external_id=new_id)
    else:
        # the new chat spoke first and got a conversation of its own: point it at our ledger
        log.warning("chipin.migration_merged", old=old.external_id, new=new_id,
                    stray_group=target.group_id)  # fmt: skip
        uow.conversations.update(target.id, now, group_id=old.group_id, active=True)
        uow.conversations.update(old.id, now, group_id=None, active=False)
    return Outcome(result=result | {"moved_to": new_id})
