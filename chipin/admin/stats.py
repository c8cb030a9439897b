"""The overview's figures: traffic and error rates per channel, queue depths, and how long a
message waits for its answer (percentiles over a bounded window of recent messages)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Table, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from chipin.store import tables as t

LATENCY_WINDOW = 1000
"""Recent handled messages the percentiles are computed over (in Python: portable, bounded)."""


@dataclass(frozen=True, slots=True)
class ChannelStats:
    channel: str
    inbound_hour: int = 0
    inbound_day: int = 0
    inbound_failed_day: int = 0
    outbound_day: int = 0
    outbound_sent_day: int = 0
    outbound_dead_day: int = 0
    outbound_retrying: int = 0

    @property
    def inbound_error_rate(self) -> float | None:
        return self.inbound_failed_day / self.inbound_day if self.inbound_day else None

    @property
    def outbound_error_rate(self) -> float | None:
        return self.outbound_dead_day / self.outbound_day if self.outbound_day else None


def channel_stats(conn: Connection, now: dt.datetime) -> list[ChannelStats]:
    hour, day = now - dt.timedelta(hours=1), now - dt.timedelta(days=1)
    i, o = t.inbox, t.outbox

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.sum(case((condition, 1), else_=0))

    inbound = conn.execute(
        select(
            i.c.channel,
            count_if(i.c.received_at >= hour),
            func.count(),
            count_if(i.c.status == "failed"),
        )
        .where(i.c.received_at >= day)
        .group_by(i.c.channel)
    ).all()
    outbound = conn.execute(
        select(
            o.c.channel,
            func.count(),
            count_if(o.c.status == "sent"),
            count_if(o.c.status == "dead"),
            count_if(o.c.status == "failed"),
        )
        .where(o.c.created_at >= day)
        .group_by(o.c.channel)
    ).all()
    stats: dict[str, ChannelStats] = {}
    for channel, in_hour, in_day, failed in inbound:
        stats[channel] = ChannelStats(channel, int(in_hour or 0), int(in_day), int(failed or 0))
    for channel, total, sent, dead, retrying in outbound:
        base = stats.get(channel, ChannelStats(channel))
        stats[channel] = ChannelStats(
            channel,
            base.inbound_hour,
            base.inbound_day,
            base.inbound_failed_day,
            int(total),
            int(sent or 0),
            int(dead or 0),
            int(retrying or 0),
        )
    return [stats[c] for c in sorted(stats)]


@dataclass(frozen=True, slots=True)
class QueueDepths:
    inbox_pending: int
    inbox_failed: int
    outbox_pending: int
    outbox_failed: int
    outbox_dead: int


def queue_depths(conn: Connection) -> QueueDepths:
    def counts(table: Table) -> dict[str, int]:
        rows = conn.execute(select(table.c.status, func.count()).group_by(table.c.status))
        return {str(status): int(n) for status, n in rows}

    inbox, outbox = counts(t.inbox), counts(t.outbox)
    return QueueDepths(
        inbox.get("pending", 0),
        inbox.get("failed", 0),
        outbox.get("pending", 0),
        outbox.get("failed", 0),
        outbox.get("dead", 0),
    )


@dataclass(frozen=True, slots=True)
class Percentiles:
    samples: int
    p50: float | None
    p90: float | None
    p99: float | None


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile of sorted ``values``."""
    if not values:
        return None
    rank = max(1, math.ceil(p / 100 * len(values)))
    return values[min(rank, len(values)) - 1]


def percentiles(values: Sequence[float]) -> Percentiles:
    ordered = sorted(values)
    return Percentiles(
        len(ordered), percentile(ordered, 50), percentile(ordered, 90), percentile(ordered, 99)
    )


@dataclass(frozen=True, slots=True)
class Latency:
    handled: Percentiles
    """Received → the first reply queued (the worker: parse, ledger, replies)."""
    delivered: Percentiles
    """Received → the first reply accepted by the provider (worker plus dispatcher)."""


def latency(conn: Connection, now: dt.datetime, window: int = LATENCY_WINDOW) -> Latency:
    i, o = t.inbox, t.outbox
    first_queued = select(func.min(o.c.created_at)).where(o.c.inbox_id == i.c.id).scalar_subquery()
    first_sent = select(func.min(o.c.sent_at)).where(o.c.inbox_id == i.c.id).scalar_subquery()
    rows = conn.execute(
        select(i.c.received_at, first_queued.label("queued"), first_sent.label("sent"))
        .where(and_(i.c.status == "done", i.c.received_at >= now - dt.timedelta(days=1)))
        .order_by(i.c.id.desc())
        .limit(window)
    ).all()
    handled = [(r.queued - r.received_at).total_seconds() for r in rows if r.queued is not None]
    delivered = [(r.sent - r.received_at).total_seconds() for r in rows if r.sent is not None]
    return Latency(percentiles(handled), percentiles(delivered))
