"""End-to-end benchmark of the message pipeline (issue 4), on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/pipeline.py [--backend sqlite|postgres|both] [--quick]
[--clients 16] [--what-if FIX,...] [--profile]``.

For each backend it makes a throwaway database (a temporary SQLite file; a PostgreSQL database
created on the test server, as ``bench/ledger.py`` does, and dropped afterwards, even on failure)
and starts a real ``chipin serve`` subprocess on it (as ``tests/e2e/conftest.py`` does) with
``CHIPIN_ENV=development PARSER=rules LOG_LEVEL=WARNING`` and the WORKER_* settings printed
in the header. Through the playground's JSON API it creates 50 groups of 3-4 members, then posts
realistic messages that all get a reply, spread evenly over the 50 groups: about 60 % expenses
("I paid 64.20 for dinner for everyone"), 25 % payments ("I gave Mia 10"), 15 % balance questions
("who owes what?"). Before anything is sent, a sample of the planned texts goes through the rules
parser (what ``chipin parse --parser rules`` runs) and must parse to the planned intent with the
confidence that records it at once (no confirmation draft), so every expense or payment message
must become exactly one ledger entry.

Runs, in this order, against one database per backend:

1. saturation: ``--clients`` concurrent HTTP clients post as fast as the server acknowledges,
   a fixed count (6,000; ``--quick`` 1,000). The clients are keep-alive connections of the raw
   asyncio HTTP/1.1 client of ``bench/common.py`` (on uvloop), not httpx, whose ~2.5 ms of CPU
   per request would have taken most of a core from the server it measures on 2 cores;
2. paced: an open-loop schedule of 150 messages/s (half the PostgreSQL target) for 20 s;
3. acknowledgement only: the server is stopped and restarted with ``--no-worker`` (no worker,
   no dispatcher) and 10,000 messages are posted: the acknowledged messages/s of the same
   server with nothing else running. (The ack rate during run 1, with the worker in the same
   process, is printed beside it.)
4. restart: that server is stopped with the 10,000 messages waiting in the inbox, and a plain
   ``chipin serve`` is started on the same database. Drain throughput = messages / (last reply
   queued - first reply queued); "first reply after spawn" is from the ``Popen`` call, so it
   includes the interpreter start and migrations check. Then run 2 is repeated on that
   restarted server (``after restart``), with the tables now holding every earlier message.

Figures, all from the database after each run except the HTTP ones:

- e2e throughput = messages / (last reply queued - first message received);
- latency "queued" = ``outbox.created_at`` of the message's reply - ``inbox.received_at``
  (both stamped by the server's clock, joined on ``outbox.inbox_id``). ``created_at`` is read
  when the worker starts the apply transaction, so the commit itself (about one ms) is not in
  it; latency "delivered" = ``outbox.sent_at`` - ``inbox.received_at``, stamped by the
  dispatcher after the reply was committed, claimed and handed to the web adapter: an upper
  bound of "reply in the outbox". The p99 target is judged on "queued", as the issue states it;
- HTTP ack latency p50/p99 and acknowledged messages/s as seen by the client;
- CPU used during the run, in % of one core: the server process, PostgreSQL's processes, this
  bench process (the HTTP client runs on the same 2 cores; also in ms of CPU per request), and
  the machine.

Then integrity: every message of every run is done with exactly one reply row (``outbox`` rows
per ``inbox_id``, ``kind`` "answer" excluded) and every reply was sent; ``entries`` holds one
row per expense or payment message (and the inbox says "recorded" for each); ``chipin check`` is
clean. A message lost or doubled fails the bench (exit status 1).

``--profile`` (PostgreSQL) runs the worker path in this process instead: the same 50 groups,
messages accepted through ``chipin.bot.ingress.accept`` (what the playground calls), then
``Worker.drain`` and ``Dispatcher.drain`` of a ``Runtime`` built as ``chipin serve`` builds it,
timed per phase, with SQL statements and commits counted and a cProfile of the drain.

``--what-if FIX,...`` applies candidate fixes (monkeypatched, see ``FIXES``) in the server
subprocess (started through this file, which patches and then runs ``chipin``'s own CLI) and,
with ``--profile``, in the in-process drain, so their effect is measured against the code as it is.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[1]
# bench/telegram.py and bench/twilio.py would shadow the `telegram` and `twilio` packages.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, and_, event, func, select, text  # noqa: E402

from bench.common import (  # noqa: E402 - after the path fix
    Pool,
    encode,
    free_port,
    load,
    machine,
    parents,
    postgres_database,
    proc_ticks,
    server_context,
    terminate,
)
from chipin.store import tables as t  # noqa: E402
from chipin.store.db import make_engine  # noqa: E402

CHIPIN = str(Path(sys.executable).with_name("chipin"))
HERE = Path(__file__).resolve()
GROUPS = 50
NAMES = ("Ana", "Raj", "Mia", "Leo")
PACED_RATE = 150.0  # messages/s: half the PostgreSQL target
LIGHT_RATE = 20.0  # messages/s: the latency floor, with the server mostly idle
TARGET_RATE = 300.0  # messages/s end to end on PostgreSQL
TARGET_P99_MS = 100.0
SERVER_ENV = {
    "CHIPIN_ENV": "development",
    "PARSER": "rules",
    "LOG_LEVEL": "WARNING",
    "WORKER_CONCURRENCY": "8",
    "WORKER_POLL_SECONDS": "0.2",
}
"""Besides DATABASE_URL. The worker settings are the defaults of ``chipin.settings``, said out
loud so a change of default shows in the header."""

DESCRIPTIONS = ("dinner", "groceries", "lunch", "coffee", "rent", "taxi", "pizza", "drinks")
BALANCE_QUESTIONS = ("who owes what?", "what's the balance?", "who owes whom?", "balances")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- messages ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Room:
    id: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Planned:
    room: str
    speaker: str
    text: str
    kind: str  # expense | payment | balances


def _amount(rng: random.Random) -> str:
    whole = rng.randint(3, 250)
    return str(whole) if rng.random() < 0.5 else f"{whole}.{rng.randint(0, 99):02d}"


def message_for(rng: random.Random, room: Room) -> Planned:
    speaker = rng.choice(room.members)
    others = [m for m in room.members if m != speaker]
    roll = rng.random()
    if roll < 0.60:
        desc, amount = rng.choice(DESCRIPTIONS), _amount(rng)
        form = rng.randrange(3)
        if form == 0:
            text_ = f"I paid {amount} for {desc} for everyone"
        elif form == 1:
            text_ = f"I paid {amount} for {desc}, split with {rng.choice(others)}"
        else:
            a, b = rng.sample(others, 2)
            text_ = f"I paid {amount} for {desc}, split with {a} and {b}"
        return Planned(room.id, speaker, text_, "expense")
    if roll < 0.85:
        other, amount = rng.choice(others), _amount(rng)
        text_ = rng.choice(
            (f"I gave {other} {amount}", f"I paid {other} {amount}", f"{other} sent me {amount}")
        )
        return Planned(room.id, speaker, text_, "payment")
    return Planned(room.id, speaker, rng.choice(BALANCE_QUESTIONS), "balances")


def plan_messages(rng: random.Random, rooms: list[Room], count: int) -> list[Planned]:
    """``count`` messages, each round of 50 visiting every group once in a shuffled order."""
    out: list[Planned] = []
    while len(out) < count:
        order = rooms[:]
        rng.shuffle(order)
        out += [message_for(rng, room) for room in order[: count - len(out)]]
    return out


def check_plan(plan: list[Planned], rooms: list[Room], sample: int = 400) -> str:
    """Parse a sample with the rules parser: each must be the planned intent, recorded at once."""
    from chipin.parsing.intents import IntentKind, ParseContext
    from chipin.parsing.router import parse_text

    members = {r.id: r.members for r in rooms}
    wanted = {
        "expense": IntentKind.ADD_EXPENSE,
        "payment": IntentKind.RECORD_PAYMENT,
        "balances": IntentKind.SHOW_BALANCES,
    }
    picked = random.Random(5).sample(plan, min(sample, len(plan)))

    async def run() -> list[str]:
        bad = []
        for p in picked:
            ctx = ParseContext(p.speaker, members[p.room], "EUR", dt.date(2025, 6, 1), "UTC")
            intent = await parse_text(p.text, ctx, mode="rules", gemini=None)
            if intent.kind != wanted[p.kind] or intent.confidence < 0.9:
                bad.append(f"{p.text!r} → {intent.kind.value} ({intent.confidence:.2f})")
        return bad

    bad = asyncio.run(run())
    if bad:
        raise SystemExit(
            "planned messages the rules parser does not record:\n  " + "\n  ".join(bad)
        )
    return f"{len(picked)} sampled texts parse with the rules parser to the planned intent (≥ 0.9)"


# -- processes and CPU ---------------------------------------------------------------------------


def postgres_ticks() -> dict[int, int]:
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if (d / "comm").read_text().strip() == "postgres":
                    out[int(d.name)] = proc_ticks(int(d.name))
            except OSError:
                pass
    return out


def machine_ticks() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


@dataclass
class CpuMeter:
    """CPU used between start() and stop(), in % of one core."""

    pids: list[int]
    wall: float = 0.0
    server: float = 0.0
    postgres: float = 0.0
    bench: float = 0.0
    bench_seconds: float = 0.0  # this process's CPU time (the HTTP client's, in a drive)
    machine: float = 0.0
    requests: int = 0  # HTTP requests this process made meanwhile (retries counted), if any
    _t0: tuple[Any, ...] = ()

    def start(self) -> CpuMeter:
        self._t0 = (
            time.perf_counter(),
            sum(proc_ticks(p) for p in self.pids),
            postgres_ticks(),
            time.process_time(),
            machine_ticks(),
        )
        return self

    def stop(self) -> CpuMeter:
        w0, s0, pg0, b0, m0 = self._t0
        self.wall = time.perf_counter() - w0
        self.bench_seconds = time.process_time() - b0  # before this method's /proc scans
        self.bench = self.bench_seconds / self.wall * 100
        self.server = (sum(proc_ticks(p) for p in self.pids) - s0) / CLK_TCK / self.wall * 100
        pg1 = postgres_ticks()
        self.postgres = sum(v - pg0.get(k, 0) for k, v in pg1.items()) / CLK_TCK / self.wall * 100
        m1 = machine_ticks()
        busy, total = m1[0] - m0[0], m1[1] - m0[1]
        self.machine = busy / max(1, total) * 100 * (os.cpu_count() or 1)
        return self

    @property
    def client_ms(self) -> float:
        """This process's CPU per HTTP request, in ms."""
        return self.bench_seconds * 1000 / self.requests if self.requests else float("nan")

    def summary(self, with_pg: bool) -> str:
        pg = f", postgres {self.postgres:.0f}%" if with_pg else ""
        per = f" ({self.client_ms:.2f} ms/request)" if self.requests else ""
        return (
            f"cpu: server {self.server:.0f}%{pg}, bench client {self.bench:.0f}%{per}, "
            f"machine {self.machine:.0f}% of {100 * (os.cpu_count() or 1)}%"
        )


@dataclass
class Server:
    database_url: str
    log: Path
    fixes: tuple[str, ...] = ()
    split: bool = False  # `chipin serve --no-worker` + a `chipin worker` process
    workers: int = 1  # `chipin serve --workers N` (PostgreSQL): N whole serve processes
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    worker: subprocess.Popen[bytes] | None = None
    spawned_at: float = 0.0  # time.time() of the Popen call

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pids(self) -> list[int]:
        """The server's processes, with the children ``--workers`` forks (uvicorn's)."""
        roots = {p.pid for p in (self.proc, self.worker) if p is not None}
        return sorted(roots | {pid for pid, parent in parents().items() if parent in roots})

    def _command(self, args: list[str]) -> list[str]:
        if self.fixes:  # this file patches, then runs chipin's own CLI
            return [sys.executable, str(HERE), "--as-chipin", ",".join(self.fixes), "--", *args]
        return [CHIPIN, *args]

    def start(self, *, no_worker: bool = False) -> Server:
        env = {**os.environ, "DATABASE_URL": self.database_url, **SERVER_ENV}
        web_only = no_worker or self.split
        args = ["serve", "--port", str(self.port)] + (["--no-worker"] if web_only else [])
        if self.workers > 1:
            args += ["--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.spawned_at = time.time()
            self.proc = subprocess.Popen(self._command(args), env=env, stdout=out, stderr=out)
            if self.split and not no_worker:
                self.worker = subprocess.Popen(
                    self._command(["worker"]), env=env, stdout=out, stderr=out
                )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chipin serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"chipin serve did not become ready: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        for proc in (self.proc, self.worker):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        self.proc = self.worker = None


# -- databases -----------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_url() -> Iterator[str]:
    tmp = tempfile.mkdtemp(prefix="chipin-pipeline-")
    try:
        yield f"sqlite:///{Path(tmp) / 'chipin.db'}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_url() -> Iterator[str]:
    with postgres_database("chipin_pipeline") as url:
        yield url


SERVER_SETTINGS = (
    "server_version",
    "synchronous_commit",
    "fsync",
    "autovacuum",
    "shared_buffers",
    "max_connections",
)


# -- driving the API -----------------------------------------------------------------------------


def make_rooms(base: str, rng: random.Random) -> list[Room]:
    rooms = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for i in range(GROUPS):
            members = NAMES if i % 4 else NAMES[:3]  # 3 or 4 members
            r = client.post(
                "/playground/api/rooms",
                json={
                    "name": f"Bench group {i + 1:02d}",
                    "currency": "EUR",
                    "timezone": rng.choice(("Europe/Lisbon", "UTC", "Asia/Kolkata")),
                    "members": list(members),
                },
            )
            r.raise_for_status()
            rooms.append(Room(r.json()["id"], tuple(members)))
    return rooms


@dataclass
class Drive:
    sent: int = 0
    ids: list[int] = field(default_factory=list)
    acks_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)  # transport errors, retried
    wall: float = 0.0  # first send → last ack
    acked: list[int] = field(default_factory=list)  # plan indexes acknowledged (202)
    duplicates: list[int] = field(default_factory=list)  # of which acked as duplicates
    late: int = 0  # paced sends that left more than 5 ms behind schedule
    issued: float = 0.0  # first send → last send issued
    cpu: CpuMeter | None = None

    @property
    def ack_rate(self) -> float:
        return len(self.ids) / self.wall if self.wall else 0.0


def _requests(base: str, plan: list[Planned], tag: str) -> list[bytes]:
    """The bytes of each planned message's POST, its ``client_id`` (the idempotency key) the
    same on every try."""
    return [
        encode(
            base,
            f"/playground/api/rooms/{p.room}/messages",
            (
                json.dumps(
                    {"as": p.speaker, "text": p.text, "client_id": f"{tag}-{i}"},
                    separators=(",", ":"),
                ).encode(),
                {"Content-Type": "application/json"},
            ),
        )
        for i, p in enumerate(plan)
    ]


async def _drive(
    base: str, plan: list[Planned], tag: str, *, clients: int, rate: float | None
) -> Drive:
    """Post ``plan`` over ``clients`` keep-alive connections of the raw HTTP/1.1 client of
    ``bench.common`` (not httpx: it would take CPU from the server it measures): back to back
    (``rate`` None) or one message every ``1/rate`` s whatever the answers (open loop)."""
    out = Drive(sent=len(plan))
    ids: list[int | None] = [None] * len(plan)
    requests = _requests(base, plan, tag)
    pool = Pool(base, clients, timeout=60)

    async def one(i: int) -> None:
        t0 = time.perf_counter()
        for attempt in range(1, 4):
            try:
                status, raw = await pool.request(requests[i])
                break
            except OSError as exc:  # retried with the same idempotency key
                out.retries[type(exc).__name__] += 1
                if attempt == 3:
                    out.errors[type(exc).__name__] += 1
                    return
        out.acks_ms.append((time.perf_counter() - t0) * 1000)
        if status != 202:
            out.errors[f"HTTP {status}"] += 1
            return
        body = json.loads(raw)
        out.acked.append(i)
        if body["duplicate"]:  # a retry of a request that was stored: look its id up
            out.duplicates.append(i)
        else:
            ids[i] = body["inbox_id"]

    try:
        start = time.perf_counter()
        if rate is None:
            todo = iter(range(len(plan)))

            async def client_loop() -> None:
                for i in todo:
                    await one(i)

            await asyncio.gather(*(client_loop() for _ in range(clients)))
        else:
            tasks = []
            for i in range(len(plan)):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.005:
                    out.late += 1
                tasks.append(asyncio.create_task(one(i)))
            out.issued = time.perf_counter() - start
            await asyncio.gather(*tasks)
        out.wall = time.perf_counter() - start
    finally:
        pool.close()
    out.ids = [i for i in ids if i is not None]
    return out


def drive(
    server: Server, plan: list[Planned], tag: str, *, clients: int, rate: float | None = None
) -> Drive:
    cpu = CpuMeter(server.pids).start()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        result = runner.run(_drive(server.url, plan, tag, clients=clients, rate=rate))
    result.cpu = cpu.stop()
    result.cpu.requests = result.sent + sum(result.retries.values())
    return result


def client_ms(d: Drive) -> str:
    """The bench client's CPU per request during a drive."""
    return f"client CPU {d.cpu.client_ms:.2f} ms/req" if d.cpu else "client CPU ?"


# -- reading the outcome back --------------------------------------------------------------------


def wait_done(engine: Engine, lo: int, hi: int, timeout: float, *, replies: bool = True) -> float:
    """Wait until the messages ``lo..hi`` are handled (and their replies sent); returns the
    seconds waited. Raises on timeout."""
    start = time.perf_counter()
    while True:
        with engine.connect() as conn:
            pending = conn.execute(
                select(func.count())
                .select_from(t.inbox)
                .where(and_(t.inbox.c.id.between(lo, hi), t.inbox.c.status == "pending"))
            ).scalar_one()
            unsent = 0
            if replies and not pending:
                unsent = conn.execute(
                    select(func.count())
                    .select_from(t.outbox)
                    .where(
                        and_(
                            t.outbox.c.inbox_id.between(lo, hi),
                            t.outbox.c.status.in_(("pending", "failed")),
                        )
                    )
                ).scalar_one()
        if not pending and not unsent:
            return time.perf_counter() - start
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"{pending} messages still pending, {unsent} replies unsent")
        time.sleep(0.1)


@dataclass
class Outcome:
    """What the database says about the messages ``lo..hi`` of one run."""

    count: int
    statuses: Counter[str]
    reply_counts: Counter[int]  # replies per message → how many messages
    first_received: dt.datetime
    first_reply: dt.datetime
    last_reply: dt.datetime
    queued_ms: list[float]
    delivered_ms: list[float]
    replies: list[dt.datetime]

    @property
    def throughput(self) -> float:
        span = (self.last_reply - self.first_received).total_seconds()
        return self.count / span if span > 0 else 0.0

    @property
    def drain_rate(self) -> float:
        span = (self.last_reply - self.first_reply).total_seconds()
        return self.count / span if span > 0 else 0.0


def outcome(engine: Engine, lo: int, hi: int) -> Outcome:
    i, o = t.inbox, t.outbox
    query = (
        select(
            i.c.id,
            i.c.status,
            i.c.received_at,
            func.min(o.c.created_at).label("queued"),
            func.min(o.c.sent_at).label("sent"),
            func.count(o.c.id).label("replies"),
        )
        .select_from(i.outerjoin(o, and_(o.c.inbox_id == i.c.id, o.c.kind != "answer")))
        .where(i.c.id.between(lo, hi))
        .group_by(i.c.id, i.c.status, i.c.received_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    queued = [r for r in rows if r.queued is not None]
    return Outcome(
        count=len(rows),
        statuses=Counter(r.status for r in rows),
        reply_counts=Counter(int(r.replies) for r in rows),
        first_received=min(r.received_at for r in rows),
        first_reply=min(r.queued for r in queued),
        last_reply=max(r.queued for r in queued),
        queued_ms=[(r.queued - r.received_at).total_seconds() * 1000 for r in queued],
        delivered_ms=[
            (r.sent - r.received_at).total_seconds() * 1000 for r in queued if r.sent is not None
        ],
        replies=[r.queued for r in queued],
    )


def pct(values: list[float], p: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def p50_p99(values: list[float], unit: str = "ms") -> str:
    return f"{pct(values, 50):,.1f} / {pct(values, 99):,.1f} {unit}"


# -- the report ----------------------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    value: str
    target: str = ""
    verdict: str = ""
    note: str = ""


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def print_table(backend: str, rows: list[Row]) -> None:
    print(f"\n== {backend} ==")
    w = max(len(r.figure) for r in rows)
    v = max(len(r.value) for r in rows)
    header = f"{'figure':{w}}  {'value':>{v}}  {'target':>9}  verdict"
    print(header)
    print("-" * len(header))
    for r in rows:
        line = f"{r.figure:{w}}  {r.value:>{v}}  {r.target:>9}  {r.verdict}"
        print(line.rstrip() + (f"  ({r.note})" if r.note else ""))


# -- one backend ---------------------------------------------------------------------------------


@dataclass
class Sizes:
    saturation: int
    paced_s: float
    backlog: int
    after_paced_s: float
    light_s: float


def run_backend(
    backend: str, url: str, args: argparse.Namespace, log: Path
) -> tuple[list[Row], list[str]]:
    sizes = (
        Sizes(1_000, 5, 1_000, 5, 5)
        if args.quick
        else Sizes(args.messages, 20, args.backlog, args.after_seconds, 10)
    )
    rng = random.Random(2024)
    fixes = tuple(args.what_if)
    # the bench only reads: on SQLite a read must not queue for the write lock (BEGIN
    # IMMEDIATE) behind eight claimers draining a backlog, or it times out
    engine = make_engine(url).execution_options(readonly=True)
    rows: list[Row] = []
    problems: list[str] = []
    planned_kinds: Counter[str] = Counter()
    ranges: list[tuple[str, int, int]] = []
    pg = backend == "postgres"
    server = Server(url, log, fixes, split=args.split, workers=args.server_workers)
    try:
        server.start()
        rooms = make_rooms(server.url, rng)
        if pg:
            print(f"PostgreSQL: {server_context(engine, SERVER_SETTINGS)}")

        def plan(count: int) -> list[Planned]:
            return plan_messages(rng, rooms, count)

        def record(name: str, d: Drive, p: list[Planned]) -> tuple[int, int]:
            planned_kinds.update(p[i].kind for i in d.acked)
            if d.errors:
                problems.append(f"{name}: HTTP errors after 3 tries {dict(d.errors)}")
            if d.retries:
                print(
                    f"{backend} {name}: transport errors retried with the same client_id: "
                    f"{dict(d.retries)}; {len(d.duplicates)} answered as duplicates"
                )
            lo, hi = min(d.ids), max(d.ids)
            ranges.append((name, lo, hi))
            return lo, hi

        # 1. saturation
        sat_plan = plan(sizes.saturation)
        print(f"{backend}: {check_plan(sat_plan, rooms)}")
        d1 = drive(server, sat_plan, "sat", clients=args.clients)
        lo, hi = record("saturation", d1, sat_plan)
        waited = wait_done(engine, lo, hi, timeout=600)
        o1 = outcome(engine, lo, hi)
        print(
            f"{backend} saturation: {d1.sent:,} posted by {args.clients} clients in "
            f"{d1.wall:.1f} s, replies done {waited:.1f} s after the last ack; "
            f"{d1.cpu.summary(pg) if d1.cpu else ''}"
        )
        rows += [
            Row(
                f"e2e throughput, saturation ({d1.sent:,} msgs)",
                f"{o1.throughput:,.0f} msg/s",
                f"≥{TARGET_RATE:g}/s",
                verdict(o1.throughput >= TARGET_RATE),
            ),
            Row("  reply queued p50/p99, saturation", p50_p99(o1.queued_ms), note="queueing"),
            Row(
                "  ack rate with the worker running",
                f"{d1.ack_rate:,.0f} msg/s",
                note=f"HTTP ack p50/p99 {p50_p99(d1.acks_ms)}; {client_ms(d1)}",
            ),
        ]

        # 2. paced at half the target
        def paced(name: str, seconds: float, tag: str, rate: float = PACED_RATE) -> None:
            p = plan(int(rate * seconds))
            d = drive(server, p, tag, clients=64, rate=rate)
            lo, hi = record(name, d, p)
            wait_done(engine, lo, hi, timeout=300)
            o = outcome(engine, lo, hi)
            print(
                f"{backend} {name}: {d.sent:,} sends issued at {d.sent / d.issued:,.1f} msg/s "
                f"({d.late} >5 ms behind schedule), e2e {o.throughput:,.0f} msg/s; "
                f"{d.cpu.summary(pg) if d.cpu else ''}"
            )
            judged = rate == PACED_RATE
            rows.extend(
                [
                    Row(
                        f"{name}: reply queued p50/p99",
                        p50_p99(o.queued_ms),
                        f"p99≤{TARGET_P99_MS:g}" if judged else "",
                        verdict(pct(o.queued_ms, 99) <= TARGET_P99_MS) if judged else "info",
                        note=f"{rate:g} msg/s × {seconds:g} s",
                    ),
                    Row(f"  {name}: reply delivered p50/p99", p50_p99(o.delivered_ms)),
                    Row(f"  {name}: HTTP ack p50/p99", p50_p99(d.acks_ms)),
                ]
            )

        paced("paced", sizes.paced_s, "paced")
        paced("light load", sizes.light_s, "light", rate=LIGHT_RATE)

        # 3. acknowledgement only, building the backlog
        server.stop()
        server.start(no_worker=True)
        backlog = plan(sizes.backlog)
        d3 = drive(server, backlog, "backlog", clients=args.clients)
        lo, hi = record("backlog", d3, backlog)
        server.stop()
        with engine.connect() as conn:
            waiting = conn.execute(
                select(func.count()).select_from(t.inbox).where(t.inbox.c.status == "pending")
            ).scalar_one()
        print(
            f"{backend} ack only (--no-worker): {d3.sent:,} posted by {args.clients} clients in "
            f"{d3.wall:.1f} s; {waiting:,} waiting in the inbox at the stop; "
            f"{d3.cpu.summary(pg) if d3.cpu else ''}"
        )
        if waiting != len(d3.ids):
            problems.append(f"backlog: {waiting} pending after the stop, {len(d3.ids)} accepted")
        rows.append(
            Row(
                f"ack only, --no-worker ({d3.sent:,} msgs)",
                f"{d3.ack_rate:,.0f} msg/s",
                note=f"HTTP ack p50/p99 {p50_p99(d3.acks_ms)}; {client_ms(d3)}",
            )
        )

        # 4. restart with the backlog waiting
        server.start()
        cpu = CpuMeter(server.pids).start()
        wait_done(engine, lo, hi, timeout=900)
        cpu.stop()
        o4 = outcome(engine, lo, hi)
        spawned = dt.datetime.fromtimestamp(server.spawned_at, dt.UTC)
        from_spawn = [(r - spawned).total_seconds() for r in o4.replies]
        print(
            f"{backend} restart: {o4.count:,} waiting messages drained; first reply "
            f"{min(from_spawn):.2f} s after spawn, last {max(from_spawn):.1f} s; {cpu.summary(pg)}"
        )
        rows += [
            Row(
                f"restart: drain of {o4.count:,} waiting",
                f"{o4.drain_rate:,.0f} msg/s",
                f"≥{TARGET_RATE:g}/s",
                verdict(o4.drain_rate >= TARGET_RATE),
                note="first → last reply",
            ),
            Row(
                "  restart: reply after spawn p50/p99",
                p50_p99(from_spawn, "s"),
                note=f"first reply {min(from_spawn):.2f} s, all {max(from_spawn):.1f} s",
            ),
        ]
        paced("after restart", sizes.after_paced_s, "after")
        server.stop()

        # integrity, over every run
        problems += integrity(engine, url, ranges, planned_kinds, rows)
    finally:
        server.stop()
        engine.dispose()
    return rows, problems


def integrity(
    engine: Engine,
    url: str,
    ranges: list[tuple[str, int, int]],
    planned: Counter[str],
    rows: list[Row],
) -> list[str]:
    problems = []
    total = 0
    for name, lo, hi in ranges:
        o = outcome(engine, lo, hi)
        total += o.count
        if set(o.statuses) != {"done"}:
            problems.append(f"{name}: inbox statuses {dict(o.statuses)}")
        if set(o.reply_counts) != {1}:
            problems.append(f"{name}: replies per message {dict(o.reply_counts)} (want all 1)")
    with engine.connect() as conn:
        inbox_total = conn.execute(select(func.count()).select_from(t.inbox)).scalar_one()
        entries = conn.execute(select(func.count()).select_from(t.entries)).scalar_one()
        unsent = conn.execute(
            select(func.count()).select_from(t.outbox).where(t.outbox.c.status != "sent")
        ).scalar_one()
        results = conn.execute(select(t.inbox.c.result)).scalars().all()
    recorded = sum(1 for r in results if r and r.get("outcome") == "recorded")
    want = planned["expense"] + planned["payment"]
    if inbox_total != sum(planned.values()) or total != inbox_total:
        problems.append(f"inbox holds {inbox_total} rows, {sum(planned.values())} were acked")
    if entries != want or recorded != want:
        problems.append(f"{entries} entries, {recorded} 'recorded' results, want {want}")
    if unsent:
        problems.append(f"{unsent} outbox rows not sent")
    check = subprocess.run(
        [CHIPIN, "check", "--json"],
        check=False,
        env={**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    ok = check.returncode == 0 and json.loads(check.stdout or "{}").get("ok") is True
    if not ok:
        problems.append(
            f"chipin check: exit {check.returncode} {check.stdout[-500:]} {check.stderr[-1500:]}"
        )
    rows.append(
        Row(
            "integrity (all runs)",
            "OK" if not problems else "FAILED",
            "none lost",
            verdict(not problems),
            note=(
                f"{inbox_total:,} messages done, 1 reply each, all sent; {entries:,} entries = "
                f"{want:,} expense/payment msgs; chipin check {'clean' if ok else 'NOT clean'}"
            ),
        )
    )
    return problems


# -- what if: candidate fixes, monkeypatched -------------------------------------------------------

# Each patch is the smallest monkeypatch that behaves like a proposed fix, measured against the
# code as it is before the fix is written for real. The earlier ones (no pre-ping, a group
# looked up once, text inserts, batched dispatch, one transaction per round) are in the code
# now; add the next candidate here.

PATCHES: dict[str, Callable[[], None]] = {}
FIXES = {name: (patch.__doc__ or "").split("\n")[0] for name, patch in PATCHES.items()}


def apply_fixes(names: tuple[str, ...]) -> None:
    if "all" in names:
        names = tuple(PATCHES)
    for name in names:
        if name not in PATCHES:
            raise SystemExit(f"unknown fix {name!r}; known: {', '.join(PATCHES)}, all")
        PATCHES[name]()


def as_chipin(fixes: str, argv: list[str]) -> None:
    """The server subprocess of a --what-if run: patch, then run chipin's own CLI."""
    apply_fixes(tuple(f for f in fixes.split(",") if f))
    from chipin.cli import main as chipin_main

    sys.argv = ["chipin", *argv]
    chipin_main()


# -- the benchmark -------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="1,000 messages, 1,000 backlog")
    parser.add_argument("--messages", type=int, default=6_000, help="saturation run size")
    parser.add_argument("--backlog", type=int, default=10_000, help="messages waiting at restart")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument(
        "--split",
        action="store_true",
        help="run `chipin serve --no-worker` and a `chipin worker` process instead of one serve",
    )
    parser.add_argument(
        "--server-workers",
        type=int,
        default=1,
        help="run `chipin serve --workers N` (PostgreSQL only): N processes, each web + worker",
    )
    parser.add_argument(
        "--after-seconds", type=float, default=20, help="paced run after the restart, seconds"
    )
    parser.add_argument(
        "--what-if",
        type=lambda s: [x for x in s.split(",") if x],
        default=[],
        help=f"candidate fixes to patch in: {', '.join(FIXES) or 'none yet'}",
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the worker path in-process (PostgreSQL)"
    )
    parser.add_argument("--profile-messages", type=int, default=2_000, help="per profile batch")
    parser.add_argument("--serial-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="with --profile: the serial drain as is, with each fix alone, and with all",
    )
    return parser.parse_args(argv)


def header(args: argparse.Namespace) -> None:
    import uvicorn

    print(
        machine(
            f"uvicorn {uvicorn.__version__} "
            f"(loop {_have('uvloop', 'asyncio')}, http {_have('httptools', 'h11')}); "
            "load generator: raw asyncio HTTP/1.1 keep-alive client (bench.common, uvloop)"
        )
    )
    settings = " ".join(f"{k}={v}" for k, v in SERVER_ENV.items())
    fixes = f"; what-if fixes: {', '.join(args.what_if)}" if args.what_if else ""
    shape = (
        "`chipin serve --no-worker` + `chipin worker` subprocesses"
        if args.split
        else f"`chipin serve --workers {args.server_workers}` subprocess"
        if args.server_workers > 1
        else "`chipin serve` subprocess"
    )
    print(f"server: {shape}, {settings}{fixes}")
    print(
        f"load: {GROUPS} groups of 3-4 members; ~60% expenses, ~25% payments, ~15% balance "
        f"questions; {args.clients} HTTP clients (keep-alive connections of bench.common's raw "
        "asyncio HTTP/1.1 client on uvloop, not httpx; 64 in the paced runs) in this process"
    )


def _have(module: str, otherwise: str) -> str:
    import importlib.util

    return module if importlib.util.find_spec(module) else otherwise


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--as-chipin"]:
        as_chipin(argv[1], argv[3:])
        return 0
    signal.signal(signal.SIGTERM, terminate)
    args = parse_args(argv)
    apply_fixes(tuple(args.what_if))  # also in this process, for --profile
    started = time.perf_counter()
    header(args)
    if args.profile and args.matrix:
        matrix(args)
        print(f"\nTotal {time.perf_counter() - started:.0f} s; load average now {load()}")
        return 0
    if args.profile:
        from_profile = profile(args)
        print(f"\nTotal {time.perf_counter() - started:.0f} s; load average now {load()}")
        return from_profile
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results: list[tuple[str, list[Row]]] = []
    failed = False
    for backend in backends:
        opener = sqlite_url if backend == "sqlite" else postgres_url
        with opener() as url, tempfile.TemporaryDirectory(prefix="chipin-serve-log-") as logs:
            log = Path(logs) / "serve.log"
            try:
                rows, problems = run_backend(backend, url, args, log)
            finally:
                lines = log.read_text(errors="replace").splitlines() if log.exists() else []
                noisy = [ln for ln in lines if "warning" in ln.lower() or "error" in ln.lower()]
                if noisy:
                    print(f"{backend}: server log has {len(noisy)} warning/error lines, e.g.:")
                    for ln in noisy[:5]:
                        print(f"  {ln[:300]}")
        results.append((backend, rows))
        if problems:
            failed = True
            print(f"{backend}: PROBLEMS")
            for p in problems:
                print(f"  {p}")
    for backend, rows in results:
        print_table(backend, rows)
    print(
        "\nTargets are the issue's, stated for PostgreSQL; SQLite is judged against them for "
        "reference. 'queued' = outbox.created_at - inbox.received_at (server clock, stamped when "
        "the apply transaction starts); 'delivered' = outbox.sent_at - inbox.received_at."
    )
    print(
        f"Total run {time.perf_counter() - started:.0f} s; load average now {load()} (other work "
        "on the machine shows up in the p99)."
    )
    return 1 if failed else 0


# -- profile: the worker path in this process -----------------------------------------------------


class Phases:
    """Wall time and calls per phase, and SQL statements and commits per phase."""

    def __init__(self, engine: Engine) -> None:
        self.time: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: Counter[str] = Counter()
        self.sql: dict[str, Counter[str]] = {}
        self.commits: Counter[str] = Counter()
        self.current = "other"
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.sql.setdefault(self.current, Counter())[verb] += 1

    def _commit(self, _conn: Any) -> None:
        self.commits[self.current] += 1

    def wrap(self, owner: Any, attr: str, name: str) -> None:
        original = getattr(owner, attr)
        phases = self
        if asyncio.iscoroutinefunction(original):

            async def timed_async(*a: Any, **k: Any) -> Any:
                outer, phases.current = phases.current, name
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return await original(*a, **k)
                finally:
                    phases.time[name] = phases.time.get(name, 0.0) + time.perf_counter() - t0
                    phases.cpu[name] = phases.cpu.get(name, 0.0) + time.thread_time() - c0
                    phases.calls[name] += 1
                    phases.current = outer

            setattr(owner, attr, timed_async)
        else:

            def timed(*a: Any, **k: Any) -> Any:
                outer, phases.current = phases.current, name
                t0, c0 = time.perf_counter(), time.thread_time()
                try:
                    return original(*a, **k)
                finally:
                    phases.time[name] = phases.time.get(name, 0.0) + time.perf_counter() - t0
                    phases.cpu[name] = phases.cpu.get(name, 0.0) + time.thread_time() - c0
                    phases.calls[name] += 1
                    phases.current = outer

            setattr(owner, attr, timed)

    def reset(self) -> None:
        self.time.clear()
        self.cpu.clear()
        self.calls.clear()
        self.sql.clear()
        self.commits.clear()

    def report(self, messages: int, wall: float) -> None:
        print(
            f"{'phase (nested ones indented)':36} {'calls':>6} {'wall ms/msg':>11} "
            f"{'cpu ms/msg':>10}  SQL round trips per message"
        )
        for name in sorted(self.time, key=lambda n: -self.time[n]):
            sql = self.sql.get(name, Counter())
            stmts = " ".join(f"{v}={n / messages:.2f}" for v, n in sql.most_common())
            commits = self.commits.get(name, 0)
            if commits:
                stmts += f" COMMIT={commits / messages:.2f}"
            print(
                f"{name:36} {self.calls[name]:>6} {self.time[name] / messages * 1000:11.2f} "
                f"{self.cpu[name] / messages * 1000:10.2f}  {stmts}"
            )


def profile_groups(engine: Engine, rng: random.Random) -> list[Room]:
    """The 50 groups, made as the playground's POST /playground/api/rooms makes them."""
    from chipin.core import services
    from chipin.store.uow import SqlUnitOfWork

    rooms = []
    for i in range(GROUPS):
        members = NAMES if i % 4 else NAMES[:3]
        with SqlUnitOfWork(engine) as uow:
            group = services.create_group(uow, f"Bench group {i + 1:02d}", "EUR", "UTC")
            services.add_members(uow, group.id, list(members))
            now = dt.datetime.now(dt.UTC)
            conversation = uow.conversations.get_or_create("web", uuid.uuid4().hex, now)
            uow.conversations.update(conversation.id, now, group_id=group.id)
            uow.commit()
        rooms.append(Room(conversation.external_id, members))
    return rooms


def profile_accept(engine: Engine, plan: list[Planned]) -> tuple[float, float]:
    """Accept ``plan`` into the inbox as the playground's POST …/messages does (speaker lookup,
    then ``ingress.accept``), without HTTP; returns (lookup seconds, accept seconds)."""
    from chipin.admin.playground import _require_room
    from chipin.bot.ingress import accept
    from chipin.bot.messages import InboundMessage
    from chipin.store.uow import SqlUnitOfWork

    lookup = stored = 0.0
    for p in plan:
        t0 = time.perf_counter()
        with SqlUnitOfWork(engine, readonly=True) as uow:
            member = _require_room(uow, p.room).member(p.speaker)
        assert member is not None
        t1 = time.perf_counter()
        message = InboundMessage(
            channel="web",
            chat_id=p.room,
            sender_id=member.name,
            sender_name=member.name,
            text=p.text,
            sent_at=dt.datetime.now(dt.UTC).isoformat(),
            message_id=f"m-{uuid.uuid4().hex}",
        )
        raw = {"as": p.speaker, "text": p.text, "client_id": None}
        accept(engine, message, provider_id=uuid.uuid4().hex, raw=raw)
        lookup, stored = lookup + t1 - t0, stored + time.perf_counter() - t1
    return lookup, stored


def matrix(args: argparse.Namespace) -> None:
    """The serial drain (one thread) as is, with each fix alone, and with all: one process each,
    alternating rounds so machine noise hits every variant alike; medians printed."""
    variants = ["", *PATCHES, "all"] if PATCHES else [""]
    results: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    rounds = 1 if args.quick else 2
    for _ in range(rounds):
        for variant in variants:
            cmd = [sys.executable, str(HERE), "--profile", "--serial-only"]
            cmd += ["--profile-messages", str(args.profile_messages)]
            cmd += (["--what-if", variant] if variant else []) + (["--quick"] if args.quick else [])
            done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(
                    f"{variant or 'as is'} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
                )
            results[variant].append(json.loads(line[7:]))
    print(
        f"\nserial drain in one thread, PostgreSQL, "
        f"{args.profile_messages if not args.quick else 600:,} messages per run, median of "
        f"{rounds} runs per variant (alternating); per message:"
    )
    cols = ("worker_ms", "dispatch_ms", "cpu_ms", "pg_cpu_ms", "round_trips", "commits",
            "lookup_ms", "accept_ms")  # fmt: skip
    print(
        f"{'variant':17} {'CPU ms':>6} {'PG CPU':>6} {'total':>6} {'DB trips':>8} {'commits':>7}"
        f" {'wall ms':>7} | ack path wall: {'lookup':>6} {'accept':>6}"
    )
    base = {c: statistics.median(r[c] for r in results[""]) for c in cols}
    for variant in variants:
        med = {c: statistics.median(r[c] for r in results[variant]) for c in cols}
        total = med["cpu_ms"] + med["pg_cpu_ms"]
        saved = base["cpu_ms"] + base["pg_cpu_ms"] - total
        print(
            f"{variant or 'as is':17} {med['cpu_ms']:6.2f} {med['pg_cpu_ms']:6.2f} {total:6.2f} "
            f"{med['round_trips']:8.1f} {med['commits']:7.2f} "
            f"{med['worker_ms'] + med['dispatch_ms']:7.2f} | {'':14} {med['lookup_ms']:6.2f} "
            f"{med['accept_ms']:6.2f}" + (f"   ({saved:+.2f} ms CPU saved)" if variant else "")
        )
    print(
        "CPU = this process (worker + dispatcher, one thread), PG CPU = its PostgreSQL backends; "
        "on a CPU-bound 2-core box the total is what sets the rate. 'wall ms' and the ack-path "
        "times are wall clock and move with the machine's other load."
    )


def backend_pids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [
            int(pid)
            for (pid,) in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
        ]


@contextlib.contextmanager
def inline_threads() -> Iterator[None]:
    """``asyncio.to_thread`` runs the call in place: one thread, so cProfile and the CPU clock
    see all the work (the real server hands each database step to a thread)."""
    original = asyncio.to_thread

    async def in_place(func_: Callable[..., Any], /, *a: Any, **k: Any) -> Any:
        return func_(*a, **k)

    asyncio.to_thread = in_place
    try:
        yield
    finally:
        asyncio.to_thread = original


def profile(args: argparse.Namespace) -> int:
    import chipin.bot.conversation as conversation_module
    import chipin.bot.handlers as handlers_module
    import chipin.bot.worker as worker_module
    from chipin.bot.conversation import ConversationEngine
    from chipin.bot.worker import Worker
    from chipin.notify.dispatcher import Dispatcher
    from chipin.runtime import Runtime
    from chipin.settings import Settings
    from chipin.store import db
    from chipin.store.inbox import InboxQueue
    from chipin.store.migrate import upgrade
    from chipin.store.outbox import OutboxQueue

    count = 600 if args.quick else args.profile_messages
    rng = random.Random(7)
    with postgres_url() as url:
        engine = db.make_engine(url)
        try:
            upgrade(engine)
            print(f"PostgreSQL: {server_context(engine, SERVER_SETTINGS)}")
            settings = Settings(
                DATABASE_URL=url, CHIPIN_ENV="development", PARSER="rules", LOG_LEVEL="WARNING"
            )
            rooms = profile_groups(engine, rng)
            phases = Phases(engine)
            for owner, attr, name in (
                (Worker, "claim", "worker: claim conversations"),
                (Worker, "read", "worker: read a round (snapshot)"),
                (ConversationEngine, "finish", "worker: parse"),
                (ConversationEngine, "_find_group", "  find group (conversation, group)"),
                (ConversationEngine, "_context", "  parse context (members)"),
                (conversation_module, "parse_text", "  parse (rules)"),
                (Worker, "apply_round", "worker: apply a round (transaction)"),
                (InboxQueue, "renew", "  renew lease"),
                (ConversationEngine, "apply", "  conversation.apply"),
                (handlers_module, "on_intent", "    handler (ledger write or balances)"),
                (ConversationEngine, "group_of", "  group_of (for the locale)"),
                (worker_module, "render", "  render reply"),
                (OutboxQueue, "add", "  outbox insert"),
                (InboxQueue, "complete", "  inbox complete"),
                (Worker, "release", "worker: release leases"),
                (Dispatcher, "_claim", "dispatcher: claim due"),
                (Dispatcher, "_record", "dispatcher: record outcomes"),
            ):
                if hasattr(owner, attr):
                    phases.wrap(owner, attr, name)
            pings = Counter[str]()
            do_ping = engine.dialect.do_ping

            def counted_ping(dbapi_connection: Any) -> bool:
                pings[phases.current] += 1
                return bool(do_ping(dbapi_connection))

            engine.dialect.do_ping = counted_ping  # type: ignore[method-assign]

            def batch(name: str) -> list[Planned]:
                plan = plan_messages(rng, rooms, count)
                phases.current = "accept"
                lookup, stored = profile_accept(engine, plan)
                phases.current = "other"
                print(
                    f"{name}: {count:,} accepted in-process (no HTTP): speaker lookup "
                    f"{lookup / count * 1000:.2f} ms + ingress.accept {stored / count * 1000:.2f}"
                    " ms per message"
                )
                return plan

            async def serial() -> tuple[int, float, float]:
                runtime = Runtime.build(settings, engine)
                t0 = time.perf_counter()
                handled = await runtime.worker.drain(limit=10**9)
                t1 = time.perf_counter()
                await runtime.dispatcher.drain(limit=10**9)
                t2 = time.perf_counter()
                await runtime.close()
                return handled, t1 - t0, t2 - t1

            batch("warm-up")  # imports, template compiles, statement caches
            with inline_threads():
                asyncio.run(serial())

            print("\n-- serial drain in one thread: Worker.drain, then Dispatcher.drain --")
            batch("serial")
            phases.reset()
            pings.clear()
            with inline_threads():
                pg0 = {pid: proc_ticks(pid) for pid in backend_pids(engine)}
                c0 = time.process_time()
                handled, worker_s, dispatch_s = asyncio.run(serial())
                cpu = time.process_time() - c0
                pg_pids = set(pg0) | set(backend_pids(engine))
                pg_cpu = sum(proc_ticks(p) - pg0.get(p, 0) for p in pg_pids) / CLK_TCK
            wall = worker_s + dispatch_s
            print(
                f"drained {handled:,} messages in {wall:.2f} s ({handled / wall:,.0f} msg/s): "
                f"worker {worker_s / handled * 1000:.2f} ms + dispatcher "
                f"{dispatch_s / handled * 1000:.2f} ms per message; CPU per message: this process "
                f"{cpu / handled * 1000:.2f} ms, its PostgreSQL backends "
                f"{pg_cpu / handled * 1000:.2f} ms; pool pre-pings per message "
                f"{sum(pings.values()) / handled:.2f}"
            )
            phases.report(handled, wall)
            if args.serial_only:
                statements = sum(sum(c.values()) for c in phases.sql.values()) / handled
                commits = sum(phases.commits.values()) / handled
                round_trips = statements + commits + sum(pings.values()) / handled
                lookup, stored = profile_accept(engine, plan_messages(rng, rooms, count))
                result = {
                    "worker_ms": worker_s / handled * 1000,
                    "dispatch_ms": dispatch_s / handled * 1000,
                    "cpu_ms": cpu / handled * 1000,
                    "pg_cpu_ms": pg_cpu / handled * 1000,
                    "lookup_ms": lookup / count * 1000,
                    "accept_ms": stored / count * 1000,
                    "round_trips": round_trips,
                    "commits": commits,
                }
                print("RESULT " + json.dumps(result))
                return 0

            print("\n-- Runtime.start() as `chipin serve` runs it, no HTTP: WORKER_CONCURRENCY --")
            for concurrency in (1, 2, 4, 8, 16):
                batch(f"concurrency {concurrency}")
                handled, conc_wall = asyncio.run(concurrent(settings, engine, concurrency))
                print(
                    f"  WORKER_CONCURRENCY={concurrency:<2}: {handled:,} messages handled and "
                    f"sent in {conc_wall:.2f} s: {handled / conc_wall:,.0f} msg/s"
                )

            print("\n-- cProfile of a serial drain in one thread --")
            batch("cprofile")
            prof = cProfile.Profile()
            with inline_threads():
                prof.enable()
                asyncio.run(serial())
                prof.disable()
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf)
            stats.sort_stats("tottime").print_stats(25)
            stats.sort_stats("cumulative").print_stats(60)
            print(buf.getvalue())
        finally:
            engine.dispose()
    return 0


async def concurrent(settings: Any, engine: Engine, concurrency: int) -> tuple[int, float]:
    """Everything pending handled and sent by a started Runtime with ``concurrency`` slots."""
    from chipin.runtime import Runtime

    settings = settings.model_copy(update={"worker_concurrency": concurrency})
    runtime = Runtime.build(settings, engine)
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(t.inbox).where(t.inbox.c.status == "pending")
        ).scalar_one()
    t0 = time.perf_counter()
    runtime.start()
    runtime.wake()
    while True:
        await asyncio.sleep(0.05)
        with engine.connect() as conn:
            left = conn.execute(
                select(func.count())
                .select_from(t.outbox)
                .where(t.outbox.c.status.in_(("pending", "failed")))
            ).scalar_one()
            pending = conn.execute(
                select(func.count()).select_from(t.inbox).where(t.inbox.c.status == "pending")
            ).scalar_one()
        if not left and not pending:
            break
    wall = time.perf_counter() - t0
    await runtime.close()
    return total, wall


if __name__ == "__main__":
    sys.exit(main())
