"""Queue figures for ``GET /metrics``: the overview's counts as Prometheus gauges, read from the
database at scrape time (so every replica reports the same shared queues)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from chipin.store import tables as t

log = structlog.get_logger("chipin.admin")


class QueueCollector(Collector):
    """``chipin_inbox_messages{channel,status}``, ``chipin_outbox_messages{channel,status}``
    and ``chipin_review_messages{channel}``; nothing when the database does not answer (the
    readiness counter says so)."""

    def __init__(self, engine: Callable[[], Engine | None]) -> None:
        self.engine = engine

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # collected lazily: no query when the collector is registered

    def collect(self) -> Iterator[GaugeMetricFamily]:
        engine = self.engine()
        if engine is None:
            return
        inbox = GaugeMetricFamily(
            "chipin_inbox_messages",
            "Inbound messages by channel and status",
            labels=["channel", "status"],
        )
        outbox = GaugeMetricFamily(
            "chipin_outbox_messages",
            "Outbound messages by channel and status",
            labels=["channel", "status"],
        )
        review = GaugeMetricFamily(
            "chipin_review_messages", "Messages kept for parse review", labels=["channel"]
        )
        try:
            with engine.connect() as conn:
                for table, family in ((t.inbox, inbox), (t.outbox, outbox)):
                    rows = conn.execute(
                        select(table.c.channel, table.c.status, func.count()).group_by(
                            table.c.channel, table.c.status
                        )
                    )
                    for channel, status, n in rows:
                        family.add_metric([channel, status], float(n))
                rows = conn.execute(
                    select(t.inbox.c.channel, func.count())
                    .where(t.inbox.c.needs_review.is_(True))
                    .group_by(t.inbox.c.channel)
                )
                for channel, n in rows:
                    review.add_metric([channel], float(n))
        except Exception as exc:
            log.warning("chipin.metrics_unavailable", error=type(exc).__name__)
            return
        yield inbox
        yield outbox
        yield review
