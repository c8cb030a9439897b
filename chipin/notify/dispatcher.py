"""The dispatcher: sends due outbox rows through their channel's adapter.

A failed send is retried with exponential backoff and jitter, a provider's "wait N seconds"
(Telegram's ``retry_after``) is honoured for that row without counting a try, and after
``max_attempts`` a row is parked as dead — kept, visible in the dashboard, retryable by an
operator. When the recipient is gone (bot removed, user blocked it) the conversation's queued
messages are cancelled instead of retried into the void.

A claimed batch is sent concurrently; the outcomes are written as the sends finish, every
outcome that finished together in one transaction, so a busy dispatcher commits once per handful
of messages and a slow send never holds the others' records. Within it the plain successes share
one batched UPDATE; failures and channel bookkeeping each get a savepoint.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable, Mapping

import structlog
from sqlalchemy import Engine

from chipin.bot.claims import Wakeup, drain, keep_claiming
from chipin.bot.messages import ChannelAdapter, SendError, SendResult
from chipin.store.conversations import split_conversation_key
from chipin.store.db import autocommit
from chipin.store.outbox import OutboxItem, OutboxQueue
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.dispatcher")


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> dt.timedelta:
    """Exponential backoff with jitter for the ``attempt``-th failure (1-based).

    Written here rather than with tenacity because the schedule is persisted in the outbox row
    (``next_attempt_at``), not spent waiting inside one call.
    """
    delay = min(cap, base * 2 ** (attempt - 1))
    return dt.timedelta(seconds=delay * rng.uniform(0.5, 1.0))


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        adapters: Mapping[str, ChannelAdapter],
        *,
        max_attempts: int = 6,
        backoff_seconds: float = 2.0,
        backoff_max_seconds: float = 600.0,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        batch: int = 50,
        clock: Callable[[], dt.datetime] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.adapters = dict(adapters)
        self.max_attempts = max_attempts
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.lease = lease
        self.batch = batch
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.rng = rng or random.Random()  # noqa: S311 - backoff jitter, not a secret

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)

    def _claim(self, holder: str) -> list[OutboxItem]:
        channels = tuple(self.adapters) or None
        conn = autocommit(self.engine)
        if conn is not None:
            with conn:
                return OutboxQueue(conn).claim_due(
                    holder, self.clock(), self.lease, self.batch, channels
                )
        with self.uow() as uow:
            items = uow.outbox.claim_due(holder, self.clock(), self.lease, self.batch, channels)
            uow.commit()
        return items

    def _sent(self, uow: SqlUnitOfWork, item: OutboxItem, result: SendResult) -> str:
        now = self.clock()
        uow.outbox.mark_sent(
            item.id,
            now,
            provider_message_id=result.provider_message_id,
            provider_status=result.provider_status,
        )
        self._after_send(uow, item, "sent", result, None, now)
        return "sent"

    def _after_send(
        self,
        uow: SqlUnitOfWork,
        item: OutboxItem,
        status: str,
        result: SendResult | None,
        error: SendError | None,
        now: dt.datetime,
    ) -> None:
        """The channel's own bookkeeping, in the transaction that records the outcome (Twilio
        links its MessageSid to the row, and sends a dead WhatsApp message once more by SMS)."""
        hook = self._hook(item)
        if hook is not None:
            hook(uow, item, status, result, error, now)

    def _hook(self, item: OutboxItem) -> Callable[..., None] | None:
        hook: Callable[..., None] | None = getattr(
            self.adapters.get(item.channel), "after_send", None
        )
        return hook

    def _failed(self, uow: SqlUnitOfWork, item: OutboxItem, error: SendError) -> str:
        now = self.clock()
        if error.retry_after is not None:
            uow.outbox.defer(item.id, now + error.retry_after, str(error))
            return "deferred"
        attempt = item.attempts + 1
        retry_at = None
        if error.retryable and attempt < self.max_attempts:
            retry_at = now + backoff(
                attempt, self.backoff_seconds, self.backoff_max_seconds, self.rng
            )
        status = uow.outbox.mark_failed(item.id, now, str(error), retry_at)
        if error.recipient_gone:
            uow.outbox.cancel_conversation(item.conversation_key, now, str(error))
            conversation = _conversation(uow, item)
            if conversation is not None:
                uow.conversations.update(conversation, now, active=False)
        self._after_send(uow, item, status, None, error, now)
        return status

    def _record(self, outcomes: list[tuple[OutboxItem, SendResult | SendError]]) -> list[str]:
        """Write the outcomes of finished sends in one transaction; their statuses, in order.

        Plain successes (a channel without ``after_send`` bookkeeping) are most of the traffic,
        so they are written first, in one batched UPDATE: one round trip for all of them instead
        of three each (savepoint, update, release). The other outcomes each get a savepoint.
        """
        plain = {
            n: (item.id, result.provider_message_id, result.provider_status)
            for n, (item, result) in enumerate(outcomes)
            if isinstance(result, SendResult) and self._hook(item) is None
        }
        if len(plain) == len(outcomes) and (conn := autocommit(self.engine)) is not None:
            # only plain successes: each row's UPDATE stands alone, so no transaction is needed
            try:
                with conn:
                    OutboxQueue(conn).mark_sent_many(list(plain.values()), self.clock())
                return ["sent"] * len(outcomes)
            except Exception:  # recorded row by row below (marking again is a no-op)
                ids = [row[0] for row in plain.values()]
                log.exception("chipin.send_record_batch_failed", outbox_ids=ids)
                plain = {}
        with self.uow() as uow:
            if plain and not self._sent_many(uow, list(plain.values())):
                plain = {}
            statuses = [
                "sent" if n in plain else self._one(uow, item, result)
                for n, (item, result) in enumerate(outcomes)
            ]
            uow.commit()
        return statuses

    def _sent_many(
        self, uow: SqlUnitOfWork, rows: list[tuple[int, str | None, str | None]]
    ) -> bool:
        """Mark plain successes sent in one statement; False if it failed, and then the
        transaction is rolled back (the batch ran first in it, so nothing else is lost) for the
        rows to take the savepoint path one by one, where a bad row cannot lose the others'."""
        try:
            uow.outbox.mark_sent_many(rows, self.clock())
        except Exception:
            log.exception("chipin.send_record_batch_failed", outbox_ids=[row[0] for row in rows])
            uow.rollback()
            return False
        return True

    def _one(self, uow: SqlUnitOfWork, item: OutboxItem, result: SendResult | SendError) -> str:
        """Write one outcome in its own savepoint: a bookkeeping error in it is logged and leaves
        that row to its lease's expiry."""
        try:
            with uow:
                if isinstance(result, SendError):
                    status = self._failed(uow, item, result)
                else:
                    status = self._sent(uow, item, result)
                uow.commit()
        except Exception:
            log.exception("chipin.send_record_failed", outbox_id=item.id)
            return "unrecorded"
        return status

    async def _attempt(self, item: OutboxItem) -> SendResult | SendError:
        adapter = self.adapters.get(item.channel)
        try:
            if adapter is None:
                raise SendError(f"the {item.channel} channel is not configured", retryable=False)
            return await adapter.send(item.recipient, item.kind, item.payload)
        except SendError as exc:
            return exc
        except Exception as exc:  # an adapter bug or a network error: retry like any failure
            log.exception("chipin.send_error", outbox_id=item.id, channel=item.channel)
            return SendError(f"{type(exc).__name__}: {exc}")

    async def send(self, item: OutboxItem) -> str:
        """Send one claimed row and record the outcome; returns its new status."""
        (status,) = await asyncio.to_thread(self._record, [(item, await self._attempt(item))])
        return status

    async def run_once(self, holder: str) -> int:
        items = await asyncio.to_thread(self._claim, holder)
        running = {asyncio.ensure_future(self._attempt(item)): item for item in items}
        while running:
            finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            outcomes = [(running.pop(task), task.result()) for task in finished]
            statuses = await asyncio.to_thread(self._record, outcomes)
            for (item, result), status in zip(outcomes, statuses, strict=True):
                if isinstance(result, SendError):
                    log.warning(
                        "chipin.send_failed",
                        outbox_id=item.id,
                        channel=item.channel,
                        status=status,
                        error=str(result),
                    )
        return len(items)

    async def run(self, stop: asyncio.Event, wake: Wakeup, *, poll: float = 0.2) -> None:
        await keep_claiming(self.run_once, "dispatcher", stop, wake, poll)

    async def drain(self, *, limit: int = 10_000) -> int:
        """Send everything due now (tests and the terminal chat)."""
        return await drain(self.run_once, limit=limit)


def _conversation(uow: SqlUnitOfWork, item: OutboxItem) -> int | None:
    channel, external_id = split_conversation_key(item.conversation_key)
    found = uow.conversations.get(channel, external_id)
    return found.id if found else None
