"""Benchmark of the WhatsApp webhook's acknowledgement (Twilio signature checked), on SQLite
and PostgreSQL.

Run: ``.venv/bin/python bench/twilio.py [--backend sqlite|postgres|both] [--seconds 3]
[--workers N]``.

For each backend it starts the app in a subprocess, served as ``chipin serve --no-worker
--workers N`` serves it (``chipin.cli.run_web``; N processes on PostgreSQL only, default 1), on
a free port with a throwaway database: a temporary SQLite file, then a PostgreSQL database
created on the test server as ``tests/conftest.py`` does and dropped afterwards. The worker and
the dispatcher are OFF: this measures what Twilio waits for (read the form, validate
``X-Twilio-Signature`` with the twilio library's RequestValidator over ``PUBLIC_BASE_URL`` +
path and every field, normalise the number, store in the inbox under the MessageSid with group
commit, answer the empty TwiML), not the parsing and sending behind it.

The app is ``create_app`` with one extra route added by this script: ``POST /bench/bare`` reads
the body and answers the same empty TwiML with no work, the "bare endpoint of the same app": a
plain Starlette route like the webhook's, placed just before it in the route list, so both pay
the same routing (``bench.common.add_bare_endpoint``); and ``POST /bench/fastapi``, the bare
endpoint as earlier tables had it (an ordinary FastAPI endpoint after all the routes), for
comparison.
Both are driven by the same load generator (``bench.common``: a minimal keep-alive HTTP/1.1
client on raw asyncio, requests made and signed before the clock starts, its own CPU printed)
with real-shaped WhatsApp messages (the fixture's fields, a fresh MessageSid each, from 50
numbers), each signed as Twilio signs it, at concurrency 1, 8, 32 and 64 for a fixed time after
a warm-up, then at a fixed rate of 500 messages/s (open loop: latency counted from each
request's scheduled send time). It prints messages/s, p50/p99 latency, the server's CPU per
request, the load average, and the targets (the Telegram webhook's): ≥ 1,500 acknowledged/s on
PostgreSQL, p99 ≤ 25 ms at 500/s, and at least half the bare endpoint's rate.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[1]
# This file is named twilio.py: keep its folder off the path so `import twilio` is the library.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from twilio.request_validator import RequestValidator  # noqa: E402 - after the path fix

from bench.common import (  # noqa: E402
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

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "bench-twilio-auth-token-0123456789"
PUBLIC = "https://chipin.example.org"
WEBHOOK = "/webhooks/twilio/whatsapp"
FIXTURE = ROOT / "tests" / "fixtures" / "twilio" / "whatsapp__text.json"
OK = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'


# -- the server (run in the subprocess) -------------------------------------------------------


def bench_app() -> FastAPI:
    """The app ``chipin serve --no-worker`` runs, plus the bare endpoint. Made in each server
    process (uvicorn imports ``bench.twilio:bench_app`` by name with several workers)."""
    from chipin.app import create_app
    from chipin.settings import Settings
    from chipin.webhooks.twilio import twilio_router

    app = create_app(Settings(), background=False)
    if not any(p.startswith("/webhooks/twilio") for r in app.routes for p in route_paths(r)):
        app.include_router(twilio_router())

    add_bare_endpoint(app, OK, "text/xml", beside="/webhooks/twilio/{event}")
    add_fastapi_endpoint(app, OK, "text/xml")
    return app


def serve(port: int, workers: int) -> None:
    from chipin.cli import run_web

    target = "bench.twilio:bench_app" if workers > 1 else bench_app()
    run_web(target, host="127.0.0.1", port=port, workers=workers)


# -- load -------------------------------------------------------------------------------------

_ids = itertools.count(1)
_FORM: dict[str, str] = json.loads(FIXTURE.read_text())
_VALIDATOR = RequestValidator(AUTH_TOKEN)


def signed() -> Post:
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


# -- report -------------------------------------------------------------------------------------


def run_backend(name: str, url: str, seconds: float, workers: int) -> Results:
    env = {
        "DATABASE_URL": url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        "TWILIO_SMS_FROM": "+15005550006",
        "PUBLIC_BASE_URL": PUBLIC,
        "PARSER": "rules",
        "LOG_LEVEL": "WARNING",
        "CHIPIN_ENV": "development",
    }
    with server(__file__, env, workers) as srv:
        # signed before the clock starts at the fixed rate: signing is not the server's work
        return drive(name, srv, WEBHOOK, seconds, signed, bares=BARES)


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

    rows = [
        f"{name:<10} peak acknowledged        {best:8.0f}/s   target ≥ {TARGET_RATE:.0f}/s "
        f"{'(PostgreSQL)' if name == 'postgres' else '(PostgreSQL only)'}  "
        f"{verdict(best >= TARGET_RATE) if name == 'postgres' else 'info'}",
        f"{name:<10} p99 at {FIXED_RATE}/s            {fixed.p99_ms:8.1f} ms  "
        f"target ≤ {TARGET_P99_MS:.0f} ms             {verdict(fixed.p99_ms <= TARGET_P99_MS)}",
        f"{name:<10} share of bare ({best_bare:5.0f}/s) {share:8.0%}     "
        f"target ≥ {TARGET_SHARE:.0%}                {verdict(share >= TARGET_SHARE)}",
        f"{name:<10} share of a FastAPI endpoint {fastapi_share:6.0%}     "
        f"({best_fastapi:.0f}/s: the bare endpoint as earlier tables had it)    info",
        f"{name:<10} server CPU per message  {cpu:8.2f} ms  (bare {cpu_bare:.2f} ms): "
        f"≈ {1000 / cpu:.0f}/s per core, {cpu_bare / cpu:.0%} of bare",
    ]
    return rows


def main() -> None:
    webhook_main(
        __doc__, "WhatsApp webhook acknowledgement (Twilio signature)", serve, run_backend, summary
    )


if __name__ == "__main__":
    main()
