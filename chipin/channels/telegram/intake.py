"""Storing webhook deliveries with group commit: one writer thread per database stores every
update waiting at that moment in ONE transaction, then answers each waiting request.

Under load this replaces a transaction, a pooled-connection checkout and a thread hop per update
with one per batch; a lone update is stored at once (no waiting for company). A request is
answered only after the commit that holds its update, so a 200 still means "stored". If a batch
fails, its updates are retried one by one, so one bad update cannot fail the others.

Nothing here is Telegram-specific; it lives with its only user until another webhook wants it
(``bot.ingress.accept`` stays the one-message path).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Engine

from chipin.channels.telegram.normalize import Normalized
from chipin.store.conversations import conversation_key
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.telegram")


@dataclass(slots=True)
class _Job:
    items: list[Normalized]
    raw: dict[str, Any]
    future: asyncio.Future[int]
    loop: asyncio.AbstractEventLoop


def _resolve(future: asyncio.Future[int], result: int | BaseException) -> None:
    if future.done():  # the request went away (client disconnect, shutdown)
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class InboxWriter:
    """``await writer.store(items, raw)`` → how many of the update's messages were new."""

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

    async def store(self, items: list[Normalized], raw: dict[str, Any]) -> int:
        loop = asyncio.get_running_loop()
        job = _Job(items, raw, loop.create_future(), loop)
        self._jobs.put(job)
        with self._lock:
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
                        self._thread = None
                        return
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            for job, result in zip(batch, self._write(batch), strict=True):
                # RuntimeError: its event loop is closed, nobody waits any more
                with contextlib.suppress(RuntimeError):
                    job.loop.call_soon_threadsafe(_resolve, job.future, result)

    def _write(self, batch: list[_Job]) -> list[int | BaseException]:
        try:
            return list(self._transaction(batch))
        except Exception:
            if len(batch) == 1:
                log.exception("chipin.inbox_write_failed")
                return [RuntimeError("the update could not be stored")]
        results: list[int | BaseException] = []
        for job in batch:  # find the culprit: every other update still gets stored
            try:
                results.extend(self._transaction([job]))
            except Exception as exc:
                log.exception("chipin.inbox_write_failed", update=job.raw.get("update_id"))
                results.append(exc)
        return results

    def _transaction(self, batch: list[_Job]) -> list[int]:
        now = self.clock()
        stored: list[int] = []
        with SqlUnitOfWork(self.engine) as uow:
            for job in batch:
                new = 0
                for item in job.items:
                    message = item.message
                    inbox_id = uow.inbox.enqueue(
                        channel=message.channel,
                        provider_id=item.provider_id,
                        conversation_key=conversation_key(message.channel, message.chat_id),
                        kind=message.kind,
                        payload=message.to_json(),
                        raw=job.raw,
                        now=now,
                    )
                    new += inbox_id is not None
                stored.append(new)
            uow.commit()
        return stored
