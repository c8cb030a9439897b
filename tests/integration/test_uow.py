"""The unit of work's fast path: nested blocks without savepoints, writes held back to a round's
end, and the look-up cache emptied by writes to what it caches."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from chipin.core import services
from chipin.store import tables as t
from chipin.store.inbox import done_row
from chipin.store.uow import SqlUnitOfWork, StaleMessages

NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)


def reply(key: str, n: int) -> dict[str, Any]:
    return {
        "channel": "web",
        "conversation_key": key,
        "recipient": key.partition(":")[2],
        "kind": "send",
        "payload": {"text": f"reply {n}"},
        "now": NOW,
        "inbox_id": None,
        "dedupe_key": f"{key}-{n}",
    }


def inbox_row(engine: Engine, provider_id: str) -> int:
    with SqlUnitOfWork(engine) as uow:
        inbox_id = uow.inbox.enqueue(
            channel="web",
            provider_id=provider_id,
            conversation_key="web:room",
            kind="message",
            payload={"text": "hi"},
            raw={},
            now=NOW,
        )
        uow.commit()
    assert inbox_id is not None
    return inbox_id


def outbox_rows(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect().execution_options(readonly=True) as conn:  # beside a writer
        query = select(t.outbox.c.dedupe_key, t.outbox.c.status).order_by(t.outbox.c.id)
        return [(str(k), str(s)) for k, s in conn.execute(query)]


def test_held_replies_are_written_in_one_statement_at_commit(engine: Engine) -> None:
    statements: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with SqlUnitOfWork(engine, savepoints=False) as uow:
        for n in range(3):
            uow.add_later(reply("web:a", n))
        assert outbox_rows(engine) == []  # nothing written yet
        event.listen(engine, "before_cursor_execute", record)
        try:
            uow.commit()
        finally:
            event.remove(engine, "before_cursor_execute", record)
    assert len([s for s in statements if s.startswith("INSERT INTO outbox")]) == 1
    assert outbox_rows(engine) == [(f"web:a-{n}", "pending") for n in range(3)]


def test_a_write_to_the_outbox_comes_after_the_held_replies(engine: Engine) -> None:
    """Held replies are flushed before any other outbox write: an added row gets a later id (a
    chat's messages go out in id order), and a cancel sees the held replies too."""
    with SqlUnitOfWork(engine, savepoints=False) as uow:
        uow.add_later(reply("web:a", 0))
        uow.outbox.add(**reply("web:a", 1))
        uow.add_later(reply("web:b", 0))
        assert uow.outbox.cancel_conversation("web:b", NOW, "the bot was removed") == 1
        uow.commit()
    assert outbox_rows(engine) == [
        ("web:a-0", "pending"),
        ("web:a-1", "pending"),
        ("web:b-0", "cancelled"),
    ]


def test_a_held_completion_flushes_before_its_message_is_flagged(engine: Engine) -> None:
    inbox_id = inbox_row(engine, "p1")
    with SqlUnitOfWork(engine, savepoints=False) as uow:
        uow.complete_later(done_row(inbox_id, NOW, {"ok": True}, needs_review=False))
        uow.inbox.flag_for_review(inbox_id)  # a later message cancels its draft
        uow.commit()
    with engine.connect() as conn:
        row = conn.execute(select(t.inbox).where(t.inbox.c.id == inbox_id)).one()
    assert (row.status, row.needs_review) == ("done", True)


def test_a_held_completion_of_a_finished_message_is_refused(engine: Engine) -> None:
    inbox_id = inbox_row(engine, "p2")
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.complete(inbox_id, NOW, result=None)
        uow.commit()
    with SqlUnitOfWork(engine, savepoints=False) as uow:
        uow.add_later(reply("web:room", 0))
        uow.complete_later(done_row(inbox_id, NOW, None))
        with pytest.raises(StaleMessages):
            uow.flush()
    assert outbox_rows(engine) == []  # rolled back with it


def test_a_rollback_drops_what_was_held(engine: Engine) -> None:
    with SqlUnitOfWork(engine, savepoints=False) as uow:
        uow.add_later(reply("web:a", 0))
        uow.rollback()
        uow.commit()
    assert outbox_rows(engine) == []


def test_nested_blocks_without_savepoints(engine: Engine) -> None:
    """A read-only block or a committed one costs nothing; one left without commit after a
    write spoils the unit of work, which is then only good for a rollback."""
    seen: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement.split(maxsplit=1)[0].upper())

    with SqlUnitOfWork(engine) as uow:
        group = services.create_group(uow, "Flat", "EUR", "UTC")
        uow.commit()
    event.listen(engine, "before_cursor_execute", record)
    try:
        with SqlUnitOfWork(engine, savepoints=False) as uow:
            services.group_balances(uow, group.id)  # a read left without commit
            services.add_members(uow, group.id, ["Ana"])  # committed
            assert not uow.spoiled
            with uow:
                uow.ledger.add_member(group.id, "Ghost", NOW)
            assert uow.spoiled
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert "SAVEPOINT" not in seen and "RELEASE" not in seen
    with SqlUnitOfWork(engine) as uow:
        assert [m.name for m in uow.ledger.members(group.id)] == []  # all rolled back


def test_the_cache_is_emptied_by_a_write_to_a_cached_table(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        group = services.create_group(uow, "Cached", "EUR", "UTC")
        uow.cache[("budgets", group.id)] = []
        uow.ledger.add_audit(group.id, None, "note", None, NOW, None, None)  # not cached
        assert ("budgets", group.id) in uow.cache
        uow.ledger.add_member(group.id, "Ana", NOW)  # members are
        assert uow.cache == {}


def test_a_members_identity_is_written_only_when_new_or_changed(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        group = services.create_group(uow, "Linked", "EUR", "UTC")
        ana = uow.ledger.add_member(group.id, "Ana", NOW)
        uow.commit()
    writes: list[str] = []

    def record(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            writes.append(" ".join(statement.split()[:3]).upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with SqlUnitOfWork(engine) as uow:
            for _ in range(3):  # three messages from Ana in one round
                uow.conversations.link_member(ana.id, "telegram", "42", "Ana", NOW, handle="@ana")
            uow.commit()
        with SqlUnitOfWork(engine) as uow:  # the next round: read once, nothing to write
            uow.conversations.link_member(ana.id, "telegram", "42", "Ana", NOW, handle="@ana")
            uow.conversations.link_member(ana.id, "telegram", "42", "Ana", NOW, handle="@Ana_B")
            uow.commit()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert writes == ["INSERT INTO MEMBER_IDENTITIES", "UPDATE MEMBER_IDENTITIES SET"]
    with engine.connect() as conn:
        row = conn.execute(select(t.member_identities)).one()
    assert (row.external_user_id, row.handle) == ("42", "ana_b")


def test_a_statement_writing_through_a_with_clause_counts_as_a_write() -> None:
    """The one-statement entry write starts with WITH: missing it would leave a half-done
    nested block unnoticed on the fast path."""
    from sqlalchemy import text as sql_text

    from chipin.store.repository import _RECORD_ENTRY_PG
    from chipin.store.uow import _written_table

    assert _written_table(_RECORD_ENTRY_PG) is not None
    assert _written_table(sql_text("WITH x AS (SELECT 1) SELECT * FROM x")) is None
    assert _written_table("WITH m AS (INSERT INTO members (name) VALUES ('a')) SELECT 1") == (
        "members"
    )
    assert _written_table(sql_text("  UPDATE inbox SET status = 'done'")) == "inbox"
