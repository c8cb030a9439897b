"""A simulated month through the scheduler on SQLite and PostgreSQL: budgets alert once per
threshold and period (re-armed by an undo), projections warn once, digests go out once per
period, reminders at most once per interval, recurring entries exactly once per occurrence."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

from sqlalchemy import Engine

from chipin.core import services
from chipin.core.budgets import Budget
from chipin.core.commands import AddExpense, DeleteEntry
from chipin.core.entries import Expense
from chipin.core.ledger_doc import entry_to_json
from chipin.core.recurrence import Rule
from chipin.core.splits import EqualSplit
from chipin.scheduler.jobs import Jobs
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

NOON = dt.time(12, 0, tzinfo=dt.UTC)


def at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, NOON)


def setup_group(engine: Engine) -> int:
    group = services.create_group(SqlUnitOfWork(engine), "Flat", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, ["Ana", "Raj"])
    now = at(dt.date(2026, 11, 1))
    with SqlUnitOfWork(engine) as uow:
        room = uow.conversations.get_or_create("web", "flat-room", now)
        uow.conversations.update(room.id, now, group_id=group.id)
        schedule = ScheduleRepository(uow.connection)
        schedule.set_budget(Budget(group.id, 30000, "EUR", "month", "food"), None, now)
        schedule.set_digest(group.id, "week", True, now)
        schedule.set_reminders(group.id, 5, 7, now)
        rent = Expense(
            "EUR",
            120000,
            (("Ana", 120000),),
            EqualSplit(("Ana", "Raj")),
            "rent",
            dt.date(2026, 11, 1),
            "housing",
        )
        schedule.add_recurring(
            group.id,
            None,
            "expense",
            entry_to_json(rent, None),
            Rule("month", dt.date(2026, 11, 1)),
            now,
        )
        uow.commit()
    return group.id


def spend(engine: Engine, group_id: int, amount: int, day: dt.date, category: str = "food") -> int:
    expense = Expense(
        "EUR", amount, (("Ana", amount),), EqualSplit(("Ana", "Raj")), category, day, category
    )
    return services.add_expense(AddExpense(group_id, expense), SqlUnitOfWork(engine)).entry_id


def sent(engine: Engine) -> Counter[str]:
    with SqlUnitOfWork(engine) as uow:
        return Counter(o.payload["template"] for o in uow.outbox.for_conversation("web:flat-room"))


def test_a_simulated_month(engine: Engine) -> None:
    group_id = setup_group(engine)
    jobs = Jobs(engine)
    day = dt.date(2026, 11, 1)
    plan = {3: 6000, 5: 6000, 8: 13000, 12: 6000}  # food spending by day of month
    undo_day, undone = 14, None
    while day <= dt.date(2026, 12, 8):
        if day.month == 11 and day.day in plan:
            entry_id = spend(engine, group_id, plan[day.day], day)
            if day.day == 12:
                undone = entry_id
        if day == dt.date(2026, 11, undo_day):
            assert undone is not None
            services.delete_entry(DeleteEntry(group_id, undone), SqlUnitOfWork(engine))
        if day == dt.date(2026, 11, 16):
            spend(engine, group_id, 7000, day)  # back over 80%: re-armed, alerts again
        for hour in (0, 6):  # the job runs several times a day; nothing is sent twice
            jobs.run_due(at(day) + dt.timedelta(hours=hour))
        day += dt.timedelta(days=1)
    counts = sent(engine)
    # 25,000 after the 8th (83%): one 80% alert; 310.00 on the 12th: 100%; the undo on the 14th
    # drops to 250.00 (under 100% only) — re-armed; 320.00 on the 16th: 100% again
    with SqlUnitOfWork(engine) as uow:
        texts = [
            o.payload["text"]
            for o in uow.outbox.for_conversation("web:flat-room")
            if o.payload["template"] == "budget_alert"
        ]
    assert counts["budget_alert"] == 3, texts
    assert sum("% of the monthly food budget spent" in t for t in texts) == 1
    assert sum("used up" in t for t in texts) == 2
    assert counts["budget_projection"] == 1
    # recurring rent: Nov 1 and Dec 1, exactly once each
    assert counts["recurring_created"] == 2
    with SqlUnitOfWork(engine) as uow:
        rents = [s for s in uow.ledger.entries(group_id) if s.entry.description == "rent"]
    assert [s.entry.date for s in rents] == [dt.date(2026, 11, 1), dt.date(2026, 12, 1)]
    # weekly digests on Mondays, for the weeks that had spending: Oct 26–Nov 1 (rent), Nov 2–8,
    # Nov 16–22, Nov 30–Dec 6 (rent); Nov 9–15 (its one expense undone) and Nov 23–29 are quiet
    assert counts["digest"] == 4
    # Raj owes from Nov 1 (rent): reminders after 5 days, at most one per 7-day slot
    assert 4 <= counts["reminder"] <= 6
    assert services.check_balances(SqlUnitOfWork(engine), group_id) == []


def test_two_schedulers_at_once_send_each_alert_once(engine: Engine) -> None:
    group_id = setup_group(engine)
    spend(engine, group_id, 31000, dt.date(2026, 11, 3))
    moment = at(dt.date(2026, 11, 3))
    errors: list[BaseException] = []

    def run() -> None:
        try:
            Jobs(engine).run_due(moment)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    counts = sent(engine)
    assert counts["budget_alert"] == 2  # 80% and 100%, once each
    assert counts["recurring_created"] == 1
