"""A simulated month through the scheduler on SQLite and PostgreSQL: budgets alert once per
threshold and period (re-armed by an undo), projections warn once, digests go out once per
period, reminders at most once per interval, recurring entries exactly once per occurrence."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chipin.bot.alerts import budget_checks, check_budgets, decide_budget, local_today
from chipin.core import services
from chipin.core.budgets import Budget, spent, window
from chipin.core.commands import AddExpense, DeleteEntry, RecordPayment
from chipin.core.entries import Expense, Payment
from chipin.core.ledger_doc import entry_to_json
from chipin.core.recurrence import Rule
from chipin.core.splits import EqualSplit
from chipin.scheduler.jobs import Jobs
from chipin.store.schedule import ScheduleRepository, budget_alerts
from chipin.store.tables import outbox
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
        rents = [
            s
            for s in uow.ledger.entries(group_id)
            if isinstance(s.entry, Expense) and s.entry.description == "rent"
        ]
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


# -- the batched budget check agrees with check_budgets ------------------------------------------

LATE = dt.datetime(2026, 11, 30, 23, 30, tzinfo=dt.UTC)  # already December in Auckland and Tokyo


def _group(engine: Engine, name: str, zone: str, room: str) -> int:
    group = services.create_group(SqlUnitOfWork(engine), name, "EUR", zone)
    services.add_members(SqlUnitOfWork(engine), group.id, ["Ana", "Raj", "Li"])
    with SqlUnitOfWork(engine) as uow:
        conversation = uow.conversations.get_or_create("web", room, LATE)
        uow.conversations.update(conversation.id, LATE, group_id=group.id)
        uow.commit()
    return group.id


def _budget(
    engine: Engine,
    group_id: int,
    amount: int,
    period: str,
    category: str | None = None,
    member: str | None = None,
    currency: str = "EUR",
) -> int:
    with SqlUnitOfWork(engine) as uow:
        member_id = None
        if member is not None:
            found = uow.ledger.member_by_name(group_id, member)
            assert found is not None
            member_id = found.id
        budget = Budget(group_id, amount, currency, period, category, member)
        budget_id = ScheduleRepository(uow.connection).set_budget(budget, member_id, LATE)
        uow.commit()
    return budget_id


def _expense(
    engine: Engine,
    group_id: int,
    amount: int,
    day: dt.date,
    category: str | None,
    *,
    currency: str = "EUR",
    payer: str = "Ana",
    split: tuple[str, ...] = ("Ana", "Raj"),
) -> int:
    expense = Expense(
        currency, amount, ((payer, amount),), EqualSplit(split), category or "misc", day, category
    )
    return services.add_expense(AddExpense(group_id, expense), SqlUnitOfWork(engine)).entry_id


def _claimed(engine: Engine, budget_id: int, start: dt.date, kind: str) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert ScheduleRepository(uow.connection).claim_alert(budget_id, start, kind, LATE)
        uow.commit()


def _state(engine: Engine) -> tuple[set[tuple[str, str]], set[tuple[int, dt.date, str]]]:
    with SqlUnitOfWork(engine, readonly=True) as uow:
        queued = {
            (str(r.dedupe_key), r.payload["text"])
            for r in uow.connection.execute(select(outbox.c.dedupe_key, outbox.c.payload))
        }
        recorded = {
            (int(r.budget_id), r.period_start, str(r.kind))
            for r in uow.connection.execute(
                select(
                    budget_alerts.c.budget_id, budget_alerts.c.period_start, budget_alerts.c.kind
                )
            )
        }
    return queued, recorded


def test_batched_budget_checks_agree_with_check_budgets(engine: Engine) -> None:
    nov, dec = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
    # Auckland: already December — November's groceries no longer count, December's dining does
    kiwi = _group(engine, "Kiwi", "Pacific/Auckland", "kiwi-room")
    _budget(engine, kiwi, 10000, "month", "food")
    _expense(engine, kiwi, 9000, dt.date(2026, 11, 29), "groceries")
    _expense(engine, kiwi, 8500, dec, "dining")
    # Los Angeles: still November 30 — family, case, currency, deletion and payments all matter
    west = _group(engine, "West", "America/Los_Angeles", "west-room")
    food = _budget(engine, west, 10000, "month", "Food")
    raj = _budget(engine, west, 3000, "month", None, "Raj")
    _budget(engine, west, 20000, "week")
    _budget(engine, west, 5000, "month", "transport", "Li")
    _expense(engine, west, 5000, dt.date(2026, 11, 3), "groceries")
    _expense(engine, west, 4000, dt.date(2026, 11, 20), "drinks", split=("Ana", "Raj", "Li"))
    _expense(engine, west, 500, dt.date(2026, 11, 30), "FOOD")
    _expense(engine, west, 10000, dt.date(2026, 11, 30), "taxi", split=("Li",))
    _expense(engine, west, 9000, dt.date(2026, 11, 10), "food", currency="USD")
    gone = _expense(engine, west, 5000, dt.date(2026, 11, 12), "food")
    services.delete_entry(DeleteEntry(west, gone), SqlUnitOfWork(engine))
    _expense(engine, west, 1000, dt.date(2026, 10, 31), "food")  # last month
    services.record_payment(
        RecordPayment(west, Payment("EUR", 7000, "Raj", "Ana", dt.date(2026, 11, 25))),
        SqlUnitOfWork(engine),
    )
    _claimed(engine, food, nov, "100")  # sent when it was higher: now 95% — re-armed
    _claimed(engine, raj, nov, "80")  # already sent: only 100% is new
    # Lisbon: a yearly USD budget whose pace overshoots, and a refund
    lisbon = _group(engine, "Lisbon", "Europe/Lisbon", "lisbon-room")
    _budget(engine, lisbon, 100000, "year", None, None, "USD")
    _budget(engine, lisbon, 50000, "month", "home")
    _expense(engine, lisbon, 95000, dt.date(2026, 3, 1), "travel", currency="USD")
    _expense(engine, lisbon, 45000, dt.date(2026, 11, 1), "rent")
    _expense(engine, lisbon, -5000, dt.date(2026, 11, 2), "utilities")
    # Tokyo: already December — a member's weekly food budget across the month boundary
    tokyo = _group(engine, "Tokyo", "Asia/Tokyo", "tokyo-room")
    _budget(engine, tokyo, 4000, "week", "food", "Ana")
    _expense(engine, tokyo, 6000, dt.date(2026, 11, 30), "coffee", split=("Ana", "Li"))
    _expense(engine, tokyo, 3000, dec, "snacks", split=("Ana", "Raj", "Li"))
    _expense(engine, tokyo, 9000, dt.date(2026, 11, 29), "food")  # the week before

    # the per-group path, decision by decision, on the same data
    with SqlUnitOfWork(engine, readonly=True) as uow:
        batch, failures = budget_checks(uow.connection, LATE, only_changes=False)
        schedule = ScheduleRepository(uow.connection)
        assert failures == []
        assert [g.id for g, _ in batch] == [kiwi, west, lisbon, tokyo]
        for group, checks in batch:
            today = local_today(group, LATE)
            for check in checks:
                start, end = window(check.budget, today)
                entries = [s.entry for s in uow.ledger.entries_between(group.id, start, end)]
                amount = spent(check.budget, entries)
                assert check.budget.id is not None
                already = schedule.alerts_sent(check.budget.id, start)
                assert check == decide_budget(
                    check.budget, amount, already, today, projections=True
                ), check.budget
        changes = sum(c.changes for _, checks in batch for c in checks)
        assert changes >= 5

    # what check_budgets would write, then rolled back; and what a scheduler pass writes
    with SqlUnitOfWork(engine) as uow:
        for group_id in (kiwi, west, lisbon, tokyo):
            group = uow.ledger.group(group_id)
            check_budgets(uow, group, local_today(group, LATE), LATE, projections=True)
        expected_queued = {
            (str(r.dedupe_key), r.payload["text"])
            for r in uow.connection.execute(select(outbox.c.dedupe_key, outbox.c.payload))
        }
        expected_recorded = {
            (int(r.budget_id), r.period_start, str(r.kind))
            for r in uow.connection.execute(
                select(
                    budget_alerts.c.budget_id, budget_alerts.c.period_start, budget_alerts.c.kind
                )
            )
        }
    report = Jobs(engine).run_due(LATE)
    assert report.failures == []
    queued, recorded = _state(engine)
    assert queued == expected_queued
    assert recorded == expected_recorded
    assert report.budget_alerts == len(queued)
    kinds = Counter(key.split(":")[0].split("-")[5] for key, _ in queued)
    assert kinds == {"80": 6, "100": 3, "projection": 1}, sorted(k for k, _ in queued)
    assert (food, nov, "100") not in recorded  # re-armed
    # and a second pass finds nothing to do
    assert Jobs(engine).run_due(LATE + dt.timedelta(minutes=5)).budget_alerts == 0
    assert _state(engine) == (queued, recorded)


def test_a_group_that_fails_rolls_back_alone_and_is_retried_next_pass(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budget writes go many groups per transaction, each in a savepoint: one group failing
    half-way keeps nothing of its own and stops nobody else; the next pass sends its alert."""
    import chipin.scheduler.jobs as jobs_module

    flat = setup_group(engine)
    other = services.create_group(SqlUnitOfWork(engine), "Boat", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), other.id, ["Ana", "Raj"])
    now = at(dt.date(2026, 11, 1))
    with SqlUnitOfWork(engine) as uow:
        room = uow.conversations.get_or_create("web", "boat-room", now)
        uow.conversations.update(room.id, now, group_id=other.id)
        ScheduleRepository(uow.connection).set_budget(
            Budget(other.id, 30000, "EUR", "month", "food"), None, now
        )
        uow.commit()
    spend(engine, flat, 31000, dt.date(2026, 11, 3))
    spend(engine, other.id, 31000, dt.date(2026, 11, 3))
    real = jobs_module.act_on_budget

    def flaky(uow: SqlUnitOfWork, group: Any, check: Any, at_: Any, **kw: Any) -> int:
        queued = real(uow, group, check, at_, **kw)  # written, then the failure undoes it
        if group.id == flat:
            raise RuntimeError("the flat's budget broke")
        return queued

    monkeypatch.setattr(jobs_module, "act_on_budget", flaky)
    moment = at(dt.date(2026, 11, 3))
    report = Jobs(engine).run_due(moment)
    assert [f.split(":")[0] for f in report.failures] == [f"group {flat}"]
    with SqlUnitOfWork(engine) as uow:
        boat = Counter(o.payload["template"] for o in uow.outbox.for_conversation("web:boat-room"))
    assert boat["budget_alert"] == 2
    assert sent(engine)["budget_alert"] == 0  # nothing of the flat's kept
    monkeypatch.setattr(jobs_module, "act_on_budget", real)
    again = Jobs(engine).run_due(moment)
    assert again.failures == []
    assert sent(engine)["budget_alert"] == 2
