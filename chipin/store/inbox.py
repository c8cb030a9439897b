"""The inbox: inbound messages stored under their provider id, and per-conversation leases.

Claiming works the same on SQLite (one process) and PostgreSQL (many): every claim is a
conditional UPDATE only one transaction can win, and PostgreSQL reads its candidates with
``FOR UPDATE SKIP LOCKED`` so workers never queue behind each other.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import JSON, Connection, and_, bindparam, func, or_, select, text, update

from chipin.store import tables as t


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    channel: str
    provider_id: str
    conversation_key: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    received_at: dt.datetime
    result: dict[str, Any] | None = None
    needs_review: bool = False
    last_error: str | None = None


# The webhooks' hot path: written once as SQL text (the same on SQLite and PostgreSQL) and
# compiled once. The dialect ``insert().on_conflict_do_nothing()`` form is rebuilt and compiled
# on every call (SQLAlchemy does not cache it), which cost three times the CPU of the insert.
_ENQUEUE = text(
    "INSERT INTO inbox (channel, provider_id, conversation_key, kind, payload, raw, status,"
    " attempts, needs_review, received_at)"
    " VALUES (:channel, :provider_id, :conversation_key, :kind, :payload, :raw, 'pending', 0,"
    " false, :received_at)"
    " ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id"
).bindparams(
    bindparam("payload", type_=JSON),
    bindparam("raw", type_=JSON),
    bindparam("received_at", type_=t.UTCDateTime()),
)
_LEASE = text(
    "INSERT INTO conversation_leases (conversation_key)"
    " SELECT CAST(:conversation_key AS VARCHAR) WHERE NOT EXISTS (SELECT 1 FROM"
    " conversation_leases WHERE conversation_key = CAST(:conversation_key AS VARCHAR))"
    " ON CONFLICT (conversation_key) DO NOTHING"
)
"""A conversation's lease row, made by its first message. The NOT EXISTS matters: a worker
holds the row updated (locked) for the whole of a round, and an INSERT that meets the key goes
to wait for that transaction to end before it may do nothing; a message acknowledged in 1 ms
then took until the worker's round committed (PostgreSQL: acks 1 ms → 50 ms under load). The
existing row is seen without waiting; ON CONFLICT remains for two first messages at once."""


# The group-commit writer's form of ``_ENQUEUE``: many rows in one statement, one round trip.
# Rows go in sorted by (channel, provider id) and leases by key, so concurrent writers (several
# ``chipin serve`` processes on PostgreSQL) take the unique-index locks in one order and cannot
# deadlock. SQLite: one multi-row VALUES statement text per row count (cached, so each is
# compiled once), then one for the lease rows.
ENQUEUE_MANY_CHUNK = 200
"""SQLite rows per statement: 6 parameters a row stays far below its limit."""


@lru_cache(maxsize=ENQUEUE_MANY_CHUNK)
def _enqueue_many(rows: int) -> Any:
    values = ", ".join(
        f"(:channel_{n}, :provider_id_{n}, :conversation_key_{n}, :kind_{n}, :payload_{n},"
        f" :raw_{n}, 'pending', 0, false, :received_at)"
        for n in range(rows)
    )
    sql = text(  # only placeholders are formatted in, never values
        "INSERT INTO inbox (channel, provider_id, conversation_key, kind, payload, raw, status,"  # noqa: S608
        f" attempts, needs_review, received_at) VALUES {values}"
        " ON CONFLICT (channel, provider_id) DO NOTHING RETURNING id, channel, provider_id"
    )
    types = [bindparam("received_at", type_=t.UTCDateTime())]
    for n in range(rows):
        types += [bindparam(f"payload_{n}", type_=JSON), bindparam(f"raw_{n}", type_=JSON)]
    return sql.bindparams(*types)


# PostgreSQL: the rows as ONE JSON array parameter (one statement text whatever the count, so
# psycopg's query cache and prepared statement apply; arrays of JSON text would cost a regex
# escape per quote), the lease rows in the same statement (a data-modifying CTE): any number of
# rows is ONE atomic statement and needs no BEGIN/COMMIT round trips.
_ENQUEUE_MANY_PG = text(
    "WITH rows AS (SELECT r->>0 AS c, r->>1 AS p, r->>2 AS k, r->>3 AS kd, r->4 AS pl,"
    " CASE WHEN json_typeof(r->5) = 'null' THEN NULL ELSE r->5 END AS rw"
    " FROM json_array_elements(CAST(:rows AS json)) AS r),"
    " new AS (INSERT INTO inbox (channel, provider_id, conversation_key, kind, payload, raw,"
    " status, attempts, needs_review, received_at)"
    " SELECT c, p, k, kd, pl, rw, 'pending', 0, false, :received_at FROM rows ORDER BY c, p"
    " ON CONFLICT (channel, provider_id) DO NOTHING"
    " RETURNING id, channel, provider_id, conversation_key),"
    " leases AS (INSERT INTO conversation_leases (conversation_key)"
    " SELECT DISTINCT conversation_key FROM new WHERE NOT EXISTS (SELECT 1 FROM"
    " conversation_leases AS l WHERE l.conversation_key = new.conversation_key)"
    " ORDER BY conversation_key ON CONFLICT (conversation_key) DO NOTHING)"
    " SELECT id, channel, provider_id FROM new"
).bindparams(bindparam("received_at", type_=t.UTCDateTime()))
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _json(value: Any) -> str:
    """``json.dumps(value)`` (what the JSON column type stores), the fast way: orjson for what
    both write alike, the stdlib for the rest (and its TypeError for what neither can write)."""
    try:
        return orjson.dumps(value, option=_STRICT).decode()
    except TypeError:
        return json.dumps(value)


@lru_cache(maxsize=ENQUEUE_MANY_CHUNK)
def _leases_many(keys: int) -> Any:
    values = ", ".join(f"(:k{n})" for n in range(keys))
    return text(
        f"INSERT INTO conversation_leases (conversation_key) VALUES {values}"  # noqa: S608
        " ON CONFLICT (conversation_key) DO NOTHING"
    )


def enqueue_many_is_one_statement(dialect: str) -> bool:
    """Whether :meth:`InboxQueue.enqueue_many` writes any number of rows in ONE statement
    (atomic by itself, so it may run in autocommit: no BEGIN and COMMIT round trips)."""
    return dialect == "postgresql"


_COMPLETE = text(
    "UPDATE inbox SET status = 'done', processed_at = :now, result = :result, "
    "entry_id = :entry_id, needs_review = :needs_review, last_error = NULL "
    "WHERE id = :id AND status = 'pending'"
).bindparams(
    bindparam("now", type_=t.inbox.c.processed_at.type),
    bindparam("result", type_=t.inbox.c.result.type),
)
"""Built once (an UPDATE built per call cost more CPU than its round trip); executed once
per message or once per round (``complete_many``)."""


def done_row(
    inbox_id: int,
    now: dt.datetime,
    result: dict[str, Any] | None,
    entry_id: int | None = None,
    needs_review: bool = False,
) -> dict[str, Any]:
    """The parameters that mark one message done (:meth:`InboxQueue.complete_many`)."""
    return {
        "id": inbox_id,
        "now": now,
        "result": result,
        "entry_id": entry_id,
        "needs_review": needs_review,
    }


def _free(now: dt.datetime) -> Any:
    """A conversation nobody holds: never leased, released, or its lease ran out."""
    leases = t.conversation_leases
    return or_(leases.c.holder.is_(None), leases.c.lease_until < now)


class InboxQueue:
    def __init__(self, conn: Connection, flush: Callable[[], None] | None = None) -> None:
        self.conn = conn
        self._flush = flush or (lambda: None)
        """Writes the unit of work holds back (``SqlUnitOfWork.add_later``, ``complete_later``),
        run before a write here that must come after them."""

    def enqueue(
        self,
        *,
        channel: str,
        provider_id: str,
        conversation_key: str,
        kind: str,
        payload: dict[str, Any],
        raw: dict[str, Any] | None,
        now: dt.datetime,
    ) -> int | None:
        """Store an inbound message; None when this (channel, provider id) was stored before."""
        row = self.conn.execute(
            _ENQUEUE,
            {
                "channel": channel,
                "provider_id": provider_id,
                "conversation_key": conversation_key,
                "kind": kind,
                "payload": payload,
                "raw": raw,
                "received_at": now,
            },
        ).first()
        if row is None:
            return None
        self.conn.execute(_LEASE, {"conversation_key": conversation_key})
        return int(row[0])

    def enqueue_many(
        self, rows: Sequence[Mapping[str, Any]], now: dt.datetime
    ) -> dict[tuple[str, str], int]:
        """Store many inbound messages at once (the webhooks' group commit): each row has the
        keyword arguments of :meth:`enqueue` but ``now``. Returns the new inbox id of every
        (channel, provider id) stored now; those stored before, and repeats within ``rows``,
        are not in it. PostgreSQL: one statement, lease rows included; SQLite: one INSERT …
        ON CONFLICT DO NOTHING RETURNING per 200 rows, then the lease rows."""
        if not rows:
            return {}
        if self.conn.dialect.name == "postgresql":
            fields = ("channel", "provider_id", "conversation_key", "kind", "payload", "raw")
            document = _json([[r[f] for f in fields] for r in rows])
            found = self.conn.execute(_ENQUEUE_MANY_PG, {"rows": document, "received_at": now})
            return {(channel, provider_id): int(id_) for id_, channel, provider_id in found}
        ordered = sorted(rows, key=lambda r: (r["channel"], r["provider_id"]))
        new: dict[tuple[str, str], int] = {}
        for start in range(0, len(ordered), ENQUEUE_MANY_CHUNK):
            chunk = ordered[start : start + ENQUEUE_MANY_CHUNK]
            params: dict[str, Any] = {"received_at": now}
            for n, row in enumerate(chunk):
                params[f"channel_{n}"] = row["channel"]
                params[f"provider_id_{n}"] = row["provider_id"]
                params[f"conversation_key_{n}"] = row["conversation_key"]
                params[f"kind_{n}"] = row["kind"]
                params[f"payload_{n}"] = row["payload"]
                params[f"raw_{n}"] = row["raw"]
            for inbox_id, channel, provider_id in self.conn.execute(
                _enqueue_many(len(chunk)), params
            ):
                new[(channel, provider_id)] = int(inbox_id)
        keys = sorted(
            {r["conversation_key"] for r in ordered if (r["channel"], r["provider_id"]) in new}
        )
        for start in range(0, len(keys), ENQUEUE_MANY_CHUNK):
            chunk_keys = keys[start : start + ENQUEUE_MANY_CHUNK]
            self.conn.execute(
                _leases_many(len(chunk_keys)), {f"k{n}": k for n, k in enumerate(chunk_keys)}
            )
        return new

    @staticmethod
    def _item(r: Any) -> InboxItem:
        return InboxItem(
            r.id,
            r.channel,
            r.provider_id,
            r.conversation_key,
            r.kind,
            r.payload,
            r.status,
            r.attempts,
            r.received_at,
            r.result,
            bool(r.needs_review),
            r.last_error,
        )

    def get(self, inbox_id: int) -> InboxItem | None:
        row = self.conn.execute(select(t.inbox).where(t.inbox.c.id == inbox_id)).first()
        return self._item(row) if row else None

    def claim_conversations(
        self, holder: str, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[str]:
        """Take the leases of up to ``limit`` conversations with pending messages, oldest
        waiting first, in one statement: the worker handles them in one batch."""
        keys = list(self.lock_free_conversations(now, limit))
        if not keys:
            return []
        # the condition again: on SQLite (one writer at a time) it is already true; on
        # PostgreSQL the rows are locked by the SELECT, so no other claimer can have won them
        won = self.conn.execute(
            update(t.conversation_leases)
            .where(and_(t.conversation_leases.c.conversation_key.in_(keys), _free(now)))
            .values(holder=holder, lease_until=now + lease)
            .returning(t.conversation_leases.c.conversation_key)
        )
        taken = {str(key) for (key,) in won}
        return [key for key in keys if key in taken]

    def lock_free_conversations(self, now: dt.datetime, limit: int) -> dict[str, str | None]:
        """Up to ``limit`` conversations with pending messages that nobody holds, oldest
        waiting first, locked for this transaction (PostgreSQL: FOR UPDATE SKIP LOCKED, so
        claimers never wait for each other; SQLite: a write transaction is alone anyway), each
        with the holder of its expired lease if it has one. A worker that handles them all
        within this transaction needs no lease, but must end the expired ones
        (:meth:`end_leases`) so their old holder's fence holds."""
        oldest = (
            select(func.min(t.inbox.c.id))
            .where(
                and_(
                    t.inbox.c.conversation_key == t.conversation_leases.c.conversation_key,
                    t.inbox.c.status == "pending",
                )
            )
            .scalar_subquery()
        )
        leases = t.conversation_leases
        query = (
            select(leases.c.conversation_key, leases.c.holder)
            .where(and_(_free(now), oldest.is_not(None)))
            .order_by(oldest)
            .limit(limit)
        )
        if self.conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=t.conversation_leases)
        return {str(key): holder for key, holder in self.conn.execute(query)}

    def end_leases(self, keys: list[str]) -> None:
        """Whoever held ``keys`` holds them no more (their leases had run out)."""
        self.conn.execute(
            update(t.conversation_leases)
            .where(t.conversation_leases.c.conversation_key.in_(keys))
            .values(holder=None, lease_until=None)
        )

    def pending_of(self, keys: list[str], limit: int) -> dict[str, list[InboxItem]]:
        """The pending messages of ``keys``, each conversation's in arrival order; at most
        ``limit`` in all (oldest first, so every list is a prefix of its conversation's)."""
        rows = self.conn.execute(
            select(t.inbox)
            .where(and_(t.inbox.c.conversation_key.in_(keys), t.inbox.c.status == "pending"))
            .order_by(t.inbox.c.id)
            .limit(limit)
        )
        found: dict[str, list[InboxItem]] = {}
        for r in rows:
            found.setdefault(r.conversation_key, []).append(self._item(r))
        return found

    def renew_many(
        self, keys: list[str], holder: str, now: dt.datetime, lease: dt.timedelta
    ) -> set[str]:
        """Extend our leases of ``keys``; returns those we still hold (the fence: a worker
        whose lease expired and was taken over writes nothing for that conversation)."""
        held = self.conn.execute(
            update(t.conversation_leases)
            .where(
                and_(
                    t.conversation_leases.c.conversation_key.in_(keys),
                    t.conversation_leases.c.holder == holder,
                )
            )
            .values(lease_until=now + lease)
            .returning(t.conversation_leases.c.conversation_key)
        )
        return {str(key) for (key,) in held}

    def release_many(self, keys: list[str], holder: str) -> None:
        self.conn.execute(
            update(t.conversation_leases)
            .where(
                and_(
                    t.conversation_leases.c.conversation_key.in_(keys),
                    t.conversation_leases.c.holder == holder,
                )
            )
            .values(holder=None, lease_until=None)
        )

    def complete(
        self,
        inbox_id: int,
        now: dt.datetime,
        *,
        result: dict[str, Any] | None,
        entry_id: int | None = None,
        needs_review: bool = False,
    ) -> bool:
        """Mark a pending message done. False if it was not pending any more (another worker
        finished it): the caller must roll back what it wrote."""
        return self.complete_many([done_row(inbox_id, now, result, entry_id, needs_review)]) == 1

    def complete_many(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """:meth:`complete` for many messages in one round trip (rows from :func:`done_row`);
        how many were still pending, and so are done now."""
        if not rows:
            return 0
        self._flush()
        return int(self.conn.execute(_COMPLETE, list(rows)).rowcount)

    def record_failure(self, inbox_id: int, error: str, now: dt.datetime, max_attempts: int) -> str:
        """Count a failed attempt; after ``max_attempts`` the message is parked as failed (kept,
        visible, reprocessable) so it stops blocking its conversation."""
        row = self.conn.execute(select(t.inbox.c.attempts).where(t.inbox.c.id == inbox_id)).first()
        attempts = (row[0] if row else 0) + 1
        status = "failed" if attempts >= max_attempts else "pending"
        self.conn.execute(
            update(t.inbox)
            .where(and_(t.inbox.c.id == inbox_id, t.inbox.c.status == "pending"))
            .values(
                attempts=attempts,
                last_error=error[:2000],
                status=status,
                needs_review=status == "failed",
                processed_at=now if status == "failed" else None,
            )
        )
        return status

    def flag_for_review(self, inbox_id: int) -> None:
        """Keep a message for the parse review (its draft was cancelled)."""
        self._flush()  # its own completion may still be held back in this round
        self.conn.execute(update(t.inbox).where(t.inbox.c.id == inbox_id).values(needs_review=True))

    def reprocess(self, inbox_id: int) -> bool:
        """An operator sends a failed message through the worker again."""
        return bool(
            self.conn.execute(
                update(t.inbox)
                .where(and_(t.inbox.c.id == inbox_id, t.inbox.c.status == "failed"))
                .values(status="pending", attempts=0, processed_at=None)
            ).rowcount
        )

    def counts(self) -> dict[str, int]:
        rows = self.conn.execute(select(t.inbox.c.status, func.count()).group_by(t.inbox.c.status))
        return {str(s): int(n) for s, n in rows}
