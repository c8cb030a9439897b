"""The background machinery of a Chipin process: the worker and the dispatcher, their wake-up
events, and the channel adapters. Built by the app factory (``chipin serve``) or by
``chipin worker`` / ``chipin chat``; never at import time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Engine

from chipin.bot.claims import Wakeup
from chipin.bot.conversation import ConversationEngine
from chipin.bot.messages import ChannelAdapter
from chipin.bot.worker import Worker
from chipin.channels.telegram.adapter import TelegramAdapter
from chipin.channels.twilio.adapter import twilio_adapters
from chipin.channels.web import WebAdapter
from chipin.notify.dispatcher import Dispatcher
from chipin.parsing.gemini import GeminiParser
from chipin.scheduler.jobs import Jobs
from chipin.scheduler.runner import SchedulerRunner
from chipin.settings import Settings

log = structlog.get_logger("chipin.runtime")
Clock = Callable[[], dt.datetime]


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    worker: Worker
    dispatcher: Dispatcher
    gemini: GeminiParser | None = None
    wake_worker: Wakeup = field(default_factory=Wakeup)
    wake_dispatcher: Wakeup = field(default_factory=Wakeup)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    scheduler: SchedulerRunner | None = None

    @classmethod
    def build(
        cls,
        settings: Settings,
        engine: Engine,
        *,
        adapters: dict[str, ChannelAdapter] | None = None,
        gemini: GeminiParser | None = None,
        clock: Clock | None = None,
    ) -> Runtime:
        gemini = gemini or GeminiParser.from_settings(settings)
        conversation = ConversationEngine(settings, gemini=gemini, clock=clock)
        chosen: dict[str, ChannelAdapter] = {"web": WebAdapter()}
        if "telegram" not in (adapters or {}):
            telegram = TelegramAdapter.from_settings(settings)
            if telegram is not None:
                chosen["telegram"] = telegram
        chosen.update(twilio_adapters(settings))  # whatsapp / sms, when TWILIO_* are set
        chosen.update(adapters or {})
        dispatcher = Dispatcher(
            engine,
            chosen,
            max_attempts=settings.outbox_max_attempts,
            backoff_seconds=settings.outbox_backoff_seconds,
            backoff_max_seconds=settings.outbox_backoff_max_seconds,
            clock=clock,
        )
        wake_dispatcher = Wakeup()
        worker = Worker(
            engine,
            conversation,
            lease=dt.timedelta(seconds=settings.worker_lease_seconds),
            max_attempts=settings.worker_max_attempts,
            on_outbox=wake_dispatcher.set,
            clock=clock,
        )
        runtime = cls(settings, engine, worker, dispatcher, gemini, wake_dispatcher=wake_dispatcher)
        return runtime

    def wake(self) -> None:
        """Called after a message is accepted: a worker claimer looks at once instead of
        polling. Safe from any thread (sync endpoints run in a thread pool)."""
        self.wake_worker.set()

    def start(
        self, *, worker: bool = True, dispatcher: bool = True, scheduler: bool | None = None
    ) -> None:
        poll = self.settings.worker_poll_seconds
        if self.settings.scheduler_enabled if scheduler is None else scheduler:
            self.scheduler = SchedulerRunner(
                Jobs(self.engine, settings=self.settings),
                every_seconds=self.settings.scheduler_interval_seconds,
            )
            self.scheduler.start()
        if worker:
            self.tasks.append(
                asyncio.create_task(
                    self.worker.run(
                        self.stop,
                        self.wake_worker,
                        concurrency=self.settings.worker_concurrency,
                        poll=poll,
                    ),
                    name="chipin-worker",
                )
            )
        if dispatcher:
            self.tasks.append(
                asyncio.create_task(
                    self.dispatcher.run(self.stop, self.wake_dispatcher, poll=poll),
                    name="chipin-dispatcher",
                )
            )
        log.info("chipin.runtime_started", worker=worker, dispatcher=dispatcher)

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
        self.stop.set()
        self.wake_worker.set_all()
        self.wake_dispatcher.set_all()
        for task in self.tasks:
            try:
                await asyncio.wait_for(task, timeout=10)
            except TimeoutError:
                task.cancel()
        self.tasks.clear()
        if self.gemini is not None:
            await self.gemini.aclose()
        for adapter in self.dispatcher.adapters.values():
            close = getattr(adapter, "aclose", None)  # adapters holding an HTTP pool
            if close is not None:
                await close()
