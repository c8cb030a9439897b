"""Benchmark of the WhatsApp webhook's acknowledgement (Twilio signature checked), on SQLite
and PostgreSQL.

Run: ``.venv/bin/python bench/twilio.py [--backend sqlite|postgres|both] [--seconds 3]``.

For each backend it starts the app in a subprocess (uvicorn, one process, as ``chipin serve``
runs it) on a free port with a throwaway database: a temporary SQLite file, then a PostgreSQL
database created on the test server as ``tests/conftest.py`` does and dropped afterwards. The
worker and the dispatcher are OFF (``background=False``): this measures what Twilio waits for
(read the form, validate ``X-Twilio-Signature`` with the twilio library's RequestValidator over
``PUBLIC_BASE_URL`` + path and every field, normalise the number, insert into the inbox under
the MessageSid, commit, answer the empty TwiML), not the parsing and sending behind it.

The app is ``create_app`` with the Twilio router and one extra route added by this script:
``POST /bench/bare`` reads the body and answers the same empty TwiML with no work, the "bare
endpoint of the same app". Both are driven with ``httpx.AsyncClient`` (keep-alive, one
connection per concurrent sender) with real-shaped WhatsApp messages (the fixture's fields, a
fresh MessageSid each, from 50 numbers), each signed as Twilio signs it, at concurrency 1, 8,
32 and 64 for a fixed time after a warm-up, then at a fixed rate of 500 messages/s (open loop:
latency counted from each request's scheduled start, so a stall is not hidden). It prints
messages/s and p50/p99 latency, and the targets (the Telegram webhook's): ≥ 1,500 acknowledged/s
on PostgreSQL, p99 ≤ 25 ms at 500/s, and at least half the bare endpoint's rate. The load
generator runs on the same machine and takes CPU from the server; both endpoints pay that alike.
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
from urllib.parse import urlencode

import httpx
from fastapi import Request, Response

ROOT = Path(__file__).resolve().parents[1]
# This file is named twilio.py: keep its folder off the path so `import twilio` is the library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402 - after the path fix

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC = "https://chipin.example.org"
WEBHOOK = "/webhooks/twilio/whatsapp"
FIXTURE = ROOT / "tests" / "fixtures" / "twilio" / "whatsapp__text.json"
POSTGRES_ADMIN_URL = os.environ.get(
    "CHIPIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CONCURRENCY = (1, 8, 32, 64)
FIXED_RATE = 500
TARGET_RATE, TARGET_P99_MS, TARGET_SHARE = 1500.0, 25.0, 0.5
OK = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


# -- the server (run in the subprocess) -------------------------------------------------------


def serve(port: int) -> None:
    import uvicorn

    from chipin.app import create_app
    from chipin.settings import Settings
    from chipin.webhooks.twilio import twilio_router

    app = create_app(Settings(), background=False)
    if not any(getattr(r, "path", "").startswith("/webhooks/twilio") for r in app.routes):
        app.include_router(twilio_router())

    @app.post("/bench/bare", include_in_schema=False)
    async def bare(request: Request) -> Response:
        await request.body()
        return Response(OK, media_type="text/xml")

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
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        "TWILIO_SMS_FROM": "+15005550006",
        "PUBLIC_BASE_URL": PUBLIC,
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

_ids = itertools.count(1)
_FORM: dict[str, str] = json.loads(FIXTURE.read_text())
_VALIDATOR = RequestValidator(AUTH_TOKEN)


def signed() -> tuple[bytes, dict[str, str]]:
    """A real-shaped WhatsApp message (the fixture's fields) with a fresh MessageSid, from one
    of 50 numbers, signed for the webhook's public URL exactly as Twilio signs it."""
    n = next(_ids)
    sid = f"SM{n:032x}"
    phone = f"+3519120{n % 50:05d}"
    form = _FORM | {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "From": f"whatsapp:{phone}",
        "WaId": phone[1:],
        "AccountSid": ACCOUNT_SID,
    }
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": _VALIDATOR.compute_signature(f"{PUBLIC}{WEBHOOK}", form),
    }
    return urlencode(form).encode(), headers


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
            content, headers = signed()
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


async def fixed_rate(base: str, path: str, rate: int, seconds: float) -> Figures:
    latencies: list[float] = []
    errors = 0
    idle: asyncio.Queue[httpx.AsyncClient] = asyncio.Queue()
    clients = [one_connection(base) for _ in range(64)]
    for client in clients:
        content, headers = signed()
        await client.post(path, content=content, headers=headers)  # connect first
        idle.put_nowait(client)
    count = int(rate * seconds)
    planned = [signed() for _ in range(count)]  # signed before the clock starts
    start = time.perf_counter() + 0.05

    async def one(at: float, content: bytes, headers: dict[str, str]) -> None:
        nonlocal errors
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        client = await idle.get()
        try:
            answer = await client.post(path, content=content, headers=headers)
        finally:
            idle.put_nowait(client)
        if answer.status_code != 200:
            errors += 1
        else:
            latencies.append(time.perf_counter() - at)  # from the scheduled start

    try:
        await asyncio.gather(*(one(start + i / rate, *p) for i, p in enumerate(planned)))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    return figures(latencies, seconds, errors, count + len(clients))


# -- report -------------------------------------------------------------------------------------


def run_backend(name: str, url: str, seconds: float) -> dict[tuple[str, int], Figures]:
    results: dict[tuple[str, int], Figures] = {}
    with server(url) as srv:
        for concurrency in CONCURRENCY:
            for label, path in (("webhook", WEBHOOK), ("bare", "/bench/bare")):
                got = measured(srv, closed_loop(srv.base, path, concurrency, seconds))
                results[(label, concurrency)] = got
                print(
                    f"  {name:<8} {label:<8} c={concurrency:<3} {got.rate:8.0f}/s  "
                    f"p50 {got.p50_ms:6.1f} ms  p99 {got.p99_ms:6.1f} ms  "
                    f"server CPU {got.cpu_ms:5.2f} ms/req  errors {got.errors}",
                    flush=True,
                )
        got = measured(srv, fixed_rate(srv.base, WEBHOOK, FIXED_RATE, seconds + 1))
        results[("fixed", FIXED_RATE)] = got
        print(
            f"  {name:<8} webhook  {FIXED_RATE}/s fixed: p50 {got.p50_ms:6.1f} ms  "
            f"p99 {got.p99_ms:6.1f} ms  server CPU {got.cpu_ms:5.2f} ms/req  "
            f"errors {got.errors}",
            flush=True,
        )
    return results


def summary(name: str, results: dict[tuple[str, int], Figures]) -> list[str]:
    best = max(results[("webhook", c)].rate for c in CONCURRENCY)
    best_bare = max(results[("bare", c)].rate for c in CONCURRENCY)
    fixed = results[("fixed", FIXED_RATE)]
    share = best / best_bare if best_bare else 0.0

    def verdict(ok: bool) -> str:
        return "meets" if ok else "MISSES"

    rows = [
        f"{name:<10} peak acknowledged        {best:8.0f}/s   target ≥ {TARGET_RATE:.0f}/s "
        f"{'(PostgreSQL)' if name == 'postgres' else '(PostgreSQL only)'}  "
        f"{verdict(best >= TARGET_RATE) if name == 'postgres' else 'info'}",
        f"{name:<10} p99 at {FIXED_RATE}/s            {fixed.p99_ms:8.1f} ms  "
        f"target ≤ {TARGET_P99_MS:.0f} ms             {verdict(fixed.p99_ms <= TARGET_P99_MS)}",
        f"{name:<10} share of bare ({best_bare:5.0f}/s) {share:8.0%}     "
        f"target ≥ {TARGET_SHARE:.0%}                {verdict(share >= TARGET_SHARE)}",
    ]
    return rows


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
        f"WhatsApp webhook acknowledgement (Twilio signature) · {platform.python_implementation()} "
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
