"""APScheduler inside ``chipin serve``: one pass every few minutes, run by one leader.

With PostgreSQL, several processes may run the scheduler; a session-level advisory lock makes one
of them the leader and the others stand by (and take over if it dies: the lock goes with its
connection). Even without the lock nothing would be sent twice — the producers' unique records
guarantee that — the lock only saves the duplicated work. With SQLite there is one process.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Connection, Engine, text

from chipin.scheduler.jobs import Jobs

log = structlog.get_logger("chipin.scheduler")
LEADER_LOCK = 0x43484950  # "CHIP": the advisory lock key every Chipin process agrees on


class Leader:
    """Holds the advisory lock on a dedicated connection while this process leads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            return True
        if self.conn is not None:
            return True
        conn = self.engine.connect()
        got = bool(
            conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK}).scalar()
        )
        conn.commit()
        if got:
            self.conn = conn
        else:
            conn.close()
        return got

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()  # closing the session releases the lock
            self.conn = None


class SchedulerRunner:
    def __init__(self, jobs: Jobs, *, every_seconds: float = 300.0) -> None:
        self.jobs = jobs
        self.leader = Leader(jobs.engine)
        self.every_seconds = every_seconds
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC)

    async def tick(self) -> None:
        if not await asyncio.to_thread(self.leader.acquire):
            return  # another process leads
        await asyncio.to_thread(self.jobs.run_due)

    def start(self) -> None:
        # coalesce: a pass missed while the process was down runs once, not once per miss;
        # the pass itself catches up on whatever is due, so nothing is lost either
        self.scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.every_seconds,
            id="chipin-pass",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
            next_run_time=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
        )
        self.scheduler.start()
        log.info("chipin.scheduler_started", every_seconds=self.every_seconds)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.leader.release()
