"""Messages Chipin starts on its own: budget alerts and projections, digests, reminders, and
recurring entries coming due.

Each "sent once" record (an alert, a digest period, a reminder slot, a recurring occurrence's
entry id) is written in the same transaction as the outbox rows it produces, so however often a
job runs, in however many processes, every message goes out once. Falling back under a budget
threshold re-arms it.

A message goes to the group's chats (a Telegram group, the playground) and — given the
settings — to each member who has a phone, on their own channel (WhatsApp first, SMS otherwise,
opt-outs respected): a group made on WhatsApp or SMS has no chat of its own. Reminders reach
only the phone of the person who owes. Digests carry a chart (a photo on Telegram, media on
WhatsApp).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection

from chipin.bot.charts import spending_chart
from chipin.bot.member_notices import to_phone_members
from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.bot.replies import totals_view
from chipin.bot.views import entry_view
from chipin.core import services
from chipin.core.balances import passbook
from chipin.core.budgets import (
    THRESHOLDS,
    Budget,
    Projection,
    projection,
    reached,
    round_about,
    spent,
    window,
)
from chipin.core.categories import category_matches
from chipin.core.commands import AddExpense, RecordPayment
from chipin.core.entries import Entry, Expense
from chipin.core.errors import ChipinError
from chipin.core.ledger_doc import parse_entry
from chipin.core.money import currency_exponent
from chipin.core.records import Group, StoredEntry
from chipin.core.recurrence import due
from chipin.core.reports import period_range, spending
from chipin.settings import Settings
from chipin.store.conversations import split_conversation_key
from chipin.store.phones import PHONE_CHANNELS, PhoneRepository
from chipin.store.schedule import RecurringRule, ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.alerts")


def queue_to_group(
    uow: SqlUnitOfWork,
    group: Group,
    reply: Reply,
    key: str,
    now: dt.datetime,
    here: tuple[str, list[Reply]] | None = None,
    *,
    settings: Settings | None = None,
    phone_members: Collection[int] | None = None,
) -> int:
    """Queue ``reply`` to every active conversation of the group and, with ``settings``, to
    each member who has a phone (only ``phone_members``, when given); returns how many.

    ``here`` is (conversation key, replies) of the turn being handled: that conversation gets
    the reply after the turn's own answer instead of before it.

    With ``settings``, phone conversations are not written to as conversations: a phone
    conversation is one person, bound to whichever of their groups is active, and reaching
    them goes through :func:`~chipin.bot.member_notices.deliver` (the 24-hour window, the
    template, SMS, opt-outs). Without, the old behaviour: every bound conversation."""
    queued = 0
    by_phone = settings is not None
    speaker_phone = None
    if by_phone and here is not None:
        channel, external_id = split_conversation_key(here[0])
        if channel in PHONE_CHANNELS:
            speaker_phone = external_id
            if phone_members is None or _phone_of(uow, external_id, phone_members):
                here[1].append(reply)
                queued += 1
    for conversation in uow.conversations.for_group(group.id):
        if not conversation.active:
            continue
        if by_phone and conversation.channel in PHONE_CHANNELS:
            continue
        if here is not None and conversation.key == here[0]:
            here[1].append(reply)
            queued += 1
            continue
        payload = render(conversation.channel, reply, locale=group.locale)
        if (
            uow.outbox.add(
                channel=conversation.channel,
                conversation_key=conversation.key,
                recipient=conversation.external_id,
                kind="send",
                payload=payload,
                now=now,
                dedupe_key=f"{key}:{conversation.id}",
            )
            is not None
        ):
            queued += 1
    if settings is not None:
        queued += to_phone_members(
            settings,
            uow,
            group,
            reply,
            key=key,
            now=now,
            only=phone_members,
            skip_phone=speaker_phone,
        )
    return queued


def _phone_of(uow: SqlUnitOfWork, phone: str, member_ids: Collection[int]) -> bool:
    """Whether ``phone`` is the number of one of ``member_ids``."""
    phones = PhoneRepository(uow.connection).phones_of(list(member_ids))
    return phone in phones.values()


def _budget_context(budget: Budget, amount_spent: int) -> dict[str, Any]:
    return {
        "label": budget.label(),
        "spent": amount_spent,
        "amount": budget.amount,
        "currency": budget.currency,
        "percent": amount_spent * 100 // budget.amount,
        "period": budget.period,
    }


@dataclass(frozen=True, slots=True)
class BudgetCheck:
    """One budget in its current window: what it has spent and what to do about it."""

    budget: Budget
    start: dt.date
    """The window's first day: the period key of its alerts."""
    amount: int
    alerts: frozenset[int]
    """Thresholds newly reached: claim them and tell the group."""
    rearm: frozenset[str]
    """Alert kinds no longer reached: crossing them again alerts again."""
    projection: Projection | None
    """A projection warning due now (not sent yet this period)."""

    @property
    def changes(self) -> bool:
        return bool(self.alerts or self.rearm or self.projection is not None)


def decide_budget(
    budget: Budget, amount: int, already: set[str], today: dt.date, *, projections: bool
) -> BudgetCheck:
    """The one decision for a budget, given what it has spent in its window and the alerts
    already recorded for the window (the per-expense check and the scheduler's batch share it)."""
    start, _ = window(budget, today)
    hit = reached(amount, budget)
    return BudgetCheck(
        budget,
        start,
        amount,
        frozenset(t for t in THRESHOLDS if t in hit and str(t) not in already),
        frozenset(str(t) for t in THRESHOLDS if t not in hit and str(t) in already),
        projection(budget, amount, today) if projections and "projection" not in already else None,
    )


def act_on_budget(
    uow: SqlUnitOfWork,
    group: Group,
    check: BudgetCheck,
    now: dt.datetime,
    here: tuple[str, list[Reply]] | None = None,
    *,
    settings: Settings | None = None,
) -> int:
    """Carry out ``check``: claim and queue new alerts, re-arm, warn; returns messages queued."""
    schedule = ScheduleRepository(uow.connection)
    budget, start, amount = check.budget, check.start, check.amount
    assert budget.id is not None
    sent_count = 0
    for threshold in THRESHOLDS:
        kind = str(threshold)
        if threshold in check.alerts:
            if schedule.claim_alert(budget.id, start, kind, now):
                context = _budget_context(budget, amount) | {"threshold": threshold}
                sent_count += queue_to_group(
                    uow,
                    group,
                    Reply("budget_alert", context),
                    f"budget-{budget.id}-{start}-{kind}-{amount}",
                    now,
                    here,
                    settings=settings,
                )
        elif kind in check.rearm:
            schedule.rearm(budget.id, start, kind)
    ahead = check.projection
    if ahead is not None and schedule.claim_alert(budget.id, start, "projection", now):
        context = _budget_context(budget, amount) | {
            "overshoot": round_about(ahead.overshoot, currency_exponent(budget.currency)),
            "by_day": ahead.by.day,
        }
        sent_count += queue_to_group(
            uow,
            group,
            Reply("budget_projection", context),
            f"budget-{budget.id}-{start}-projection",
            now,
            settings=settings,
        )
    return sent_count


def check_budgets(
    uow: SqlUnitOfWork,
    group: Group,
    today: dt.date,
    now: dt.datetime,
    *,
    projections: bool = False,
    here: tuple[str, list[Reply]] | None = None,
    settings: Settings | None = None,
) -> int:
    """Alert on budgets that reached 80% or 100% (once each per period), re-arm the ones that
    fell back under, and — in scheduled runs — warn when the pace would overshoot. With
    ``settings`` the alerts reach phone members too (:func:`queue_to_group`)."""
    schedule = ScheduleRepository(uow.connection, uow.cache)
    sent_count = 0
    for budget, _ in schedule.budgets(group.id):
        assert budget.id is not None
        start, end = window(budget, today)
        entries = [s.entry for s in uow.ledger.entries_between(group.id, start, end)]
        amount = spent(budget, entries)
        already = schedule.alerts_sent(budget.id, start)
        check = decide_budget(budget, amount, already, today, projections=projections)
        if check.changes:
            sent_count += act_on_budget(uow, group, check, now, here, settings=settings)
    return sent_count


def local_today(group: Group, at: dt.datetime) -> dt.date:
    """The group's date at the moment ``at``."""
    return at.astimezone(ZoneInfo(group.timezone)).date()


def spent_in(budget: Budget, by_category: Iterable[tuple[str | None, int]]) -> int:
    """What counts against ``budget`` given its window's totals per entry category (already
    limited to its expenses in its currency, and to its member's shares for a member budget)."""
    return sum(
        total
        for category, total in by_category
        if budget.category is None or category_matches(budget.category, category)
    )


def budget_checks(
    conn: Connection, at: dt.datetime, *, projections: bool = True, only_changes: bool = True
) -> tuple[list[tuple[Group, list[BudgetCheck]]], list[str]]:
    """Every budget's state at ``at`` with a few set-based queries, for the scheduler.

    Each budget's window is its period around ``at`` in its group's timezone; budgets sharing
    a window are checked together (the alerts already sent first, then the spending, so a
    threshold is never re-armed on a total older than its alert). Returns the groups with
    something to do (only those need a write; every group with ``only_changes=False``), and
    the groups that could not be checked."""
    schedule = ScheduleRepository(conn)
    todays: dict[int, dt.date | None] = {}
    groups: dict[int, Group] = {}
    failures: list[str] = []
    by_window: dict[tuple[dt.date, dt.date], list[Budget]] = {}
    for budget, group in schedule.budgets_with_groups():
        if group.id not in todays:
            groups[group.id] = group
            try:
                todays[group.id] = local_today(group, at)
            except Exception as exc:  # a broken timezone stops this group only
                todays[group.id] = None
                failures.append(f"group {group.id}: {type(exc).__name__}: {exc}")
        today = todays[group.id]
        if today is not None:
            by_window.setdefault(window(budget, today), []).append(budget)
    out: dict[int, list[BudgetCheck]] = {}
    for (start, end), members in sorted(by_window.items()):
        ids = [b.id for b in members if b.id is not None]
        already = schedule.alerts_sent_many(ids, start)
        spending = schedule.spending_by_category(ids, start, end)
        for budget in members:
            assert budget.id is not None
            today = todays[budget.group_id]
            assert today is not None
            amount = spent_in(budget, spending.get(budget.id, ()))
            check = decide_budget(
                budget, amount, already.get(budget.id, set()), today, projections=projections
            )
            if check.changes or not only_changes:
                out.setdefault(budget.group_id, []).append(check)
    return [
        (groups[gid], sorted(checks, key=lambda c: c.budget.id or 0))
        for gid, checks in sorted(out.items())
    ], failures


def _entries(uow: SqlUnitOfWork, group: Group, start: dt.date, end: dt.date) -> list[Entry]:
    return [s.entry for s in uow.ledger.entries_between(group.id, start, end)]


def _totals(entries: list[Entry]) -> list[dict[str, Any]]:
    return [totals_view(t) for t in spending(entries)]


def send_digest(
    uow: SqlUnitOfWork,
    group: Group,
    period: str,
    today: dt.date,
    now: dt.datetime,
    *,
    settings: Settings | None = None,
) -> bool:
    """The digest of the last complete ``period`` (week, month, year), once per period, with
    its chart."""
    current, _ = period_range(period, today)
    start, end = period_range(period, current - dt.timedelta(days=1))
    before, _ = period_range(period, start - dt.timedelta(days=1))
    schedule = ScheduleRepository(uow.connection)
    if not schedule.claim_digest(group.id, period, start, now):
        return False
    entries = _entries(uow, group, start, end)
    totals = _totals(entries)
    if not totals:
        return False  # a quiet period: recorded as done, nothing said
    previous = {t["currency"]: t["amount"] for t in _totals(_entries(uow, group, before, start))}
    for t in totals:
        t["previous"] = previous.get(t["currency"], 0)
    label = {"week": "last week", "month": "last month", "year": "last year"}[period]
    reply = Reply(
        "digest",
        {
            "group": group.name,
            "label": label,
            "totals": totals,
            "start": start.isoformat(),
            "end": (end - dt.timedelta(days=1)).isoformat(),
        },
        chart=spending_chart(entries, group, start, end, label, settings=settings, now=now),
    )
    queue_to_group(uow, group, reply, f"digest-{group.id}-{period}-{start}", now, settings=settings)
    return True


def owing_since(stored: Sequence[StoredEntry], member: str) -> dict[str, tuple[int, dt.date]]:
    """Per currency, what ``member`` owes now and since when their balance has been negative,
    from the group's entries in ledger order."""
    running: dict[str, tuple[int, dt.date | None]] = {}
    for line in passbook(((str(s.id), s.entry) for s in stored), member):
        _, since = running.get(line.currency, (0, None))
        running[line.currency] = (line.balance, (since or line.date) if line.balance < 0 else None)
    return {c: (b, s) for c, (b, s) in running.items() if b < 0 and s is not None}


def send_reminders(
    uow: SqlUnitOfWork,
    group: Group,
    after_days: int,
    every_days: int,
    today: dt.date,
    now: dt.datetime,
    *,
    settings: Settings | None = None,
) -> int:
    """Remind members who have owed money for more than ``after_days``, at most once per
    ``every_days`` each (the slot number is the unique key). The group's chats hear it; on
    phones, only the person who owes does."""
    schedule = ScheduleRepository(uow.connection)
    balances = services.group_balances(uow, group.id)
    plans = services.settle_up(uow, group.id, remember=False)
    sent_count = 0
    debtors = {m for amounts in balances.values() for m, a in amounts.items() if a < 0}
    members = {m.name: m for m in uow.ledger.members(group.id)}
    stored = list(uow.ledger.entries(group.id)) if debtors else []
    for name in sorted(debtors):
        for currency, (owed, since) in owing_since(stored, name).items():
            if (today - since).days <= after_days or name not in members:
                continue
            slot = today.toordinal() // every_days
            if not schedule.claim_reminder(group.id, members[name].id, currency, slot, now):
                continue
            transfers = [
                {"creditor": t.creditor, "amount": t.amount}
                for t in plans.get(currency, [])
                if t.debtor == name
            ]
            reply = Reply(
                "reminder",
                {
                    "name": name,
                    "owed": -owed,
                    "currency": currency,
                    "days": (today - since).days,
                    "transfers": transfers,
                },
            )
            sent_count += queue_to_group(
                uow,
                group,
                reply,
                f"reminder-{group.id}-{members[name].id}-{currency}-{slot}",
                now,
                settings=settings,
                phone_members={members[name].id},
            )
    return sent_count


def create_recurring(
    uow: SqlUnitOfWork,
    group: Group,
    rule: RecurringRule,
    today: dt.date,
    now: dt.datetime,
    *,
    settings: Settings | None = None,
) -> list[int]:
    """Record every occurrence of ``rule`` due by ``today`` that is not recorded yet.

    The entry's external id names the rule and the date, so an occurrence is recorded once even
    if two schedulers race or a run is repeated after a crash."""
    schedule = ScheduleRepository(uow.connection)
    created: list[int] = []
    names = [m.name for m in uow.ledger.members(group.id)]
    for date in due(rule.rule, rule.last_occurrence, today):
        body = dict(rule.body) | {"date": date.isoformat()}
        entry, problems = parse_entry(rule.kind, body, names, group.currency)
        if entry is None:
            log.warning(
                "chipin.recurring_invalid", rule=rule.id, problems=[str(p) for p in problems]
            )
            break
        key = f"recurring-{rule.id}-{date.isoformat()}"
        try:
            if isinstance(entry, Expense):
                done = services.add_expense(
                    AddExpense(group.id, entry, actor="recurring", external_id=key),
                    uow,
                    clock=lambda: now,
                )
            else:
                done = services.record_payment(
                    RecordPayment(group.id, entry, actor="recurring", external_id=key),
                    uow,
                    clock=lambda: now,
                )
        except ChipinError as exc:
            log.warning("chipin.recurring_failed", rule=rule.id, error=str(exc))
            break
        schedule.advance_recurring(rule.id, date)
        if done.created:
            created.append(done.entry_id)
            queue_to_group(
                uow,
                group,
                Reply(
                    "recurring_created",
                    {"entry": entry_view(entry, done.entry_id), "rule": rule.rule.describe()},
                ),
                key,
                now,
                settings=settings,
            )
    return created
