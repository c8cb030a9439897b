"""The admin dashboard on SQLite and PostgreSQL: who gets in (password, sessions, CSRF, rate
limit), what it shows (masked), and the repairs it makes through the store and the services."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine, func, select, update

from chipin.admin.auth import (
    COOKIE,
    DashboardMisconfigured,
    admin_clock,
    check_dashboard_settings,
)
from chipin.admin.dashboard import admin_router
from chipin.admin.metrics import QueueCollector
from chipin.app import create_app
from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage, SendError, SendResult
from chipin.core import services
from chipin.settings import Settings
from chipin.store import admin_tables as at
from chipin.store import tables as t
from chipin.store.uow import SqlUnitOfWork

PASSWORD = "correct horse battery staple"
PUBLIC_ROUTES = {("/admin/login", "GET"), ("/admin/login", "POST"), ("/admin/static/{name}", "GET")}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 21, 19, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += dt.timedelta(**kwargs)


class FlakyWeb:
    """The web channel with a provider that can be down."""

    channel = "web"

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        if self.failures:
            self.failures -= 1
            raise SendError("provider is down")
        return SendResult(f"web-{id(payload)}")


def admin_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (path, method) of the app under /admin, however the routers were included."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before lazily included routers: app.routes is flat
        flat = [(r.path, r.methods or set()) for r in app.routes if isinstance(r, APIRoute)]
    else:
        flat = [
            (c.path or "", c.methods or set())
            for c in iter_route_contexts(app.routes)
            if isinstance(c.original_route, APIRoute)
        ]
    return [
        (path, method)
        for path, methods in flat
        if path.startswith("/admin")
        for method in sorted(methods)
    ]


def build_app(
    engine: Engine,
    *,
    env: str = "development",
    password: str | None = PASSWORD,
    clock: Clock | None = None,
    adapter: FlakyWeb | None = None,
    **extra: Any,
) -> FastAPI:
    values: dict[str, Any] = {
        "DATABASE_URL": str(engine.url),
        "CHIPIN_ENV": env,
        "PARSER": "rules",
        "OUTBOX_MAX_ATTEMPTS": 1,
        **({"CHIPIN_ADMIN_PASSWORD": password} if password else {}),
        **extra,
    }
    settings = Settings(**values)
    app = create_app(
        settings, engine=engine, background=False, adapters={"web": adapter} if adapter else None
    )
    if not admin_routes(app):
        app.include_router(admin_router())  # until app.py mounts it
    if clock is not None:
        app.dependency_overrides[admin_clock] = lambda: clock
    return app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found[1]


def log_in(client: TestClient, password: str = PASSWORD, next_: str = "/admin") -> Any:
    form = client.get("/admin/login")
    assert form.status_code == 200
    return client.post(
        "/admin/login",
        data={"csrf": csrf_of(form.text), "password": password, "next": next_},
        follow_redirects=False,
    )


@contextmanager
def logged_in(app: FastAPI, **kwargs: Any) -> Iterator[TestClient]:
    with TestClient(app, **kwargs) as client:
        assert log_in(client).status_code == 303
        yield client


def drain(app: FastAPI) -> None:
    runtime = app.state.runtime
    asyncio.run(runtime.worker.drain())
    asyncio.run(runtime.dispatcher.drain())


def make_room(engine: Engine, room: str = "r1", members: tuple[str, ...] = ("Ana", "Raj")) -> int:
    group = services.create_group(SqlUnitOfWork(engine), f"Room {room}", "EUR", "UTC")
    services.add_members(SqlUnitOfWork(engine), group.id, list(members))
    with SqlUnitOfWork(engine) as uow:
        conv = uow.conversations.get_or_create("web", room, dt.datetime.now(dt.UTC))
        uow.conversations.update(conv.id, dt.datetime.now(dt.UTC), group_id=group.id)
        uow.commit()
    return group.id


def say(
    engine: Engine,
    said: str,
    pid: str,
    room: str = "r1",
    who: str = "Ana",
    raw: dict[str, Any] | None = None,
) -> int:
    message = InboundMessage("web", room, who, who, said, message_id=f"m-{pid}")
    inbox_id = accept(engine, message, provider_id=pid, raw=raw or {"text": said})
    assert inbox_id is not None
    return inbox_id


def post(client: TestClient, url: str, page: str, **data: str) -> Any:
    """Submit a form as the page would: with the CSRF token the page carries."""
    token = csrf_of(client.get(page).text)
    return client.post(url, data={"csrf": token, **data}, follow_redirects=False)


def actions(engine: Engine) -> list[tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(at.admin_actions.c.action, at.admin_actions.c.target).order_by(
                at.admin_actions.c.id
            )
        )
        return [(r.action, r.target) for r in rows]


# -- access --------------------------------------------------------------------------------------


def test_the_right_password_opens_a_session_and_a_wrong_one_is_refused(engine: Engine) -> None:
    with TestClient(build_app(engine)) as client:
        anonymous = client.get("/admin", follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/admin/login?next=%2Fadmin"
        wrong = log_in(client, "hunter2")
        assert wrong.status_code == 401 and "Wrong password" in wrong.text
        assert COOKIE not in client.cookies
        right = log_in(client, next_="/admin/outbox")
        assert right.status_code == 303 and right.headers["location"] == "/admin/outbox"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/admin" in cookie
        assert "Secure" not in cookie  # plain http in this test
        page = client.get("/admin")
        assert page.status_code == 200 and "Overview" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        out = post(client, "/admin/logout", "/admin")
        assert (
            out.status_code == 303
            and client.get("/admin", follow_redirects=False).status_code == 303
        )
    assert actions(engine) == [("login", None)]


def test_over_https_the_session_cookie_is_secure(engine: Engine) -> None:
    with TestClient(build_app(engine), base_url="https://testserver") as client:
        assert "Secure" in log_in(client).headers["set-cookie"]


def test_a_login_elsewhere_than_the_dashboard_is_never_the_redirect(engine: Engine) -> None:
    with TestClient(build_app(engine)) as client:
        for target in ("https://evil.example/admin", "//evil.example/admin", "/playground"):
            client.cookies.clear()
            assert log_in(client, next_=target).headers["location"] == "/admin"


def test_failed_logins_are_limited_per_client_in_the_database(engine: Engine) -> None:
    clock = Clock()
    with TestClient(build_app(engine, clock=clock)) as client:
        for _ in range(5):
            assert log_in(client, "guess").status_code == 401
        limited = log_in(client)  # even the right password waits
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert COOKIE not in client.cookies
    # another replica (a new app on the same database) knows it too; another address does not
    with TestClient(build_app(engine, clock=clock)) as again:
        assert log_in(again).status_code == 429
    with TestClient(build_app(engine, clock=clock), client=("203.0.113.9", 4000)) as other:
        assert log_in(other).status_code == 303
    clock.advance(minutes=6)
    with TestClient(build_app(engine, clock=clock)) as later:
        assert log_in(later).status_code == 303
    with engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(at.admin_login_attempts)).scalar()
    assert left == 0  # a success clears its address; the window prunes the rest


def test_a_session_ends_after_idling_and_after_its_maximum_age(engine: Engine) -> None:
    clock = Clock()
    app = build_app(engine, clock=clock)
    with TestClient(app) as client:
        assert log_in(client).status_code == 303
        for _ in range(19):  # active every 25 minutes: the idle clock keeps restarting
            clock.advance(minutes=25)
            assert client.get("/admin/groups", follow_redirects=False).status_code == 200
        clock.advance(minutes=6)  # 8 h 1 min after the login
        assert client.get("/admin/groups", follow_redirects=False).status_code == 303
        assert log_in(client).status_code == 303
        clock.advance(minutes=31)  # idle too long
        gone = client.get("/admin/groups", follow_redirects=False)
        assert gone.status_code == 303 and gone.headers["location"].startswith("/admin/login")


def as_cookie(client: TestClient, token: str) -> int:
    """GET the overview carrying exactly this session cookie."""
    client.cookies.clear()
    answer = client.get("/admin", headers={"cookie": f"{COOKIE}={token}"}, follow_redirects=False)
    return answer.status_code


def test_a_tampered_or_foreign_cookie_is_refused(engine: Engine) -> None:
    with TestClient(build_app(engine)) as client:
        assert log_in(client).status_code == 303
        token = client.cookies[COOKIE]
        body, mac = token.split(".")
        forged = body.replace(body[5], "A" if body[5] != "A" else "B", 1)
        assert as_cookie(client, f"{forged}.{mac}") == 303
        assert as_cookie(client, f"{body}.{mac[:-3]}") == 303
        assert as_cookie(client, "garbage") == 303
        assert as_cookie(client, token) == 200
    # a cookie of another deployment (other password or key) means nothing here
    with TestClient(build_app(engine, password="another password")) as other:
        assert as_cookie(other, token) == 303


def test_every_admin_route_refuses_anonymous_access(engine: Engine) -> None:
    app = build_app(engine)
    guarded = [route for route in admin_routes(app) if route not in PUBLIC_ROUTES]
    assert len(guarded) >= 12  # the dashboard is mounted
    with TestClient(app) as client:
        for path, method in guarded:
            url = re.sub(r"\{[^}]+\}", "1", path)
            answer = client.request(method, url, follow_redirects=False)
            assert answer.status_code in (303, 401, 403), (method, path, answer.status_code)
            if method == "GET":
                assert answer.headers["location"].startswith("/admin/login")


def test_a_post_without_the_right_csrf_token_or_from_another_site_is_refused(
    engine: Engine,
) -> None:
    group_id = make_room(engine)
    say(engine, "I paid 30 for snacks, split with everyone", "p1")
    app = build_app(engine)
    with logged_in(app) as client:
        drain(app)
        url = f"/admin/groups/{group_id}/entries/1/delete"
        assert client.post(url, follow_redirects=False).status_code == 403
        assert client.post(url, data={"csrf": "x" * 32}, follow_redirects=False).status_code == 403
        page = f"/admin/groups/{group_id}"
        token = csrf_of(client.get(page).text)
        foreign = client.post(
            url,
            data={"csrf": token},
            headers={"origin": "https://evil.example"},
            follow_redirects=False,
        )
        assert foreign.status_code == 403
        assert services.group_balances(SqlUnitOfWork(engine), group_id)["EUR"]["Ana"] == 1500
        # the login form has its own token
        bare = client.post("/admin/login", data={"password": PASSWORD}, follow_redirects=False)
        assert bare.status_code == 403
        assert post(client, url, page).status_code == 303  # with the token it goes through


def test_behind_a_proxy_the_public_origin_is_the_dashboards_own(engine: Engine) -> None:
    group_id = make_room(engine)
    say(engine, "I paid 30 for snacks, split with everyone", "p1")
    app = build_app(engine, PUBLIC_BASE_URL="https://chipin.example")
    with logged_in(app) as client:
        drain(app)
        page = f"/admin/groups/{group_id}"
        token = csrf_of(client.get(page).text)
        answer = client.post(
            f"{page}/entries/1/delete",
            data={"csrf": token},
            headers={"origin": "https://chipin.example"},  # the proxy sent Host: chipin:8000
            follow_redirects=False,
        )
        assert answer.status_code == 303


def test_outside_development_the_dashboard_needs_a_password(engine: Engine) -> None:
    with pytest.raises(DashboardMisconfigured, match="CHIPIN_ADMIN_PASSWORD"):
        check_dashboard_settings(Settings(CHIPIN_ENV="production"))
    check_dashboard_settings(Settings(CHIPIN_ENV="production", CHIPIN_ADMIN_PASSWORD="s3cret-pw"))
    check_dashboard_settings(Settings(CHIPIN_ENV="development"))
    settings = Settings(DATABASE_URL=str(engine.url), CHIPIN_ENV="production")
    try:
        app = create_app(settings, engine=engine, background=False)
    except DashboardMisconfigured:
        return  # app.py refuses to start: the contract
    app.include_router(admin_router())  # even mounted by mistake, it lets nobody in
    with TestClient(app) as client:
        assert client.get("/admin/login").status_code == 503
        assert client.get("/admin", follow_redirects=False).status_code == 503


def test_in_development_without_a_password_only_this_machine_enters(engine: Engine) -> None:
    app = build_app(engine, password=None)
    with TestClient(app, client=("203.0.113.9", 4000)) as remote:
        page = remote.get("/admin/login")
        assert "development mode" in page.text
        assert log_in(remote, "").status_code == 401
    with TestClient(app, client=("127.0.0.1", 4000)) as local:
        assert log_in(local, "").status_code == 303
        assert "open to this machine only" in local.get("/admin").text


# -- what it shows -------------------------------------------------------------------------------

SECRETS = {
    "headers": {
        "Authorization": "Bearer sk-live-abcdefghijklmnop",
        "X-Telegram-Bot-Api-Secret-Token": "tg-webhook-secret-value",
        "X-Twilio-Signature": "c2lnbmF0dXJlLXZhbHVlLWhlcmU=",
    },
    "AccountSid": "AC" + "0123456789abcdef" * 2,
    "From": "whatsapp:+14155550123",
    "WaId": "14155550123",
    "url": "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage",
    "text": "call me on +44 20 7946 0958",
}
LEAKS = (
    "sk-live-abcdefghijklmnop",
    "tg-webhook-secret-value",
    "c2lnbmF0dXJlLXZhbHVlLWhlcmU",
    "0123456789abcdef",
    "4155550123",
    "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
    "7946 0958",
)


def test_the_webhook_log_shows_a_message_its_parse_and_reply_with_secrets_masked(
    engine: Engine,
) -> None:
    make_room(engine)
    inbox_id = say(engine, "I paid 60 for dinner, split with everyone", "w1", raw=SECRETS)
    app = build_app(engine)
    with logged_in(app) as client:
        drain(app)
        log = client.get("/admin/inbox")
        assert f'id="inbox-{inbox_id}"' in log.text and "add_expense → recorded" in log.text
        detail = client.get(f"/admin/inbox/{inbox_id}")
        assert detail.status_code == 200
        assert "Dinner · 60.00 EUR" in detail.text  # the reply
        assert "&#34;outcome&#34;: &#34;recorded&#34;" in detail.text  # the parser's result
        assert "entry #1" in detail.text
        for leak in LEAKS:
            assert leak not in detail.text, leak
            assert leak not in log.text, leak
        assert "[masked]" in detail.text and "whatsapp:+14" in detail.text


def test_the_webhook_log_filters_by_channel_status_group_and_time(engine: Engine) -> None:
    first = make_room(engine, "r1")
    make_room(engine, "r2")
    a = say(engine, "who owes what?", "f1", room="r1")
    b = say(engine, "who owes what?", "f2", room="r2")
    app = build_app(engine)
    with logged_in(app) as client:
        drain(app)
        with engine.begin() as conn:
            conn.execute(update(t.inbox).where(t.inbox.c.id == b).values(status="failed"))

        def shown(query: str) -> set[int]:
            html = client.get(f"/admin/inbox{query}").text
            return {int(n) for n in re.findall(r'id="inbox-(\d+)"', html)}

        assert shown("") == {a, b}
        assert shown("?status=failed") == {b}
        assert shown(f"?group={first}") == {a}
        assert shown("?channel=telegram") == set()
        assert shown("?from=2000-01-01T00:00&to=2100-01-01T00:00") == {a, b}
        assert shown("?to=2000-01-01T00:00") == set()
        bad = client.get("/admin/inbox?from=yesterday")
        assert bad.status_code == 200 and "could not be read" in bad.text


def test_the_overview_counts_queues_and_asks_telegram_through_the_hook(engine: Engine) -> None:
    make_room(engine)
    say(engine, "I paid 10 for tea, split with everyone", "o1")
    app = build_app(engine, TELEGRAM_BOT_TOKEN="123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")

    async def webhook_info() -> dict[str, Any]:
        return {"url": "https://chipin.example/webhooks/telegram", "pending_update_count": 3}

    app.state.telegram_webhook_status = webhook_info
    with logged_in(app) as client:
        drain(app)
        page = client.get("/admin").text
        assert '<th scope="row">web</th><td>1</td><td>1</td><td>0</td><td>0.0%</td>' in page
        assert "pending_update_count" in page and "https://chipin.example/webhooks/telegram" in page
        assert "long polling" in page  # telegram configured without a webhook secret
        assert "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in page
        assert "Received → reply delivered" in page


def test_queue_gauges_for_prometheus(engine: Engine) -> None:
    make_room(engine)
    say(engine, "huh?", "m1")
    registry = CollectorRegistry()
    registry.register(QueueCollector(lambda: engine))
    text = generate_latest(registry).decode()
    assert 'chipin_inbox_messages{channel="web",status="pending"} 1.0' in text


def test_the_parse_review_lists_what_the_bot_did_not_understand(engine: Engine) -> None:
    make_room(engine)
    unclear = say(engine, "I paid 60 for something with Zed", "u1")
    say(engine, "who owes what?", "u2")
    app = build_app(engine)
    with logged_in(app) as client:
        drain(app)
        page = client.get("/admin/review").text
        assert f'id="review-{unclear}"' in page and "something with Zed" in page
        assert "/playground#room=r1&amp;text=I+paid+60" in page
        assert len(re.findall(r'id="review-\d+"', page)) == 1
        done = post(client, f"/admin/inbox/{unclear}/dismiss", "/admin/review")
        assert done.headers["location"].endswith("notice=dismissed")
        assert not re.findall(r'id="review-\d+"', client.get("/admin/review").text)


# -- repairs -------------------------------------------------------------------------------------


def test_only_a_failed_message_is_reprocessed_and_the_worker_handles_it(engine: Engine) -> None:
    group_id = make_room(engine)
    failed = say(engine, "I paid 40 for fuel, split with everyone", "r1")
    with engine.begin() as conn:  # as the worker parks a message that kept failing
        conn.execute(
            update(t.inbox)
            .where(t.inbox.c.id == failed)
            .values(status="failed", attempts=3, last_error="OperationalError: database is gone")
        )
    app = build_app(engine)
    with logged_in(app) as client:
        page = f"/admin/inbox/{failed}"
        assert "Reprocess" in client.get(page).text
        answer = post(client, f"/admin/inbox/{failed}/reprocess", page)
        assert answer.headers["location"] == f"{page}?notice=reprocessed"
        drain(app)
        detail = client.get(page).text
        assert 'class="badge s-done"' in detail and "Fuel · 40.00 EUR" in detail
        assert services.group_balances(SqlUnitOfWork(engine), group_id)["EUR"]["Ana"] == 2000
        again = post(client, f"/admin/inbox/{failed}/reprocess", page)  # done: never applied twice
        assert again.headers["location"].endswith("notice=not-reprocessed")
        assert actions(engine)[1:] == [("reprocess", f"inbox {failed}")]


def test_a_dead_message_is_retried_once_the_provider_recovers_and_another_cancelled(
    engine: Engine,
) -> None:
    make_room(engine)
    make_room(engine, "r2")
    say(engine, "help", "d1")
    say(engine, "help", "d2", room="r2")
    adapter = FlakyWeb(failures=99)
    app = build_app(engine, adapter=adapter)
    with logged_in(app) as client:
        drain(app)
        with SqlUnitOfWork(engine) as uow:
            assert uow.outbox.counts() == {"dead": 2}
        listing = client.get("/admin/outbox").text
        assert listing.count('data-status="dead"') == 2 and "provider is down" in listing
        adapter.failures = 0
        retried = post(client, "/admin/outbox/1/retry?back=/admin/outbox", "/admin/outbox")
        assert retried.headers["location"] == "/admin/outbox?notice=retried"
        cancelled = post(client, "/admin/outbox/2/cancel", "/admin/outbox")
        assert cancelled.headers["location"].endswith("notice=cancelled")
        drain(app)
        with SqlUnitOfWork(engine) as uow:
            assert uow.outbox.counts() == {"sent": 1, "cancelled": 1}
        assert (
            post(client, "/admin/outbox/1/retry", "/admin/outbox")
            .headers["location"]
            .endswith("notice=not-retried")
        )
        assert actions(engine)[1:] == [("retry", "outbox 1"), ("cancel", "outbox 2")]


def test_entries_are_edited_deleted_and_restored_through_the_services_and_audited(
    engine: Engine,
) -> None:
    group_id = make_room(engine, members=("Ana", "Raj", "Mia"))
    say(engine, "I paid 60 for dinner, split with everyone", "e1")
    app = build_app(engine)
    with logged_in(app) as client:
        drain(app)
        page = f"/admin/groups/{group_id}"

        def balances() -> dict[str, int]:
            return services.group_balances(SqlUnitOfWork(engine), group_id)["EUR"]

        assert balances() == {"Ana": 4000, "Mia": -2000, "Raj": -2000}
        base = f"{page}/entries/1"
        edited = post(
            client,
            f"{base}/edit",
            page,
            description="Team dinner",
            amount="90",
            date="2026-11-20",
            category="food",
        )
        assert edited.headers["location"] == f"{page}?notice=edited#entry-1"
        assert balances() == {"Ana": 6000, "Mia": -3000, "Raj": -3000}
        shown = client.get(page).text
        assert "Team dinner" in shown and "60.00 EUR" in shown and "food" in shown
        assert post(client, f"{base}/delete", page).headers["location"].endswith("deleted#entry-1")
        assert balances() == {"Ana": 0, "Mia": 0, "Raj": 0}
        assert (
            post(client, f"{base}/restore", page).headers["location"].endswith("restored#entry-1")
        )
        assert balances()["Ana"] == 6000
        bad = post(client, f"{base}/edit", page, amount="ninety", date="2026-11-20")
        assert bad.status_code == 422 and "was not changed" in bad.text
        same = post(
            client,
            f"{base}/edit",
            page,
            amount="90.00",
            date="2026-11-20",
            description="Team dinner",
            category="food",
        )
        assert same.headers["location"].endswith("notice=unchanged#entry-1")
        assert (
            client.post(f"{page}/entries/99/delete", data={"csrf": csrf_of(shown)}).status_code
            == 404
        )
        with SqlUnitOfWork(engine) as uow:
            trail = [(a.action, a.actor) for a in uow.ledger.audit(group_id, 1)]
        actor = trail[1][1]
        assert actor is not None and actor.startswith("admin:")
        assert trail == [
            ("create", "Ana"),
            ("update", actor),
            ("delete", actor),
            ("restore", actor),
        ]
        assert actions(engine)[1:] == [
            ("edit", "entry 1"),
            ("delete", "entry 1"),
            ("restore", "entry 1"),
        ]
