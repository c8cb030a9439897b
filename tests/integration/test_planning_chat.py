"""Budgets, digests, reminders and recurring entries set in chat, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import Engine

from chipin.scheduler.jobs import Jobs
from chipin.settings import Settings
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork
from tests.integration.test_pipeline import Clock, make_room, press, say, worker_for


def texts(engine: Engine, room: str) -> list[str]:
    with SqlUnitOfWork(engine) as uow:
        return [
            o.payload["text"]
            for o in uow.outbox.for_conversation(f"web:{room}")
            if o.kind != "answer"
        ]


def test_a_budget_set_in_chat_alerts_right_after_the_expense_once(engine: Engine) -> None:
    clock, settings = Clock(), Settings(PARSER="rules")
    make_room(engine, "Food", ["Ana", "Raj"], "bf")
    worker = worker_for(engine, settings, clock)
    for n, text in enumerate(
        [
            "set a monthly food budget of 100",
            "I paid 85 for groceries, split with Raj",
            "I paid 5 for coffee, split with Raj",
            "I paid 20 for dinner, split with Raj",
            "undo",
            "I paid 30 for lunch, split with Raj",
            "budgets",
        ]
    ):
        say(engine, "bf", "Ana", text, f"b{n}")
        asyncio.run(worker.drain())
    said = texts(engine, "bf")
    assert said[0].startswith("✓ The monthly food budget: 100.00 EUR")
    alerts = [t for t in said if t.startswith(("⚠️", "🚨"))]
    # 85 → 80% (once, not again at 90); 110 → 100%; undo → 90 (re-armed); 120 → 100% again
    assert [a.split()[0] for a in alerts] == ["⚠️", "🚨", "🚨"]
    assert (
        said.index(alerts[0])
        == said.index("✓ Groceries · 85.00 EUR · paid by Ana · Ana 42.50, Raj 42.50") + 1
    )
    assert "120.00 EUR of 100.00 EUR" in said[-1]


def test_a_recurring_entry_is_confirmed_then_created_once_per_occurrence(engine: Engine) -> None:
    clock, settings = Clock(), Settings(PARSER="rules")
    group_id = make_room(engine, "Rent", ["Ana", "Raj"], "br")
    worker = worker_for(engine, settings, clock)
    say(engine, "br", "Ana", "rent 1200 every month on the 1st, split equally", "r1")
    asyncio.run(worker.drain())
    assert texts(engine, "br")[0].startswith("Set up a recurring entry?")
    with SqlUnitOfWork(engine) as uow:
        action = uow.outbox.for_conversation("web:br")[0].payload["actions"][0]["data"]
    press(engine, "br", "Raj", action, "r2")  # not the author: nothing set up
    press(engine, "br", "Ana", action, "r3")
    asyncio.run(worker.drain())
    with SqlUnitOfWork(engine) as uow:
        rules = ScheduleRepository(uow.connection).recurring(group_id)
    assert len(rules) == 1 and rules[0].rule.describe() == "every month on the 1st"
    jobs = Jobs(engine)
    for day in (
        dt.date(2026, 11, 30),
        dt.date(2026, 12, 1),
        dt.date(2026, 12, 1),
        dt.date(2027, 1, 2),
    ):
        jobs.run_due(dt.datetime.combine(day, dt.time(9, tzinfo=dt.UTC)))
    with SqlUnitOfWork(engine) as uow:
        rents = [s.entry.date for s in uow.ledger.entries(group_id)]
    assert rents == [dt.date(2026, 12, 1), dt.date(2027, 1, 1)]
