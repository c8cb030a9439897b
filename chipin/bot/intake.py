"""Storing webhook deliveries with group commit: one writer thread per database stores every
delivery waiting at that moment in ONE transaction (one multi-row INSERT, ``InboxQueue.
enqueue_many``), then answers each waiting request.

Under load this replaces a transaction, a pooled-connection checkout, two statements and a
thread hop per delivery with one of each per batch; a lone delivery is stored at once (no
waiting for company). A request is answered only after the commit that holds its delivery, so a
2xx still means "stored". If a batch fails, its deliveries are retried one by one, so one bad
delivery cannot fail the others.

Used by every webhook that stores into the inbox (Telegram, Twilio WhatsApp and SMS); an item is
anything with a ``provider_id`` and an :class:`InboundMessage` (each channel's ``Normalized``).
``bot.ingress.accept`` stays the one-message path for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from sqlalchemy import Connection, Engine
from sqlalchemy.pool import Pool

from chipin.bot.messages import InboundMessage
from chipin.store.conversations import conversation_key
from chipin.store.db import autocommit
from chipin.store.inbox import InboxQueue, enqueue_many_is_one_statement
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.intake")


class Item(Protocol):
    """One inbox row to be (``channels.telegram.normalize.Normalized``, ``channels.twilio.
    normalize.Normalized``)."""

    @property
    def provider_id(self) -> str: ...

    @property
    def message(self) -> InboundMessage: ...


@dataclass(slots=True)
class _Job:
    items: Sequence[Item]
    raw: dict[str, Any] | None
    future: asyncio.Future[list[int]]
    loop: asyncio.AbstractEventLoop


def _resolve_all(results: list[tuple[_Job, list[int] | BaseException]]) -> None:
    for job, result in results:
        if job.future.done():  # the request went away (client disconnect, shutdown)
            continue
        if isinstance(result, BaseException):
            job.future.set_exception(result)
        else:
            job.future.set_result(result)


class InboxWriter:
    """``await writer.store(items, raw)`` → how many of the delivery's messages were new;
    ``await writer.store_ids(items, raw)`` → their new inbox ids."""

    def __init__(
        self,
        engine: Engine,
        *,
        max_batch: int = 256,
        idle_seconds: float = 2.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.idle_seconds = idle_seconds
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        """The writer thread's own connection (PostgreSQL), while it runs."""
        self._pool: Pool | None = None

    async def store(self, items: Sequence[Item], raw: dict[str, Any] | None) -> int:
        return len(await self.store_ids(items, raw))

    async def store_ids(self, items: Sequence[Item], raw: dict[str, Any] | None) -> list[int]:
        loop = asyncio.get_running_loop()
        job = _Job(items, raw, loop.create_future(), loop)
        self._jobs.put(job)
        with self._lock:  # (not checked outside the lock: the thread may be ending just now)
            if self._thread is None:  # started on demand; it ends itself when idle
                self._thread = threading.Thread(
                    target=self._run, name="chipin-inbox-writer", daemon=True
                )
                self._thread.start()
        return await job.future

    def _run(self) -> None:
        while True:
            try:
                first = self._jobs.get(timeout=self.idle_seconds)
            except queue.Empty:
                with self._lock:
                    if self._jobs.empty():
                        self._close()
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            answers: dict[
                asyncio.AbstractEventLoop, list[tuple[_Job, list[int] | BaseException]]
            ] = {}
            for job, result in zip(batch, self._write(batch), strict=True):
                answers.setdefault(job.loop, []).append((job, result))
            for loop, results in answers.items():  # one wake-up per event loop, not per job
                # RuntimeError: its event loop is closed, nobody waits any more
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve_all, results)

    def _write(self, batch: list[_Job]) -> list[list[int] | BaseException]:
        try:
            return list[list[int] | BaseException](self._transaction(batch))
        except Exception:
            if len(batch) == 1:
                log.exception("chipin.inbox_write_failed", ids=_ids(batch[0]))
                return [RuntimeError("the delivery could not be stored")]
        results: list[list[int] | BaseException] = []
        for job in batch:  # find the culprit: every other delivery still gets stored
            try:
                results.extend(self._transaction([job]))
            except Exception as exc:
                log.exception("chipin.inbox_write_failed", ids=_ids(job))
                results.append(exc)
        return results

    def _transaction(self, batch: list[_Job]) -> list[list[int]]:
        rows = [
            {
                "channel": item.message.channel,
                "provider_id": item.provider_id,
                "conversation_key": conversation_key(item.message.channel, item.message.chat_id),
                "kind": item.message.kind,
                "payload": item.message.to_json(),
                "raw": job.raw,
            }
            for job in batch
            for item in job.items
        ]
        new = self._insert(rows) if rows else {}
        counted: set[tuple[str, str]] = set()  # a repeat within the batch is not new twice
        stored: list[list[int]] = []
        for job in batch:
            ids = []
            for item in job.items:
                key = (item.message.channel, item.provider_id)
                if key in new and key not in counted:
                    counted.add(key)
                    ids.append(new[key])
            stored.append(ids)
        return stored

    def _insert(self, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
        if enqueue_many_is_one_statement(self.engine.dialect.name):
            # one statement is atomic by itself: autocommit saves the BEGIN and COMMIT round
            # trips (and the GIL hand-overs of this thread that go with each, under load), and
            # the connection is kept while the thread runs (no pool checkout, no isolation level
            # set and reset per batch)
            if self._conn is None:
                self._pool = self.engine.pool
                self._conn = autocommit(self.engine)
                assert self._conn is not None  # one statement only on PostgreSQL
            try:
                return InboxQueue(self._conn).enqueue_many(rows, self.clock())
            except Exception:
                self._close()  # never reuse a connection that failed: the retry gets a fresh one
                raise
        with SqlUnitOfWork(self.engine) as uow:
            new = uow.inbox.enqueue_many(rows, self.clock())
            uow.commit()
        return new

    def _close(self) -> None:
        if self._conn is None:
            return
        with contextlib.suppress(Exception):
            if self._pool is not self.engine.pool:
                # the engine was disposed meanwhile: its old pool would drop the connection
                # unclosed, so close it for real
                self._conn.invalidate()
            self._conn.close()
        self._conn = None


def app_writer(state: Any) -> InboxWriter:
    """The app's writer (``app.state``): one per app, so one per database and process, shared
    by every way in (the Telegram and Twilio webhooks, the playground) so deliveries arriving
    together share a commit."""
    found: InboxWriter | None = getattr(state, "inbox_writer", None)
    if found is None or found.engine is not state.engine:
        found = state.inbox_writer = InboxWriter(state.engine)
    return found


@dataclass(frozen=True, slots=True)
class Delivery:
    """An :class:`Item` for a way in that has no normalised type of its own (the playground)."""

    provider_id: str
    message: InboundMessage


def _ids(job: _Job) -> list[str]:
    return [item.provider_id for item in job.items]
