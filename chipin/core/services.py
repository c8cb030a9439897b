"""The ledger's use cases. Each takes a command and a unit of work and commits once.

Entry points (CLI, bot, dashboard) build a command, call a service and map domain errors to
their own answers; nothing here knows about SQL, HTTP or chat.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chipin.core.balances import MissingRate, PassbookLine, convert_balances, passbook
from chipin.core.commands import (
    AddExpense,
    DeleteEntry,
    EditEntry,
    EntryRecorded,
    ImportLedger,
    LedgerImported,
    RecordPayment,
    RestoreEntry,
)
from chipin.core.entries import Entry, Expense
from chipin.core.errors import ChipinError, EntryNotFound, UnknownMember
from chipin.core.ledger_doc import entry_to_json, ledger_to_json
from chipin.core.money import normalize_currency
from chipin.core.ports import Balances, UnitOfWork
from chipin.core.records import Group, Member, name_key
from chipin.core.settle import Transfer, settle_plan
from chipin.core.splitwise import write_splitwise_csv

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class GroupNotFound(ChipinError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no group named {name!r}")
        self.name = name


class BalanceMismatch(ChipinError):
    """The running totals disagree with a full recompute."""


def new_entry_id(kind: str) -> str:
    """A ledger id for entries created without one, so an export re-imports idempotently."""
    return f"{kind[0]}-{secrets.token_hex(6)}"


# -- groups and members ------------------------------------------------------------------------


def create_group(
    uow: UnitOfWork,
    name: str,
    currency: str,
    timezone: str = "UTC",
    *,
    locale: str = "en_US",
    clock: Clock = utcnow,
) -> Group:
    clean = " ".join(name.split())
    if not clean:
        raise ChipinError("a group needs a name")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChipinError(f"unknown timezone {timezone!r}") from None
    with uow:
        if uow.ledger.group_by_name(clean) is not None:
            raise ChipinError(f"a group named {clean!r} already exists")
        group = uow.ledger.add_group(clean, normalize_currency(currency), timezone, locale, clock())
        uow.commit()
    return group


def find_group(uow: UnitOfWork, name: str) -> Group:
    with uow:
        group = uow.ledger.group_by_name(name)
    if group is None:
        raise GroupNotFound(name)
    return group


def add_members(
    uow: UnitOfWork, group_id: int, names: list[str], *, guest: bool = False, clock: Clock = utcnow
) -> list[Member]:
    if any(not name.strip() for name in names):
        raise ChipinError("a member needs a name")
    with uow:
        added = [uow.ledger.add_member(group_id, n, clock(), is_guest=guest) for n in names]
        uow.commit()
    return added


def _check_members(uow: UnitOfWork, group_id: int, entry: Entry) -> None:
    """Group isolation: an entry may only name members of its own group."""
    known = {name_key(m.name) for m in uow.ledger.members(group_id)}
    for name in entry.members():
        if name_key(name) not in known:
            raise UnknownMember(name)


# -- entries -----------------------------------------------------------------------------------


def _record(
    uow: UnitOfWork,
    group_id: int,
    entry: Entry,
    actor: str | None,
    external_id: str | None,
    clock: Clock,
) -> EntryRecorded:
    with uow:
        _check_members(uow, group_id, entry)
        ext = external_id or new_entry_id("expense" if isinstance(entry, Expense) else "payment")
        now = clock()
        entry_id = uow.ledger.record_entry(
            group_id,
            entry,
            external_id=ext,
            author=entry.author,
            now=now,
            actor=actor,
            after=entry_to_json(entry, ext),
        )
        if entry_id is None:  # recorded before under this external id: the same entry
            existing = uow.ledger.entry_by_external_id(group_id, ext)
            assert existing is not None
            return EntryRecorded(group_id, existing.id, existing.entry.effects(), created=False)
        uow.commit()
    return EntryRecorded(group_id, entry_id, entry.effects(), created=True)


def add_expense(cmd: AddExpense, uow: UnitOfWork, clock: Clock = utcnow) -> EntryRecorded:
    return _record(uow, cmd.group_id, cmd.expense, cmd.actor, cmd.external_id, clock)


def record_payment(cmd: RecordPayment, uow: UnitOfWork, clock: Clock = utcnow) -> EntryRecorded:
    return _record(uow, cmd.group_id, cmd.payment, cmd.actor, cmd.external_id, clock)


def edit_entry(cmd: EditEntry, uow: UnitOfWork, clock: Clock = utcnow) -> EntryRecorded:
    with uow:
        stored = uow.ledger.entry(cmd.group_id, cmd.entry_id)
        if stored is None:
            raise EntryNotFound(f"no entry #{cmd.entry_id} in this group")
        if type(stored.entry) is not type(cmd.entry):
            raise ChipinError("an expense cannot become a payment (delete it and add the other)")
        _check_members(uow, cmd.group_id, cmd.entry)
        now = clock()
        uow.ledger.replace_entry(cmd.group_id, cmd.entry_id, cmd.entry, now)
        uow.ledger.add_audit(
            cmd.group_id,
            cmd.entry_id,
            "update",
            cmd.actor,
            now,
            entry_to_json(stored.entry, stored.external_id),
            entry_to_json(cmd.entry, stored.external_id),
        )
        uow.commit()
    return EntryRecorded(cmd.group_id, cmd.entry_id, cmd.entry.effects(), created=True)


def _set_deleted(
    uow: UnitOfWork, group_id: int, entry_id: int, actor: str | None, delete: bool, clock: Clock
) -> EntryRecorded:
    with uow:
        stored = uow.ledger.entry(group_id, entry_id)
        if stored is None:
            raise EntryNotFound(f"no entry #{entry_id} in this group")
        effects = stored.entry.effects()
        if stored.deleted == delete:  # already so: a double tap changes nothing
            return EntryRecorded(group_id, entry_id, effects, created=False)
        now = clock()
        uow.ledger.set_deleted(group_id, entry_id, now if delete else None)
        snapshot = entry_to_json(stored.entry, stored.external_id)
        uow.ledger.add_audit(
            group_id,
            entry_id,
            "delete" if delete else "restore",
            actor,
            now,
            snapshot if delete else None,
            None if delete else snapshot,
        )
        uow.commit()
    return EntryRecorded(group_id, entry_id, effects, created=True)


def delete_entry(cmd: DeleteEntry, uow: UnitOfWork, clock: Clock = utcnow) -> EntryRecorded:
    return _set_deleted(uow, cmd.group_id, cmd.entry_id, cmd.actor, True, clock)


def restore_entry(cmd: RestoreEntry, uow: UnitOfWork, clock: Clock = utcnow) -> EntryRecorded:
    return _set_deleted(uow, cmd.group_id, cmd.entry_id, cmd.actor, False, clock)


# -- reading -----------------------------------------------------------------------------------


def group_balances(uow: UnitOfWork, group_id: int) -> Balances:
    with uow:
        return uow.ledger.balances(group_id)


def converted_balances(uow: UnitOfWork, group_id: int, target: str) -> dict[str, int]:
    """Every balance in ``target`` at the group's rates (set in the group's own currency, so
    they are re-based when converting into another one); sums to zero."""
    target = normalize_currency(target)
    with uow:
        group = uow.ledger.group(group_id)
        rates = uow.ledger.rates(group_id)
        by_currency = uow.ledger.balances(group_id)
    if target != group.currency:
        base = rates.get(target)
        if base is None:
            raise MissingRate(group.currency, target)
        rates = {c: r / base for c, r in rates.items()} | {group.currency: 1 / base}
    return convert_balances(by_currency, rates, target)


def check_balances(uow: UnitOfWork, group_id: int) -> list[str]:
    """Differences between the running totals and a full recompute (empty when they agree)."""
    with uow:
        kept = uow.ledger.balances(group_id)
        fresh = uow.ledger.recompute_balances(group_id)
    problems = []
    for currency in sorted(set(kept) | set(fresh)):
        a, b = kept.get(currency, {}), fresh.get(currency, {})
        for member in sorted(set(a) | set(b)):
            if a.get(member, 0) != b.get(member, 0):
                problems.append(
                    f"{currency} {member}: kept {a.get(member, 0)}, recomputed {b.get(member, 0)}"
                )
        if sum(b.values()) != 0:
            problems.append(f"{currency}: recomputed balances sum to {sum(b.values())}, not zero")
    return problems


def settle_up(
    uow: UnitOfWork, group_id: int, *, remember: bool = True, clock: Clock = utcnow
) -> dict[str, list[Transfer]]:
    """The settle-up plan per currency. The plan shown is remembered, so recording one of its
    transfers leaves the other suggestions exactly as they were."""
    return balances_and_plans(uow, group_id, remember=remember, clock=clock)[1]


def balances_and_plans(
    uow: UnitOfWork, group_id: int, *, remember: bool = True, clock: Clock = utcnow
) -> tuple[Balances, dict[str, list[Transfer]]]:
    """The balances and, from the same read of them, :func:`settle_up`'s plans."""
    plans: dict[str, list[Transfer]] = {}
    with uow:
        by_currency = uow.ledger.balances(group_id)
        for currency, amounts in by_currency.items():
            previous = uow.ledger.settle_hint(group_id, currency)
            plan = settle_plan({m: a for m, a in amounts.items() if a}, previous=previous)
            plans[currency] = plan
            if remember and plan != previous:
                uow.ledger.save_settle_hint(group_id, currency, plan, clock())
        uow.commit()
    return by_currency, plans


def history(uow: UnitOfWork, group_id: int, member: str) -> list[PassbookLine]:
    with uow:
        known = {name_key(m.name): m.name for m in uow.ledger.members(group_id)}
        name = known.get(name_key(member))
        if name is None:
            raise UnknownMember(member)
        stored = list(uow.ledger.entries(group_id))
    return passbook(((s.external_id or str(s.id), s.entry) for s in stored), name)


def member_name(uow: UnitOfWork, group_id: int, typed: str) -> str:
    """The stored spelling of a member typed in any case."""
    with uow:
        for m in uow.ledger.members(group_id):
            if name_key(m.name) == name_key(typed):
                return m.name
    raise UnknownMember(typed)


# -- import and export -------------------------------------------------------------------------


def import_ledger(cmd: ImportLedger, uow: UnitOfWork, clock: Clock = utcnow) -> LedgerImported:
    """Add a validated ledger to the group of its name (created if new), atomically.

    Entries whose id the group already has are skipped, so importing a file twice adds nothing.
    """
    doc = cmd.doc
    now = clock()
    with uow:
        group = uow.ledger.group_by_name(doc.group_name)
        if group is None:
            group = uow.ledger.add_group(doc.group_name, doc.currency, doc.timezone, "en_US", now)
        known = {name_key(m.name) for m in uow.ledger.members(group.id)}
        new_members = tuple(m for m in doc.members if name_key(m) not in known)
        for name in new_members:
            uow.ledger.add_member(group.id, name, now)
        # members are matched case-insensitively; use the stored spelling
        added = skipped = 0
        for external_id, entry in doc.entries:
            if external_id is not None and uow.ledger.entry_by_external_id(group.id, external_id):
                skipped += 1
                continue
            ext = external_id or new_entry_id(
                "expense" if isinstance(entry, Expense) else "payment"
            )
            entry_id = uow.ledger.add_entry(group.id, entry, external_id=ext, author=None, now=now)
            uow.ledger.add_audit(
                group.id, entry_id, "import", cmd.actor, now, None, entry_to_json(entry, ext)
            )
            added += 1
        for currency, rate in doc.rates.items():
            uow.ledger.set_rate(group.id, currency, rate, now)
        uow.commit()
    return LedgerImported(group.id, group.name, added, skipped, new_members, now)


def export_splitwise(uow: UnitOfWork, group_id: int) -> str:
    """The group's entries in the Splitwise CSV layout (``chipin import --from splitwise``)."""
    with uow:
        members = [m.name for m in uow.ledger.members(group_id)]
        entries = [s.entry for s in uow.ledger.entries(group_id, by_date=False)]
    return write_splitwise_csv(members, entries)


def export_ledger(uow: UnitOfWork, group_id: int) -> dict[str, object]:
    with uow:
        group = uow.ledger.group(group_id)
        members = [m.name for m in uow.ledger.members(group_id)]
        # recording order, so a file that was imported exports in its own order
        stored = uow.ledger.entries(group_id, by_date=False)
        entries = [(s.external_id or str(s.id), s.entry) for s in stored]
        rates = uow.ledger.rates(group_id)
    return ledger_to_json(
        group_name=group.name,
        currency=group.currency,
        timezone=group.timezone,
        members=members,
        entries=entries,
        rates=rates,
    )
