"""A person's own chat with the bot (a Telegram private chat): it belongs to no group and
answers with the person's balances across every group they are a member of."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chipin.bot.messages import InboundMessage, Reply
from chipin.bot.replies import notice
from chipin.bot.turns import Outcome
from chipin.core import services
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


def on_personal(
    engine: ConversationEngine, uow: SqlUnitOfWork, message: InboundMessage, now: dt.datetime
) -> Outcome:
    conversation = uow.conversations.get_or_create(message.channel, message.chat_id, now)
    result: dict[str, Any] = {"personal": True, "event": message.event}
    if message.event == "bot_removed":  # the person blocked the bot
        uow.conversations.update(conversation.id, now, active=False)
        uow.outbox.cancel_conversation(conversation.key, now, "the bot was blocked")
        return Outcome(result=result)
    if message.event == "bot_added" and not conversation.active:
        uow.conversations.update(conversation.id, now, active=True)
    elif message.event or message.action:
        return Outcome(result=result | {"outcome": "ignored"})
    return Outcome(replies=[overview(uow, message)], result=result)


def overview(uow: SqlUnitOfWork, message: InboundMessage) -> Reply:
    groups: list[dict[str, Any]] = []
    for group_id, member_id in uow.conversations.memberships(message.channel, message.sender_id):
        group = uow.ledger.group(group_id)
        name = next((m.name for m in uow.ledger.members(group_id) if m.id == member_id), None)
        if name is None:
            continue
        by_currency = services.group_balances(uow, group_id)
        amounts = [
            {"currency": c, "amount": v[name]}
            for c, v in sorted(by_currency.items())
            if v.get(name)
        ]
        groups.append({"group": group.name, "balances": amounts})
    if not groups:
        return notice(
            "You are not in any Chipin group yet. Add me to a group chat and tell me what you paid."
        )
    return Reply("my_balances", {"name": message.sender_name, "groups": groups})
