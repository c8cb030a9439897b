"""One scheduler pass: everything due at a given time, for every group.

Jobs are thin: they find the work and call the producers in ``chipin.bot.alerts``. Recurring
entries, digests and reminders run per group that has them, one transaction per group so one
broken group cannot stop the others. Budgets are checked for every group at once, with a few
set-based reads (``budget_checks``); only the groups whose budgets change state (a threshold
newly reached or fallen back under, a projection due) then get a small write transaction.
Running a pass twice, or in two processes at once, sends nothing twice (the producers' unique
records see to that). With the settings, every message also reaches the members who have a
phone, on their own channel, and digests carry the links of their charts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Engine, select

from chipin.bot.alerts import (
    BudgetCheck,
    act_on_budget,
    budget_checks,
    create_recurring,
    local_today,
    send_digest,
    send_reminders,
)
from chipin.core.records import Group
from chipin.settings import Settings
from chipin.store.schedule import ScheduleRepository, budgets
from chipin.store.uow import SqlUnitOfWork

__all__ = ["Jobs", "PassReport", "local_today"]

log = structlog.get_logger("chipin.scheduler")


@dataclass
class PassReport:
    at: dt.datetime
    groups: int = 0
    budget_alerts: int = 0
    digests: int = 0
    reminders: int = 0
    recurring: int = 0
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "groups": self.groups,
            "budget_alerts": self.budget_alerts,
            "digests": self.digests,
            "reminders": self.reminders,
            "recurring": self.recurring,
            "failures": self.failures,
        }


@dataclass
class Work:
    """What a pass has to visit: groups with budgets, and the per-group jobs."""

    budget_groups: set[int] = field(default_factory=set)
    recurring: set[int] = field(default_factory=set)
    digests: dict[int, list[str]] = field(default_factory=dict)
    reminders: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def per_group(self) -> set[int]:
        return self.recurring | set(self.digests) | set(self.reminders)

    def groups(self) -> set[int]:
        return self.budget_groups | self.per_group()


class Jobs:
    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], dt.datetime] | None = None,
        *,
        settings: Settings | None = None,
    ) -> None:
        self.engine = engine
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.settings = settings
        """Without settings nothing goes to phone members and charts have no links."""

    def _work(self) -> Work:
        work = Work()
        with SqlUnitOfWork(self.engine, readonly=True) as uow:
            schedule = ScheduleRepository(uow.connection)
            rows = uow.connection.execute(select(budgets.c.group_id).distinct())
            work.budget_groups = {int(r[0]) for r in rows}
            for group_id, period in schedule.digests():
                work.digests.setdefault(group_id, []).append(period)
            for group_id, after_days, every_days in schedule.reminder_groups():
                work.reminders.setdefault(group_id, []).append((after_days, every_days))
            work.recurring = {r.group_id for r in schedule.recurring()}
        return work

    def run_group(
        self, group_id: int, at: dt.datetime, report: PassReport, work: Work | None = None
    ) -> None:
        """Recurring entries, digests and reminders of one group, in one transaction."""
        work = work or self._work()
        with SqlUnitOfWork(self.engine) as uow:
            group = uow.ledger.group(group_id)
            today = local_today(group, at)
            schedule = ScheduleRepository(uow.connection)
            if group_id in work.recurring:
                for rule in schedule.recurring(group_id):
                    report.recurring += len(
                        create_recurring(uow, group, rule, today, at, settings=self.settings)
                    )
            for period in work.digests.get(group_id, []):
                report.digests += send_digest(uow, group, period, today, at, settings=self.settings)
            for after_days, every_days in work.reminders.get(group_id, []):
                report.reminders += send_reminders(
                    uow, group, after_days, every_days, today, at, settings=self.settings
                )
            uow.commit()

    def _write_budgets(self, group: Group, checks: list[BudgetCheck], at: dt.datetime) -> int:
        with SqlUnitOfWork(self.engine) as uow:
            queued = sum(
                act_on_budget(uow, group, check, at, settings=self.settings) for check in checks
            )
            uow.commit()
        return queued

    def run_budgets(self, at: dt.datetime, report: PassReport) -> None:
        """Every budget of every group: one batched read, then a write per changed group."""
        try:
            with SqlUnitOfWork(self.engine, readonly=True) as uow:
                changed, failures = budget_checks(uow.connection, at, projections=True)
        except Exception as exc:
            report.failures.append(f"budgets: {type(exc).__name__}: {exc}")
            log.exception("chipin.scheduler_budgets_failed")
            return
        report.failures += failures
        for group, checks in changed:
            try:
                report.budget_alerts += self._write_budgets(group, checks, at)
            except Exception as exc:  # one group's failure is logged; the others still run
                report.failures.append(f"group {group.id}: {type(exc).__name__}: {exc}")
                log.exception("chipin.scheduler_group_failed", group_id=group.id)

    def run_due(self, at: dt.datetime | None = None) -> PassReport:
        """Everything due at ``at`` (default: now)."""
        at = at or self.clock()
        report = PassReport(at)
        work = self._work()
        report.groups = len(work.groups())
        # recurring entries first: an occurrence recorded now counts against budgets below
        for group_id in sorted(work.per_group()):
            try:
                self.run_group(group_id, at, report, work)
            except Exception as exc:  # one group's failure is logged; the others still run
                report.failures.append(f"group {group_id}: {type(exc).__name__}: {exc}")
                log.exception("chipin.scheduler_group_failed", group_id=group_id)
        if work.budget_groups:
            self.run_budgets(at, report)
        log.info("chipin.scheduler_pass", **report.as_dict())
        return report
