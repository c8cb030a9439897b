"""What the benchmarks share: throwaway databases, the machine line, the app in a subprocess, and
the webhook load driver (closed loop at a set concurrency, open loop at a fixed rate, latency
percentiles, the server's CPU per request and the load generator's own) and its raw HTTP/1.1
client (also ``bench/pipeline.py``'s, through :class:`Pool`).

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
import uvloop
from fastapi import Request as FastAPIRequest
from fastapi import Response as FastAPIResponse
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


def proc_ticks(pid: int) -> int:
    """CPU clock ticks (user + system) ``pid`` used so far; 0 when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def parents() -> dict[int, int]:
    """pid → parent pid of every process, from ``/proc``."""
    out = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                out[int(entry.name)] = int(
                    (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                )
            except (OSError, IndexError, ValueError):
                continue
    return out


def _descendants(pid: int) -> list[int]:
    """The processes under ``pid`` (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for child, parent in parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


@dataclass
class Server:
    base: str
    pid: int
    workers: int = 1

    def cpu_seconds(self) -> float:
        """CPU time the server used so far (its processes, all threads): a figure that other
        loads on a shared machine disturb far less than a wall-clock rate. The database
        server's CPU is not in it."""
        ticks = sum(proc_ticks(pid) for pid in (self.pid, *_descendants(self.pid)))
        return ticks / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(script: str, env: dict[str, str], workers: int = 1) -> Iterator[Server]:
    """Run ``script --serve PORT --workers N`` on a free port with ``env`` added to the
    environment, wait until ``/readyz`` answers 200 (30 s at most), and terminate it
    afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, script, "--serve", str(port), "--workers", str(workers)],
        env=os.environ | env,
        cwd=ROOT,
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
        if workers > 1:
            time.sleep(1.0)  # one answered; let the others finish starting too
        yield Server(base, proc.pid, workers)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# -- webhook load ------------------------------------------------------------------------------
#
# The load generator is a minimal HTTP/1.1 keep-alive client on raw asyncio (uvloop) protocols,
# not httpx: it shares the server's two cores, and httpx spent ~0.3 ms of CPU per request, as
# much as the bare endpoint's server side, so the figures measured the client as much as the
# server. Requests are also made (encoded, and signed for Twilio) before the clock starts. Its
# CPU per request is printed beside the server's; `wrk` (C) was used to check that the peak
# figures agree (see README, "Webhooks"). `Pool` puts a few of its connections behind an HTTP
# client's interface (status and body back, timeouts, closed connections replaced) for
# bench/pipeline.py, whose JSON API driver used httpx.AsyncClient at ~2.5 ms of CPU a request.

CONCURRENCY = (1, 8, 32, 64)
FIXED_RATE = 500
TARGET_RATE, TARGET_P99_MS, TARGET_SHARE = 1500.0, 25.0, 0.5
WARMUP_SECONDS = 0.5
POOL_RATE = 8000
"""Requests made ahead per second of a closed-loop point (more are made on the fly if needed)."""

Post = tuple[bytes, dict[str, str]]
"""A request body and its headers."""


@dataclass
class Figures:
    rate: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    """Every request made, the warm-up's included (for the CPU figures)."""
    cpu_ms: float = 0.0
    """Server CPU per request (user + system, all its processes and threads)."""
    client_cpu_ms: float = 0.0
    """The load generator's CPU per request."""


Results = dict[tuple[str, int], Figures]


def figures(latencies: list[float], seconds: float, errors: int, requests: int) -> Figures:
    ordered = sorted(latencies) or [0.0]
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    median = statistics.median(ordered) * 1e3
    return Figures(len(latencies) / seconds, median, p99 * 1e3, errors, requests)


def measured(srv: Server, load: Coroutine[Any, Any, Figures]) -> Figures:
    """Run one load (on uvloop) and add the server's CPU per request to its figures."""
    before = srv.cpu_seconds()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        got = runner.run(load)
    got.cpu_ms = (srv.cpu_seconds() - before) * 1e3 / max(1, got.requests)
    return got


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; answers need a
    Content-Length (uvicorn always sends one for these)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment] - uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":  # not read here: fail loudly, not misparse
                self._fail(ConnectionError(f"unsupported Transfer-Encoding: {value!r}"))
                return
        if len(self.buffer) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    def _fail(self, exc: Exception) -> None:
        """Fail the request in flight and drop the connection."""
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def send(self, request: bytes) -> int:
        """Send ``request``; the answer's status."""
        return (await self.exchange(request))[0]

    async def exchange(self, request: bytes, timeout: float | None = None) -> tuple[int, bytes]:
        """Send ``request``; the answer's status and body. After ``timeout`` seconds without
        the whole answer, ``TimeoutError`` and the connection is dropped."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.waiter = waiter = loop.create_future()
        timer = None
        if timeout is not None:
            timer = loop.call_later(
                timeout, self._fail, TimeoutError(f"no answer in {timeout:g} s")
            )
        self.transport.write(request)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()


async def _connect(base: str) -> _Connection:
    host, port = base.removeprefix("http://").split(":")
    _, conn = await asyncio.get_running_loop().create_connection(_Connection, host, int(port))
    return conn


class Pool:
    """Up to ``size`` keep-alive connections to ``base``, as an HTTP client's pool keeps them:
    each opened when first needed, the most recently used one reused first, one request at a
    time each; a connection that failed, timed out or that the server closed (its keep-alive
    timeout) is dropped and a new one opened in its place on the next request.

    A failed request raises ``OSError`` (``ConnectionError``, ``ConnectionRefusedError``,
    ``TimeoutError``, ...): what to retry is the caller's business."""

    def __init__(self, base: str, size: int, timeout: float | None = 60.0) -> None:
        self.base, self.timeout = base, timeout
        self.slots: asyncio.LifoQueue[_Connection | None] = asyncio.LifoQueue()
        for _ in range(size):
            self.slots.put_nowait(None)  # a slot with no connection open yet

    async def request(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` (bytes from :func:`encode`) on a free connection; the answer's
        status and body."""
        conn = await self.slots.get()
        try:
            if conn is None or conn.closed:
                conn = None
                conn = await _connect(self.base)
            got = await conn.exchange(request, self.timeout)
        except BaseException:
            if conn is not None:
                conn.close()
            self.slots.put_nowait(None)
            raise
        self.slots.put_nowait(conn)
        return got

    def close(self) -> None:
        """Close the idle connections (call when no request is in flight)."""
        while not self.slots.empty():
            conn = self.slots.get_nowait()
            if conn is not None and conn.transport is not None:
                conn.transport.close()


def encode(base: str, path: str, post: Post) -> bytes:
    """The bytes of ``POST path`` with the body and headers of ``post``."""
    body, headers = post
    lines = [f"POST {path} HTTP/1.1", f"Host: {base.removeprefix('http://')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body


class Requests:
    """The requests of one load, made before the clock starts; more on the fly if they run out
    (a unique id each: a request is never sent twice)."""

    def __init__(self, base: str, path: str, make: Callable[[], Post], count: int) -> None:
        self.base, self.path, self.make = base, path, make
        self.made = [encode(base, path, make()) for _ in range(count)]
        self.next = 0

    def take(self) -> bytes:
        if self.next < len(self.made):
            self.next += 1
            return self.made[self.next - 1]
        return encode(self.base, self.path, self.make())


async def closed_loop(
    base: str, path: str, concurrency: int, seconds: float, make: Callable[[], Post]
) -> Figures:
    """``concurrency`` senders, one connection each, post ``make()`` back to back for a
    warm-up then ``seconds``."""
    latencies: list[float] = []
    errors = count = 0
    requests = Requests(base, path, make, int(POOL_RATE * (seconds + WARMUP_SECONDS)))
    conns = [await _connect(base) for _ in range(concurrency)]
    cpu = time.process_time()
    warmup_end = time.perf_counter() + WARMUP_SECONDS
    end = warmup_end + seconds

    async def sender(conn: _Connection) -> None:
        nonlocal errors, count
        while (now := time.perf_counter()) < end:
            count += 1
            status = await conn.send(requests.take())
            took = time.perf_counter() - now
            if status != 200:
                errors += 1
            elif now >= warmup_end:
                latencies.append(took)

    try:
        await asyncio.gather(*(sender(c) for c in conns))
    finally:
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
    got = figures(latencies, seconds, errors, count)
    got.client_cpu_ms = (time.process_time() - cpu) * 1e3 / max(1, count)
    return got


async def fixed_rate(
    base: str,
    path: str,
    rate: int,
    seconds: float,
    make: Callable[[], Post],
) -> Figures:
    """Open loop: ``rate`` requests a second for ``seconds`` over up to 64 connections,
    latency counted from each one's scheduled start (a stall, or a late generator, counts
    against the server: no coordinated omission). The requests are made before the clock
    starts."""
    latencies: list[float] = []
    errors = 0
    count = int(rate * seconds)
    requests = Requests(base, path, make, count + 64)
    idle: asyncio.Queue[_Connection] = asyncio.Queue()
    conns = [await _connect(base) for _ in range(64)]
    for conn in conns:
        await conn.send(requests.take())  # the first request of each connection: a warm-up
        idle.put_nowait(conn)
    cpu = time.process_time()

    async def one(at: float, request: bytes) -> None:
        nonlocal errors
        conn = await idle.get()
        try:
            status = await conn.send(request)
        finally:
            idle.put_nowait(conn)
        if status != 200:
            errors += 1
        else:
            latencies.append(time.perf_counter() - at)  # from the scheduled start

    tasks = []
    start = time.perf_counter() + 0.05
    try:
        for n in range(count):
            at = start + n / rate
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(at, requests.take())))
        await asyncio.gather(*tasks)
    finally:
        for conn in conns:
            if conn.transport is not None:
                conn.transport.close()
    got = figures(latencies, seconds, errors, count + len(conns))
    got.client_cpu_ms = (time.process_time() - cpu) * 1e3 / max(1, count)
    return got


def run_backend(
    name: str,
    srv: Server,
    webhook: str,
    seconds: float,
    make: Callable[[], Post],
    *,
    bares: tuple[tuple[str, str], ...] = (("bare", "/bench/bare"),),
) -> Results:
    """The webhook and the bare endpoint(s) (label, path) at each concurrency, then the webhook
    at the fixed rate, each figure printed as it comes."""
    results: Results = {}
    for concurrency in CONCURRENCY:
        for label, path in (("webhook", webhook), *bares):
            got = measured(srv, closed_loop(srv.base, path, concurrency, seconds, make))
            results[(label, concurrency)] = got
            print(
                f"  {name:<8} {label:<8} c={concurrency:<3} {got.rate:8.0f}/s  "
                f"p50 {got.p50_ms:6.1f} ms  p99 {got.p99_ms:6.1f} ms  "
                f"server CPU {got.cpu_ms:5.2f} ms/req  client {got.client_cpu_ms:5.2f}  "
                f"errors {got.errors}  load {load()}",
                flush=True,
            )
    fixed = fixed_rate(srv.base, webhook, FIXED_RATE, seconds + 1, make)
    got = measured(srv, fixed)
    results[("fixed", FIXED_RATE)] = got
    print(
        f"  {name:<8} webhook  {FIXED_RATE}/s fixed: p50 {got.p50_ms:6.1f} ms  "
        f"p99 {got.p99_ms:6.1f} ms  server CPU {got.cpu_ms:5.2f} ms/req  "
        f"errors {got.errors}  load {load()}",
        flush=True,
    )
    return results


def verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def webhook_main(
    doc: str,
    title: str,
    serve: Callable[[int, int], None],
    run: Callable[[str, str, float, int], Results],
    summary: Callable[[str, Results], list[str]],
) -> None:
    """The command line of a webhook bench: ``--serve PORT --workers N`` runs the app (in the
    subprocess), otherwise ``run(name, url, seconds, workers)`` for each backend, then the
    targets table."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes (`chipin serve --workers N`; above 1 on PostgreSQL only). One "
        "measured best on 2 cores shared with PostgreSQL and the load generator",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workers)
        return
    print(
        f"{title} · {platform.python_implementation()} "
        f"{platform.python_version()} · {os.cpu_count()} CPUs · worker/dispatcher off · "
        f"{args.seconds:g} s per point · load generator: raw asyncio HTTP/1.1 (uvloop)"
    )
    databases = {"sqlite": migrated_sqlite_url, "postgres": migrated_postgres_url}
    chosen = list(databases) if args.backend == "both" else [args.backend]
    table: list[str] = []
    for name in chosen:
        workers = args.workers if name == "postgres" else 1  # SQLite: one process
        print(
            f"{name}: served as `chipin serve --no-worker --workers {workers}`, "
            f"load average {load()}",
            flush=True,
        )
        with databases[name]() as url:
            table += summary(name, run(name, url, args.seconds, workers))
        table.append(f"{name:<9} (server processes {workers}; load average after {load()})")
    print("\nTargets")
    print("\n".join(table))


# -- the bare endpoint -------------------------------------------------------------------------


def route_paths(route: Any) -> list[str]:
    """A route's path, or every path of an included router (FastAPI keeps one entry for it)."""
    router = getattr(route, "original_router", None)
    if router is not None:
        return [p for r in router.routes for p in route_paths(r)]
    path = getattr(route, "path", None)
    return [path] if isinstance(path, str) else []


def add_bare_endpoint(app: Any, body: bytes, media_type: str, beside: str) -> None:
    """``POST /bench/bare``: read the body, answer ``body``, nothing else. A plain Starlette
    route, as the webhooks are, placed just BEFORE the entry that holds the ``beside`` webhook
    route, so both pay the same route matching (the webhook one failed match more). Added at
    the end of the app's routes, as it once was, it paid for every route in front of it,
    which the webhooks (first since the router order changed) no longer do: the share of
    the bare endpoint's rate would have flattered the webhook."""
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def bare(request: Request) -> Response:
        await request.body()
        return Response(body, media_type=media_type)

    routes = app.router.routes
    at = next((n for n, r in enumerate(routes) if beside in route_paths(r)), len(routes))
    routes.insert(at, Route("/bench/bare", bare, methods=["POST"], include_in_schema=False))


def add_fastapi_endpoint(app: Any, body: bytes, media_type: str) -> None:
    """``POST /bench/fastapi``: the bare endpoint as these benches first had it, an ordinary
    FastAPI endpoint (``@app.post``, ``request: Request``) after all the app's routes. Kept
    beside :func:`add_bare_endpoint` so figures stay comparable with the earlier tables; it
    pays FastAPI's endpoint wrapper and the routes in front of it, which the webhooks do not."""

    async def fastapi_bare(request: FastAPIRequest) -> FastAPIResponse:
        await request.body()
        return FastAPIResponse(body, media_type=media_type)

    app.post("/bench/fastapi", include_in_schema=False)(fastapi_bare)


BARES = (("bare", "/bench/bare"), ("fastapi", "/bench/fastapi"))
"""The two bare endpoints the webhook benches drive beside the webhook."""
