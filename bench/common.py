"""What the benchmarks share: throwaway databases, the machine line, the app in a subprocess, and
the webhook load driver (closed loop at a set concurrency, open loop at a fixed rate, latency
percentiles and the server's CPU per request).

Imported as ``common`` by the scripts run from this folder (``bench/ledger.py``, ...) and as
``bench.common`` by the two that take this folder off ``sys.path`` (``bench/telegram.py`` and
``bench/twilio.py``, named like the libraries they drive).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from chipin.store.db import make_engine
from chipin.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN_URL = os.environ.get(
    "CHIPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

# -- databases ---------------------------------------------------------------------------------


@contextmanager
def postgres_database(prefix: str = "chipin_bench") -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database on the test server (created as
    ``tests/conftest.py`` does), dropped afterwards, even on failure."""
    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        raise SystemExit(
            f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({exc}); run `make postgres`"
        ) from exc
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def migrate(url: str) -> None:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


@contextmanager
def migrated_sqlite_url() -> Iterator[str]:
    """A temporary SQLite file with the schema in place."""
    with tempfile.TemporaryDirectory(prefix="chipin-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        yield url


@contextmanager
def migrated_postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database with the schema in place."""
    with postgres_database() as url:
        migrate(url)
        yield url


@contextmanager
def sqlite_engine() -> Iterator[Engine]:
    """An engine on a temporary SQLite file with the schema in place."""
    with tempfile.TemporaryDirectory(prefix="chipin-bench-") as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'ledger.db'}")
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@contextmanager
def postgres_engine() -> Iterator[Engine]:
    """An engine on a throwaway PostgreSQL database with the schema in place."""
    with postgres_database() as url:
        engine = make_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


def settle(engine: Engine) -> None:
    """The steady state of a long-lived database after a bulk load.

    PostgreSQL: VACUUM ANALYZE, which autovacuum would do (the test server runs with autovacuum
    off), so the planner has statistics and index-only scans a visibility map. SQLite: checkpoint
    the WAL into the main file.
    """
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        raw = engine.raw_connection()  # outside any transaction (the pool's BEGIN hook)
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        finally:
            raw.close()


SERVER_SETTINGS = (
    "server_version",
    "jit",
    "synchronous_commit",
    "autovacuum",
    "shared_buffers",
    "max_parallel_workers_per_gather",
)
"""What :func:`server_context` shows by default (the store benches')."""


def server_context(engine: Engine, names: tuple[str, ...] = SERVER_SETTINGS) -> str:
    """The PostgreSQL server's version and settings ``names``, as ``name=value, ...``."""
    with engine.connect() as conn:
        settings = {name: conn.execute(text(f"SHOW {name}")).scalar() for name in names}
    return ", ".join(f"{k}={v}" for k, v in settings.items())


@contextmanager
def backend_engine(backend: str) -> Iterator[Engine]:
    """:func:`sqlite_engine` or :func:`postgres_engine`, the latter's settings printed."""
    opener = sqlite_engine if backend == "sqlite" else postgres_engine
    with opener() as engine:
        if backend == "postgres":
            print(f"PostgreSQL: {server_context(engine)}")
        yield engine


def report_check(backend: str, problems: list[str], failed: str, passed: str) -> bool:
    """Print a data check's outcome (the first ten problems, if any); True when it failed."""
    if problems:
        print(f"{backend}: {failed} ({len(problems)} problems)")
        for problem in problems[:10]:
            print(f"  {problem}")
        return True
    print(f"{backend}: {passed}")
    return False


# -- the machine -------------------------------------------------------------------------------


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[94]


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine(extra: str = "") -> str:
    """``machine: cores, platform; Python; SQLite; <extra>; load average``."""
    return (
        f"machine: {os.cpu_count()} cores, {platform.machine()}, {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; "
        f"SQLite {sqlite3.sqlite_version}; {extra}{'; ' if extra else ''}load average {load()}"
    )


def terminate(signum: int, _frame: Any) -> None:
    """A SIGTERM handler: unwinds through the clean-ups."""
    raise SystemExit(128 + signum)


# -- the app in a subprocess -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far (all threads): a figure that other loads
        on a shared machine disturb far less than a wall-clock rate."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(script: str, env: dict[str, str]) -> Iterator[Server]:
    """Run ``script --serve PORT`` on a free port with ``env`` added to the environment, wait
    until ``/readyz`` answers 200 (30 s at most), and terminate it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, script, "--serve", str(port)], env=os.environ | env, cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- webhook load ------------------------------------------------------------------------------

CONCURRENCY = (1, 8, 32, 64)
FIXED_RATE = 500
TARGET_RATE, TARGET_P99_MS, TARGET_SHARE = 1500.0, 25.0, 0.5

Post = tuple[bytes, dict[str, str]]
"""A request body and its headers."""


@dataclass
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    """Every request made, the warm-up's included (for the CPU figure)."""
    cpu_ms: float = 0.0
    """Server CPU per request (user + system, all threads)."""


Results = dict[tuple[str, int], Figures]


def figures(latencies: list[float], seconds: float, errors: int, requests: int) -> Figures:
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered) * 1e3
    return Figures(len(latencies) / seconds, median, p99 * 1e3, errors, requests)


def measured(srv: Server, load: Coroutine[Any, Any, Figures]) -> Figures:
    """Run one load and add the server's CPU per request to its figures."""
    before = srv.cpu_seconds()
    got = asyncio.run(load)
    got.cpu_ms = (srv.cpu_seconds() - before) * 1e3 / max(1, got.requests)
    return got


def one_connection(base: str) -> httpx.AsyncClient:
    """A client per sender: httpx's shared pool slows down sharply past a few dozen
    concurrent requests, and the bench must measure the server, not the pool."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=30)


async def closed_loop(
    base: str, path: str, concurrency: int, seconds: float, make: Callable[[], Post]
) -> Figures:
    """``concurrency`` senders post ``make()`` back to back for a warm-up then ``seconds``."""
    latencies: list[float] = []
    errors = requests = 0
    clients = [one_connection(base) for _ in range(concurrency)]
    warmup_end = time.perf_counter() + 0.5
    end = warmup_end + seconds

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal errors, requests
        while (now := time.perf_counter()) < end:
            requests += 1
            content, headers = make()
            answer = await client.post(path, content=content, headers=headers)
            took = time.perf_counter() - now
            if answer.status_code != 200:
                errors += 1
            elif now >= warmup_end:
                latencies.append(took)

    try:
        await asyncio.gather(*(sender(c) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return figures(latencies, seconds, errors, requests)


async def fixed_rate(
    base: str,
    path: str,
    rate: int,
    seconds: float,
    make: Callable[[], Post],
    *,
    ahead: bool = False,
) -> Figures:
    """Open loop: ``rate`` requests a second for ``seconds``, latency counted from each one's
    scheduled start. ``ahead`` makes every request before the clock starts (when making one is
    itself costly, as signing is)."""
    latencies: list[float] = []
    errors = 0
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    clients = [one_connection(base) for _ in range(64)]
    for client in clients:
        content, headers = make()
        await client.post(path, content=content, headers=headers)  # connect first
        idle.put_nowait(client)
    count = int(rate * seconds)
    planned: list[Post | None] = [make() for _ in range(count)] if ahead else [None] * count
    start = time.perf_counter() + 0.05

    async def one(at: float, request: Post | None) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        client = await idle.get()
        try:
            content, headers = request or make()
            answer = await client.post(path, content=content, headers=headers)
        finally:
            idle.put_nowait(client)
        if answer.status_code != 200:
            errors += 1
        else:
            latencies.append(time.perf_counter() - at)  # from the scheduled start

    try:
        await asyncio.gather(*(one(start + i / rate, p) for i, p in enumerate(planned)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return figures(latencies, seconds, errors, count + len(clients))


def run_backend(
    name: str,
    srv: Server,
    webhook: str,
    seconds: float,
    make: Callable[[], Post],
    *,
    ahead: bool = False,
) -> Results:
    """The webhook and the bare endpoint at each concurrency, then the webhook at the fixed
    rate, each figure printed as it comes."""
    results: Results = {}
    for concurrency in CONCURRENCY:
        for label, path in (("webhook", webhook), ("bare", "/bench/bare")):
            got = measured(srv, closed_loop(srv.base, path, concurrency, seconds, make))
            results[(label, concurrency)] = got
            print(
                f"  {name:<8} {label:<8} c={concurrency:<3} {got.rate:8.0f}/s  "
                f"p50 {got.p50_ms:6.1f} ms  p99 {got.p99_ms:6.1f} ms  "
                f"server CPU {got.cpu_ms:5.2f} ms/req  errors {got.errors}",
                flush=True,
            )
    load = fixed_rate(srv.base, webhook, FIXED_RATE, seconds + 1, make, ahead=ahead)
    got = measured(srv, load)
    results[("fixed", FIXED_RATE)] = got
    print(
        f"  {name:<8} webhook  {FIXED_RATE}/s fixed: p50 {got.p50_ms:6.1f} ms  "
        f"p99 {got.p99_ms:6.1f} ms  server CPU {got.cpu_ms:5.2f} ms/req  "
        f"errors {got.errors}",
        flush=True,
    )
    return results


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def webhook_main(
    doc: str,
    title: str,
    serve: Callable[[int], None],
    run: Callable[[str, str, float], Results],
    summary: Callable[[str, Results], list[str]],
) -> None:
    """The command line of a webhook bench: ``--serve PORT`` runs the app (in the subprocess),
    otherwise ``run(name, url, seconds)`` for each backend, then the targets table."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(
        f"{title} · {platform.python_implementation()} "
        f"{platform.python_version()} · {os.cpu_count()} CPUs · worker/dispatcher off · "
        f"{args.seconds:g} s per point"
    )
    databases = {"sqlite": migrated_sqlite_url, "postgres": migrated_postgres_url}
    chosen = list(databases) if args.backend == "both" else [args.backend]
    table: list[str] = []
    for name in chosen:
        with databases[name]() as url:
            table += summary(name, run(name, url, args.seconds))
    print("\nTargets")
    print("\n".join(table))
