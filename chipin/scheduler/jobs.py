"""One scheduler pass: everything due at a given time, for every group.

Jobs are thin: they find the groups with work and call the producers in ``chipin.bot.alerts``,
one transaction per group so one broken group cannot stop the others. Running a pass twice, or
in two processes at once, sends nothing twice (the producers' unique records see to that).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Engine, select

from chipin.bot.alerts import check_budgets, create_recurring, send_digest, send_reminders
from chipin.core.records import Group
from chipin.store.schedule import ScheduleRepository, budgets
from chipin.store.uow import SqlUnitOfWork

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


def local_today(group: Group, at: dt.datetime) -> dt.date:
    return at.astimezone(ZoneInfo(group.timezone)).date()


class Jobs:
    def __init__(self, engine: Engine, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.engine = engine
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def _groups_with_work(self) -> set[int]:
        with SqlUnitOfWork(self.engine, readonly=True) as uow:
            schedule = ScheduleRepository(uow.connection)
            ids = {int(r[0]) for r in uow.connection.execute(select(budgets.c.group_id).distinct())}
            ids |= {g for g, _ in schedule.digests()}
            ids |= {g for g, _, _ in schedule.reminder_groups()}
            ids |= {r.group_id for r in schedule.recurring()}
        return ids

    def run_group(self, group_id: int, at: dt.datetime, report: PassReport) -> None:
        with SqlUnitOfWork(self.engine) as uow:
            group = uow.ledger.group(group_id)
            today = local_today(group, at)
            schedule = ScheduleRepository(uow.connection)
            for rule in schedule.recurring(group_id):
                report.recurring += len(create_recurring(uow, group, rule, today, at))
            report.budget_alerts += check_budgets(uow, group, today, at, projections=True)
            for subscribed, period in schedule.digests():
                if subscribed == group_id:
                    report.digests += send_digest(uow, group, period, today, at)
            for subscribed, after_days, every_days in schedule.reminder_groups():
                if subscribed == group_id:
                    report.reminders += send_reminders(
                        uow, group, after_days, every_days, today, at
                    )
            uow.commit()

    def run_due(self, at: dt.datetime | None = None) -> PassReport:
        """Everything due at ``at`` (default: now)."""
        at = at or self.clock()
        report = PassReport(at)
        for group_id in sorted(self._groups_with_work()):
            report.groups += 1
            try:
                self.run_group(group_id, at, report)
            except Exception as exc:  # one group's failure is logged; the others still run
                report.failures.append(f"group {group_id}: {type(exc).__name__}: {exc}")
                log.exception("chipin.scheduler_group_failed", group_id=group_id)
        log.info("chipin.scheduler_pass", **report.as_dict())
        return report
