"""What the scheduler keeps: budgets and the alerts sent for them, digest and reminder choices
with what was sent, and recurring expenses.

Every "sent once" is a unique key (budget, period, threshold) or (group, period, start) written
in the same transaction as the outbox row it accompanies, so a job can run any number of times,
in any number of processes, and each alert goes out once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Connection,
    CursorResult,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    case,
    delete,
    func,
    insert,
    select,
    update,
)

from chipin.core.budgets import Budget
from chipin.core.records import Group
from chipin.core.recurrence import Rule
from chipin.store.sql import insert_ignore
from chipin.store.tables import UTCDateTime, metadata

budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period", String(8), nullable=False),
    Column("category", String(64), nullable=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=True),
    # period|category|member: one budget per scope, so saying it again changes it
    Column("scope", String(160), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("group_id", "scope", name="uq_budgets_group_scope"),
)

budget_alerts = Table(
    "budget_alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("budget_id", ForeignKey("budgets.id", ondelete="CASCADE"), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("kind", String(16), nullable=False),  # "80" | "100" | "projection"
    Column("sent_at", UTCDateTime(), nullable=False),
    UniqueConstraint("budget_id", "period_start", "kind", name="uq_budget_alerts_once"),
)

digest_subscriptions = Table(
    "digest_subscriptions",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("period", String(8), primary_key=True),  # week | month | year
    Column("created_at", UTCDateTime(), nullable=False),
)

digest_log = Table(
    "digest_log",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("period_start", Date, primary_key=True),
    Column("sent_at", UTCDateTime(), nullable=False),
)

reminder_settings = Table(
    "reminder_settings",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("after_days", Integer, nullable=False),  # owed for longer than this
    Column("every_days", Integer, nullable=False),  # at most one reminder per member per this
    Column("created_at", UTCDateTime(), nullable=False),
)

reminder_log = Table(
    "reminder_log",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    # the interval slot the reminder belongs to: one per member per interval, however often
    # the job runs
    Column("slot", Integer, primary_key=True),
    Column("sent_at", UTCDateTime(), nullable=False),
)

recurring = Table(
    "recurring",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", ForeignKey("members.id"), nullable=True),
    Column("kind", String(16), nullable=False),  # expense | payment
    Column("body", JSON, nullable=False),  # the entry in the ledger file format
    Column("frequency", String(8), nullable=False),
    Column("interval", Integer, nullable=False),
    Column("day", Integer, nullable=True),
    Column("start", Date, nullable=False),
    Column("last_occurrence", Date, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_recurring_group_active", "group_id", "active"),
)


CHUNK = 5_000
"""Ids per IN list: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters."""


def _chunks(ids: Sequence[int]) -> list[Sequence[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _won(result: CursorResult[Any]) -> bool:
    """Whether an ``INSERT … ON CONFLICT DO NOTHING RETURNING …`` inserted its row.

    Claims decide "did I win" from the returned row, never from ``rowcount``: the row count of
    an ``ON CONFLICT DO NOTHING`` insert is not reliable across drivers (it was seen reporting a
    skipped row as inserted on PostgreSQL), while RETURNING yields a row only for an insert."""
    return result.first() is not None


def budget_scope(period: str, category: str | None, member_id: int | None) -> str:
    return f"{period}|{(category or '').casefold()}|{member_id or ''}"


@dataclass(frozen=True, slots=True)
class RecurringRule:
    id: int
    group_id: int
    author_id: int | None
    kind: str
    body: dict[str, Any]
    rule: Rule
    last_occurrence: dt.date | None
    active: bool


class ScheduleRepository:
    def __init__(self, conn: Connection, cache: dict[Any, Any] | None = None) -> None:
        self.conn = conn
        self._cache: dict[Any, Any] = {} if cache is None else cache
        """A unit of work's look-up cache (``SqlUnitOfWork.cache``), emptied by any write to
        budgets or members."""

    # -- budgets -----------------------------------------------------------------------------

    def set_budget(self, budget: Budget, member_id: int | None, now: dt.datetime) -> int:
        scope = budget_scope(budget.period, budget.category, member_id)
        row = self.conn.execute(
            select(budgets.c.id).where(
                and_(budgets.c.group_id == budget.group_id, budgets.c.scope == scope)
            )
        ).first()
        values = {"amount": budget.amount, "currency": budget.currency, "updated_at": now}
        if row is not None:
            self.conn.execute(update(budgets).where(budgets.c.id == row[0]).values(**values))
            return int(row[0])
        result = self.conn.execute(
            insert(budgets).values(
                group_id=budget.group_id,
                period=budget.period,
                category=budget.category,
                member_id=member_id,
                scope=scope,
                created_at=now,
                **values,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def remove_budget(self, group_id: int, period: str | None, category: str | None) -> int:
        """Remove matching budgets (any period when ``period`` is None); returns how many."""
        query = delete(budgets).where(budgets.c.group_id == group_id)
        if period is not None:
            query = query.where(budgets.c.period == period)
        if category is None:
            query = query.where(budgets.c.category.is_(None))
        else:
            query = query.where(budgets.c.category.ilike(category))
        return int(self.conn.execute(query).rowcount)

    def budgets(self, group_id: int | None = None) -> list[tuple[Budget, str | None]]:
        """Budgets with the name of their member (None for group budgets); a group's are read
        once per unit of work (they are asked after every entry)."""
        if group_id is not None:
            key = ("budgets", group_id)
            if key not in self._cache:
                self._cache[key] = self._budgets(group_id)
            return list(self._cache[key])
        return self._budgets(None)

    def _budgets(self, group_id: int | None) -> list[tuple[Budget, str | None]]:
        from chipin.store.tables import members

        query = select(budgets, members.c.name.label("member_name")).outerjoin(
            members, members.c.id == budgets.c.member_id
        )
        if group_id is not None:
            query = query.where(budgets.c.group_id == group_id)
        out = []
        for r in self.conn.execute(query.order_by(budgets.c.group_id, budgets.c.id)):
            out.append(
                (
                    Budget(
                        r.group_id, r.amount, r.currency, r.period, r.category, r.member_name, r.id
                    ),
                    r.member_name,
                )
            )
        return out

    def alerts_sent(self, budget_id: int, period_start: dt.date) -> set[str]:
        rows = self.conn.execute(
            select(budget_alerts.c.kind).where(
                and_(
                    budget_alerts.c.budget_id == budget_id,
                    budget_alerts.c.period_start == period_start,
                )
            )
        )
        return {str(r[0]) for r in rows}

    def budgets_with_groups(self) -> list[tuple[Budget, Group]]:
        """Every budget with its group (for the zone its windows are in), by group and id."""
        from chipin.store.tables import groups, members

        query = (
            select(
                budgets,
                members.c.name.label("member_name"),
                groups.c.name.label("group_name"),
                groups.c.currency.label("group_currency"),
                groups.c.timezone,
                groups.c.locale,
            )
            .join(groups, groups.c.id == budgets.c.group_id)
            .outerjoin(members, members.c.id == budgets.c.member_id)
            .order_by(budgets.c.group_id, budgets.c.id)
        )
        out: list[tuple[Budget, Group]] = []
        seen: dict[int, Group] = {}
        for r in self.conn.execute(query):
            group = seen.get(r.group_id)
            if group is None:
                group = Group(r.group_id, r.group_name, r.group_currency, r.timezone, r.locale)
                seen[r.group_id] = group
            budget = Budget(
                r.group_id, r.amount, r.currency, r.period, r.category, r.member_name, r.id
            )
            out.append((budget, group))
        return out

    def alerts_sent_many(
        self, budget_ids: Sequence[int], period_start: dt.date
    ) -> dict[int, set[str]]:
        """``alerts_sent`` for many budgets sharing one window: budget id → kinds sent."""
        out: dict[int, set[str]] = {}
        for chunk in _chunks(budget_ids):
            rows = self.conn.execute(
                select(budget_alerts.c.budget_id, budget_alerts.c.kind).where(
                    and_(
                        budget_alerts.c.budget_id.in_(chunk),
                        budget_alerts.c.period_start == period_start,
                    )
                )
            )
            for budget_id, kind in rows:
                out.setdefault(int(budget_id), set()).add(str(kind))
        return out

    def spending_by_category(
        self, budget_ids: Sequence[int], start: dt.date, end: dt.date
    ) -> dict[int, list[tuple[str | None, int]]]:
        """For budgets sharing the window [start, end): budget id → (entry category, total) of
        the active expenses dated in the window in the budget's currency — their amounts for a
        group budget, the member's shares for a member budget. Matching the budget's category
        (and its family) is left to the caller, with ``category_matches``."""
        from chipin.store.tables import entries, entry_lines

        counted = case((budgets.c.member_id.is_(None), entries.c.amount), else_=entry_lines.c.share)
        out: dict[int, list[tuple[str | None, int]]] = {}
        for chunk in _chunks(budget_ids):
            query = (
                select(budgets.c.id, entries.c.category, func.sum(counted))
                .select_from(
                    budgets.join(
                        entries,
                        and_(
                            entries.c.group_id == budgets.c.group_id,
                            entries.c.currency == budgets.c.currency,
                        ),
                    ).outerjoin(
                        entry_lines,
                        and_(
                            entry_lines.c.entry_id == entries.c.id,
                            entry_lines.c.member_id == budgets.c.member_id,
                        ),
                    )
                )
                .where(
                    and_(
                        budgets.c.id.in_(chunk),
                        entries.c.kind == "expense",
                        entries.c.deleted_at.is_(None),
                        entries.c.date >= start,
                        entries.c.date < end,
                    )
                )
                .group_by(budgets.c.id, entries.c.category)
            )
            for budget_id, category, total in self.conn.execute(query):
                if total is not None:
                    out.setdefault(int(budget_id), []).append((category, int(total)))
        return out

    def claim_alert(
        self, budget_id: int, period_start: dt.date, kind: str, now: dt.datetime
    ) -> bool:
        """Record that this alert is being sent; False if it was sent already (by anyone)."""
        result = self.conn.execute(
            insert_ignore(self.conn, budget_alerts)
            .values(budget_id=budget_id, period_start=period_start, kind=kind, sent_at=now)
            .on_conflict_do_nothing()
            .returning(budget_alerts.c.budget_id)
        )
        return _won(result)

    def rearm(self, budget_id: int, period_start: dt.date, kind: str) -> None:
        """Spending fell back under a threshold: crossing it again alerts again."""
        self.conn.execute(
            delete(budget_alerts).where(
                and_(
                    budget_alerts.c.budget_id == budget_id,
                    budget_alerts.c.period_start == period_start,
                    budget_alerts.c.kind == kind,
                )
            )
        )

    # -- digests -----------------------------------------------------------------------------

    def set_digest(self, group_id: int, period: str, on: bool, now: dt.datetime) -> None:
        if on:
            self.conn.execute(
                insert_ignore(self.conn, digest_subscriptions)
                .values(group_id=group_id, period=period, created_at=now)
                .on_conflict_do_nothing()
            )
        else:
            self.conn.execute(
                delete(digest_subscriptions).where(
                    and_(
                        digest_subscriptions.c.group_id == group_id,
                        digest_subscriptions.c.period == period,
                    )
                )
            )

    def digests(self) -> list[tuple[int, str]]:
        rows = self.conn.execute(
            select(digest_subscriptions.c.group_id, digest_subscriptions.c.period)
        )
        return [(int(g), str(p)) for g, p in rows]

    def claim_digest(
        self, group_id: int, period: str, period_start: dt.date, now: dt.datetime
    ) -> bool:
        result = self.conn.execute(
            insert_ignore(self.conn, digest_log)
            .values(group_id=group_id, period=period, period_start=period_start, sent_at=now)
            .on_conflict_do_nothing()
            .returning(digest_log.c.group_id)
        )
        return _won(result)

    # -- reminders ---------------------------------------------------------------------------

    def set_reminders(
        self, group_id: int, after_days: int | None, every_days: int, now: dt.datetime
    ) -> None:
        self.conn.execute(delete(reminder_settings).where(reminder_settings.c.group_id == group_id))
        if after_days is not None:
            self.conn.execute(
                insert(reminder_settings).values(
                    group_id=group_id, after_days=after_days, every_days=every_days, created_at=now
                )
            )

    def reminder_groups(self) -> list[tuple[int, int, int]]:
        rows = self.conn.execute(
            select(
                reminder_settings.c.group_id,
                reminder_settings.c.after_days,
                reminder_settings.c.every_days,
            )
        )
        return [(int(g), int(a), int(e)) for g, a, e in rows]

    def claim_reminder(
        self, group_id: int, member_id: int, currency: str, slot: int, now: dt.datetime
    ) -> bool:
        result = self.conn.execute(
            insert_ignore(self.conn, reminder_log)
            .values(
                group_id=group_id, member_id=member_id, currency=currency, slot=slot, sent_at=now
            )
            .on_conflict_do_nothing()
            .returning(reminder_log.c.group_id)
        )
        return _won(result)

    # -- recurring ---------------------------------------------------------------------------

    def add_recurring(
        self,
        group_id: int,
        author_id: int | None,
        kind: str,
        body: dict[str, Any],
        rule: Rule,
        now: dt.datetime,
    ) -> int:
        result = self.conn.execute(
            insert(recurring).values(
                group_id=group_id,
                author_id=author_id,
                kind=kind,
                body=body,
                frequency=rule.frequency,
                interval=rule.interval,
                day=rule.day,
                start=rule.start,
                last_occurrence=None,
                active=True,
                created_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def budget_group_ids(self) -> set[int]:
        """The groups with at least one budget."""
        return {int(g) for (g,) in self.conn.execute(select(budgets.c.group_id).distinct())}

    def recurring_group_ids(self) -> set[int]:
        """The groups with an active recurring entry (the rules are read where they are used)."""
        query = select(recurring.c.group_id).where(recurring.c.active.is_(True)).distinct()
        return {int(g) for (g,) in self.conn.execute(query)}

    def recurring(self, group_id: int | None = None, *, active: bool = True) -> list[RecurringRule]:
        query = select(recurring).where(recurring.c.active.is_(active))
        if group_id is not None:
            query = query.where(recurring.c.group_id == group_id)
        return [
            RecurringRule(
                r.id,
                r.group_id,
                r.author_id,
                r.kind,
                r.body,
                Rule(r.frequency, r.start, r.interval, r.day),
                r.last_occurrence,
                bool(r.active),
            )
            for r in self.conn.execute(query.order_by(recurring.c.id))
        ]

    def advance_recurring(self, rule_id: int, occurrence: dt.date) -> None:
        """Move the rule past ``occurrence`` (never backwards)."""
        self.conn.execute(
            update(recurring)
            .where(
                and_(
                    recurring.c.id == rule_id,
                    (recurring.c.last_occurrence.is_(None))
                    | (recurring.c.last_occurrence < occurrence),
                )
            )
            .values(last_occurrence=occurrence)
        )

    def cancel_recurring(self, group_id: int, rule_id: int) -> bool:
        return bool(
            self.conn.execute(
                update(recurring)
                .where(
                    and_(
                        recurring.c.id == rule_id,
                        recurring.c.group_id == group_id,
                        recurring.c.active.is_(True),
                    )
                )
                .values(active=False)
            ).rowcount
        )
