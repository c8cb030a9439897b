"""Health, readiness and metrics of the web app on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chipin.app import create_app
from chipin.settings import Settings
from chipin.store.db import make_engine


def test_health_and_readiness_answer_when_the_database_does(engine: Engine) -> None:
    app = create_app(Settings(DATABASE_URL=str(engine.url)), engine=engine)
    with TestClient(app) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "chipin_readiness_failures_total 0.0" in metrics.text


def test_readiness_fails_and_is_counted_when_the_database_is_unreachable() -> None:
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_pre_ping=False)
    app = create_app(Settings(DATABASE_URL="sqlite://"), engine=dead, background=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "unreachable"}
        assert "chipin_readiness_failures_total 1.0" in client.get("/metrics").text
    dead.dispose()
