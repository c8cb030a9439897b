"""An in-memory ledger repository and unit of work, for service tests without a database.

They mirror ``chipin.store.repository.SqlLedgerRepository`` and ``chipin.store.uow.SqlUnitOfWork``
row for row: entries are kept with member ids (and read back with the stored spelling of each
name), every entry has one line per member, the running balances are updated on every write
exactly as the SQL upserts do (zero deltas included), and ``recompute_balances`` sums the active
lines afresh. The unit of work snapshots the tables on ``with`` and restores them on leaving the
block, so anything not committed is gone, as with a rolled-back transaction.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

from chipin.core.codec import rename_split, split_from_json, split_to_json
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import EntryNotFound, UnknownMember
from chipin.core.ports import Balances, LedgerRepository, UnitOfWork
from chipin.core.records import AuditRecord, Group, Member, StoredEntry
from chipin.core.settle import Transfer

GROUP_FIELDS = frozenset({"name", "currency", "timezone", "locale"})


class FakeIntegrityError(Exception):
    """What the database would refuse: a duplicate unique key or a missing foreign row."""


def name_key(name: str) -> str:
    """Names are unique per group case-insensitively ("ana" and "Ana" are one person)."""
    return " ".join(name.split()).casefold()


def _utc(value: dt.datetime) -> dt.datetime:
    """Like the ``UTCDateTime`` column: aware datetimes only, read back in UTC."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given to the database; pass an aware one")
    return value.astimezone(dt.UTC)


def _json(value: Any) -> Any:
    """A JSON column's round trip (refuses what JSON cannot hold, returns a fresh copy)."""
    return None if value is None else json.loads(json.dumps(value))


@dataclass
class _GroupRow:
    id: int
    name: str
    name_key: str
    currency: str
    timezone: str
    locale: str
    created_at: dt.datetime


@dataclass
class _MemberRow:
    member: Member
    name_key: str
    created_at: dt.datetime


@dataclass
class _Line:
    member_id: int
    currency: str
    active: bool
    paid: int
    share: int

    @property
    def net(self) -> int:
        return self.paid - self.share


@dataclass
class _EntryRow:
    id: int
    group_id: int
    kind: str
    external_id: str | None
    currency: str
    amount: int
    description: str
    category: str | None
    date: dt.date
    notes: str
    method: str | None
    split: dict[str, Any] | None
    author_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None
    lines: dict[int, _Line] = field(default_factory=dict)
    """member id → line (the ``entry_lines`` rows of this entry)."""


@dataclass
class _Tables:
    groups: dict[int, _GroupRow] = field(default_factory=dict)
    members: dict[int, _MemberRow] = field(default_factory=dict)
    entries: dict[int, _EntryRow] = field(default_factory=dict)
    balances: dict[tuple[int, int, str], int] = field(default_factory=dict)
    """(group, member, currency) → running total."""
    audit: list[AuditRecord] = field(default_factory=list)
    rates: dict[tuple[int, str], tuple[str, dt.datetime]] = field(default_factory=dict)
    settle_plans: dict[tuple[int, str], tuple[list[list[int]], dt.datetime]] = field(
        default_factory=dict
    )
    last_id: dict[str, int] = field(default_factory=dict)

    def new_id(self, table: str) -> int:
        self.last_id[table] = self.last_id.get(table, 0) + 1
        return self.last_id[table]


class FakeLedgerRepository:
    def __init__(self) -> None:
        self.tables = _Tables()

    # -- transactions (used by FakeUnitOfWork) -----------------------------------------------

    def snapshot(self) -> _Tables:
        return copy.deepcopy(self.tables)

    def restore(self, snapshot: _Tables) -> None:
        self.tables = copy.deepcopy(snapshot)

    # -- groups ------------------------------------------------------------------------------

    @staticmethod
    def _group(row: _GroupRow) -> Group:
        return Group(row.id, row.name, row.currency, row.timezone, row.locale)

    def group_by_name(self, name: str) -> Group | None:
        key = name_key(name)
        for row in self.tables.groups.values():
            if row.name_key == key:
                return self._group(row)
        return None

    def group(self, group_id: int) -> Group:
        row = self.tables.groups.get(group_id)
        if row is None:
            raise LookupError(f"no group {group_id}")
        return self._group(row)

    def groups(self) -> list[Group]:
        return [self._group(row) for _, row in sorted(self.tables.groups.items())]

    def add_group(
        self, name: str, currency: str, timezone: str, locale: str, now: dt.datetime
    ) -> Group:
        key = name_key(name)
        if any(row.name_key == key for row in self.tables.groups.values()):
            raise FakeIntegrityError(f"groups.name_key {key!r} is taken")
        row = _GroupRow(
            self.tables.new_id("groups"), name, key, currency, timezone, locale, _utc(now)
        )
        self.tables.groups[row.id] = row
        return self._group(row)

    def update_group(self, group_id: int, **fields: str) -> Group:
        unknown = set(fields) - GROUP_FIELDS
        if unknown:
            raise TypeError(f"groups has no column {sorted(unknown)[0]!r}")
        row = self.tables.groups.get(group_id)
        if row is not None:
            if "name" in fields:
                key = name_key(fields["name"])
                if any(
                    other.name_key == key and other.id != group_id
                    for other in self.tables.groups.values()
                ):
                    raise FakeIntegrityError(f"groups.name_key {key!r} is taken")
                row.name_key = key
            for column, value in fields.items():
                setattr(row, column, value)
        return self.group(group_id)

    # -- members -----------------------------------------------------------------------------

    def _member_rows(self, group_id: int) -> list[_MemberRow]:
        return [
            row for _, row in sorted(self.tables.members.items()) if row.member.group_id == group_id
        ]

    def members(self, group_id: int) -> list[Member]:
        return [row.member for row in self._member_rows(group_id)]

    def member_by_name(self, group_id: int, name: str) -> Member | None:
        key = name_key(name)
        for row in self._member_rows(group_id):
            if row.name_key == key:
                return row.member
        return None

    def add_member(
        self, group_id: int, name: str, now: dt.datetime, *, is_guest: bool = False
    ) -> Member:
        known = self.member_by_name(group_id, name)
        if known is not None:
            return known
        if group_id not in self.tables.groups:
            raise FakeIntegrityError(f"no group {group_id} for a member")
        clean = " ".join(name.split())
        member = Member(self.tables.new_id("members"), group_id, clean, is_guest, True)
        self.tables.members[member.id] = _MemberRow(member, name_key(name), _utc(now))
        return member

    def _id(self, group_id: int, name: str) -> int:
        member = self.member_by_name(group_id, name)
        if member is None:
            raise UnknownMember(name)
        return member.id

    def _name(self, member_id: int | str) -> str:
        return self.tables.members[int(member_id)].member.name

    # -- entries -----------------------------------------------------------------------------

    def _lines(self, group_id: int, entry: Entry) -> dict[int, tuple[int, int]]:
        """member id → (paid, share) for one entry."""
        lines: dict[int, tuple[int, int]] = {}
        if isinstance(entry, Expense):
            for name, paid in entry.paid_by:
                mid = self._id(group_id, name)
                p, s = lines.get(mid, (0, 0))
                lines[mid] = (p + paid, s)
            for name, share in entry.shares:
                mid = self._id(group_id, name)
                p, s = lines.get(mid, (0, 0))
                lines[mid] = (p, s + share)
        else:
            lines[self._id(group_id, entry.debtor)] = (entry.amount, 0)
            lines[self._id(group_id, entry.creditor)] = (0, entry.amount)
        return lines

    def _columns(self, group_id: int, entry: Entry) -> dict[str, Any]:
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
                "split": _json(split_to_json(split, entry.currency, minor=True)),
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

    def _apply(self, group_id: int, currency: str, deltas: dict[int, int]) -> None:
        """Add ``deltas`` to the running balances; a zero delta still creates the row."""
        for mid, delta in deltas.items():
            key = (group_id, mid, currency)
            self.tables.balances[key] = self.tables.balances.get(key, 0) + delta

    def _write_lines(
        self, row: _EntryRow, currency: str, lines: dict[int, tuple[int, int]], active: bool
    ) -> None:
        row.lines = {
            mid: _Line(mid, currency, active, paid, share) for mid, (paid, share) in lines.items()
        }
        if active:
            self._apply(row.group_id, currency, {mid: p - s for mid, (p, s) in lines.items()})

    def _unapply(self, row: _EntryRow) -> None:
        """Take an active entry's lines back out of the balances."""
        lines = list(row.lines.values())
        if lines and lines[0].active:
            self._apply(row.group_id, lines[0].currency, {ln.member_id: -ln.net for ln in lines})

    def _require(self, group_id: int, entry_id: int) -> _EntryRow:
        row = self.tables.entries.get(entry_id)
        if row is None or row.group_id != group_id:
            raise EntryNotFound(f"no entry #{entry_id} in this group")
        return row

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
        columns = self._columns(group_id, entry)
        lines = self._lines(group_id, entry)
        if group_id not in self.tables.groups:
            raise FakeIntegrityError(f"no group {group_id} for an entry")
        if external_id is not None and any(
            r.group_id == group_id and r.external_id == external_id
            for r in self.tables.entries.values()
        ):
            raise FakeIntegrityError(f"entry id {external_id!r} is taken in group {group_id}")
        at = _utc(now)
        row = _EntryRow(
            id=self.tables.new_id("entries"),
            group_id=group_id,
            external_id=external_id,
            author_id=author_id,
            created_at=at,
            updated_at=at,
            **columns,
        )
        self.tables.entries[row.id] = row
        self._write_lines(row, entry.currency, lines, active=True)
        return row.id

    def replace_entry(self, group_id: int, entry_id: int, entry: Entry, now: dt.datetime) -> None:
        row = self._require(group_id, entry_id)
        columns = self._columns(group_id, entry)
        lines = self._lines(group_id, entry)
        at = _utc(now)
        self._unapply(row)
        row.lines = {}
        for column, value in columns.items():
            setattr(row, column, value)
        row.updated_at = at
        self._write_lines(row, entry.currency, lines, active=row.deleted_at is None)

    def set_deleted(self, group_id: int, entry_id: int, deleted_at: dt.datetime | None) -> None:
        row = self._require(group_id, entry_id)
        if (row.deleted_at is None) == (deleted_at is None):
            return  # already in that state: deleting twice changes nothing
        if deleted_at is not None:
            self._unapply(row)
        row.deleted_at = None if deleted_at is None else _utc(deleted_at)
        for line in row.lines.values():
            line.active = deleted_at is None
        if deleted_at is None and row.lines:
            currency = next(iter(row.lines.values())).currency
            self._apply(group_id, currency, {ln.member_id: ln.net for ln in row.lines.values()})

    def _stored(self, row: _EntryRow) -> StoredEntry:
        lines = [row.lines[mid] for mid in sorted(row.lines)]
        author = self._name(row.author_id) if row.author_id else None
        entry: Entry
        if row.kind == "expense":
            split = rename_split(
                split_from_json(_json(row.split), row.currency, minor=True), self._name
            )
            entry = Expense(
                currency=row.currency,
                amount=row.amount,
                paid_by=tuple((self._name(ln.member_id), ln.paid) for ln in lines if ln.paid),
                split=split,
                description=row.description,
                date=row.date,
                category=row.category,
                notes=row.notes,
                author=author,
            )
        else:
            debtor = next(ln.member_id for ln in lines if ln.paid)
            creditor = next(ln.member_id for ln in lines if ln.share)
            entry = Payment(
                currency=row.currency,
                amount=row.amount,
                debtor=self._name(debtor),
                creditor=self._name(creditor),
                date=row.date,
                notes=row.notes,
                method=row.method,
                author=author,
            )
        return StoredEntry(
            id=row.id,
            group_id=row.group_id,
            entry=entry,
            external_id=row.external_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            deleted_at=row.deleted_at,
            author=author,
        )

    def _rows(self, group_id: int) -> list[_EntryRow]:
        """The group's entry rows in id order."""
        return [row for _, row in sorted(self.tables.entries.items()) if row.group_id == group_id]

    def entry(self, group_id: int, entry_id: int) -> StoredEntry | None:
        row = self.tables.entries.get(entry_id)
        return self._stored(row) if row is not None and row.group_id == group_id else None

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
        if self.entry_by_external_id(group_id, external_id) is not None:
            return None
        entry_id = self.add_entry(group_id, entry, external_id=external_id, author=author, now=now)
        self.add_audit(group_id, entry_id, "create", actor, now, None, after)
        return entry_id

    def entry_by_external_id(self, group_id: int, external_id: str) -> StoredEntry | None:
        for row in self._rows(group_id):
            if row.external_id == external_id:
                return self._stored(row)
        return None

    def external_ids(self, group_id: int) -> set[str]:
        return {r.external_id for r in self._rows(group_id) if r.external_id is not None}

    def entries(
        self, group_id: int, *, include_deleted: bool = False, by_date: bool = True
    ) -> Iterator[StoredEntry]:
        """Ledger order (date, then recording order), or recording order alone."""
        rows = [r for r in self._rows(group_id) if include_deleted or r.deleted_at is None]
        if by_date:
            rows.sort(key=lambda r: (r.date, r.id))
        return iter([self._stored(r) for r in rows])

    def last_entry(self, group_id: int, *, author: str | None = None) -> StoredEntry | None:
        author_id = self._id(group_id, author) if author is not None else None
        for row in reversed(self._rows(group_id)):
            if row.deleted_at is None and (author is None or row.author_id == author_id):
                return self._stored(row)
        return None

    # -- balances ----------------------------------------------------------------------------

    def _named(self, totals: dict[tuple[int, str], int]) -> Balances:
        out: Balances = {}
        for (member_id, currency), amount in totals.items():
            out.setdefault(currency, {})[self._name(member_id)] = amount
        return {c: dict(sorted(v.items())) for c, v in sorted(out.items())}

    def balances(self, group_id: int) -> Balances:
        """Running totals of every member who took part in each currency (zeros included)."""
        return self._named(
            {
                (mid, currency): amount
                for (gid, mid, currency), amount in self.tables.balances.items()
                if gid == group_id
            }
        )

    def recompute_balances(self, group_id: int) -> Balances:
        """The balances summed afresh from every active entry line (the check on the totals)."""
        totals: dict[tuple[int, str], int] = {}
        for row in self._rows(group_id):
            for line in row.lines.values():
                if line.active:
                    key = (line.member_id, line.currency)
                    totals[key] = totals.get(key, 0) + line.net
        return self._named(totals)

    def rebuild_balances(self, group_id: int) -> None:
        """Replace the running totals by the recompute (the repair after a failed check)."""
        for key in [k for k in self.tables.balances if k[0] == group_id]:
            del self.tables.balances[key]
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
        if group_id not in self.tables.groups:
            raise FakeIntegrityError(f"no group {group_id} for an audit record")
        if entry_id is not None and entry_id not in self.tables.entries:
            raise FakeIntegrityError(f"no entry {entry_id} for an audit record")
        self.tables.audit.append(
            AuditRecord(
                self.tables.new_id("audit_log"),
                group_id,
                entry_id,
                action,
                actor,
                _utc(at),
                _json(before),
                _json(after),
            )
        )

    def audit(self, group_id: int, entry_id: int | None = None) -> list[AuditRecord]:
        return [
            AuditRecord(
                r.id,
                r.group_id,
                r.entry_id,
                r.action,
                r.actor,
                r.at,
                _json(r.before),
                _json(r.after),
            )
            for r in self.tables.audit
            if r.group_id == group_id and (entry_id is None or r.entry_id == entry_id)
        ]

    # -- rates and settle hints --------------------------------------------------------------

    def rates(self, group_id: int) -> dict[str, Decimal]:
        return {
            c: Decimal(rate) for (gid, c), (rate, _) in self.tables.rates.items() if gid == group_id
        }

    def set_rate(self, group_id: int, currency: str, rate: Decimal, now: dt.datetime) -> None:
        if group_id not in self.tables.groups:
            raise FakeIntegrityError(f"no group {group_id} for a rate")
        self.tables.rates[(group_id, currency)] = (str(rate), _utc(now))

    def settle_hint(self, group_id: int, currency: str) -> list[Transfer]:
        saved = self.tables.settle_plans.get((group_id, currency))
        if saved is None:
            return []
        members = self.tables.members
        return [
            Transfer(members[d].member.name, members[c].member.name, int(a))
            for d, c, a in _json(saved[0])
            if d in members and c in members
        ]

    def save_settle_hint(
        self, group_id: int, currency: str, plan: Sequence[Transfer], now: dt.datetime
    ) -> None:
        encoded = [
            [self._id(group_id, x.debtor), self._id(group_id, x.creditor), x.amount] for x in plan
        ]
        if group_id not in self.tables.groups:
            raise FakeIntegrityError(f"no group {group_id} for a settle plan")
        self.tables.settle_plans[(group_id, currency)] = (_json(encoded), _utc(now))


class FakeUnitOfWork:
    """``with uow: ...; uow.commit()`` — what is not committed when the block ends is discarded.

    ``commits`` counts the commits, ``rollbacks`` the explicit rollbacks. The repository is
    reachable as ``uow.ledger`` inside the block (like the SQL one) and as ``uow.store`` always,
    for tests that look at or tamper with the stored rows directly.
    """

    def __init__(self, store: FakeLedgerRepository | None = None) -> None:
        self.store = store if store is not None else FakeLedgerRepository()
        self.commits = 0
        self.rollbacks = 0
        self._committed: _Tables | None = None

    def __enter__(self) -> Self:
        assert self._committed is None, "unit of work entered twice"
        self._committed = self.store.snapshot()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._committed is not None
        self.store.tables = self._committed  # drop whatever was not committed
        self._committed = None

    @property
    def ledger(self) -> FakeLedgerRepository:
        assert self._committed is not None, "unit of work used outside its with-block"
        return self.store

    def commit(self) -> None:
        assert self._committed is not None, "unit of work used outside its with-block"
        self._committed = self.store.snapshot()
        self.commits += 1

    def rollback(self) -> None:
        assert self._committed is not None, "unit of work used outside its with-block"
        self.store.restore(self._committed)
        self.rollbacks += 1


# mypy checks that the fakes implement the ports.
_uow_type: type[UnitOfWork] = FakeUnitOfWork


def _conforms(uow: FakeUnitOfWork) -> tuple[UnitOfWork, LedgerRepository]:
    return uow, uow.store
