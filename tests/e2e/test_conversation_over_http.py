"""End to end over HTTP: a real `chipin serve` on SQLite and PostgreSQL, driven through the
playground's JSON API (the web channel) exactly as the page drives it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from chipin.store import tables as t
from tests.e2e.conftest import Server
from tests.fakes.gemini import FakeGemini


def room(server: Server, name: str, members: list[str]) -> str:
    r = httpx.post(
        f"{server.url}/playground/api/rooms",
        json={"name": name, "currency": "EUR", "members": members},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def say(
    server: Server, room_id: str, who: str, text: str, client_id: str | None = None
) -> dict[str, Any]:
    body = {"as": who, "text": text} | ({"client_id": client_id} if client_id else {})
    r = httpx.post(f"{server.url}/playground/api/rooms/{room_id}/messages", json=body)
    assert r.status_code == 202, r.text
    return dict(r.json())


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting")


def feed(server: Server, room_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{server.url}/playground/api/rooms/{room_id}/feed").json())


def bot_texts(server: Server, room_id: str) -> list[str]:
    return [m["text"] for m in feed(server, room_id)["messages"] if m["type"] == "bot"]


def balances(server: Server, room_id: str) -> dict[str, dict[str, str]]:
    return {
        c["currency"]: {m["name"]: m["amount"] for m in c["members"]}
        for c in feed(server, room_id)["balances"]
    }


def test_a_scripted_group_conversation(serve: Callable[..., Server]) -> None:
    server = serve()
    r = room(server, "Lisbon trip", ["Ana", "Raj", "Mia"])
    say(server, r, "Ana", "I paid 60 for dinner, split with everyone")
    say(server, r, "Raj", "Raj paid 25 for the taxi for me and Mia")
    say(server, r, "Mia", "haha that driver was wild")
    say(server, r, "Mia", "who owes what?")
    texts = wait_for(lambda: (t := bot_texts(server, r)) and len(t) >= 3 and t)
    assert texts[0] == "✓ Dinner · 60.00 EUR · paid by Ana · Ana 20.00, Raj 20.00, Mia 20.00"
    assert texts[1] == "✓ Taxi · 25.00 EUR · paid by Raj · Raj 12.50, Mia 12.50"
    assert "Ana: is owed 40.00 EUR" in texts[2] and "Mia: owes 32.50 EUR" in texts[2]
    time.sleep(0.5)
    assert len(bot_texts(server, r)) == 3  # the chit-chat got no answer
    assert balances(server, r)["EUR"] == {"Ana": "40.00", "Mia": "-32.50", "Raj": "-7.50"}


def test_the_same_message_delivered_twice_concurrently_records_once(
    serve: Callable[..., Server], engine: Engine
) -> None:
    server = serve()
    r = room(server, "Dup", ["Ana", "Raj"])
    key = uuid.uuid4().hex
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda _: say(server, r, "Ana", "I paid 30 for fuel, split with Raj", key), range(8)
            )
        )
    assert sum(1 for a in answers if not a["duplicate"]) == 1
    wait_for(lambda: bot_texts(server, r))
    time.sleep(0.5)
    assert balances(server, r)["EUR"] == {"Ana": "15.00", "Raj": "-15.00"}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.inbox)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(t.entries)).scalar() == 1


def test_messages_of_one_group_apply_in_order_while_other_groups_proceed(
    serve: Callable[..., Server],
) -> None:
    server = serve()
    a, b = room(server, "A", ["Ana", "Raj"]), room(server, "B", ["Bo", "Cy"])
    for n in range(5):
        say(server, a, "Ana", f"I paid {10 + n} for lunch, split with Raj")
        say(server, a, "Ana", f"actually it was {20 + 2 * n}")
        say(server, b, "Bo", f"I paid {n + 1} for coffee, split with Cy")
    wait_for(lambda: len(bot_texts(server, a)) == 10 and len(bot_texts(server, b)) == 5)
    # each correction applied to the expense just before it: 20+22+24+26+28 = 120, halved
    assert balances(server, a)["EUR"] == {"Ana": "60.00", "Raj": "-60.00"}
    assert balances(server, b)["EUR"] == {"Bo": "7.50", "Cy": "-7.50"}


def test_a_worker_killed_mid_message_handles_it_exactly_once_after_restart(
    serve: Callable[..., Server], engine: Engine
) -> None:
    proposal = {
        "kind": "add_expense",
        "currency": None,
        "confidence": 0.95,
        "amount": "45",
        "description": "boat",
        "participants": ["Ana", "Raj"],
    }
    with FakeGemini(api_key="test-key") as gemini:
        # the first call hangs (the worker is killed while waiting), the retry answers at once
        gemini.answer_json(proposal, delay=60).answer_json(proposal)
        env = {
            "PARSER": "gemini",
            "GEMINI_API_KEY": "test-key",
            "GEMINI_API_BASE_URL": gemini.base_url,
            "GEMINI_TIMEOUT_SECONDS": "120",
            "WORKER_LEASE_SECONDS": "1",
        }
        first = serve(**env)
        r = room(first, "Boat", ["Ana", "Raj"])
        say(first, r, "Ana", "I paid 45 for the boat, split with Raj")
        wait_for(lambda: gemini.calls >= 1)
        first.kill()
        with engine.connect() as conn:
            assert conn.execute(select(t.inbox.c.status)).scalar() == "pending"
        second = serve(**env)
        wait_for(lambda: bot_texts(second, r))
        time.sleep(1.0)
        assert balances(second, r)["EUR"] == {"Ana": "22.50", "Raj": "-22.50"}
        assert len(bot_texts(second, r)) == 1
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(t.entries)).scalar() == 1
            assert conn.execute(select(t.inbox.c.status)).scalar() == "done"
