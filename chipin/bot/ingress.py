"""Accepting an inbound message: store it in the inbox under its provider id, commit, wake the
worker. A redelivery (same channel and provider id) is acknowledged and stored nowhere."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from chipin.bot.messages import InboundMessage
from chipin.store.conversations import conversation_key
from chipin.store.uow import SqlUnitOfWork


def accept(
    engine: Engine,
    message: InboundMessage,
    *,
    provider_id: str,
    raw: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
    wake: Callable[[], None] | None = None,
) -> int | None:
    """The new inbox id, or None for a duplicate delivery."""
    with SqlUnitOfWork(engine) as uow:
        inbox_id = uow.inbox.enqueue(
            channel=message.channel,
            provider_id=provider_id,
            conversation_key=conversation_key(message.channel, message.chat_id),
            kind=message.kind,
            payload=message.to_json(),
            raw=raw,
            now=now or dt.datetime.now(dt.UTC),
        )
        uow.commit()
    if inbox_id is not None and wake is not None:
        wake()
    return inbox_id
