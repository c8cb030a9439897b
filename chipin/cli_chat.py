"""``chipin chat``: a group conversation in the terminal, through the real pipeline."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import uuid

from sqlalchemy import Engine

from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage
from chipin.channels.terminal import TerminalAdapter
from chipin.core import services
from chipin.core.records import Group
from chipin.runtime import Runtime
from chipin.settings import Settings
from chipin.store.uow import SqlUnitOfWork


def _group(
    engine: Engine,
    settings: Settings,
    name: str,
    members: list[str],
    currency: str | None,
    timezone: str | None,
) -> Group:
    try:
        group = services.find_group(SqlUnitOfWork(engine), name)
    except services.GroupNotFound:
        group = services.create_group(
            SqlUnitOfWork(engine),
            name,
            currency or settings.default_currency,
            timezone or settings.default_timezone,
        )
    if members:
        services.add_members(SqlUnitOfWork(engine), group.id, members)
    now = dt.datetime.now(dt.UTC)
    with SqlUnitOfWork(engine) as uow:
        conversation = uow.conversations.get_or_create(
            "cli", f"group-{group.id}", now, title=group.name
        )
        uow.conversations.update(conversation.id, now, group_id=group.id)
        uow.commit()
    return group


def run_chat(
    engine: Engine,
    settings: Settings,
    *,
    group: str,
    speaker: str,
    members: list[str],
    currency: str | None,
    timezone: str | None,
) -> None:
    found = _group(engine, settings, group, [*members, speaker], currency, timezone)
    chat_id = f"group-{found.id}"
    adapter = TerminalAdapter(sys.stdout)
    runtime = Runtime.build(settings, engine, adapters={"cli": adapter})
    interactive = sys.stdin.isatty()
    if interactive:
        print(
            f"Chipin · {found.name} ({found.currency}). You are {speaker}. "
            '"/as NAME" changes who speaks, "/press N" presses a button, Ctrl-D quits.'
        )

    async def turn(message: InboundMessage) -> None:
        accept(engine, message, provider_id=f"cli-{uuid.uuid4().hex}")
        await runtime.worker.drain()
        await runtime.dispatcher.drain()

    async def loop() -> None:
        nonlocal speaker
        while True:
            if interactive:
                print(f"{speaker}> ", end="", flush=True)
            line = sys.stdin.readline()
            if not line:
                break
            text = line.strip()
            if not text:
                continue
            if text.startswith("/as "):
                speaker = text[4:].strip()
                services.add_members(SqlUnitOfWork(engine), found.id, [speaker])
                continue
            if text.startswith("/press "):
                index = text[7:].strip()
                if not index.isdigit() or not 0 < int(index) <= len(adapter.buttons):
                    print("  (no such button)")
                    continue
                data, message_id = adapter.buttons[int(index) - 1]
                await turn(
                    InboundMessage(
                        "cli",
                        chat_id,
                        speaker,
                        speaker,
                        action=data,
                        action_id=uuid.uuid4().hex,
                        action_message_id=message_id,
                    )
                )
                continue
            await turn(
                InboundMessage("cli", chat_id, speaker, speaker, text, message_id=uuid.uuid4().hex)
            )
        await runtime.close()

    asyncio.run(loop())
