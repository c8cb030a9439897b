"""The FastAPI app factory and lifespan: the one place that wires settings, engine and routes."""

from __future__ import annotations

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
from chipin.logs import configure_logging
from chipin.runtime import Runtime
from chipin.settings import Settings
from chipin.store.db import make_engine

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


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    adapters: dict[str, ChannelAdapter] | None = None,
    background: bool = True,
) -> FastAPI:
    """The web app. With ``background`` (the default, as in ``chipin serve``) the worker and
    the dispatcher run in the same process; ``chipin worker`` runs them elsewhere."""
    settings = settings or Settings()
    check_dashboard_settings(settings)  # no admin password outside development: refuse to start
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_engine = engine is None
        app.state.engine = engine or make_engine(settings.database_url)
        app.state.runtime = Runtime.build(settings, app.state.engine, adapters=adapters)
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
    app.include_router(playground_router())
    app.include_router(admin_router())

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
