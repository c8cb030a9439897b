"""Telegram's sending limits, kept on our side so a busy group never earns a 429.

Telegram asks bots for at most about one message a second per chat, twenty a minute per group
and thirty a second overall. :class:`RateLimiter` keeps a sliding window per limit; when a send
would exceed one it answers how long to wait, and the adapter turns that into a
``SendError(retry_after=…)`` so the dispatcher defers *that* row and goes on with other chats.
A 429 from Telegram blocks its chat for the time Telegram asked.

The windows live in process memory: they are a politeness, not a correctness, matter (with
several replicas each keeps its own windows and Telegram's 429 remains the backstop).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimits:
    """How many sends per window (seconds); None switches a limit off."""

    per_chat: int | None = 1
    per_chat_window: float = 1.0
    per_group: int | None = 20
    per_group_window: float = 60.0
    overall: int | None = 30
    overall_window: float = 1.0


class _Window:
    __slots__ = ("limit", "seconds", "stamps")

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit = limit
        self.seconds = seconds
        self.stamps: deque[float] = deque()

    def wait(self, now: float) -> float:
        while self.stamps and self.stamps[0] <= now - self.seconds:
            self.stamps.popleft()
        if len(self.stamps) < self.limit:
            return 0.0
        return self.stamps[0] + self.seconds - now


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self.clock = clock
        self._overall = _Window(limits.overall, limits.overall_window) if limits.overall else None
        self._chats: dict[str, _Window] = {}
        self._groups: dict[str, _Window] = {}
        self._blocked: dict[str, float] = {}

    def reserve(self, chat_id: str, *, group: bool) -> float:
        """0 when a send to ``chat_id`` may go now (and it is counted); otherwise the seconds
        to wait, and nothing is counted."""
        now = self.clock()
        windows = [w for w in (self._overall, self._chat(chat_id)) if w is not None]
        if group and (window := self._group(chat_id)) is not None:
            windows.append(window)
        wait = max([w.wait(now) for w in windows] + [self._blocked.get(chat_id, now) - now, 0.0])
        if wait > 0:
            return wait
        self._blocked.pop(chat_id, None)
        for window in windows:
            window.stamps.append(now)
        self._forget_idle(now)
        return 0.0

    def block(self, chat_id: str, seconds: float) -> None:
        """Telegram said "retry after": nothing goes to this chat until then."""
        until = self.clock() + seconds
        self._blocked[chat_id] = max(until, self._blocked.get(chat_id, until))

    def _chat(self, chat_id: str) -> _Window | None:
        if not self.limits.per_chat:
            return None
        return self._chats.setdefault(
            chat_id, _Window(self.limits.per_chat, self.limits.per_chat_window)
        )

    def _group(self, chat_id: str) -> _Window | None:
        if not self.limits.per_group:
            return None
        return self._groups.setdefault(
            chat_id, _Window(self.limits.per_group, self.limits.per_group_window)
        )

    def _forget_idle(self, now: float) -> None:
        """Keep memory bounded by the chats active within a window, not all chats ever seen."""
        for table in (self._chats, self._groups):
            if len(table) > 4096:
                for key in list(table):
                    table[key].wait(now)  # drops the stamps that left the window
                    if not table[key].stamps:
                        del table[key]
