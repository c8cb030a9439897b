"""The ledger on a real database: SQLite and PostgreSQL (every test runs on both)."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select

from chipin.core import services
from chipin.core.commands import (
    AddExpense,
    DeleteEntry,
    EditEntry,
    ImportLedger,
    RecordPayment,
    RestoreEntry,
)
from chipin.core.entries import Expense, Payment
from chipin.core.errors import UnknownMember
from chipin.core.ledger_doc import parse_ledger
from chipin.core.splits import EqualSplit, ExactSplit, SharesSplit
from chipin.store import tables as t
from chipin.store.migrate import current_revision, head_revision
from chipin.store.uow import SqlUnitOfWork

LEDGERS = Path(__file__).parent.parent / "data" / "ledgers"
DAY = dt.date(2026, 11, 20)


def uow(engine: Engine) -> SqlUnitOfWork:
    return SqlUnitOfWork(engine)


def import_file(engine: Engine, name: str) -> services.LedgerImported:
    doc, problems = parse_ledger(json.loads((LEDGERS / name).read_text()))
    assert doc is not None, problems
    return services.import_ledger(ImportLedger(doc), uow(engine))


def make_group(engine: Engine, members: list[str], currency: str = "EUR") -> int:
    group = services.create_group(uow(engine), "Trip", currency, "Europe/Lisbon")
    services.add_members(uow(engine), group.id, members)
    return group.id


def test_migrations_build_exactly_the_declared_schema(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), t.metadata)
    assert diff == []


def test_import_then_export_round_trips_unchanged(engine: Engine) -> None:
    original = json.loads((LEDGERS / "everything.json").read_text())
    result = import_file(engine, "everything.json")
    assert (result.added, result.already_present) == (11, 0)
    exported = services.export_ledger(uow(engine), result.group_id)
    assert exported == original


def test_reimporting_the_same_file_adds_nothing(engine: Engine) -> None:
    first = import_file(engine, "everything.json")
    before = services.group_balances(uow(engine), first.group_id)
    again = import_file(engine, "everything.json")
    assert (again.added, again.already_present) == (0, 11)
    assert services.group_balances(uow(engine), first.group_id) == before


def test_balances_sum_to_zero_per_currency_and_match_the_recompute(engine: Engine) -> None:
    result = import_file(engine, "everything.json")
    balances = services.group_balances(uow(engine), result.group_id)
    assert set(balances) == {"EUR", "JPY", "KWD"}
    for amounts in balances.values():
        assert sum(amounts.values()) == 0
    assert services.check_balances(uow(engine), result.group_id) == []
    # a hand-checked figure: JPY 10000 split three ways, leftover yen to Ana (listed first)
    assert balances["JPY"] == {"Ana": -3334 + 3333, "Mia": 10000 - 3333 - 3333, "Raj": -3333}


def test_running_totals_survive_edits_deletes_and_restores(engine: Engine) -> None:
    group_id = make_group(engine, ["Ana", "Raj", "Mia", "Tom"])
    rng = random.Random(7)
    names = ["Ana", "Raj", "Mia", "Tom"]
    ids: list[int] = []
    for i in range(60):
        action = rng.random()
        if action < 0.5 or not ids:
            payer = rng.choice(names)
            members = tuple(rng.sample(names, rng.randint(1, 4)))
            amount = rng.randint(1, 50_000)
            expense = Expense("EUR", amount, ((payer, amount),), EqualSplit(members), f"x{i}", DAY)
            ids.append(
                services.add_expense(
                    AddExpense(group_id, expense, actor=payer), uow(engine)
                ).entry_id
            )
        elif action < 0.65:
            a, b = rng.sample(names, 2)
            pay = Payment("EUR", rng.randint(1, 9_999), a, b, DAY)
            ids.append(services.record_payment(RecordPayment(group_id, pay), uow(engine)).entry_id)
        elif action < 0.8:
            services.delete_entry(DeleteEntry(group_id, rng.choice(ids)), uow(engine))
        elif action < 0.9:
            services.restore_entry(RestoreEntry(group_id, rng.choice(ids)), uow(engine))
        else:
            target = rng.choice(ids)
            with uow(engine) as u:
                stored = u.ledger.entry(group_id, target)
            assert stored is not None
            if isinstance(stored.entry, Expense):
                amount = rng.randint(1, 50_000)
                new = Expense(
                    "EUR",
                    amount,
                    ((rng.choice(names), amount),),
                    SharesSplit((("Ana", Decimal(1)), ("Tom", Decimal(2)))),
                    "edited",
                    DAY,
                )
                services.edit_entry(EditEntry(group_id, target, new), uow(engine))
        assert services.check_balances(uow(engine), group_id) == []
    balances = services.group_balances(uow(engine), group_id)
    assert sum(balances["EUR"].values()) == 0


def test_every_change_is_in_the_audit_trail_with_before_and_after(engine: Engine) -> None:
    group_id = make_group(engine, ["Ana", "Raj"])
    expense = Expense("EUR", 6000, (("Ana", 6000),), EqualSplit(("Ana", "Raj")), "Dinner", DAY)
    entry_id = services.add_expense(
        AddExpense(group_id, expense, actor="Ana"), uow(engine)
    ).entry_id
    bigger = Expense("EUR", 7000, (("Ana", 7000),), EqualSplit(("Ana", "Raj")), "Dinner", DAY)
    services.edit_entry(EditEntry(group_id, entry_id, bigger, actor="Raj"), uow(engine))
    services.delete_entry(DeleteEntry(group_id, entry_id, actor="Ana"), uow(engine))
    services.delete_entry(DeleteEntry(group_id, entry_id, actor="Ana"), uow(engine))  # double tap
    services.restore_entry(RestoreEntry(group_id, entry_id, actor="admin"), uow(engine))
    with uow(engine) as u:
        trail = u.ledger.audit(group_id, entry_id)
    assert [(a.action, a.actor) for a in trail] == [
        ("create", "Ana"),
        ("update", "Raj"),
        ("delete", "Ana"),
        ("restore", "admin"),
    ]
    assert trail[1].before is not None and trail[1].before["amount"] == "60.00"
    assert trail[1].after is not None and trail[1].after["amount"] == "70.00"
    assert all(a.at.tzinfo is not None for a in trail)
    assert services.group_balances(uow(engine), group_id)["EUR"] == {"Ana": 3500, "Raj": -3500}


def test_an_external_id_makes_a_retried_command_record_once(engine: Engine) -> None:
    group_id = make_group(engine, ["Ana", "Raj"])
    expense = Expense("EUR", 1000, (("Ana", 1000),), EqualSplit(("Ana", "Raj")), "Taxi", DAY)
    first = services.add_expense(AddExpense(group_id, expense, external_id="tg:77"), uow(engine))
    second = services.add_expense(AddExpense(group_id, expense, external_id="tg:77"), uow(engine))
    assert first.created and not second.created
    assert second.entry_id == first.entry_id
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.entries)).scalar() == 1


def test_an_entry_is_recorded_whole_in_one_statement_on_postgres(engine: Engine) -> None:
    """The entry, its lines (a member who paid exactly their share included, at zero), the
    balances it moves and its audit row; one statement on PostgreSQL, and a retry with its
    external id writes nothing at all."""
    from sqlalchemy import event

    group_id = make_group(engine, ["Ana", "Raj", "Mia"])
    expense = Expense(
        "EUR",
        3000,
        (("Ana", 2000), ("Raj", 1000)),
        EqualSplit(("Ana", "Raj", "Mia")),
        "Dinner",
        DAY,
        category="food",
        author="Ana",
    )
    statements: list[str] = []

    def record(_c: object, _cur: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        command = AddExpense(group_id, expense, actor="Ana", external_id="web:m1")
        first = services.add_expense(command, uow(engine))
        writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
        statements.clear()
        again = services.add_expense(command, uow(engine))
        rewrites = [s for s in statements if "INSERT" in s.upper()]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    if engine.dialect.name == "postgresql":
        assert len([s for s in writes if "INSERT" in s.upper()]) == 1
    assert first.created and not again.created and again.entry_id == first.entry_id
    assert len(rewrites) == 1  # the attempt, which found the external id taken
    with engine.connect() as conn:
        lines = conn.execute(
            select(
                t.members.c.name, t.entry_lines.c.paid, t.entry_lines.c.share, t.entry_lines.c.net
            )
            .join(t.members, t.members.c.id == t.entry_lines.c.member_id)
            .order_by(t.members.c.name)
        ).all()
        counts = [
            conn.execute(select(func.count()).select_from(table)).scalar()
            for table in (t.entries, t.entry_lines, t.audit_log)
        ]
        entry = conn.execute(select(t.entries)).one()
    assert [tuple(r) for r in lines] == [
        ("Ana", 2000, 1000, 1000),
        ("Mia", 0, 1000, -1000),
        ("Raj", 1000, 1000, 0),
    ]
    assert counts == [1, 3, 1]
    assert (entry.external_id, entry.category, entry.date) == ("web:m1", "food", DAY)
    balances = services.group_balances(uow(engine), group_id)["EUR"]
    assert balances == {"Ana": 1000, "Mia": -1000, "Raj": 0}  # Raj's row kept at zero
    assert services.check_balances(uow(engine), group_id) == []
    with uow(engine) as u:
        (trail,) = u.ledger.audit(group_id)
    assert (trail.action, trail.actor, trail.entry_id) == ("create", "Ana", first.entry_id)
    assert trail.after is not None and trail.after["amount"] == "30.00"
    assert trail.at.tzinfo is not None


def test_an_entry_cannot_name_a_member_of_another_group(engine: Engine) -> None:
    ours = make_group(engine, ["Ana", "Raj"])
    other = services.create_group(uow(engine), "Other", "EUR")
    services.add_members(uow(engine), other.id, ["Zoe"])
    sneaky = Expense("EUR", 1000, (("Ana", 1000),), EqualSplit(("Ana", "Zoe")), "x", DAY)
    with pytest.raises(UnknownMember):
        services.add_expense(AddExpense(ours, sneaky), uow(engine))
    assert services.group_balances(uow(engine), ours) == {}


def test_settle_plan_keeps_other_suggestions_when_one_is_paid(engine: Engine) -> None:
    group_id = make_group(engine, ["Ana", "Raj", "Mia", "Tom", "Zoe"])
    expense = Expense(
        "EUR",
        8900,
        (("Ana", 7000), ("Tom", 1900)),
        ExactSplit((("Raj", 2500), ("Mia", 3100), ("Zoe", 3300))),
        "x",
        DAY,
    )
    services.add_expense(AddExpense(group_id, expense), uow(engine))
    assert services.group_balances(uow(engine), group_id)["EUR"] == {
        "Ana": 7000,
        "Mia": -3100,
        "Raj": -2500,
        "Tom": 1900,
        "Zoe": -3300,
    }
    plan = services.settle_up(uow(engine), group_id)["EUR"]
    assert len(plan) == 4
    paid = plan[1]
    services.record_payment(
        RecordPayment(group_id, Payment("EUR", paid.amount, paid.debtor, paid.creditor, DAY)),
        uow(engine),
    )
    assert services.settle_up(uow(engine), group_id)["EUR"] == [p for p in plan if p != paid]


def test_concurrent_writers_lose_no_update(engine: Engine) -> None:
    group_id = make_group(engine, ["Ana", "Raj"])
    errors: list[BaseException] = []

    def writer(payer: str, other: str) -> None:
        try:
            for _ in range(25):
                expense = Expense("EUR", 200, ((payer, 200),), EqualSplit((payer, other)), "x", DAY)
                services.add_expense(AddExpense(group_id, expense), uow(engine))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=writer, args=p)
        for p in (("Ana", "Raj"), ("Raj", "Ana"), ("Ana", "Raj"))
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert services.group_balances(uow(engine), group_id)["EUR"] == {"Ana": 2500, "Raj": -2500}
    assert services.check_balances(uow(engine), group_id) == []
