"""Benchmark of the Telegram webhook's acknowledgement, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/telegram.py [--backend sqlite|postgres|both] [--seconds 3]
[--workers N]``.

For each backend it starts the app in a subprocess, served as ``chipin serve --no-worker
--workers N`` serves it (``chipin.cli.run_web``: uvicorn with uvloop and httptools; N processes
through uvicorn's workers, PostgreSQL only, default 1), on a free port with a throwaway database:
a temporary SQLite file, then a PostgreSQL database created on the test server as
``tests/conftest.py`` does and dropped afterwards. The worker and the dispatcher are OFF: this
measures what Telegram waits for (verify the secret, normalise, store in the inbox with group
commit, answer 200), not the parsing behind it, which would otherwise share the same two cores.

The app is ``create_app`` with one extra route added by this script: ``POST /bench/bare`` reads
the body and answers the same ``{"ok":true}`` with no work, the "bare 200 endpoint of the same
app": a plain Starlette route like the webhook's, placed just before it in the route list, so
both pay the same routing (``bench.common.add_bare_endpoint``); and ``POST /bench/fastapi``, the
bare endpoint as earlier tables had it (an ordinary FastAPI endpoint after all the routes), for
comparison. All are driven by the same load generator (``bench.common``: a minimal keep-alive
HTTP/1.1 client on raw asyncio, requests made before the clock starts, its own CPU printed)
with real-shaped updates (unique ``update_id``s, a group text message in one of 50 chats) at
concurrency 1, 8, 32 and 64 for a fixed time after a warm-up, then at a fixed rate of 500
updates/s (open loop: latency counted from each request's scheduled send time, so a stall is
not hidden). It prints updates/s, p50/p99 latency, the server's CPU per request, the load
average, and the targets: ≥ 1,500 updates/s acknowledged on PostgreSQL, p99 ≤ 25 ms at 500
updates/s, and at least half the bare endpoint's rate. The load generator and PostgreSQL run
on the same two cores and take CPU from the server; both endpoints pay that alike.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
# This file is named telegram.py: keep its folder off the path so `import telegram` is PTB.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402 - after the path fix
    BARES,
    CONCURRENCY,
    FIXED_RATE,
    TARGET_P99_MS,
    TARGET_RATE,
    TARGET_SHARE,
    Post,
    Results,
    add_bare_endpoint,
    add_fastapi_endpoint,
    route_paths,
    server,
    verdict,
    webhook_main,
)
from bench.common import run_backend as drive  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
TOKEN = "7000000001:AAH-bench-token"
OK = b'{"ok":true}'


# -- the server (run in the subprocess) -------------------------------------------------------


def bench_app() -> FastAPI:
    """The app ``chipin serve --no-worker`` runs, plus the bare endpoint. Made in each server
    process (uvicorn imports ``bench.telegram:bench_app`` by name with several workers)."""
    from chipin.app import create_app
    from chipin.settings import Settings
    from chipin.webhooks.telegram import telegram_router

    app = create_app(Settings(), background=False)
    if not any("/webhooks/telegram" in route_paths(r) for r in app.routes):
        app.include_router(telegram_router())

    add_bare_endpoint(app, OK, "application/json", beside="/webhooks/telegram")
    add_fastapi_endpoint(app, OK, "application/json")
    return app


def serve(port: int, workers: int) -> None:
    from chipin.cli import run_web

    target = "bench.telegram:bench_app" if workers > 1 else bench_app()
    run_web(target, host="127.0.0.1", port=port, workers=workers)


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


HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


def update() -> Post:
    return update_body(), HEADERS


# -- report -------------------------------------------------------------------------------------


def run_backend(name: str, url: str, seconds: float, workers: int) -> Results:
    env = {
        "DATABASE_URL": url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        # no Bot API here: getMe at start-up fails at once and the app goes on without it
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
        "PARSER": "rules",
        "LOG_LEVEL": "WARNING",
        "CHIPIN_ENV": "development",
    }
    with server(__file__, env, workers) as srv:
        return drive(name, srv, "/webhooks/telegram", seconds, update, bares=BARES)


def summary(name: str, results: Results) -> list[str]:
    best = max(results[("webhook", c)].rate for c in CONCURRENCY)
    best_bare = max(results[("bare", c)].rate for c in CONCURRENCY)
    best_fastapi = max(results[("fastapi", c)].rate for c in CONCURRENCY)
    fixed = results[("fixed", FIXED_RATE)]
    share = best / best_bare if best_bare else 0.0
    fastapi_share = best / best_fastapi if best_fastapi else 0.0
    # CPU per request under load (c ≥ 8): steadier than rates when other work shares the CPUs
    cpu = min(results[("webhook", c)].cpu_ms for c in CONCURRENCY if c >= 8)
    cpu_bare = min(results[("bare", c)].cpu_ms for c in CONCURRENCY if c >= 8)

    target = "meets" if best >= TARGET_RATE else "MISSES"
    return [
        f"{name:<9} peak acknowledged            {best:7.0f}/s   target ≥ {TARGET_RATE:.0f}/s "
        f"on PostgreSQL   {target if name == 'postgres' else 'info'}",
        f"{name:<9} p99 at {FIXED_RATE}/s fixed rate       {fixed.p99_ms:7.1f} ms  "
        f"target ≤ {TARGET_P99_MS:.0f} ms            {verdict(fixed.p99_ms <= TARGET_P99_MS)}",
        f"{name:<9} share of bare ({best_bare:5.0f}/s)     {share:7.0%}     "
        f"target ≥ {TARGET_SHARE:.0%}               {verdict(share >= TARGET_SHARE)}",
        f"{name:<9} share of a FastAPI endpoint  {fastapi_share:7.0%}     "
        f"({best_fastapi:.0f}/s: the bare endpoint as earlier tables had it)    info",
        f"{name:<9} server CPU per update        {cpu:7.2f} ms  (bare {cpu_bare:.2f} ms): "
        f"≈ {1000 / cpu:.0f}/s per core, {cpu_bare / cpu:.0%} of bare",
    ]


def main() -> None:
    webhook_main(__doc__, "Telegram webhook acknowledgement", serve, run_backend, summary)


if __name__ == "__main__":
    main()
