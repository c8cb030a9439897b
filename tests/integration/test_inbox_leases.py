"""Storing a message never waits for the worker that holds its conversation (PostgreSQL, where
writers run side by side; on SQLite one writer at a time is the design)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text

from chipin.store.db import make_engine
from chipin.store.uow import SqlUnitOfWork
from tests.conftest import _truncate

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def pg(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    _truncate(engine)
    yield engine
    engine.dispose()


def row(provider_id: str) -> dict[str, object]:
    return {
        "channel": "web",
        "provider_id": provider_id,
        "conversation_key": "web:busy",
        "kind": "message",
        "payload": {"text": "hi"},
        "raw": None,
    }


def test_a_message_is_stored_while_a_worker_holds_its_conversation(pg: Engine) -> None:
    with SqlUnitOfWork(pg) as uow:
        assert uow.inbox.enqueue_many([row("first")], NOW)
        uow.commit()
    with SqlUnitOfWork(pg) as worker:  # a round in progress: the lease row updated, uncommitted
        worker.connection.execute(
            text("UPDATE conversation_leases SET holder = 'w' WHERE conversation_key = 'web:busy'")
        )
        with SqlUnitOfWork(pg) as intake:
            intake.connection.execute(text("SET LOCAL lock_timeout = '2s'"))
            stored = intake.inbox.enqueue_many([row("second")], NOW)  # used to wait (lock timeout)
            assert len(stored) == 1
            intake.inbox.enqueue(
                channel="web",
                provider_id="third",
                conversation_key="web:busy",
                kind="message",
                payload={"text": "hi"},
                raw=None,
                now=NOW,
            )
            intake.commit()
    with pg.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM inbox")).scalar() == 3
        assert conn.execute(text("SELECT count(*) FROM conversation_leases")).scalar() == 1
