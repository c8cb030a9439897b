"""The ledger repository on SQLAlchemy Core, for SQLite and PostgreSQL.

Entries are stored with member ids; the domain objects it returns use member names. Every write
that changes an entry also changes the ``balances`` totals in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    CursorResult,
    and_,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from chipin.core.codec import rename_split, split_from_json, split_to_json
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import EntryNotFound, UnknownMember
from chipin.core.ports import Balances
from chipin.core.records import AuditRecord, Group, Member, StoredEntry, name_key
from chipin.core.settle import Transfer
from chipin.store import tables as t
from chipin.store.sql import insert_ignore_text

UPSERT_BALANCES = text(
    "INSERT INTO balances (group_id, member_id, currency, amount) "
    "VALUES (:group_id, :member_id, :currency, :amount) "
    "ON CONFLICT (group_id, member_id, currency) "
    "DO UPDATE SET amount = balances.amount + excluded.amount"
)
"""One statement for SQLite (≥ 3.24) and PostgreSQL, compiled once: SQLAlchemy does not cache
the dialect-specific on_conflict constructs, and rebuilding them cost a third of a write."""


# Statements of the chat's hot path, built once: a statement built per call (``insert(…)
# .values(…)``, ``select(…).where(col == value)``) cost about 0.4 ms of CPU more than its round
# trip, for building it and computing its cache key.
_ADD_AUDIT = insert(t.audit_log)
_ADD_LINES = insert(t.entry_lines)
_BALANCES = select(t.balances.c.member_id, t.balances.c.currency, t.balances.c.amount).where(
    t.balances.c.group_id == bindparam("group_id")
)
_SETTLE_HINT = select(t.settle_plans.c.plan).where(
    and_(
        t.settle_plans.c.group_id == bindparam("group_id"),
        t.settle_plans.c.currency == bindparam("currency"),
    )
)

_SAVE_SETTLE_HINT = text(
    "INSERT INTO settle_plans (group_id, currency, plan, updated_at) "
    "VALUES (:group_id, :currency, :plan, :updated_at) "
    "ON CONFLICT (group_id, currency) DO UPDATE SET plan = excluded.plan, "
    "updated_at = excluded.updated_at"
).bindparams(
    bindparam("plan", type_=t.settle_plans.c.plan.type),
    bindparam("updated_at", type_=t.settle_plans.c.updated_at.type),
)
"""One upsert where a delete and an insert were two (see UPSERT_BALANCES on why text)."""

_ADD_ENTRY_IF_NEW = insert_ignore_text(
    t.entries,
    [c.name for c in t.entries.c if c.name not in ("id", "deleted_at")],
    ["group_id", "external_id"],
    returning="id",
)


_RECORD_ENTRY_PG = text(
    "WITH e AS (INSERT INTO entries (group_id, kind, external_id, currency, amount, description,"
    " category, date, notes, method, split, author_id, created_at, updated_at)"
    " VALUES (:group_id, :kind, :external_id, :currency, :amount, :description, :category,"
    " :date, :notes, :method, :split, :author_id, :created_at, :updated_at)"
    " ON CONFLICT (group_id, external_id) DO NOTHING RETURNING id),"
    " lines AS (SELECT CAST(l->>0 AS INTEGER) AS member_id, CAST(l->>1 AS BIGINT) AS paid,"
    " CAST(l->>2 AS BIGINT) AS share FROM json_array_elements(CAST(:lines AS JSON)) AS l),"
    " added_lines AS (INSERT INTO entry_lines (entry_id, member_id, group_id, currency, active,"
    " paid, share, net) SELECT e.id, lines.member_id, CAST(:group_id AS INTEGER),"
    " CAST(:currency AS VARCHAR), true, lines.paid, lines.share, lines.paid - lines.share"
    " FROM e, lines),"
    " moved AS (INSERT INTO balances (group_id, member_id, currency, amount)"
    " SELECT CAST(:group_id AS INTEGER), lines.member_id, CAST(:currency AS VARCHAR),"
    " lines.paid - lines.share FROM e, lines ORDER BY lines.member_id"
    " ON CONFLICT (group_id, member_id, currency)"
    " DO UPDATE SET amount = balances.amount + excluded.amount),"
    " audited AS (INSERT INTO audit_log (group_id, entry_id, action, actor, at, before, after)"
    " SELECT CAST(:group_id AS INTEGER), e.id, 'create', CAST(:actor AS VARCHAR),"
    " CAST(:created_at AS TIMESTAMP WITH TIME ZONE), NULL, :after FROM e)"
    " SELECT id FROM e"
).bindparams(
    *(bindparam(c.name, type_=c.type) for c in t.entries.c if c.name in ("split", "date")),
    bindparam("created_at", type_=t.entries.c.created_at.type),
    bindparam("updated_at", type_=t.entries.c.updated_at.type),
    bindparam("after", type_=t.audit_log.c.after.type),
)
""":meth:`SqlLedgerRepository.record_entry` on PostgreSQL: the entry, its lines, the balance
upserts (the same arithmetic as :data:`UPSERT_BALANCES`, zero deltas included) and the audit
row in one statement; nothing at all when the external id is taken."""


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


class SqlLedgerRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._members: dict[int, dict[str, Member]] = {}  # group → name_key → member
        self._by_id: dict[int, Member] = {}
        self._groups: dict[int, Group] = {}  # per unit of work: a message looks its group up 3x

    def forget_cache(self) -> None:
        """Drop cached members and groups (after a rollback they may no longer exist)."""
        self._members.clear()
        self._by_id.clear()
        self._groups.clear()

    # -- groups ------------------------------------------------------------------------------

    @staticmethod
    def _group(row: Any) -> Group:
        return Group(row.id, row.name, row.currency, row.timezone, row.locale)

    def group_by_name(self, name: str) -> Group | None:
        row = self.conn.execute(
            select(t.groups).where(t.groups.c.name_key == name_key(name))
        ).first()
        return self._group(row) if row else None

    def group(self, group_id: int) -> Group:
        cached = self._groups.get(group_id)
        if cached is not None:
            return cached
        row = self.conn.execute(select(t.groups).where(t.groups.c.id == group_id)).first()
        if row is None:
            raise LookupError(f"no group {group_id}")
        self._groups[group_id] = self._group(row)
        return self._groups[group_id]

    def unique_group_name(self, base: str, *, keep: int | None = None) -> str:
        """``base``, or "base (2)", "base (3)" … when another group has it (``keep`` may)."""
        name, n = base, 1
        while (found := self.group_by_name(name)) is not None and found.id != keep:
            n += 1
            name = f"{base} ({n})"
        return name

    def groups(self) -> list[Group]:
        return [self._group(r) for r in self.conn.execute(select(t.groups).order_by(t.groups.c.id))]

    def add_group(
        self, name: str, currency: str, timezone: str, locale: str, now: dt.datetime
    ) -> Group:
        result = self.conn.execute(
            insert(t.groups).values(
                name=name,
                name_key=name_key(name),
                currency=currency,
                timezone=timezone,
                locale=locale,
                created_at=now,
            )
        )
        return Group(_new_id(result), name, currency, timezone, locale)

    def update_group(self, group_id: int, **fields: str) -> Group:
        if "name" in fields:
            fields["name_key"] = name_key(fields["name"])
        self.conn.execute(update(t.groups).where(t.groups.c.id == group_id).values(**fields))
        self._groups.pop(group_id, None)
        return self.group(group_id)

    # -- members -----------------------------------------------------------------------------

    def _load_members(self, group_id: int) -> dict[str, Member]:
        cached = self._members.get(group_id)
        if cached is None:
            self.load_groups([group_id], groups=False)
            cached = self._members[group_id]
        return cached

    def load_groups(self, group_ids: Iterable[int], *, groups: bool = True) -> None:
        """Read groups and their members into this repository's cache, two queries for all
        (a worker's round touches many groups; one at a time cost two queries each)."""
        missing = sorted({g for g in group_ids if g not in self._members})
        if not missing:
            return
        if groups:
            for row in self.conn.execute(select(t.groups).where(t.groups.c.id.in_(missing))):
                self._groups[row.id] = self._group(row)
        rows = self.conn.execute(
            select(t.members).where(t.members.c.group_id.in_(missing)).order_by(t.members.c.id)
        )
        loaded: dict[int, dict[str, Member]] = {g: {} for g in missing}
        for r in rows:
            member = Member(r.id, r.group_id, r.name, bool(r.is_guest), bool(r.active))
            loaded[r.group_id][r.name_key] = member
            self._by_id[member.id] = member
        self._members.update(loaded)

    def members(self, group_id: int) -> list[Member]:
        return list(self._load_members(group_id).values())

    def member_by_name(self, group_id: int, name: str) -> Member | None:
        return self._load_members(group_id).get(name_key(name))

    def add_member(
        self, group_id: int, name: str, now: dt.datetime, *, is_guest: bool = False
    ) -> Member:
        known = self._load_members(group_id)
        key = name_key(name)
        if key in known:
            return known[key]
        result = self.conn.execute(
            insert(t.members).values(
                group_id=group_id,
                name=" ".join(name.split()),
                name_key=key,
                is_guest=is_guest,
                active=True,
                created_at=now,
            )
        )
        member = Member(_new_id(result), group_id, " ".join(name.split()), is_guest)
        known[key] = member
        self._by_id[member.id] = member
        return member

    def _id(self, group_id: int, name: str) -> int:
        member = self._load_members(group_id).get(name_key(name))
        if member is None:
            raise UnknownMember(name)
        return member.id

    def _name(self, group_id: int, member_id: int) -> str:
        self._load_members(group_id)
        return self._by_id[member_id].name

    # -- entries -----------------------------------------------------------------------------

    def _lines(self, group_id: int, entry: Entry) -> dict[int, tuple[int, int]]:
        """member id → (paid, share) for one entry."""
        lines: dict[int, tuple[int, int]] = {}
        if isinstance(entry, Expense):
            for name, paid in entry.paid_by:
                mid = self._id(group_id, name)
                lines[mid] = (lines.get(mid, (0, 0))[0] + paid, lines.get(mid, (0, 0))[1])
            for name, share in entry.shares:
                mid = self._id(group_id, name)
                lines[mid] = (lines.get(mid, (0, 0))[0], lines.get(mid, (0, 0))[1] + share)
        else:
            lines[self._id(group_id, entry.debtor)] = (entry.amount, 0)
            lines[self._id(group_id, entry.creditor)] = (0, entry.amount)
        return lines

    def _row(self, group_id: int, entry: Entry) -> dict[str, Any]:
        if isinstance(entry, Expense):
            split = rename_split(entry.split, lambda name: str(self._id(group_id, name)))
            return {
                "kind": "expense",
                "currency": entry.currency,
                "amount": entry.amount,
                "description": entry.description,
                "category": entry.category,
                "date": entry.date,
                "notes": entry.notes,
                "method": None,
                "split": split_to_json(split, entry.currency, minor=True),
            }
        return {
            "kind": "payment",
            "currency": entry.currency,
            "amount": entry.amount,
            "description": "",
            "category": None,
            "date": entry.date,
            "notes": entry.notes,
            "method": entry.method,
            "split": None,
        }

    def _write_lines(self, group_id: int, entry_id: int, entry: Entry, active: bool) -> None:
        lines = self._lines(group_id, entry)
        self.conn.execute(
            _ADD_LINES,
            [
                {
                    "entry_id": entry_id,
                    "member_id": mid,
                    "group_id": group_id,
                    "currency": entry.currency,
                    "active": active,
                    "paid": paid,
                    "share": share,
                    "net": paid - share,
                }
                for mid, (paid, share) in lines.items()
            ],
        )
        if active:
            self._apply(group_id, entry.currency, {mid: p - s for mid, (p, s) in lines.items()})

    def _apply(self, group_id: int, currency: str, deltas: dict[int, int]) -> None:
        """Add ``deltas`` to the running balances (an upsert per member)."""
        # Zero deltas too: a member who took part in a currency keeps a row (shown as 0.00).
        # Sorted by member so concurrent writers lock balance rows in one order (no deadlock).
        rows = [
            {"group_id": group_id, "member_id": mid, "currency": currency, "amount": d}
            for mid, d in sorted(deltas.items())
        ]
        if not rows:
            return
        self.conn.execute(UPSERT_BALANCES, rows)

    def add_entry(
        self,
        group_id: int,
        entry: Entry,
        *,
        external_id: str | None,
        author: str | None,
        now: dt.datetime,
    ) -> int:
        author_id = self._id(group_id, author) if author else None
        result = self.conn.execute(
            insert(t.entries).values(
                group_id=group_id,
                external_id=external_id,
                author_id=author_id,
                created_at=now,
                updated_at=now,
                **self._row(group_id, entry),
            )
        )
        entry_id = _new_id(result)
        self._write_lines(group_id, entry_id, entry, active=True)
        return entry_id

    def record_entry(
        self,
        group_id: int,
        entry: Entry,
        *,
        external_id: str,
        author: str | None,
        now: dt.datetime,
        actor: str | None,
        after: dict[str, Any],
    ) -> int | None:
        """A new entry, its lines, the balances it moves and its "create" audit row, unless
        the group has an entry with ``external_id`` already (then None and nothing written).
        On PostgreSQL one statement (four round trips were a third of a chat message's cost);
        on SQLite, in process, the four statements as they are."""
        author_id = self._id(group_id, author) if author else None
        params = {
            "group_id": group_id,
            "external_id": external_id,
            "author_id": author_id,
            "created_at": now,
            "updated_at": now,
            **self._row(group_id, entry),
        }
        if self.conn.dialect.name == "postgresql":
            lines = sorted(self._lines(group_id, entry).items())  # by member: lock order
            document = json.dumps([[mid, paid, share] for mid, (paid, share) in lines])
            params |= {"lines": document, "actor": actor, "after": after}
            found = self.conn.execute(_RECORD_ENTRY_PG, params).first()
            return int(found[0]) if found else None
        found = self.conn.execute(_ADD_ENTRY_IF_NEW, params).first()
        if found is None:
            return None
        entry_id = int(found[0])
        self._write_lines(group_id, entry_id, entry, active=True)
        self.add_audit(group_id, entry_id, "create", actor, now, None, after)
        return entry_id

    def _unapply(self, group_id: int, entry_id: int) -> str:
        """Take an active entry's lines back out of the balances; returns its currency."""
        rows = self.conn.execute(
            select(
                t.entry_lines.c.member_id,
                t.entry_lines.c.net,
                t.entry_lines.c.currency,
                t.entry_lines.c.active,
            ).where(t.entry_lines.c.entry_id == entry_id)
        ).all()
        if rows and rows[0].active:
            self._apply(group_id, rows[0].currency, {r.member_id: -r.net for r in rows})
        return str(rows[0].currency) if rows else ""

    def _require(self, group_id: int, entry_id: int) -> Any:
        row = self.conn.execute(
            select(t.entries).where(
                and_(t.entries.c.id == entry_id, t.entries.c.group_id == group_id)
            )
        ).first()
        if row is None:
            raise EntryNotFound(f"no entry #{entry_id} in this group")
        return row

    def replace_entry(self, group_id: int, entry_id: int, entry: Entry, now: dt.datetime) -> None:
        row = self._require(group_id, entry_id)
        self._unapply(group_id, entry_id)
        self.conn.execute(delete(t.entry_lines).where(t.entry_lines.c.entry_id == entry_id))
        self.conn.execute(
            update(t.entries)
            .where(t.entries.c.id == entry_id)
            .values(updated_at=now, **self._row(group_id, entry))
        )
        self._write_lines(group_id, entry_id, entry, active=row.deleted_at is None)

    def set_deleted(self, group_id: int, entry_id: int, deleted_at: dt.datetime | None) -> None:
        row = self._require(group_id, entry_id)
        if (row.deleted_at is None) == (deleted_at is None):
            return  # already in that state: deleting twice changes nothing
        if deleted_at is not None:
            self._unapply(group_id, entry_id)
        self.conn.execute(
            update(t.entries).where(t.entries.c.id == entry_id).values(deleted_at=deleted_at)
        )
        self.conn.execute(
            update(t.entry_lines)
            .where(t.entry_lines.c.entry_id == entry_id)
            .values(active=deleted_at is None)
        )
        if deleted_at is None:
            lines = self.conn.execute(
                select(
                    t.entry_lines.c.member_id, t.entry_lines.c.net, t.entry_lines.c.currency
                ).where(t.entry_lines.c.entry_id == entry_id)
            ).all()
            if lines:
                self._apply(group_id, lines[0].currency, {r.member_id: r.net for r in lines})

    def _build(self, group_id: int, rows: Sequence[Any]) -> Iterator[StoredEntry]:
        if not rows:
            return
        ids = [r.id for r in rows]
        lines: dict[int, list[Any]] = {}
        for chunk_start in range(0, len(ids), 5000):
            chunk = ids[chunk_start : chunk_start + 5000]
            for line in self.conn.execute(
                select(t.entry_lines)
                .where(t.entry_lines.c.entry_id.in_(chunk))
                .order_by(t.entry_lines.c.entry_id, t.entry_lines.c.member_id)
            ):
                lines.setdefault(line.entry_id, []).append(line)
        for r in rows:
            yield self._stored(group_id, r, lines.get(r.id, []))

    def _stored(self, group_id: int, r: Any, lines: list[Any]) -> StoredEntry:
        def name(member_id: int | str) -> str:
            return self._name(group_id, int(member_id))

        entry: Entry
        if r.kind == "expense":
            split = rename_split(split_from_json(r.split, r.currency, minor=True), name)
            entry = Expense(
                currency=r.currency,
                amount=r.amount,
                paid_by=tuple((name(ln.member_id), ln.paid) for ln in lines if ln.paid),
                split=split,
                description=r.description,
                date=r.date,
                category=r.category,
                notes=r.notes,
                author=name(r.author_id) if r.author_id else None,
            )
        else:
            debtor = next(ln.member_id for ln in lines if ln.paid)
            creditor = next(ln.member_id for ln in lines if ln.share)
            entry = Payment(
                currency=r.currency,
                amount=r.amount,
                debtor=name(debtor),
                creditor=name(creditor),
                date=r.date,
                notes=r.notes,
                method=r.method,
                author=name(r.author_id) if r.author_id else None,
            )
        return StoredEntry(
            id=r.id,
            group_id=group_id,
            entry=entry,
            external_id=r.external_id,
            created_at=r.created_at,
            updated_at=r.updated_at,
            deleted_at=r.deleted_at,
            author=name(r.author_id) if r.author_id else None,
        )

    def entry(self, group_id: int, entry_id: int) -> StoredEntry | None:
        row = self.conn.execute(
            select(t.entries).where(
                and_(t.entries.c.id == entry_id, t.entries.c.group_id == group_id)
            )
        ).first()
        return next(self._build(group_id, [row]), None) if row else None

    def entry_by_external_id(self, group_id: int, external_id: str) -> StoredEntry | None:
        row = self.conn.execute(
            select(t.entries).where(
                and_(t.entries.c.group_id == group_id, t.entries.c.external_id == external_id)
            )
        ).first()
        return next(self._build(group_id, [row]), None) if row else None

    def external_ids(self, group_id: int) -> set[str]:
        rows = self.conn.execute(
            select(t.entries.c.external_id).where(
                and_(t.entries.c.group_id == group_id, t.entries.c.external_id.is_not(None))
            )
        )
        return {r[0] for r in rows}

    def entries(
        self, group_id: int, *, include_deleted: bool = False, by_date: bool = True
    ) -> Iterator[StoredEntry]:
        """Ledger order (date, then recording order), or recording order alone."""
        query = select(t.entries).where(t.entries.c.group_id == group_id)
        if not include_deleted:
            query = query.where(t.entries.c.deleted_at.is_(None))
        order = (t.entries.c.date, t.entries.c.id) if by_date else (t.entries.c.id,)
        rows = self.conn.execute(query.order_by(*order)).all()
        yield from self._build(group_id, rows)

    def last_entry(self, group_id: int, *, author: str | None = None) -> StoredEntry | None:
        query = select(t.entries).where(
            and_(t.entries.c.group_id == group_id, t.entries.c.deleted_at.is_(None))
        )
        if author is not None:
            query = query.where(t.entries.c.author_id == self._id(group_id, author))
        row = self.conn.execute(query.order_by(t.entries.c.id.desc()).limit(1)).first()
        return next(self._build(group_id, [row]), None) if row else None

    def recent_entries(self, group_id: int, limit: int = 10) -> list[StoredEntry]:
        """The latest entries recorded, newest first."""
        rows = self.conn.execute(
            select(t.entries)
            .where(and_(t.entries.c.group_id == group_id, t.entries.c.deleted_at.is_(None)))
            .order_by(t.entries.c.id.desc())
            .limit(limit)
        ).all()
        return list(self._build(group_id, rows))

    def entries_between(self, group_id: int, start: dt.date, end: dt.date) -> list[StoredEntry]:
        """Active entries dated in [start, end)."""
        rows = self.conn.execute(
            select(t.entries)
            .where(
                and_(
                    t.entries.c.group_id == group_id,
                    t.entries.c.deleted_at.is_(None),
                    t.entries.c.date >= start,
                    t.entries.c.date < end,
                )
            )
            .order_by(t.entries.c.date, t.entries.c.id)
        ).all()
        return list(self._build(group_id, rows))

    def set_member_active(self, group_id: int, member_id: int, active: bool) -> None:
        self.conn.execute(
            update(t.members)
            .where(and_(t.members.c.id == member_id, t.members.c.group_id == group_id))
            .values(active=active)
        )
        self._members.pop(group_id, None)

    # -- balances ----------------------------------------------------------------------------

    def _named(self, group_id: int, rows: Iterable[Any]) -> Balances:
        out: Balances = {}
        for member_id, currency, amount in rows:
            out.setdefault(currency, {})[self._name(group_id, member_id)] = int(amount)
        return {c: dict(sorted(v.items())) for c, v in sorted(out.items())}

    def balances(self, group_id: int) -> Balances:
        """Running totals of every member who took part in each currency (zeros included)."""
        rows = self.conn.execute(_BALANCES, {"group_id": group_id})
        return self._named(group_id, rows)

    def recompute_balances(self, group_id: int) -> Balances:
        """The balances summed afresh from every active entry line (the check on the totals)."""
        lines = t.entry_lines
        rows = self.conn.execute(
            select(lines.c.member_id, lines.c.currency, func.sum(lines.c.net))
            .where(and_(lines.c.group_id == group_id, lines.c.active.is_(True)))
            .group_by(lines.c.currency, lines.c.member_id)
        )
        return self._named(group_id, rows)

    def rebuild_balances(self, group_id: int) -> None:
        """Replace the running totals by the recompute (the repair after a failed check)."""
        self.conn.execute(delete(t.balances).where(t.balances.c.group_id == group_id))
        for currency, amounts in self.recompute_balances(group_id).items():
            self._apply(group_id, currency, {self._id(group_id, n): a for n, a in amounts.items()})

    # -- audit -------------------------------------------------------------------------------

    def add_audit(
        self,
        group_id: int,
        entry_id: int | None,
        action: str,
        actor: str | None,
        at: dt.datetime,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        self.conn.execute(
            _ADD_AUDIT,
            {
                "group_id": group_id,
                "entry_id": entry_id,
                "action": action,
                "actor": actor,
                "at": at,
                "before": before,
                "after": after,
            },
        )

    def audit(self, group_id: int, entry_id: int | None = None) -> list[AuditRecord]:
        query = select(t.audit_log).where(t.audit_log.c.group_id == group_id)
        if entry_id is not None:
            query = query.where(t.audit_log.c.entry_id == entry_id)
        return [
            AuditRecord(r.id, r.group_id, r.entry_id, r.action, r.actor, r.at, r.before, r.after)
            for r in self.conn.execute(query.order_by(t.audit_log.c.id))
        ]

    # -- rates and settle hints --------------------------------------------------------------

    def rates(self, group_id: int) -> dict[str, Decimal]:
        rows = self.conn.execute(
            select(t.exchange_rates.c.currency, t.exchange_rates.c.rate).where(
                t.exchange_rates.c.group_id == group_id
            )
        )
        return {c: Decimal(r) for c, r in rows}

    def set_rate(self, group_id: int, currency: str, rate: Decimal, now: dt.datetime) -> None:
        self.conn.execute(
            delete(t.exchange_rates).where(
                and_(
                    t.exchange_rates.c.group_id == group_id, t.exchange_rates.c.currency == currency
                )
            )
        )
        self.conn.execute(
            insert(t.exchange_rates).values(
                group_id=group_id, currency=currency, rate=str(rate), updated_at=now
            )
        )

    def settle_hint(self, group_id: int, currency: str) -> list[Transfer]:
        row = self.conn.execute(_SETTLE_HINT, {"group_id": group_id, "currency": currency}).first()
        if row is None:
            return []
        self._load_members(group_id)
        return [
            Transfer(self._by_id[d].name, self._by_id[c].name, int(a))
            for d, c, a in row.plan
            if d in self._by_id and c in self._by_id
        ]

    def save_settle_hint(
        self, group_id: int, currency: str, plan: Sequence[Transfer], now: dt.datetime
    ) -> None:
        encoded = [
            [self._id(group_id, x.debtor), self._id(group_id, x.creditor), x.amount] for x in plan
        ]
        params = {"group_id": group_id, "currency": currency, "plan": encoded, "updated_at": now}
        self.conn.execute(_SAVE_SETTLE_HINT, params)
