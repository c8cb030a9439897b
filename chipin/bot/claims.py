"""The loop every claimer runs (the worker's slots, the dispatcher): claim and handle a batch,
wait for a wake-up or the poll interval when there is nothing to do, and back off while the
database is unreachable instead of spinning."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("chipin.claims")
MAX_BACKOFF_SECONDS = 30.0

Step = Callable[[str], Awaitable[int]]
"""Claims and handles one batch as ``holder``; returns how many it handled."""


def holder_id(role: str) -> str:
    """Who holds a lease: readable in the dashboard, unique per process and task."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Wakeup:
    """Wakes ONE idle claimer per :meth:`set`, not all of them: with eight worker claimers on
    one event, every accepted message made eight claim transactions, seven of which found
    nothing (most of the worker's cost under light load). A ``set`` while no claimer is idle
    is kept, and the next claimer to finish claims again instead of waiting, so no wake-up is
    lost between a claim that found nothing and the wait after it (with an event cleared after
    the claim, a message committed during it waited for the next poll). Safe from any thread.
    """

    def __init__(self) -> None:
        self._idle: deque[asyncio.Future[None]] = deque()
        self._kept = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def set(self) -> None:
        loop = self._loop
        if loop is not None and loop.is_running() and _running_loop() is not loop:
            loop.call_soon_threadsafe(self._set)  # from another thread
        else:
            self._set()

    def set_all(self) -> None:
        """Wake every idle claimer (shutting down)."""
        self._kept = True
        while self._idle:
            self._set()

    def _set(self) -> None:
        while self._idle:
            waiter = self._idle.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._kept = True

    async def wait(self, timeout: float) -> None:
        """Until :meth:`set` picks this claimer, or ``timeout`` seconds."""
        if self._kept:
            self._kept = False
            return
        self._loop = asyncio.get_running_loop()
        waiter = self._loop.create_future()
        self._idle.append(waiter)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, timeout)
        finally:
            if waiter in self._idle:
                self._idle.remove(waiter)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


async def keep_claiming(
    step: Step, role: str, stop: asyncio.Event, wake: Wakeup, poll: float
) -> None:
    """Run ``step`` until ``stop`` is set; ``wake`` cuts the idle wait short."""
    holder, failures = holder_id(role), 0
    while not stop.is_set():
        try:
            handled = await step(holder)
            failures = 0
        except Exception:  # the database is down or similar: logged, then backed off
            failures += 1
            log.exception(f"chipin.{role}_error", failures=failures)
            handled = 0
        if handled == 0:
            if failures:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), min(MAX_BACKOFF_SECONDS, poll * 2**failures)
                    )
            else:
                await wake.wait(poll)


async def drain(step: Step, *, limit: int = 10_000) -> int:
    """Run ``step`` until nothing is left (tests, `chipin chat`): how many were handled."""
    holder, total = holder_id("drain"), 0
    while total < limit:
        handled = await step(holder)
        if handled == 0:
            break
        total += handled
    return total
