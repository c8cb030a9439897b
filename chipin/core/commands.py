"""Commands the ledger services accept (imperative), and what they report back (past tense)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from chipin.core.entries import Entry, Expense, Payment
from chipin.core.ledger_doc import LedgerDoc


@dataclass(frozen=True, slots=True)
class AddExpense:
    group_id: int
    expense: Expense
    actor: str | None = None
    """Who asked (a member name, "import", "admin:…"); recorded in the audit trail."""
    external_id: str | None = None
    """A provider or file id that makes a retry of this command a no-op."""


@dataclass(frozen=True, slots=True)
class RecordPayment:
    group_id: int
    payment: Payment
    actor: str | None = None
    external_id: str | None = None


@dataclass(frozen=True, slots=True)
class EditEntry:
    group_id: int
    entry_id: int
    entry: Entry
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteEntry:
    group_id: int
    entry_id: int
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class RestoreEntry:
    group_id: int
    entry_id: int
    actor: str | None = None


@dataclass(frozen=True, slots=True)
class ImportLedger:
    doc: LedgerDoc
    actor: str | None = "import"


@dataclass(frozen=True, slots=True)
class EntryRecorded:
    group_id: int
    entry_id: int
    effects: dict[str, int]
    """Member → change of their balance in the entry's currency."""
    created: bool
    """False when the external id had been recorded before (a retry): nothing was written."""


@dataclass(frozen=True, slots=True)
class LedgerImported:
    group_id: int
    group_name: str
    added: int
    already_present: int
    members_added: tuple[str, ...]
    at: dt.datetime | None = None
