"""The FastAPI app factory and lifespan: the one place that wires settings, engine and routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import structlog
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from sqlalchemy import Engine, text

from chipin import __version__
from chipin.admin.auth import check_dashboard_settings
from chipin.admin.dashboard import admin_router
from chipin.admin.metrics import QueueCollector
from chipin.admin.playground import playground_router
from chipin.bot.messages import ChannelAdapter
from chipin.channels.media import media_router
from chipin.channels.telegram.adapter import TelegramAdapter
from chipin.channels.telegram.polling import poll_updates
from chipin.logs import configure_logging
from chipin.runtime import Runtime
from chipin.settings import Settings
from chipin.store.db import make_engine
from chipin.webhooks.telegram import telegram_router
from chipin.webhooks.twilio import twilio_router

log = structlog.get_logger("chipin.app")


class Metrics:
    """The app's Prometheus registry (one per app, so tests and replicas never share globals)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.readiness_failures = Counter(
            "chipin_readiness_failures",
            "Readiness probes that could not reach the database",
            registry=self.registry,
        )


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


EngineDep = Annotated[Engine, Depends(get_engine)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def start_telegram(app: FastAPI, adapter: TelegramAdapter, *, polling: bool) -> None:
    """Learn the bot's @username (the webhook strips "@ChipinBot" from commands with it) and,
    in polling mode, start fetching updates. Telegram being unreachable does not stop the app:
    the webhook still works (with the id from the token) and sends are retried."""
    try:
        app.state.telegram_identity = await adapter.start()
    except Exception as exc:
        log.warning("chipin.telegram_unreachable", error=f"{type(exc).__name__}: {exc}")
        return
    if polling:
        runtime: Runtime = app.state.runtime
        runtime.tasks.append(
            asyncio.create_task(
                poll_updates(adapter.bot, app.state.engine, runtime.wake, runtime.stop),
                name="chipin-telegram-polling",
            )
        )


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    adapters: dict[str, ChannelAdapter] | None = None,
    background: bool = True,
    telegram_polling: bool = False,
) -> FastAPI:
    """The web app. With ``background`` (the default, as in ``chipin serve``) the worker and
    the dispatcher run in the same process; ``chipin worker`` runs them elsewhere. With
    ``telegram_polling`` Telegram updates are fetched with getUpdates instead of the webhook."""
    settings = settings or Settings()
    check_dashboard_settings(settings)  # no admin password outside development: refuse to start
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.database_url)
        app.state.runtime = Runtime.build(settings, app.state.engine, adapters=adapters)
        telegram = app.state.runtime.dispatcher.adapters.get("telegram")
        if isinstance(telegram, TelegramAdapter):
            if getattr(app.state, "telegram_webhook_status", None) is None:  # injected wins
                app.state.telegram_webhook_status = telegram.webhook_status  # for the overview
            await start_telegram(app, telegram, polling=telegram_polling)
        if background:
            app.state.runtime.start()
        log.info(
            "chipin.start",
            version=__version__,
            database=app.state.engine.url.get_backend_name(),
            parser=settings.parser,
            gemini=settings.gemini_enabled,
            background=background,
        )
        try:
            yield
        finally:
            await app.state.runtime.close()
            if own_engine:
                app.state.engine.dispose()

    app = FastAPI(title="Chipin", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = Metrics()
    app.state.metrics.registry.register(QueueCollector(lambda: getattr(app.state, "engine", None)))
    # the webhooks first: Starlette tries routes one by one, and providers post far more often
    # than people open pages (Telegram: 315 → 250 µs per request behind admin and playground).
    # No other route's path overlaps theirs (tests/unit/test_route_order.py)
    app.include_router(telegram_router())
    app.include_router(twilio_router())
    app.include_router(playground_router())
    app.include_router(admin_router())
    app.include_router(media_router())

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        """The process is up (no dependency checked)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(engine: EngineDep, metrics: MetricsDep) -> Response:
        """The database answers; load balancers send traffic only then."""
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            metrics.readiness_failures.inc()
            log.warning("chipin.not_ready", error=type(exc).__name__)
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"}, status_code=503
            )
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def metrics_endpoint(metrics: MetricsDep) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app
