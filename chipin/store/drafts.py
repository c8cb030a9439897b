"""Pending drafts: entries (or new guests) waiting for their author's Confirm."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from chipin.store import tables as t


@dataclass(frozen=True, slots=True)
class Draft:
    id: int
    group_id: int
    author_id: int
    kind: str
    body: dict[str, Any]
    status: str
    expires_at: dt.datetime
    entry_id: int | None
    inbox_id: int | None = None


class DraftRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(
        self,
        *,
        group_id: int,
        author_id: int,
        inbox_id: int | None,
        kind: str,
        body: dict[str, Any],
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> int:
        result = self.conn.execute(
            insert(t.drafts).values(
                group_id=group_id,
                author_id=author_id,
                inbox_id=inbox_id,
                kind=kind,
                body=body,
                status="pending",
                expires_at=expires_at,
                created_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def get(self, draft_id: int) -> Draft | None:
        r = self.conn.execute(select(t.drafts).where(t.drafts.c.id == draft_id)).first()
        if r is None:
            return None
        return Draft(
            r.id,
            r.group_id,
            r.author_id,
            r.kind,
            r.body,
            r.status,
            r.expires_at,
            r.entry_id,
            r.inbox_id,
        )

    def resolve(
        self, draft_id: int, status: str, now: dt.datetime, entry_id: int | None = None
    ) -> bool:
        """Move a pending, unexpired draft to ``status``; False if someone got there first
        (a double-tapped Confirm records once)."""
        return bool(
            self.conn.execute(
                update(t.drafts)
                .where(
                    and_(
                        t.drafts.c.id == draft_id,
                        t.drafts.c.status == "pending",
                        t.drafts.c.expires_at > now,
                    )
                )
                .values(status=status, resolved_at=now, entry_id=entry_id)
            ).rowcount
        )

    def set_entry(self, draft_id: int, entry_id: int) -> None:
        self.conn.execute(
            update(t.drafts).where(t.drafts.c.id == draft_id).values(entry_id=entry_id)
        )

    def expire(self, now: dt.datetime) -> int:
        return int(
            self.conn.execute(
                update(t.drafts)
                .where(and_(t.drafts.c.status == "pending", t.drafts.c.expires_at <= now))
                .values(status="expired", resolved_at=now)
            ).rowcount
        )
