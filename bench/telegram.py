"""Benchmark of the Telegram webhook's acknowledgement, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/telegram.py [--backend sqlite|postgres|both] [--seconds 3]``.

For each backend it starts the app in a subprocess (uvicorn, one process, as ``chipin serve``
runs it) on a free port with a throwaway database: a temporary SQLite file, then a PostgreSQL
database created on the test server as ``tests/conftest.py`` does and dropped afterwards. The
worker and the dispatcher are OFF (``background=False``): this measures what Telegram waits for
(verify the secret, normalise, insert into the inbox, commit, answer 200), not the parsing
behind it, which would otherwise share the same two cores.

The app is ``create_app`` with the Telegram router and one extra route added by this script:
``POST /bench/bare`` reads the body and answers the same ``{"ok":true}`` with no work, the
"bare 200 endpoint of the same app". Both are driven with ``httpx.AsyncClient`` (keep-alive,
one connection per concurrent sender) with real-shaped updates (unique ``update_id``s, a group
text message) at concurrency 1, 8, 32 and 64 for a fixed time after a warm-up, then at a fixed
rate of 500 updates/s (open loop: latency counted from each request's scheduled start, so a
stall is not hidden). It prints updates/s and p50/p99 latency, and the targets:
≥ 1,500 updates/s acknowledged on PostgreSQL, p99 ≤ 25 ms at 500 updates/s, and at least half
the bare endpoint's rate. The load generator runs on the same machine and takes CPU from the
server; both endpoints pay that alike.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request, Response

ROOT = Path(__file__).resolve().parents[1]
# This file is named telegram.py: keep its folder off the path so `import telegram` is PTB.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

SECRET = "bench-webhook-secret-0123456789"
TOKEN = "7000000001:AAH-bench-token"
POSTGRES_ADMIN_URL = os.environ.get(
    "CHIPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONCURRENCY = (1, 8, 32, 64)
FIXED_RATE = 500
TARGET_RATE, TARGET_P99_MS, TARGET_SHARE = 1500.0, 25.0, 0.5
OK = b'{"ok":true}'


# -- the server (run in the subprocess) -------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn

    from chipin.app import create_app
    from chipin.settings import Settings
    from chipin.webhooks.telegram import telegram_router

    app = create_app(Settings(), background=False)
    if not any(getattr(r, "path", None) == "/webhooks/telegram" for r in app.routes):
        app.include_router(telegram_router())

    @app.post("/bench/bare", include_in_schema=False)
    async def bare(request: Request) -> Response:
        await request.body()
        return Response(OK, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_config=None, access_log=False)


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
def server(database_url: str) -> Iterator[Server]:
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        # no Bot API here: getMe at start-up fails at once and the app goes on without it
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
        "PARSER": "rules",
        "LOG_LEVEL": "WARNING",
        "CHIPIN_ENV": "development",
    }
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env, cwd=ROOT)
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


# -- databases --------------------------------------------------------------------------------


@contextmanager
def sqlite_database() -> Iterator[str]:
    from chipin.store.db import make_engine
    from chipin.store.migrate import upgrade

    with tempfile.TemporaryDirectory(prefix="chipin-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url


@contextmanager
def postgres_database() -> Iterator[str]:
    from sqlalchemy import text

    from chipin.store.db import make_engine
    from chipin.store.migrate import upgrade

    admin = make_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"chipin_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- load -------------------------------------------------------------------------------------

_ids = itertools.count(900_000_000)


def update_body() -> bytes:
    """A real-shaped group text message with a fresh update_id (spread over 50 chats)."""
    n = next(_ids)
    chat = -1001000000000 - n % 50
    return json.dumps(
        {
            "update_id": n,
            "message": {
                "message_id": n,
                "from": {"id": 100 + n % 7, "is_bot": False, "first_name": "Ana", "username": "a"},
                "chat": {"id": chat, "title": f"Trip {n % 50}", "type": "supergroup"},
                "date": 1763751600,
                "text": "I paid 60 for dinner, split with everyone",
            },
        }
    ).encode()


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


HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


def one_connection(base: str) -> httpx.AsyncClient:
    """A client per sender: httpx's shared pool slows down sharply past a few dozen
    concurrent requests, and the bench must measure the server, not the pool."""
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    return httpx.AsyncClient(base_url=base, limits=limits, timeout=30)


async def closed_loop(base: str, path: str, concurrency: int, seconds: float) -> Figures:
    latencies: list[float] = []
    errors = requests = 0
    clients = [one_connection(base) for _ in range(concurrency)]
    warmup_end = time.perf_counter() + 0.5
    end = warmup_end + seconds

    async def sender(client: httpx.AsyncClient) -> None:
        nonlocal errors, requests
        while (now := time.perf_counter()) < end:
            requests += 1
            answer = await client.post(path, content=update_body(), headers=HEADERS)
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


async def fixed_rate(base: str, path: str, rate: int, seconds: float) -> Figures:
    latencies: list[float] = []
    errors = 0
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    clients = [one_connection(base) for _ in range(64)]
    for client in clients:
        await client.post(path, content=update_body(), headers=HEADERS)  # connect first
        idle.put_nowait(client)
    start = time.perf_counter() + 0.05

    async def one(at: float) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        client = await idle.get()
        try:
            answer = await client.post(path, content=update_body(), headers=HEADERS)
        finally:
            idle.put_nowait(client)
        if answer.status_code != 200:
            errors += 1
        else:
            latencies.append(time.perf_counter() - at)  # from the scheduled start

    count = int(rate * seconds)
    try:
        await asyncio.gather(*(one(start + i / rate) for i in range(count)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return figures(latencies, seconds, errors, count + len(clients))


# -- report -------------------------------------------------------------------------------------


def run_backend(name: str, url: str, seconds: float) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with server(url) as srv:
        for concurrency in CONCURRENCY:
            for label, path in (("webhook", "/webhooks/telegram"), ("bare", "/bench/bare")):
                got = measured(srv, closed_loop(srv.base, path, concurrency, seconds))
                results[(label, concurrency)] = got
                print(
                    f"  {name:<8} {label:<8} c={concurrency:<3} {got.rate:8.0f}/s  "
                    f"p50 {got.p50_ms:6.1f} ms  p99 {got.p99_ms:6.1f} ms  "
                    f"server CPU {got.cpu_ms:5.2f} ms/req  errors {got.errors}",
                    flush=True,
                )
        got = measured(srv, fixed_rate(srv.base, "/webhooks/telegram", FIXED_RATE, seconds + 1))
        results[("fixed", FIXED_RATE)] = got
        print(
            f"  {name:<8} webhook  {FIXED_RATE}/s fixed: p50 {got.p50_ms:6.1f} ms  "
            f"p99 {got.p99_ms:6.1f} ms  server CPU {got.cpu_ms:5.2f} ms/req  "
            f"errors {got.errors}",
            flush=True,
        )
    return results


def summary(name: str, results: dict[str, Any]) -> list[str]:
    best = max(results[("webhook", c)].rate for c in CONCURRENCY)
    best_bare = max(results[("bare", c)].rate for c in CONCURRENCY)
    fixed = results[("fixed", FIXED_RATE)]
    share = best / best_bare if best_bare else 0.0
    # CPU per request under load (c ≥ 8): steadier than rates when other work shares the CPUs
    cpu = min(results[("webhook", c)].cpu_ms for c in CONCURRENCY if c >= 8)
    cpu_bare = min(results[("bare", c)].cpu_ms for c in CONCURRENCY if c >= 8)

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    target = "meets" if best >= TARGET_RATE else "MISSES"
    return [
        f"{name:<9} peak acknowledged            {best:7.0f}/s   target ≥ {TARGET_RATE:.0f}/s "
        f"on PostgreSQL   {target if name == 'postgres' else 'info'}",
        f"{name:<9} p99 at {FIXED_RATE}/s fixed rate       {fixed.p99_ms:7.1f} ms  "
        f"target ≤ {TARGET_P99_MS:.0f} ms            {verdict(fixed.p99_ms <= TARGET_P99_MS)}",
        f"{name:<9} share of bare ({best_bare:5.0f}/s)     {share:7.0%}     "
        f"target ≥ {TARGET_SHARE:.0%}               {verdict(share >= TARGET_SHARE)}",
        f"{name:<9} server CPU per update        {cpu:7.2f} ms  (bare {cpu_bare:.2f} ms): "
        f"≈ {1000 / cpu:.0f}/s per core, {cpu_bare / cpu:.0%} of bare",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    print(
        f"Telegram webhook acknowledgement · {platform.python_implementation()} "
        f"{platform.python_version()} · {os.cpu_count()} CPUs · worker/dispatcher off · "
        f"{args.seconds:g} s per point"
    )
    databases = {"sqlite": sqlite_database, "postgres": postgres_database}
    chosen = list(databases) if args.backend == "both" else [args.backend]
    table: list[str] = []
    for name in chosen:
        with databases[name]() as url:
            table += summary(name, run_backend(name, url, args.seconds))
    print("\nTargets")
    print("\n".join(table))


if __name__ == "__main__":
    main()
