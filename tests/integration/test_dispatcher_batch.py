"""The dispatcher records a batch's plain successes in one statement, and the rest row by row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text, update

from chipin.bot.messages import SendError, SendResult
from chipin.notify.dispatcher import Dispatcher
from chipin.store import tables as t
from chipin.store.outbox import OutboxItem, OutboxQueue
from chipin.store.uow import SqlUnitOfWork

NOW = dt.datetime(2026, 11, 21, 19, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(seconds=5)


class PlainAdapter:
    """A channel without bookkeeping (like Telegram and the web playground)."""

    channel = "web"

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        return SendResult(f"p-{recipient}", "accepted")


class HookedAdapter(PlainAdapter):
    """A channel with an ``after_send`` hook (like Twilio); it can be told to fail in it."""

    channel = "sms"

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []
        self.broken: set[int] = set()

    def after_send(
        self,
        uow: SqlUnitOfWork,
        item: OutboxItem,
        status: str,
        result: SendResult | None,
        error: SendError | None,
        now: dt.datetime,
    ) -> None:
        if item.id in self.broken:
            raise RuntimeError("bookkeeping failed")
        self.calls.append((item.id, status))


def queue(engine: Engine, channels: list[str]) -> list[int]:
    """One pending row per channel given, each in its own conversation."""
    with SqlUnitOfWork(engine) as uow:
        ids = [
            uow.outbox.add(
                channel=channel,
                conversation_key=f"{channel}:c{n}",
                recipient=f"r{n}",
                kind="send",
                payload={"text": f"m{n}"},
                now=NOW,
            )
            for n, channel in enumerate(channels)
        ]
        uow.commit()
    assert all(i is not None for i in ids)
    return [i for i in ids if i is not None]


def dispatcher(engine: Engine, hooked: HookedAdapter | None = None) -> Dispatcher:
    adapters = {"web": PlainAdapter(), "sms": hooked or HookedAdapter()}
    return Dispatcher(engine, adapters, clock=lambda: LATER, max_attempts=3)


def claim(d: Dispatcher) -> list[OutboxItem]:
    items = d._claim("test")
    assert items and all(i.status == "pending" for i in items)
    return items


def rows(engine: Engine) -> dict[int, Any]:
    with engine.connect() as conn:
        return {r.id: r for r in conn.execute(select(t.outbox))}


@contextmanager
def statements(engine: Engine) -> Iterator[list[tuple[str, bool]]]:
    """The statements sent to the database in the block, with whether each was an executemany."""
    seen: list[tuple[str, bool]] = []

    def count(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        seen.append((statement.lstrip().split()[0].upper(), executemany))

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_batch_of_plain_successes_is_recorded_as_sent(engine: Engine) -> None:
    ids = queue(engine, ["web"] * 4)
    with engine.begin() as conn:  # one row was tried before
        conn.execute(update(t.outbox).where(t.outbox.c.id == ids[1]).values(attempts=2))
    d = dispatcher(engine)
    items = claim(d)
    statuses = d._record([(item, SendResult(f"p-{item.id}", "accepted")) for item in items])
    assert statuses == ["sent"] * 4
    for outbox_id, row in rows(engine).items():
        assert row.status == "sent"
        assert row.provider_message_id == f"p-{outbox_id}"
        assert row.provider_status == "accepted"
        assert row.sent_at == LATER
        assert row.updated_at == LATER
        assert row.attempts == (3 if outbox_id == ids[1] else 1)
        assert row.claimed_by is None and row.claimed_until is None and row.last_error is None


def test_n_plain_successes_take_one_update_round_trip_and_no_savepoint(engine: Engine) -> None:
    queue(engine, ["web"] * 5)
    d = dispatcher(engine)
    items = claim(d)
    with statements(engine) as seen:
        statuses = d._record([(item, SendResult(f"p-{item.id}")) for item in items])
    assert statuses == ["sent"] * 5
    assert [s for s in seen if s[0] == "UPDATE"] == [("UPDATE", True)]
    assert not [s for s in seen if s[0] in ("SAVEPOINT", "RELEASE")]
    assert {r.status for r in rows(engine).values()} == {"sent"}


def test_failures_and_hooked_successes_keep_their_savepoints_and_the_order(
    engine: Engine,
) -> None:
    hooked = HookedAdapter()
    ids = queue(engine, ["web", "web", "sms", "web", "sms"])
    hooked.broken = {ids[4]}
    d = dispatcher(engine, hooked)
    items = claim(d)
    outcomes: list[tuple[OutboxItem, SendResult | SendError]] = [
        (items[0], SendResult("p-0")),
        (items[1], SendError("provider is down")),
        (items[2], SendResult("p-2", "queued")),
        (items[3], SendResult("p-3")),
        (items[4], SendResult("p-4")),
    ]
    with statements(engine) as seen:
        statuses = d._record(outcomes)
    assert statuses == ["sent", "failed", "sent", "sent", "unrecorded"]
    assert hooked.calls == [(ids[2], "sent")]
    assert [s for s, _ in seen].count("SAVEPOINT") == 3  # the failure and the two hooked rows
    found = rows(engine)
    assert [found[i].status for i in ids] == ["sent", "failed", "sent", "sent", "pending"]
    assert [found[i].provider_message_id for i in ids] == ["p-0", None, "p-2", "p-3", None]
    assert found[ids[1]].last_error == "provider is down" and found[ids[1]].attempts == 1
    assert found[ids[1]].claimed_by is None
    assert found[ids[4]].claimed_by == "test"  # left to its lease's expiry, as before


def test_a_failing_batch_update_falls_back_to_one_savepoint_per_row(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch writes its rows, then the database refuses: nothing of it stays (no row counts
    two tries), and each row is recorded on its own; one bad row loses only its own outcome."""
    original_many, original_one = OutboxQueue.mark_sent_many, OutboxQueue.mark_sent
    ids = queue(engine, ["web"] * 4)

    def many_then_fail(self: OutboxQueue, *args: Any, **kwargs: Any) -> None:
        original_many(self, *args, **kwargs)
        self.conn.execute(text("SELECT * FROM no_such_table"))

    def one_failing(self: OutboxQueue, outbox_id: int, *args: Any, **kwargs: Any) -> None:
        if outbox_id == ids[2]:
            raise RuntimeError("a bad row")
        original_one(self, outbox_id, *args, **kwargs)

    monkeypatch.setattr(OutboxQueue, "mark_sent_many", many_then_fail)
    monkeypatch.setattr(OutboxQueue, "mark_sent", one_failing)
    d = dispatcher(engine)
    items = claim(d)
    outcomes: list[tuple[OutboxItem, SendResult | SendError]] = [
        (items[0], SendResult("p-0")),
        (items[1], SendError("provider is down")),
        (items[2], SendResult("p-2")),
        (items[3], SendResult("p-3")),
    ]
    assert d._record(outcomes) == ["sent", "failed", "unrecorded", "sent"]
    found = rows(engine)
    assert [found[i].status for i in ids] == ["sent", "failed", "pending", "sent"]
    assert [found[i].attempts for i in ids] == [1, 1, 0, 1]
    assert [found[i].provider_message_id for i in ids] == ["p-0", None, None, "p-3"]
    assert found[ids[2]].claimed_by == "test"


async def test_drain_sends_and_records_a_batch(engine: Engine) -> None:
    ids = queue(engine, ["web", "sms", "web"])
    hooked = HookedAdapter()
    assert await dispatcher(engine, hooked).drain() == 3
    found = rows(engine)
    assert [found[i].status for i in ids] == ["sent"] * 3
    assert [found[i].provider_message_id for i in ids] == ["p-r0", "p-r1", "p-r2"]
    assert hooked.calls == [(ids[1], "sent")]


def test_add_many_inserts_in_one_round_trip_and_skips_a_repeated_dedupe_key(
    engine: Engine,
) -> None:
    def row(n: int, dedupe_key: str | None) -> dict[str, Any]:
        return {
            "channel": "web",
            "conversation_key": f"web:c{n}",
            "recipient": f"r{n}",
            "kind": "send",
            "payload": {"text": f"m{n}", "actions": [["Undo", "u:1"]]},
            "now": NOW,
            "inbox_id": None,
            "dedupe_key": dedupe_key,
        }

    with SqlUnitOfWork(engine) as uow:
        uow.outbox.add(**row(0, "k0"))
        uow.commit()
    with statements(engine) as seen, SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([row(1, "k1"), row(2, "k0"), row(3, None), row(4, "k1"), row(5, None)])
        uow.commit()
    assert [s for s in seen if s[0] == "INSERT"] == [("INSERT", True)]
    with statements(engine) as seen, SqlUnitOfWork(engine) as uow:
        uow.outbox.add_many([])
        uow.commit()
    assert not [s for s in seen if s[0] == "INSERT"]
    with SqlUnitOfWork(engine) as uow:
        added = uow.outbox.for_conversation("web:c1") + uow.outbox.for_conversation("web:c3")
        added += uow.outbox.for_conversation("web:c5")
        assert uow.connection.execute(select(func.count()).select_from(t.outbox)).scalar() == 4
    assert [(o.recipient, o.status, o.attempts) for o in added] == [
        ("r1", "pending", 0),
        ("r3", "pending", 0),
        ("r5", "pending", 0),
    ]
    assert added[0].payload == {"text": "m1", "actions": [["Undo", "u:1"]]}
    assert added[0].next_attempt_at == NOW and added[0].created_at == NOW


def test_on_postgres_claims_and_plain_batches_need_no_transaction(engine: Engine) -> None:
    """Each is one statement, atomic by itself: run in autocommit, no BEGIN/COMMIT round trips
    (SQLite, in process, keeps its transactions)."""
    ids = queue(engine, ["web", "web", "web"])
    d = dispatcher(engine)
    commits: list[int] = []

    def counted(_conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", counted)
    try:
        items = claim(d)
        statuses = d._record([(item, SendResult(f"p{item.id}", "ok")) for item in items])
    finally:
        event.remove(engine, "commit", counted)
    assert [item.id for item in items] == ids and statuses == ["sent"] * 3
    assert len(commits) == (0 if engine.dialect.name == "postgresql" else 2)
    assert {r.status for r in rows(engine).values()} == {"sent"}


def test_marking_a_row_sent_twice_changes_nothing(engine: Engine) -> None:
    (outbox_id,) = queue(engine, ["web"])
    with SqlUnitOfWork(engine) as uow:
        uow.outbox.mark_sent_many([(outbox_id, "p1", "ok")], LATER)
        uow.outbox.mark_sent_many([(outbox_id, "p2", "ok")], LATER + dt.timedelta(seconds=1))
        uow.commit()
    row = rows(engine)[outbox_id]
    assert (row.attempts, row.provider_message_id, row.sent_at) == (1, "p1", LATER)
