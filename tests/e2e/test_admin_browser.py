"""The admin dashboard in a real browser (Debian's Chromium, headless, driven by Playwright)
against a real `chipin serve` on SQLite and PostgreSQL. Screenshots of every page land in
``artifacts/screenshots/`` for a human to look at.

Every wait is on a selector the page renders, never a sleep: the webhook log and a message's
page refresh themselves ("live"), so the test watches them change like an operator would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy import Engine, select, update

from chipin.store import tables as t
from tests.e2e.conftest import Server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "a long admin passphrase"
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Reprocess?" "Never send?"
    yield page
    context.close()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"admin-{name}.png"), full_page=True, scale="css")


def make_room(server: Server) -> str:
    answer = httpx.post(
        f"{server.url}/playground/api/rooms",
        json={"name": "Lisbon trip", "currency": "EUR", "members": ["Ana", "Raj", "Mia"]},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def say(server: Server, room: str, who: str, text: str) -> int:
    answer = httpx.post(
        f"{server.url}/playground/api/rooms/{room}/messages", json={"as": who, "text": text}
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["inbox_id"])


def test_an_operator_watches_repairs_and_corrects_through_the_dashboard(
    serve: Callable[..., Server], engine: Engine, page: Page
) -> None:
    server = serve(CHIPIN_ADMIN_PASSWORD=PASSWORD)
    room = make_room(server)

    # a wrong password is refused; the right one opens the overview
    page.goto(f"{server.url}/admin")
    page.wait_for_selector("#login-form")
    assert page.url.startswith(f"{server.url}/admin/login")
    shot(page, "01-login")
    page.fill("#password", "not the password")
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("p.error >> text=Wrong password")
    shot(page, "02-login-refused")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("h1 >> text=Overview")

    # the webhook log, live, shows a message posted now, with its parse and its reply
    page.goto(f"{server.url}/admin/inbox")
    page.check("#live")
    inbox_id = say(server, room, "Ana", "I paid 60 for dinner, split with everyone")
    row = page.wait_for_selector(f'#inbox-{inbox_id}[data-status="done"]')
    assert row is not None and "add_expense → recorded" in row.inner_text()
    shot(page, "03-webhook-log")
    page.click(f"#inbox-{inbox_id} td.text a")
    page.wait_for_selector("#reply-list .reply .badge.s-sent")
    assert "✓ Dinner · 60.00 EUR" in page.inner_text("#reply-list")
    assert '"outcome": "recorded"' in page.inner_text("#result-json")
    shot(page, "04-message")

    # a failed message is reprocessed, and the page follows it until the worker is done
    with engine.begin() as conn:
        conn.execute(
            update(t.inbox)
            .where(t.inbox.c.id == inbox_id)
            .values(status="failed", attempts=3, last_error="OperationalError: connection lost")
        )
    page.reload()
    page.wait_for_selector("#message-live .badge.s-failed")
    shot(page, "05-message-failed")
    page.click("#message-actions button >> text=Reprocess")
    page.wait_for_selector("p.notice >> text=queued for the worker")
    page.wait_for_selector("#message-live h1 .badge.s-done")

    # a dead outbound message is retried once the provider works again
    with engine.begin() as conn:
        reply_id = conn.execute(
            select(t.outbox.c.id).where(t.outbox.c.inbox_id == inbox_id).order_by(t.outbox.c.id)
        ).scalar_one()
        conn.execute(
            update(t.outbox)
            .where(t.outbox.c.id == reply_id)
            .values(status="dead", attempts=6, last_error="SendError: provider is down")
        )
    page.goto(f"{server.url}/admin/outbox")
    page.wait_for_selector(f'#outbox-{reply_id}[data-status="dead"]')
    shot(page, "06-outbox-dead")
    page.click(f"#outbox-{reply_id} button >> text=Retry")
    page.wait_for_selector("p.notice >> text=queued for sending again")
    page.goto(f"{server.url}/admin/outbox?status=sent")
    page.wait_for_selector(f'#outbox-{reply_id}[data-status="sent"]')  # live refresh
    shot(page, "07-outbox-sent")

    # an entry is corrected and the balances follow
    page.goto(f"{server.url}/admin/groups")
    shot(page, "08-groups")
    page.click("#group-list a >> text=Lisbon trip")
    page.wait_for_selector('tr[data-member="Ana"] td >> text=40.00 EUR')
    entry = page.locator("#entry-list li.entry").first
    entry.locator("summary >> text=Edit").click()
    entry.locator("input[name=amount]").fill("90")
    entry.locator("input[name=description]").fill("Team dinner")
    entry.locator("button >> text=Save").click()
    page.wait_for_selector("p.notice >> text=The entry is changed")
    page.wait_for_selector('tr[data-member="Ana"] td >> text=60.00 EUR')
    assert page.inner_text('tr[data-member="Raj"] td') == "-30.00 EUR"
    page.locator("#entry-list li.entry").first.locator("summary >> text=History").click()
    assert re.search(r"update by admin:\S+", page.inner_text("#entry-list"))
    shot(page, "09-group")

    # the remaining pages, and the overview on a phone
    unclear = say(server, room, "Mia", "I paid 60 for something with Zed")
    page.goto(f"{server.url}/admin/inbox/{unclear}")  # follows the message until it is handled
    page.wait_for_selector("#message-live h1 .badge.review")
    page.goto(f"{server.url}/admin/review")
    page.wait_for_selector("#review-list >> text=something with Zed")
    shot(page, "10-review")
    page.goto(f"{server.url}/admin")
    page.wait_for_selector("#channel-stats")
    shot(page, "11-overview")
    page.set_viewport_size({"width": 390, "height": 844})
    page.click(".nav-toggle")
    page.wait_for_selector("#nav.open")
    shot(page, "12-overview-phone")
    page.click("#nav button >> text=Log out")
    page.wait_for_selector("#login-form")
    page.goto(f"{server.url}/admin/outbox")
    page.wait_for_selector("#login-form")  # the session is over
