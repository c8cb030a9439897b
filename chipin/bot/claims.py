"""The loop every claimer runs (the worker's slots, the dispatcher): claim and handle a batch,
wait for a wake-up or the poll interval when there is nothing to do, and back off while the
database is unreachable instead of spinning."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("chipin.claims")
MAX_BACKOFF_SECONDS = 30.0

Step = Callable[[str], Awaitable[int]]
"""Claims and handles one batch as ``holder``; returns how many it handled."""


def holder_id(role: str) -> str:
    """Who holds a lease: readable in the dashboard, unique per process and task."""
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def keep_claiming(
    step: Step, role: str, stop: asyncio.Event, wake: asyncio.Event, poll: float
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
            wake.clear()
            idle = poll if failures == 0 else min(MAX_BACKOFF_SECONDS, poll * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait() if failures == 0 else stop.wait(), idle)


async def drain(step: Step, *, limit: int = 10_000) -> int:
    """Run ``step`` until nothing is left (tests, `chipin chat`): how many were handled."""
    holder, total = holder_id("drain"), 0
    while total < limit:
        handled = await step(holder)
        if handled == 0:
            break
        total += handled
    return total
