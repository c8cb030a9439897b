"""The outbox: replies and notifications waiting to be sent, with their tries and outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection, and_, bindparam, exists, func, or_, select, text, update

from chipin.store import tables as t

# Compiled once (SQLAlchemy does not cache the dialect on_conflict insert; see inbox.py).
_INSERT = (
    "INSERT INTO outbox (channel, conversation_key, recipient, kind, payload, status, attempts,"
    " next_attempt_at, inbox_id, dedupe_key, created_at, updated_at)"
    " VALUES (:channel, :conversation_key, :recipient, :kind, :payload, 'pending', 0, :now,"
    " :inbox_id, :dedupe_key, :now, :now)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_TYPES = (bindparam("payload", type_=JSON), bindparam("now", type_=t.UTCDateTime()))
_ADD = text(_INSERT + " RETURNING id").bindparams(*_INSERT_TYPES)
# The executemany form: without RETURNING, the driver sends all the rows in one round trip
# (psycopg pipelines them; sqlite3 steps one prepared statement).
_ADD_MANY = text(_INSERT).bindparams(*_INSERT_TYPES)
# One text for ``mark_sent`` and ``mark_sent_many``, so a row is marked sent the same way on
# either path; the dispatcher executes it once per batch of plain successes.
_SENT = text(
    "UPDATE outbox SET status = 'sent', sent_at = :now, updated_at = :now,"
    " attempts = attempts + 1, provider_message_id = :provider_message_id,"
    " provider_status = :provider_status, claimed_by = NULL, claimed_until = NULL,"
    " last_error = NULL WHERE id = :id AND status <> 'sent'"
).bindparams(bindparam("now", type_=t.UTCDateTime()))
"""Marking a row sent twice (a batch written again after it failed part-way) changes nothing."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: int
    channel: str
    conversation_key: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    inbox_id: int | None
    provider_message_id: str | None
    last_error: str | None
    created_at: dt.datetime


class OutboxQueue:
    def __init__(self, conn: Connection, flush: Callable[[], None] | None = None) -> None:
        self.conn = conn
        self._flush = flush or (lambda: None)
        """Writes the unit of work holds back (``SqlUnitOfWork.add_later``, ``complete_later``),
        run before a write here that must come after them: a row added now gets a later id than the
        replies held back, and a cancelled conversation's held-back replies are cancelled."""

    def add(
        self,
        *,
        channel: str,
        conversation_key: str,
        recipient: str,
        kind: str,
        payload: dict[str, Any],
        now: dt.datetime,
        inbox_id: int | None = None,
        dedupe_key: str | None = None,
    ) -> int | None:
        """Queue an outbound message; None when ``dedupe_key`` was queued before."""
        self._flush()
        row = self.conn.execute(
            _ADD,
            {
                "channel": channel,
                "conversation_key": conversation_key,
                "recipient": recipient,
                "kind": kind,
                "payload": payload,
                "now": now,
                "inbox_id": inbox_id,
                "dedupe_key": dedupe_key,
            },
        ).first()
        return int(row[0]) if row else None

    def add_many(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue many messages in one round trip; a ``dedupe_key`` queued before (or earlier in
        ``rows``) is skipped. Each row has the keyword arguments of :meth:`add`, all of them."""
        if rows:
            self._flush()
            self.conn.execute(_ADD_MANY, list(rows))

    @staticmethod
    def _item(r: Any) -> OutboxItem:
        return OutboxItem(
            r.id,
            r.channel,
            r.conversation_key,
            r.recipient,
            r.kind,
            r.payload,
            r.status,
            r.attempts,
            r.next_attempt_at,
            r.inbox_id,
            r.provider_message_id,
            r.last_error,
            r.created_at,
        )

    def get(self, outbox_id: int) -> OutboxItem | None:
        row = self.conn.execute(select(t.outbox).where(t.outbox.c.id == outbox_id)).first()
        return self._item(row) if row else None

    def claim_due(
        self,
        holder: str,
        now: dt.datetime,
        lease: dt.timedelta,
        limit: int = 20,
        channels: tuple[str, ...] | None = None,
    ) -> list[OutboxItem]:
        """Due messages, at most the oldest unsent one per conversation (so a chat receives its
        messages in order even while one of them is being retried), claimed in ONE statement
        (``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``): atomic by
        itself, so the dispatcher may run it in autocommit."""
        o, due, earlier = t.outbox, t.outbox.alias("due"), t.outbox.alias("earlier")
        waiting = ("pending", "failed")

        def unclaimed(table: Any) -> Any:
            return or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)

        query = (
            select(due.c.id)
            .where(
                and_(
                    due.c.status.in_(waiting),
                    due.c.next_attempt_at <= now,
                    unclaimed(due),
                    ~exists().where(
                        and_(
                            earlier.c.conversation_key == due.c.conversation_key,
                            earlier.c.id < due.c.id,
                            earlier.c.status.in_(waiting),
                        )
                    ),
                )
            )
            .order_by(due.c.id)
            .limit(limit)
        )
        if channels is not None:
            query = query.where(due.c.channel.in_(channels))
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=due)
        # the conditions again on the rows themselves: one another dispatcher took is skipped
        rows = self.conn.execute(
            update(o)
            .where(and_(o.c.id.in_(query), unclaimed(o), o.c.status.in_(waiting)))
            .values(claimed_by=holder, claimed_until=now + lease)
            .returning(*o.c)
        ).all()
        return sorted((self._item(r) for r in rows), key=lambda item: item.id)

    def mark_sent(
        self,
        outbox_id: int,
        now: dt.datetime,
        *,
        provider_message_id: str | None,
        provider_status: str | None = None,
    ) -> None:
        self.conn.execute(
            _SENT,
            {
                "id": outbox_id,
                "now": now,
                "provider_message_id": provider_message_id,
                "provider_status": provider_status,
            },
        )

    def mark_sent_many(
        self, rows: Sequence[tuple[int, str | None, str | None]], now: dt.datetime
    ) -> None:
        """:meth:`mark_sent` for many rows of (outbox id, provider message id, provider status)
        in one round trip (executemany): the dispatcher's per-message cost under load."""
        if rows:
            self.conn.execute(
                _SENT,
                [
                    {"id": i, "now": now, "provider_message_id": pid, "provider_status": ps}
                    for i, pid, ps in rows
                ],
            )

    def mark_failed(
        self, outbox_id: int, now: dt.datetime, error: str, retry_at: dt.datetime | None
    ) -> str:
        """Record a failed try: retried at ``retry_at``, or parked as dead when it is None."""
        status = "failed" if retry_at is not None else "dead"
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == outbox_id)
            .values(
                status=status,
                attempts=t.outbox.c.attempts + 1,
                last_error=error[:2000],
                next_attempt_at=retry_at or now,
                updated_at=now,
                claimed_by=None,
                claimed_until=None,
            )
        )
        return status

    def defer(self, outbox_id: int, until: dt.datetime, reason: str) -> None:
        """Put a message back without counting a try (a rate limit said wait)."""
        self.conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == outbox_id)
            .values(
                next_attempt_at=until, last_error=reason[:2000], claimed_by=None, claimed_until=None
            )
        )

    def retry(self, outbox_id: int, now: dt.datetime) -> bool:
        """An operator retries a dead (or failed) message now, with a fresh count of tries."""
        return bool(
            self.conn.execute(
                update(t.outbox)
                .where(and_(t.outbox.c.id == outbox_id, t.outbox.c.status.in_(("dead", "failed"))))
                .values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
            ).rowcount
        )

    def cancel(self, outbox_id: int, now: dt.datetime) -> bool:
        return bool(
            self.conn.execute(
                update(t.outbox)
                .where(
                    and_(
                        t.outbox.c.id == outbox_id,
                        t.outbox.c.status.in_(("pending", "failed", "dead")),
                    )
                )
                .values(status="cancelled", updated_at=now, claimed_by=None, claimed_until=None)
            ).rowcount
        )

    def cancel_conversation(self, key: str, now: dt.datetime, reason: str) -> int:
        """Stop sending into a conversation that is gone (bot removed, user blocked it)."""
        self._flush()
        return int(
            self.conn.execute(
                update(t.outbox)
                .where(
                    and_(
                        t.outbox.c.conversation_key == key,
                        t.outbox.c.status.in_(("pending", "failed")),
                    )
                )
                .values(
                    status="cancelled",
                    last_error=reason,
                    updated_at=now,
                    claimed_by=None,
                    claimed_until=None,
                )
            ).rowcount
        )

    def for_conversation(self, key: str, after_id: int = 0, limit: int = 200) -> list[OutboxItem]:
        rows = self.conn.execute(
            select(t.outbox)
            .where(and_(t.outbox.c.conversation_key == key, t.outbox.c.id > after_id))
            .order_by(t.outbox.c.id)
            .limit(limit)
        )
        return [self._item(r) for r in rows]

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(
            select(t.outbox.c.status, func.count()).group_by(t.outbox.c.status)
        )
        return {str(s): int(n) for s, n in rows}
