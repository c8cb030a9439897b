"""The storage the services need, as protocols: a unit of work holding a ledger repository.

``chipin.store`` implements them on SQLAlchemy; tests implement them in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, Self

from chipin.core.entries import Entry
from chipin.core.records import AuditRecord, Group, Member, StoredEntry
from chipin.core.settle import Transfer

Balances = dict[str, dict[str, int]]
"""currency → member name → net balance in minor units, for every member who took part in that
currency (a settled member shows 0)."""


class LedgerRepository(Protocol):
    def group_by_name(self, name: str) -> Group | None: ...
    def group(self, group_id: int) -> Group: ...
    def add_group(
        self, name: str, currency: str, timezone: str, locale: str, now: dt.datetime
    ) -> Group: ...
    def update_group(self, group_id: int, **fields: str) -> Group: ...

    def members(self, group_id: int) -> list[Member]: ...
    def add_member(
        self, group_id: int, name: str, now: dt.datetime, *, is_guest: bool = False
    ) -> Member: ...

    def add_entry(
        self,
        group_id: int,
        entry: Entry,
        *,
        external_id: str | None,
        author: str | None,
        now: dt.datetime,
    ) -> int: ...
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
    ) -> int | None: ...
    def replace_entry(
        self, group_id: int, entry_id: int, entry: Entry, now: dt.datetime
    ) -> None: ...
    def set_deleted(self, group_id: int, entry_id: int, deleted_at: dt.datetime | None) -> None: ...
    def entry(self, group_id: int, entry_id: int) -> StoredEntry | None: ...
    def entry_by_external_id(self, group_id: int, external_id: str) -> StoredEntry | None: ...
    def entries(
        self, group_id: int, *, include_deleted: bool = False, by_date: bool = True
    ) -> Iterator[StoredEntry]: ...
    def groups(self) -> list[Group]: ...
    def rebuild_balances(self, group_id: int) -> None: ...
    def last_entry(self, group_id: int, *, author: str | None = None) -> StoredEntry | None: ...

    def balances(self, group_id: int) -> Balances: ...
    def recompute_balances(self, group_id: int) -> Balances: ...

    def add_audit(
        self,
        group_id: int,
        entry_id: int | None,
        action: str,
        actor: str | None,
        at: dt.datetime,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None: ...
    def audit(self, group_id: int, entry_id: int | None = None) -> list[AuditRecord]: ...

    def rates(self, group_id: int) -> dict[str, Decimal]: ...
    def set_rate(self, group_id: int, currency: str, rate: Decimal, now: dt.datetime) -> None: ...

    def settle_hint(self, group_id: int, currency: str) -> list[Transfer]: ...
    def save_settle_hint(
        self, group_id: int, currency: str, plan: Sequence[Transfer], now: dt.datetime
    ) -> None: ...


class UnitOfWork(Protocol):
    """One transaction: everything written through ``ledger`` commits together or not at all."""

    @property
    def ledger(self) -> LedgerRepository: ...

    def __enter__(self) -> Self: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
