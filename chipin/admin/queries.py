"""The dashboard's reads (and its few writes) on the store, in SQLAlchemy Core.

Lists page by id (``before``: the smallest id of the previous page), newest first, so a page
stays put while new messages arrive. Nothing here formats for display.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, insert, select, update
from sqlalchemy.sql.elements import ColumnElement

from chipin.store import admin_tables as at
from chipin.store import tables as t

PAGE = 50
INBOX_STATUSES = ("pending", "done", "failed")
OUTBOX_STATUSES = ("pending", "failed", "dead", "sent", "cancelled")
OUTBOX_PROBLEMS = ("pending", "failed", "dead")


def conversation_key_sql() -> ColumnElement[str]:
    """``conversations`` rows' inbox/outbox key (``channel:external_id``), computed in SQL."""
    return t.conversations.c.channel.concat(":").concat(t.conversations.c.external_id)


# -- login attempts and operator actions ---------------------------------------------------------


def login_failures(engine: Engine, client: str, since: dt.datetime) -> list[dt.datetime]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(at.admin_login_attempts.c.at)
            .where(
                and_(
                    at.admin_login_attempts.c.client == client, at.admin_login_attempts.c.at > since
                )
            )
            .order_by(at.admin_login_attempts.c.at)
        )
        return [r[0] for r in rows]


def record_login_failure(
    engine: Engine, client: str, now: dt.datetime, *, prune_before: dt.datetime
) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(at.admin_login_attempts).where(at.admin_login_attempts.c.at < prune_before)
        )
        conn.execute(insert(at.admin_login_attempts).values(client=client[:64], at=now))


def clear_login_failures(engine: Engine, client: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            delete(at.admin_login_attempts).where(at.admin_login_attempts.c.client == client)
        )


def record_action(
    conn: Connection,
    actor: str,
    action: str,
    target: str | None,
    now: dt.datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(at.admin_actions).values(
            at=now, actor=actor[:64], action=action, target=target, detail=detail
        )
    )


@dataclass(frozen=True, slots=True)
class ActionRow:
    id: int
    at: dt.datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] | None


def recent_actions(conn: Connection, limit: int = 20) -> list[ActionRow]:
    a = at.admin_actions
    rows = conn.execute(select(a).order_by(a.c.id.desc()).limit(limit))
    return [ActionRow(r.id, r.at, r.actor, r.action, r.target, r.detail) for r in rows]


# -- the inbox -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxFilter:
    channel: str | None = None
    status: str | None = None
    group_id: int | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    review: bool = False
    before: int | None = None
    limit: int = PAGE


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    channel: str
    provider_id: str
    conversation_key: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    needs_review: bool
    result: dict[str, Any] | None
    entry_id: int | None
    received_at: dt.datetime
    processed_at: dt.datetime | None
    last_error: str | None
    raw: dict[str, Any] | None = None
    replies: int = 0

    @property
    def text(self) -> str:
        p = self.payload
        return str(p.get("text") or p.get("action") or p.get("event") or "")

    @property
    def sender(self) -> str:
        return str(self.payload.get("sender_name") or self.payload.get("sender_id") or "")

    @property
    def outcome(self) -> str:
        result = self.result or {}
        intent = result.get("intent")
        kind = intent.get("intent") if isinstance(intent, dict) else None
        parts = [str(p) for p in (kind or result.get("command"), result.get("outcome")) if p]
        return " → ".join(parts)


def _inbox_row(r: Any, replies: int = 0, *, raw: bool = False) -> InboxRow:
    return InboxRow(
        r.id,
        r.channel,
        r.provider_id,
        r.conversation_key,
        r.kind,
        r.payload,
        r.status,
        r.attempts,
        bool(r.needs_review),
        r.result,
        r.entry_id,
        r.received_at,
        r.processed_at,
        r.last_error,
        r.raw if raw else None,
        replies,
    )


def _group_keys(group_id: int) -> Any:
    return select(conversation_key_sql()).where(t.conversations.c.group_id == group_id)


def list_inbox(conn: Connection, f: InboxFilter) -> list[InboxRow]:
    i = t.inbox
    replies = select(func.count()).where(t.outbox.c.inbox_id == i.c.id).scalar_subquery().label("n")
    cols = [c for c in i.c if c.name != "raw"]
    query = select(*cols, replies)
    conditions: list[ColumnElement[bool]] = []
    if f.channel:
        conditions.append(i.c.channel == f.channel)
    if f.status:
        conditions.append(i.c.status == f.status)
    if f.group_id is not None:
        conditions.append(i.c.conversation_key.in_(_group_keys(f.group_id)))
    if f.since is not None:
        conditions.append(i.c.received_at >= f.since)
    if f.until is not None:
        conditions.append(i.c.received_at < f.until)
    if f.review:
        conditions.append(i.c.needs_review.is_(True))
    if f.before is not None:
        conditions.append(i.c.id < f.before)
    if conditions:
        query = query.where(and_(*conditions))
    rows = conn.execute(query.order_by(i.c.id.desc()).limit(f.limit))
    return [_inbox_row(r, int(r.n)) for r in rows]


def inbox_row(conn: Connection, inbox_id: int) -> InboxRow | None:
    r = conn.execute(select(t.inbox).where(t.inbox.c.id == inbox_id)).first()
    return _inbox_row(r, raw=True) if r else None


def inbox_channels(conn: Connection) -> list[str]:
    rows = conn.execute(select(t.inbox.c.channel).distinct().order_by(t.inbox.c.channel))
    return [str(r[0]) for r in rows]


def dismiss_review(conn: Connection, inbox_id: int) -> bool:
    """Take a reviewed message off the parse-review list (failed ones stay until fixed)."""
    return bool(
        conn.execute(
            update(t.inbox)
            .where(and_(t.inbox.c.id == inbox_id, t.inbox.c.status != "failed"))
            .values(needs_review=False)
        ).rowcount
    )


@dataclass(frozen=True, slots=True)
class GroupRef:
    id: int
    name: str


def group_of_key(conn: Connection, key: str) -> GroupRef | None:
    row = conn.execute(
        select(t.groups.c.id, t.groups.c.name)
        .join(t.conversations, t.conversations.c.group_id == t.groups.c.id)
        .where(conversation_key_sql() == key)
    ).first()
    return GroupRef(row.id, row.name) if row else None


def group_names(conn: Connection) -> list[GroupRef]:
    rows = conn.execute(select(t.groups.c.id, t.groups.c.name).order_by(t.groups.c.name))
    return [GroupRef(r.id, r.name) for r in rows]


# -- the outbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    channel: str
    conversation_key: str
    recipient: str
    kind: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: dt.datetime
    last_error: str | None
    provider_message_id: str | None
    provider_status: str | None
    inbox_id: int | None
    created_at: dt.datetime
    sent_at: dt.datetime | None

    @property
    def text(self) -> str:
        return str(self.payload.get("text") or "")


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(
        r.id,
        r.channel,
        r.conversation_key,
        r.recipient,
        r.kind,
        r.payload,
        r.status,
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.provider_message_id,
        r.provider_status,
        r.inbox_id,
        r.created_at,
        r.sent_at,
    )


def list_outbox(
    conn: Connection,
    statuses: Sequence[str],
    *,
    channel: str | None = None,
    before: int | None = None,
    limit: int = PAGE,
) -> list[OutboxRow]:
    o = t.outbox
    query = select(o).where(o.c.status.in_(statuses))
    if channel:
        query = query.where(o.c.channel == channel)
    if before is not None:
        query = query.where(o.c.id < before)
    return [_outbox_row(r) for r in conn.execute(query.order_by(o.c.id.desc()).limit(limit))]


def replies_to(conn: Connection, inbox_id: int) -> list[OutboxRow]:
    rows = conn.execute(
        select(t.outbox).where(t.outbox.c.inbox_id == inbox_id).order_by(t.outbox.c.id)
    )
    return [_outbox_row(r) for r in rows]


# -- groups --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GroupSummary:
    id: int
    name: str
    currency: str
    timezone: str
    members: int
    entries: int
    channels: list[str] = field(default_factory=list)


def list_groups(conn: Connection) -> list[GroupSummary]:
    g, m, e = t.groups, t.members, t.entries
    members = select(func.count()).where(m.c.group_id == g.c.id).scalar_subquery().label("members")
    entries = (
        select(func.count())
        .where(and_(e.c.group_id == g.c.id, e.c.deleted_at.is_(None)))
        .scalar_subquery()
        .label("entries")
    )
    rows = conn.execute(select(g, members, entries).order_by(g.c.name)).all()
    channels: dict[int, set[str]] = {}
    for gid, channel in conn.execute(
        select(t.conversations.c.group_id, t.conversations.c.channel).where(
            t.conversations.c.group_id.is_not(None)
        )
    ):
        channels.setdefault(int(gid), set()).add(str(channel))
    return [
        GroupSummary(
            r.id,
            r.name,
            r.currency,
            r.timezone,
            int(r.members),
            int(r.entries),
            sorted(channels.get(r.id, ())),
        )
        for r in rows
    ]


def member_identities(conn: Connection, group_id: int) -> dict[int, list[str]]:
    """Member id → the channels they speak on (identifiers are not shown: they are personal)."""
    mi, m = t.member_identities, t.members
    rows = conn.execute(
        select(mi.c.member_id, mi.c.channel)
        .join(m, m.c.id == mi.c.member_id)
        .where(m.c.group_id == group_id)
    )
    out: dict[int, list[str]] = {}
    for member_id, channel in rows:
        out.setdefault(int(member_id), []).append(str(channel))
    return out
