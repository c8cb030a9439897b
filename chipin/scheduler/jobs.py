"""One scheduler pass: everything due at a given time, for every group.

Jobs are thin: they find the work and call the producers in ``chipin.bot.alerts``. Recurring
entries, digests and reminders run per group that has them. Budgets are checked for every group
at once, with a few set-based reads (``budget_checks``); only the groups whose budgets change
state (a threshold newly reached or fallen back under, a projection due) are written to. Writes
go up to ``BATCH`` groups per transaction, each group in its own savepoint, so one broken group
rolls back alone and cannot stop the others, and a pass that sends thousands of alerts commits a
few dozen times instead of once per group.
Running a pass twice, or in two processes at once, sends nothing twice (the producers' unique
records see to that). With the settings, every message also reaches the members who have a
phone, on their own channel, and digests carry the links of their charts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy import Engine

from chipin.bot.alerts import (
    act_on_budget,
    budget_checks,
    create_recurring,
    local_today,
    send_digest,
    send_reminders,
)
from chipin.settings import Settings
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

__all__ = ["Jobs", "PassReport", "local_today"]

log = structlog.get_logger("chipin.scheduler")
BATCH = 25
"""Groups written per transaction (each in its own savepoint). PostgreSQL keeps 64
subtransactions per transaction in shared memory; past that every snapshot taken anywhere must
look subtransactions up on disk, so a batch stays well under it."""


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
            work.budget_groups = schedule.budget_group_ids()
            for group_id, period in schedule.digests():
                work.digests.setdefault(group_id, []).append(period)
            for group_id, after_days, every_days in schedule.reminder_groups():
                work.reminders.setdefault(group_id, []).append((after_days, every_days))
            work.recurring = schedule.recurring_group_ids()
        return work

    def _each_group(
        self,
        group_ids: list[int],
        write: Callable[[SqlUnitOfWork, int], Counter[str]],
        report: PassReport,
    ) -> None:
        """``write(uow, group_id)`` for every group, ``BATCH`` groups per transaction, each in
        a savepoint: a failure is logged and reported, and only that group is rolled back.
        ``write`` returns what it queued, counted in the report once its batch commits."""
        for start in range(0, len(group_ids), BATCH):
            queued: Counter[str] = Counter()
            with SqlUnitOfWork(self.engine) as uow:
                for group_id in group_ids[start : start + BATCH]:
                    try:
                        with uow:
                            counts = write(uow, group_id)
                            uow.commit()
                        queued.update(counts)
                    except Exception as exc:  # one group's failure; the others still run
                        report.failures.append(f"group {group_id}: {type(exc).__name__}: {exc}")
                        log.exception("chipin.scheduler_group_failed", group_id=group_id)
                uow.commit()
            for name, count in queued.items():
                setattr(report, name, getattr(report, name) + count)

    def run_group(
        self, uow: SqlUnitOfWork, group_id: int, at: dt.datetime, work: Work
    ) -> Counter[str]:
        """Recurring entries, digests and reminders of one group; how many of each."""
        done: Counter[str] = Counter()
        group = uow.ledger.group(group_id)
        today = local_today(group, at)
        schedule = ScheduleRepository(uow.connection)
        if group_id in work.recurring:
            for rule in schedule.recurring(group_id):
                done["recurring"] += len(
                    create_recurring(uow, group, rule, today, at, settings=self.settings)
                )
        for period in work.digests.get(group_id, []):
            done["digests"] += send_digest(uow, group, period, today, at, settings=self.settings)
        for after_days, every_days in work.reminders.get(group_id, []):
            done["reminders"] += send_reminders(
                uow, group, after_days, every_days, today, at, settings=self.settings
            )
        return done

    def run_budgets(self, at: dt.datetime, report: PassReport) -> None:
        """Every budget of every group: one batched read, then the writes of changed groups."""
        try:
            with SqlUnitOfWork(self.engine, readonly=True) as uow:
                changed, failures = budget_checks(uow.connection, at, projections=True)
        except Exception as exc:
            report.failures.append(f"budgets: {type(exc).__name__}: {exc}")
            log.exception("chipin.scheduler_budgets_failed")
            return
        report.failures += failures
        by_id = {group.id: (group, checks) for group, checks in changed}

        def write(uow: SqlUnitOfWork, group_id: int) -> Counter[str]:
            group, checks = by_id[group_id]
            queued = sum(
                act_on_budget(uow, group, check, at, settings=self.settings) for check in checks
            )
            return Counter(budget_alerts=queued)

        self._each_group(list(by_id), write, report)

    def run_due(self, at: dt.datetime | None = None) -> PassReport:
        """Everything due at ``at`` (default: now)."""
        at = at or self.clock()
        report = PassReport(at)
        work = self._work()
        report.groups = len(work.groups())
        # recurring entries first: an occurrence recorded now counts against budgets below
        self._each_group(
            sorted(work.per_group()),
            lambda uow, group_id: self.run_group(uow, group_id, at, work),
            report,
        )
        if work.budget_groups:
            self.run_budgets(at, report)
        log.info("chipin.scheduler_pass", **report.as_dict())
        return report
