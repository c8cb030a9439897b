"""What the ledger stores, as services see it: groups, members, stored entries, audit records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from chipin.core.entries import Entry


def name_key(name: str) -> str:
    """Member and group names match case-insensitively, with white space folded ("ana  Costa"
    and "Ana Costa" are one person)."""
    return " ".join(name.split()).casefold()


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    name: str
    currency: str
    """The default currency for entries that do not say one."""
    timezone: str
    """IANA zone; "yesterday" and periods are computed in it."""
    locale: str = "en_US"
    """Babel locale for formatting amounts."""


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    group_id: int
    name: str
    is_guest: bool = False
    """Added by name by someone else; has no chat account of their own."""
    active: bool = True


@dataclass(frozen=True, slots=True)
class StoredEntry:
    id: int
    group_id: int
    entry: Entry
    """The expense or payment, with member names as keys."""
    external_id: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    deleted_at: dt.datetime | None = None
    author: str | None = None

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    group_id: int
    entry_id: int | None
    action: str
    actor: str | None
    at: dt.datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
