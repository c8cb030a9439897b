"""Processes started together on a fresh database each migrate it: one does, the rest wait."""

from __future__ import annotations

import threading
import time
import uuid

from sqlalchemy import text

from chipin.store.db import make_engine
from chipin.store.migrate import current_revision, head_revision, upgrade
from tests.conftest import POSTGRES_ADMIN_URL


def test_concurrent_upgrades_of_a_fresh_postgres_database_all_succeed() -> None:
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"chipin_race_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engines = [make_engine(url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(engines))

    def migrate(n: int) -> None:
        start.wait()
        try:
            upgrade(engines[n])
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=migrate, args=(n,)) for n in range(len(engines))]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in threads), "a migration is stuck"
        assert errors == []
        assert current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
