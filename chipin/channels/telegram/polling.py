"""Long polling (``chipin serve --telegram-polling``): getUpdates in a loop, for local use
without a public URL. Updates take the same normalise → inbox path as the webhook.

Telegram keeps an update until a later getUpdates confirms it with ``offset``; a restart fetches
the unconfirmed ones again and the inbox's unique key stores each once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from sqlalchemy import Engine
from telegram import Bot, Update
from telegram.error import Conflict, TelegramError

from chipin.bot.ingress import accept
from chipin.channels.telegram.adapter import FloodWait
from chipin.channels.telegram.normalize import ALLOWED_UPDATES, BotIdentity, normalize_update

log = structlog.get_logger("chipin.telegram")


def store_update(engine: Engine, update: Update, bot: BotIdentity) -> int:
    """Normalise and store one polled update; how many messages were new."""
    raw = update.to_dict()
    stored = 0
    for item in normalize_update(update, bot, kinds=[k for k in raw if k != "update_id"]):
        if accept(engine, item.message, provider_id=item.provider_id, raw=raw) is not None:
            stored += 1
    return stored


async def poll_updates(
    bot: Bot,
    engine: Engine,
    wake: Callable[[], None],
    stop: asyncio.Event,
    *,
    timeout: int = 25,
    limit: int = 100,
    delete_webhook: bool = True,
) -> None:
    """Fetch updates until ``stop`` is set. ``bot`` must be initialised (it knows its name)."""
    identity = BotIdentity(bot.bot.id, bot.bot.username)
    if delete_webhook:  # getUpdates is refused while a webhook is set
        await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    failures = 0
    log.info("chipin.telegram_polling", bot=identity.username)
    while not stop.is_set():
        fetch = asyncio.create_task(
            bot.get_updates(
                offset=offset, limit=limit, timeout=timeout, allowed_updates=ALLOWED_UPDATES
            )
        )
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({fetch, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if stop.is_set():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            break
        try:
            updates = fetch.result()
            failures = 0
        except FloodWait as exc:
            await _pause(stop, exc.seconds)
            continue
        except (Conflict, TelegramError) as exc:  # network trouble, or another poller running
            failures += 1
            log.warning("chipin.telegram_poll_failed", error=str(exc), failures=failures)
            await _pause(stop, min(30.0, 0.5 * 2**failures))
            continue
        stored = 0
        try:
            for update in updates:
                stored += await asyncio.to_thread(store_update, engine, update, identity)
                offset = update.update_id + 1  # confirmed only once it is in the inbox
        except Exception:  # the database is unreachable: fetch the rest again later
            failures += 1
            log.exception("chipin.telegram_store_failed", failures=failures)
            await _pause(stop, min(30.0, 0.5 * 2**failures))
        if stored:
            wake()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
