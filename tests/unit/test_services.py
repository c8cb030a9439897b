"""The ledger's use cases on the in-memory fakes: no database, one transaction per service call."""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from chipin.core import services
from chipin.core.balances import balances as pure_balances
from chipin.core.commands import (
    AddExpense,
    DeleteEntry,
    EditEntry,
    ImportLedger,
    RecordPayment,
    RestoreEntry,
)
from chipin.core.entries import Expense, Payment
from chipin.core.errors import ChipinError, EntryNotFound, UnknownMember
from chipin.core.ledger_doc import LedgerDoc, entry_to_json, parse_ledger
from chipin.core.records import AuditRecord, StoredEntry
from chipin.core.settle import Transfer, settle_plan
from chipin.core.splits import EqualSplit, ExactSplit, SharesSplit
from tests.unit.fake_ledger import FakeLedgerRepository, FakeUnitOfWork

LEDGERS = Path(__file__).parent.parent / "data" / "ledgers"
DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 11, 23, 18, 30, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return NOW


def later() -> dt.datetime:
    return LATER


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


# -- helpers -----------------------------------------------------------------------------------


def make_group(uow: FakeUnitOfWork, members: list[str], name: str = "Trip") -> int:
    group = services.create_group(uow, name, "EUR", "Europe/Lisbon", clock=clock)
    services.add_members(uow, group.id, members, clock=clock)
    return group.id


def dinner(amount: int, payer: str = "Ana", members: tuple[str, ...] = ("Ana", "Raj")) -> Expense:
    return Expense("EUR", amount, ((payer, amount),), EqualSplit(members), "Dinner", DAY)


def add(uow: FakeUnitOfWork, group_id: int, expense: Expense, **kwargs: Any) -> int:
    return services.add_expense(AddExpense(group_id, expense, **kwargs), uow, clock).entry_id


def audit(uow: FakeUnitOfWork, group_id: int, entry_id: int | None = None) -> list[AuditRecord]:
    with uow:
        return uow.ledger.audit(group_id, entry_id)


def stored(uow: FakeUnitOfWork, group_id: int, entry_id: int) -> StoredEntry:
    with uow:
        found = uow.ledger.entry(group_id, entry_id)
    assert found is not None
    return found


def all_entries(uow: FakeUnitOfWork, group_id: int) -> list[StoredEntry]:
    with uow:
        return list(uow.ledger.entries(group_id, include_deleted=True))


def load_doc(name: str) -> tuple[LedgerDoc, dict[str, Any]]:
    raw = json.loads((LEDGERS / name).read_text())
    doc, problems = parse_ledger(raw)
    assert doc is not None, problems
    return doc, raw


class FailingAuditLedger(FakeLedgerRepository):
    """A repository whose ``fail_at``-th audit write blows up (a crash after some writes)."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.audits = 0

    def add_audit(self, *args: Any, **kwargs: Any) -> None:
        self.audits += 1
        if self.audits == self.fail_at:
            raise RuntimeError("disk full")
        super().add_audit(*args, **kwargs)


# -- the fake itself ---------------------------------------------------------------------------


def test_the_fake_unit_of_work_keeps_only_what_was_committed(uow: FakeUnitOfWork) -> None:
    with uow:
        group = uow.ledger.add_group("Kept", "EUR", "UTC", "en_US", NOW)
        uow.commit()
        uow.ledger.add_member(group.id, "Ana", NOW)
    with uow:
        assert uow.ledger.members(group.id) == []
        uow.ledger.add_member(group.id, "Raj", NOW)
        uow.rollback()
        assert uow.ledger.members(group.id) == []
    with pytest.raises(RuntimeError), uow:
        uow.ledger.add_member(group.id, "Mia", NOW)
        raise RuntimeError("boom")
    with uow:
        assert [g.name for g in uow.ledger.groups()] == ["Kept"]
        assert uow.ledger.members(group.id) == []
    assert uow.commits == 1


def test_the_fake_repository_ignores_a_second_delete_like_the_sql_one(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    entry_id = add(uow, group_id, dinner(1000))
    with uow:
        uow.ledger.set_deleted(group_id, entry_id, NOW)
        uow.ledger.set_deleted(group_id, entry_id, LATER)
        assert uow.ledger.balances(group_id) == {"EUR": {"Ana": 0, "Raj": 0}}
        assert uow.ledger.recompute_balances(group_id) == {}
        deleted = uow.ledger.entry(group_id, entry_id)
        assert deleted is not None and deleted.deleted_at == NOW
        with pytest.raises(ValueError, match="naive"):
            uow.ledger.set_deleted(group_id, entry_id, None)
            uow.ledger.set_deleted(group_id, entry_id, dt.datetime(2026, 1, 1))


# -- recording entries -------------------------------------------------------------------------


def test_an_expense_records_its_effects_and_one_audit_row_with_the_actor(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj", "Mia"])
    commits = uow.commits
    expense = dinner(10000, members=("Ana", "Raj", "Mia"))

    result = services.add_expense(AddExpense(group_id, expense, actor="Ana"), uow, clock)

    assert result.created
    # the leftover cent of 100.00 / 3 goes to Ana, listed first
    assert result.effects == {"Ana": 10000 - 3334, "Raj": -3333, "Mia": -3333}
    assert services.group_balances(uow, group_id) == {
        "EUR": {"Ana": 6666, "Mia": -3333, "Raj": -3333}
    }
    assert uow.commits == commits + 1
    entry = stored(uow, group_id, result.entry_id)
    assert entry.entry == expense
    assert (entry.created_at, entry.updated_at, entry.deleted_at) == (NOW, NOW, None)
    assert entry.external_id is not None and entry.external_id.startswith("e-")
    [row] = audit(uow, group_id)
    assert (row.entry_id, row.action, row.actor, row.at) == (result.entry_id, "create", "Ana", NOW)
    assert row.before is None
    assert row.after == entry_to_json(expense, entry.external_id)
    assert services.check_balances(uow, group_id) == []


def test_members_typed_in_another_case_are_stored_under_their_own_spelling(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    entry_id = add(uow, group_id, dinner(3000, payer="ana", members=("ana", "RAJ")))
    entry = stored(uow, group_id, entry_id).entry
    assert entry.members() == ("Ana", "Raj")
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 1500, "Raj": -1500}}


def test_a_member_who_paid_exactly_their_share_shows_a_zero_balance(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj", "Mia"])
    expense = Expense(
        "EUR", 3000, (("Ana", 1000), ("Raj", 2000)), EqualSplit(("Ana", "Raj", "Mia")), "Taxi", DAY
    )
    result = services.add_expense(AddExpense(group_id, expense), uow, clock)
    assert result.effects == {"Raj": 1000, "Mia": -1000}
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 0, "Mia": -1000, "Raj": 1000}}
    assert services.settle_up(uow, group_id, clock=clock) == {"EUR": [Transfer("Mia", "Raj", 1000)]}


def test_an_external_id_makes_a_retried_command_a_no_op(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    command = AddExpense(group_id, dinner(1000), actor="Ana", external_id="tg:77")

    first = services.add_expense(command, uow, clock)
    commits = uow.commits
    second = services.add_expense(command, uow, later)

    assert first.created and not second.created
    assert second.entry_id == first.entry_id
    assert second.effects == first.effects == {"Ana": 500, "Raj": -500}
    assert uow.commits == commits
    assert [s.external_id for s in all_entries(uow, group_id)] == ["tg:77"]
    assert len(audit(uow, group_id)) == 1
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 500, "Raj": -500}}


def test_a_member_of_another_group_is_refused_and_nothing_is_written(
    uow: FakeUnitOfWork,
) -> None:
    ours = make_group(uow, ["Ana", "Raj"])
    other = make_group(uow, ["Zoe"], name="Other")
    commits = uow.commits

    with pytest.raises(UnknownMember) as refused:
        add(uow, ours, dinner(1000, members=("Ana", "Zoe")))
    with pytest.raises(UnknownMember):
        services.record_payment(
            RecordPayment(ours, Payment("EUR", 500, "Zoe", "Ana", DAY)), uow, clock
        )

    assert refused.value.name == "Zoe"
    assert uow.commits == commits
    assert services.group_balances(uow, ours) == {}
    assert services.group_balances(uow, other) == {}
    assert all_entries(uow, ours) == []
    assert audit(uow, ours) == []


def test_an_author_from_another_group_is_refused_too(uow: FakeUnitOfWork) -> None:
    ours = make_group(uow, ["Ana", "Raj"])
    make_group(uow, ["Zoe"], name="Other")
    commits = uow.commits
    expense = Expense(
        "EUR", 1000, (("Ana", 1000),), EqualSplit(("Ana", "Raj")), "x", DAY, author="Zoe"
    )
    with pytest.raises(UnknownMember):
        add(uow, ours, expense)
    assert uow.commits == commits
    assert all_entries(uow, ours) == []


# -- editing, deleting, restoring --------------------------------------------------------------


def test_an_error_mid_service_rolls_back_everything(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    entry_id = add(uow, group_id, dinner(6000), actor="Ana")
    before = (stored(uow, group_id, entry_id), services.group_balances(uow, group_id))
    commits = uow.commits

    with pytest.raises(UnknownMember):
        services.edit_entry(
            EditEntry(group_id, entry_id, dinner(9000, members=("Ana", "Ghost"))), uow, later
        )

    assert uow.commits == commits
    assert (stored(uow, group_id, entry_id), services.group_balances(uow, group_id)) == before
    assert [a.action for a in audit(uow, group_id)] == ["create"]


def test_an_edit_whose_audit_write_fails_leaves_the_entry_and_balances_as_they_were() -> None:
    uow = FakeUnitOfWork(FailingAuditLedger(fail_at=2))
    group_id = make_group(uow, ["Ana", "Raj"])
    entry_id = add(uow, group_id, dinner(6000))  # audit 1
    commits = uow.commits

    with pytest.raises(RuntimeError, match="disk full"):  # audit 2, after replace_entry
        services.edit_entry(EditEntry(group_id, entry_id, dinner(9000)), uow, later)

    assert uow.commits == commits
    assert stored(uow, group_id, entry_id).entry == dinner(6000)
    assert stored(uow, group_id, entry_id).updated_at == NOW
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 3000, "Raj": -3000}}
    assert services.check_balances(uow, group_id) == []


def test_an_import_that_fails_half_way_leaves_no_group_members_or_entries() -> None:
    uow = FakeUnitOfWork(FailingAuditLedger(fail_at=5))
    doc, _ = load_doc("everything.json")
    with pytest.raises(RuntimeError, match="disk full"):
        services.import_ledger(ImportLedger(doc), uow, clock)
    assert uow.commits == 0
    with uow:
        assert uow.ledger.groups() == []
        assert uow.ledger.group_by_name(doc.group_name) is None
    assert uow.store.tables.entries == {}
    assert uow.store.tables.members == {}
    assert uow.store.tables.balances == {}


def test_an_edit_keeps_a_before_and_after_audit_and_updates_balances(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj", "Mia"])
    entry_id = add(uow, group_id, dinner(6000), actor="Ana")
    ext = stored(uow, group_id, entry_id).external_id
    bigger = Expense(
        "EUR",
        7000,
        (("Raj", 7000),),
        SharesSplit((("Ana", Decimal(1)), ("Mia", Decimal(1)))),
        "Dinner and taxi",
        DAY,
    )

    result = services.edit_entry(EditEntry(group_id, entry_id, bigger, actor="Raj"), uow, later)

    assert result.effects == {"Raj": 7000, "Ana": -3500, "Mia": -3500}
    # Ana keeps her row at zero: she took part in EUR
    assert services.group_balances(uow, group_id) == {
        "EUR": {"Ana": -3500, "Mia": -3500, "Raj": 7000}
    }
    assert services.check_balances(uow, group_id) == []
    create, update = audit(uow, group_id, entry_id)
    assert (create.action, create.actor, create.at) == ("create", "Ana", NOW)
    assert (update.action, update.actor, update.at) == ("update", "Raj", LATER)
    assert update.before == entry_to_json(dinner(6000), ext)
    assert update.after == entry_to_json(bigger, ext)
    assert update.before is not None and update.before["amount"] == "60.00"
    assert update.after is not None and update.after["amount"] == "70.00"
    entry = stored(uow, group_id, entry_id)
    assert entry.entry == bigger
    assert (entry.created_at, entry.updated_at, entry.external_id) == (NOW, LATER, ext)


def test_editing_a_missing_entry_or_one_of_another_group_is_refused(uow: FakeUnitOfWork) -> None:
    ours = make_group(uow, ["Ana", "Raj"])
    theirs = make_group(uow, ["Ana", "Raj"], name="Other")
    their_entry = add(uow, theirs, dinner(1000))
    commits = uow.commits
    with pytest.raises(EntryNotFound):
        services.edit_entry(EditEntry(ours, their_entry, dinner(2000)), uow, clock)
    with pytest.raises(EntryNotFound):
        services.delete_entry(DeleteEntry(ours, their_entry), uow, clock)
    with pytest.raises(EntryNotFound):
        services.restore_entry(RestoreEntry(ours, 999), uow, clock)
    assert uow.commits == commits
    assert services.group_balances(uow, theirs) == {"EUR": {"Ana": 500, "Raj": -500}}


def test_delete_then_restore_returns_balances_to_the_same_figures_and_double_delete_is_a_no_op(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj", "Mia"])
    kept = add(uow, group_id, dinner(3000, payer="Raj", members=("Raj", "Mia")))
    target = add(uow, group_id, dinner(9000, members=("Ana", "Raj", "Mia")), actor="Ana")
    original = services.group_balances(uow, group_id)
    assert original == {"EUR": {"Ana": 6000, "Mia": -4500, "Raj": -1500}}

    gone = services.delete_entry(DeleteEntry(group_id, target, actor="Raj"), uow, later)
    assert gone.created
    # Ana's only entry is gone; she keeps a zero row, as the SQL store does
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 0, "Mia": -1500, "Raj": 1500}}
    assert stored(uow, group_id, target).deleted_at == LATER
    with uow:
        assert [s.id for s in uow.ledger.entries(group_id)] == [kept]
        assert uow.ledger.last_entry(group_id) == uow.ledger.entry(group_id, kept)

    commits = uow.commits
    again = services.delete_entry(DeleteEntry(group_id, target, actor="Raj"), uow, clock)
    assert not again.created
    assert uow.commits == commits
    assert stored(uow, group_id, target).deleted_at == LATER
    assert services.group_balances(uow, group_id)["EUR"]["Mia"] == -1500

    back = services.restore_entry(RestoreEntry(group_id, target, actor="admin"), uow, clock)
    assert back.created
    assert services.group_balances(uow, group_id) == original
    assert services.check_balances(uow, group_id) == []
    assert stored(uow, group_id, target).deleted_at is None
    trail = audit(uow, group_id, target)
    assert [(a.action, a.actor, a.at) for a in trail] == [
        ("create", "Ana", NOW),
        ("delete", "Raj", LATER),
        ("restore", "admin", NOW),
    ]
    assert trail[1].before == trail[2].after and trail[1].after is None
    assert not services.restore_entry(RestoreEntry(group_id, target), uow, clock).created


def test_an_expense_cannot_be_edited_into_a_payment(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    expense_id = add(uow, group_id, dinner(4000))
    payment = Payment("EUR", 1000, "Raj", "Ana", DAY)
    payment_id = services.record_payment(RecordPayment(group_id, payment), uow, clock).entry_id
    before = services.group_balances(uow, group_id)
    commits = uow.commits

    with pytest.raises(ChipinError, match="cannot become a payment"):
        services.edit_entry(EditEntry(group_id, expense_id, payment), uow, clock)
    with pytest.raises(ChipinError, match="cannot become a payment"):
        services.edit_entry(EditEntry(group_id, payment_id, dinner(4000)), uow, clock)

    assert uow.commits == commits
    assert stored(uow, group_id, expense_id).entry == dinner(4000)
    assert stored(uow, group_id, payment_id).entry == payment
    assert services.group_balances(uow, group_id) == before == {"EUR": {"Ana": 1000, "Raj": -1000}}


def test_a_deleted_entry_can_be_edited_and_counts_again_once_restored(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    entry_id = add(uow, group_id, dinner(2000))
    services.delete_entry(DeleteEntry(group_id, entry_id), uow, clock)
    services.edit_entry(EditEntry(group_id, entry_id, dinner(8000)), uow, clock)
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 0, "Raj": 0}}
    assert services.check_balances(uow, group_id) == []
    services.restore_entry(RestoreEntry(group_id, entry_id), uow, clock)
    assert services.group_balances(uow, group_id) == {"EUR": {"Ana": 4000, "Raj": -4000}}


def test_running_totals_match_the_entries_through_random_edits_deletes_and_restores(
    uow: FakeUnitOfWork,
) -> None:
    names = ["Ana", "Raj", "Mia", "Tom"]
    group_id = make_group(uow, names)
    rng = random.Random(7)
    ids: list[int] = []
    for i in range(80):
        action = rng.random()
        currency = rng.choice(["EUR", "JPY"])
        if action < 0.45 or not ids:
            payer = rng.choice(names)
            members = tuple(rng.sample(names, rng.randint(1, 4)))
            amount = rng.choice([1, -1]) * rng.randint(1, 50_000)
            expense = Expense(
                currency, amount, ((payer, amount),), EqualSplit(members), f"x{i}", DAY
            )
            ids.append(add(uow, group_id, expense, actor=payer))
        elif action < 0.6:
            a, b = rng.sample(names, 2)
            pay = Payment(currency, rng.randint(1, 9_999), a, b, DAY)
            ids.append(services.record_payment(RecordPayment(group_id, pay), uow, clock).entry_id)
        elif action < 0.75:
            services.delete_entry(DeleteEntry(group_id, rng.choice(ids)), uow, clock)
        elif action < 0.9:
            services.restore_entry(RestoreEntry(group_id, rng.choice(ids)), uow, clock)
        else:
            target = rng.choice(ids)
            if isinstance(stored(uow, group_id, target).entry, Expense):
                amount = rng.randint(1, 50_000)
                new = Expense(
                    currency,
                    amount,
                    ((rng.choice(names), amount),),
                    SharesSplit((("Ana", Decimal(1)), ("Tom", Decimal(2)))),
                    "edited",
                    DAY,
                )
                services.edit_entry(EditEntry(group_id, target, new), uow, clock)
        assert services.check_balances(uow, group_id) == []
    with uow:
        active = [s.entry for s in uow.ledger.entries(group_id)]
    kept = services.group_balances(uow, group_id)
    nonzero = {c: {m: a for m, a in v.items() if a} for c, v in kept.items()}
    assert {c: v for c, v in nonzero.items() if v} == pure_balances(active)


def test_check_balances_reports_running_totals_that_drifted_from_the_entries(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    add(uow, group_id, dinner(1000))
    ana = uow.store.tables.members[1].member
    assert ana.name == "Ana"
    uow.store.tables.balances[(group_id, ana.id, "EUR")] += 7  # a lost update
    assert services.check_balances(uow, group_id) == [
        "EUR Ana: kept 507, recomputed 500",
    ]
    with uow:
        uow.ledger.rebuild_balances(group_id)
        uow.commit()
    assert services.check_balances(uow, group_id) == []


# -- settling up -------------------------------------------------------------------------------


def test_settle_up_remembers_the_plan_and_recording_one_transfer_leaves_the_others(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Mia", "Raj", "Tom", "Zoe"])
    expense = Expense(
        "EUR",
        5400,
        (("Mia", 2400), ("Raj", 600), ("Tom", 2400)),
        ExactSplit((("Ana", 2900), ("Zoe", 2500))),
        "Cabin",
        DAY,
    )
    add(uow, group_id, expense)

    plan = services.settle_up(uow, group_id, clock=clock)["EUR"]
    assert plan == [
        Transfer("Ana", "Mia", 2400),
        Transfer("Ana", "Raj", 500),
        Transfer("Zoe", "Raj", 100),
        Transfer("Zoe", "Tom", 2400),
    ]
    with uow:
        assert uow.ledger.settle_hint(group_id, "EUR") == plan
    assert uow.store.tables.settle_plans[(group_id, "EUR")][1] == NOW

    paid = plan[2]
    services.record_payment(
        RecordPayment(group_id, Payment("EUR", paid.amount, paid.debtor, paid.creditor, DAY)),
        uow,
        clock,
    )
    left = [p for p in plan if p != paid]
    # a fresh plan would reshuffle the suggestions people were already shown
    after = services.group_balances(uow, group_id)["EUR"]
    assert settle_plan(after) != left
    assert services.settle_up(uow, group_id, clock=later)["EUR"] == left
    with uow:
        assert uow.ledger.settle_hint(group_id, "EUR") == left


def test_settle_up_without_remembering_stores_no_plan(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    add(uow, group_id, dinner(1000))
    plans = services.settle_up(uow, group_id, remember=False, clock=clock)
    assert plans == {"EUR": [Transfer("Raj", "Ana", 500)]}
    with uow:
        assert uow.ledger.settle_hint(group_id, "EUR") == []


# -- history -----------------------------------------------------------------------------------


def test_history_gives_a_running_balance_ending_at_the_members_balance(
    uow: FakeUnitOfWork,
) -> None:
    group_id = make_group(uow, ["Ana", "Raj", "Mia"])
    late = Expense("EUR", 3000, (("Raj", 3000),), EqualSplit(("Ana", "Raj", "Mia")), "Taxi", DAY)
    early = Expense(
        "EUR",
        9000,
        (("Ana", 9000),),
        EqualSplit(("Ana", "Raj", "Mia")),
        "Hotel",
        DAY - dt.timedelta(days=2),
    )
    add(uow, group_id, late, external_id="late")
    add(uow, group_id, early, external_id="early")
    dropped = add(uow, group_id, dinner(5000), external_id="dropped")
    services.delete_entry(DeleteEntry(group_id, dropped), uow, clock)
    services.record_payment(
        RecordPayment(group_id, Payment("EUR", 1000, "Mia", "Ana", DAY), external_id="pay"),
        uow,
        clock,
    )
    add(uow, group_id, dinner(500, payer="Raj", members=("Raj", "Mia")))  # not Ana's

    lines = services.history(uow, group_id, "  ana ")

    assert [(ln.entry_id, ln.delta, ln.balance) for ln in lines] == [
        ("early", 6000, 6000),
        ("late", -1000, 5000),
        ("pay", -1000, 4000),
    ]
    assert lines[-1].balance == services.group_balances(uow, group_id)["EUR"]["Ana"]
    assert [ln.kind for ln in lines] == ["expense", "expense", "payment"]
    with pytest.raises(UnknownMember):
        services.history(uow, group_id, "Zoe")


# -- groups ------------------------------------------------------------------------------------


def test_create_group_refuses_a_duplicate_name_in_any_case_and_an_unknown_timezone(
    uow: FakeUnitOfWork,
) -> None:
    group = services.create_group(uow, "  Lisbon   Trip ", "eur", "Europe/Lisbon", clock=clock)
    assert (group.name, group.currency, group.timezone) == ("Lisbon Trip", "EUR", "Europe/Lisbon")
    assert uow.store.tables.groups[group.id].created_at == NOW
    commits = uow.commits

    with pytest.raises(ChipinError, match="already exists"):
        services.create_group(uow, "LISBON trip", "EUR", clock=clock)
    with pytest.raises(ChipinError, match="unknown timezone"):
        services.create_group(uow, "Porto", "EUR", "Mars/Olympus_Mons", clock=clock)
    with pytest.raises(ChipinError, match="needs a name"):
        services.create_group(uow, "   ", "EUR", clock=clock)

    assert uow.commits == commits
    with uow:
        assert uow.ledger.groups() == [group]
    assert services.find_group(uow, "lisbon trip") == group
    with pytest.raises(services.GroupNotFound):
        services.find_group(uow, "Porto")


def test_adding_members_matches_names_in_any_case(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Tom  Okafor"])
    again = services.add_members(uow, group_id, ["ANA", "tom okafor", "Raj"], clock=clock)
    assert [m.name for m in again] == ["Ana", "Tom Okafor", "Raj"]
    with uow:
        assert [m.name for m in uow.ledger.members(group_id)] == ["Ana", "Tom Okafor", "Raj"]
    assert services.member_name(uow, group_id, "tom OKAFOR") == "Tom Okafor"


# -- import and export -------------------------------------------------------------------------


def test_export_of_an_imported_ledger_equals_the_original_file(uow: FakeUnitOfWork) -> None:
    doc, original = load_doc("everything.json")
    result = services.import_ledger(ImportLedger(doc), uow, clock)
    assert (result.added, result.already_present, result.at) == (11, 0, NOW)
    assert result.members_added == ("Ana", "Raj", "Mia", "Tom Okafor")
    assert services.export_ledger(uow, result.group_id) == original
    assert services.check_balances(uow, result.group_id) == []
    balances = services.group_balances(uow, result.group_id)
    assert balances["JPY"] == {"Ana": -3334 + 3333, "Mia": 10000 - 3333 - 3333, "Raj": -3333}
    trail = audit(uow, result.group_id)
    assert len(trail) == 11
    assert {(a.action, a.actor, a.at) for a in trail} == {("import", "import", NOW)}


def test_import_into_an_existing_group_adds_members_case_insensitively_and_skips_known_ids(
    uow: FakeUnitOfWork,
) -> None:
    doc, _ = load_doc("everything.json")
    group_id = make_group(uow, ["ana", "RAJ"], name="flat 4b")
    add(uow, group_id, dinner(2000, payer="ana", members=("ana", "RAJ")), external_id="e1")

    result = services.import_ledger(ImportLedger(doc), uow, clock)

    assert result.group_id == group_id
    assert (result.added, result.already_present) == (10, 1)
    assert result.members_added == ("Mia", "Tom Okafor")
    with uow:
        assert [m.name for m in uow.ledger.members(group_id)] == ["ana", "RAJ", "Mia", "Tom Okafor"]
        groceries = uow.ledger.entry_by_external_id(group_id, "e2")
        assert uow.ledger.groups() == [uow.ledger.group(group_id)]
    assert groceries is not None
    assert groceries.entry.members() == ("RAJ", "Mia", "ana")  # the stored spelling
    first = stored(uow, group_id, 1)
    assert first.external_id == "e1" and first.entry.amount == 2000  # ours, not the file's
    assert services.check_balances(uow, group_id) == []

    balances = services.group_balances(uow, group_id)
    again = services.import_ledger(ImportLedger(doc), uow, later)
    assert (again.added, again.already_present, again.members_added) == (0, 11, ())
    assert services.group_balances(uow, group_id) == balances


def test_export_lists_live_entries_in_recording_order_with_their_ids(uow: FakeUnitOfWork) -> None:
    group_id = make_group(uow, ["Ana", "Raj"])
    later_day = Expense("EUR", 2000, (("Ana", 2000),), EqualSplit(("Ana", "Raj")), "Late", DAY)
    earlier_day = Expense(
        "EUR", 1000, (("Raj", 1000),), EqualSplit(("Ana", "Raj")), "Early", DAY - dt.timedelta(1)
    )
    add(uow, group_id, later_day, external_id="x-late")
    add(uow, group_id, earlier_day, external_id="x-early")
    gone = add(uow, group_id, dinner(999), external_id="x-gone")
    services.delete_entry(DeleteEntry(group_id, gone), uow, clock)

    exported = services.export_ledger(uow, group_id)

    expenses = exported["expenses"]
    assert isinstance(expenses, list)
    assert [e["id"] for e in expenses] == ["x-late", "x-early"]
    assert exported["group"] == {"name": "Trip", "currency": "EUR", "timezone": "Europe/Lisbon"}
    assert exported["members"] == [{"name": "Ana"}, {"name": "Raj"}]
