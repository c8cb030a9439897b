"""Every scheduler claim ("did I send this alert / digest / reminder?") is won once per key, on
SQLite and PostgreSQL: twice in a row gives True then False, and claims racing from several
connections at once give exactly one True. The winner is told by the row ``RETURNING`` gives
back, never by ``rowcount``."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from chipin.core import services
from chipin.core.budgets import Budget
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
START = dt.date(2026, 12, 1)

Claim = Callable[[ScheduleRepository], bool]


def setup(engine: Engine) -> dict[str, Claim]:
    """A group with a budget and a member; one claim of each kind, all for the same key."""
    group = services.create_group(SqlUnitOfWork(engine), "Flat", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, ["Ana", "Raj"])
    with SqlUnitOfWork(engine) as uow:
        raj = next(m.id for m in uow.ledger.members(group.id) if m.name == "Raj")
        budget_id = ScheduleRepository(uow.connection).set_budget(
            Budget(group.id, 30000, "EUR", "month", "food"), None, NOW
        )
        uow.commit()
    return {
        "alert": lambda s: s.claim_alert(budget_id, START, "80", NOW),
        "projection": lambda s: s.claim_alert(budget_id, START, "projection", NOW),
        "digest": lambda s: s.claim_digest(group.id, "week", START, NOW),
        "reminder": lambda s: s.claim_reminder(group.id, raj, "EUR", 7, NOW),
    }


def claim_once(engine: Engine, claim: Claim) -> bool:
    with SqlUnitOfWork(engine) as uow:
        won = claim(ScheduleRepository(uow.connection))
        uow.commit()
    return won


KINDS = ["alert", "projection", "digest", "reminder"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_second_claim_of_the_same_key_loses(engine: Engine, kind: str) -> None:
    claim = setup(engine)[kind]
    assert claim_once(engine, claim) is True
    assert claim_once(engine, claim) is False
    assert claim_once(engine, claim) is False


def test_a_second_claim_in_the_same_transaction_loses_too(engine: Engine) -> None:
    claims = setup(engine)
    with SqlUnitOfWork(engine) as uow:
        schedule = ScheduleRepository(uow.connection)
        for kind in KINDS:
            assert claims[kind](schedule) is True, kind
            assert claims[kind](schedule) is False, kind
        uow.commit()


def test_other_keys_are_claimed_separately(engine: Engine) -> None:
    claims = setup(engine)
    for kind in KINDS:
        assert claim_once(engine, claims[kind]) is True
    with SqlUnitOfWork(engine) as uow:
        schedule = ScheduleRepository(uow.connection)
        group_id = schedule.budgets()[0][0].group_id
        assert schedule.claim_digest(group_id, "week", START + dt.timedelta(days=7), NOW)
        assert schedule.claim_digest(group_id, "month", START, NOW)
        uow.commit()


@pytest.mark.parametrize("kind", KINDS)
def test_claims_racing_from_several_connections_are_won_once(engine: Engine, kind: str) -> None:
    claim = setup(engine)[kind]
    racers = 6
    ready = threading.Barrier(racers)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def race() -> None:
        try:
            with engine.connect() as conn:
                ready.wait(timeout=10)
                with conn.begin():  # each racer in its own transaction, all at once
                    won = claim(ScheduleRepository(conn))
                with lock:
                    results.append(won)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert errors == []
    assert sorted(results) == [False] * (racers - 1) + [True]
