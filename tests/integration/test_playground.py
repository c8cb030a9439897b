"""The web playground, end to end on SQLite and PostgreSQL: the page's JSON API drives the real
inbox → worker → outbox → dispatcher path running inside the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chipin.app import create_app
from chipin.settings import Settings

API = "/playground/api"
Feed = dict[str, Any]


def build_app(engine: Engine, env: str = "development") -> FastAPI:
    settings = Settings(
        DATABASE_URL=str(engine.url),
        CHIPIN_ENV=env,
        PARSER="rules",
        DEFAULT_TIMEZONE="UTC",
        CHIPIN_ADMIN_PASSWORD="playground-tests-admin-password",  # due outside development
    )
    return create_app(settings, engine=engine)


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    with TestClient(build_app(engine)) as client:
        yield client


def make_room(client: TestClient, name: str = "Lisbon trip") -> str:
    created = client.post(
        f"{API}/rooms",
        json={"name": name, "currency": "eur", "members": ["Ana", "Raj", "Mia"]},
    )
    assert created.status_code == 201, created.text
    room: str = created.json()["id"]
    return room


def wait_for(
    client: TestClient, room: str, done: Callable[[Feed], bool], *, after: str | None = None
) -> Feed:
    """Poll the feed like the page does, for at most 5 seconds."""
    deadline = time.monotonic() + 5
    while True:
        answer = client.get(f"{API}/rooms/{room}/feed", params={"after": after} if after else {})
        assert answer.status_code == 200, answer.text
        feed: Feed = answer.json()
        if done(feed):
            return feed
        if time.monotonic() > deadline:
            raise AssertionError(f"the feed never got there: {feed}")
        time.sleep(0.05)


def bot_messages(feed: Feed) -> list[dict[str, Any]]:
    return [m for m in feed["messages"] if m["type"] == "bot"]


def amounts(feed: Feed) -> dict[str, str]:
    return {m["name"]: m["amount"] for c in feed["balances"] for m in c["members"]}


def say(client: TestClient, room: str, speaker: str, text: str) -> int:
    answer = client.post(f"{API}/rooms/{room}/messages", json={"as": speaker, "text": text})
    assert answer.status_code == 202, answer.text
    inbox_id: int = answer.json()["inbox_id"]
    return inbox_id


def press(client: TestClient, room: str, speaker: str, data: str, message_id: str) -> None:
    answer = client.post(
        f"{API}/rooms/{room}/actions", json={"as": speaker, "data": data, "message_id": message_id}
    )
    assert answer.status_code == 202, answer.text


def test_a_room_is_a_new_group_with_its_members_and_is_listed(client: TestClient) -> None:
    room = make_room(client)
    rooms = client.get(f"{API}/rooms").json()["rooms"]
    assert rooms == [
        {
            "id": room,
            "group": "Lisbon trip",
            "currency": "EUR",
            "timezone": "UTC",
            "members": ["Ana", "Raj", "Mia"],
        }
    ]
    added = client.post(f"{API}/rooms/{room}/members", json={"name": "  Zoe  "})
    assert added.status_code == 201 and added.json()["members"] == ["Ana", "Raj", "Mia", "Zoe"]
    again = client.post(f"{API}/rooms/{room}/members", json={"name": "zoe"})
    assert again.status_code == 409 and "already" in again.json()["detail"]


def test_a_taken_group_name_or_a_bad_currency_or_timezone_is_refused(client: TestClient) -> None:
    make_room(client, "Flatmates")
    taken = client.post(f"{API}/rooms", json={"name": "flatmates", "currency": "EUR"})
    assert taken.status_code == 409 and "already exists" in taken.json()["detail"]
    money = client.post(f"{API}/rooms", json={"name": "Other", "currency": "XYZ"})
    assert money.status_code == 422 and "XYZ" in money.json()["detail"]
    zone = client.post(
        f"{API}/rooms", json={"name": "Other", "currency": "EUR", "timezone": "Mars/Olympus"}
    )
    assert zone.status_code == 422 and "timezone" in zone.json()["detail"]
    assert [r["group"] for r in client.get(f"{API}/rooms").json()["rooms"]] == ["Flatmates"]


def test_an_expense_is_answered_undone_only_by_its_author_and_balances_follow(
    client: TestClient,
) -> None:
    room = make_room(client)
    say(client, room, "ana", "I paid 60 for dinner, split with everyone")

    def recorded(feed: Feed) -> bool:
        return any(m["status"] == "sent" for m in bot_messages(feed))

    feed = wait_for(client, room, recorded)
    user = next(m for m in feed["messages"] if m["type"] == "user")
    assert (user["sender"], user["status"]) == ("Ana", "done")
    [reply] = bot_messages(feed)
    assert feed["messages"].index(user) < feed["messages"].index(reply)
    assert "60.00" in reply["text"]
    [undo] = [a for a in reply["actions"] if a["label"] == "Undo"]
    assert amounts(feed) == {"Ana": "40.00", "Raj": "-20.00", "Mia": "-20.00"}
    cursor = feed["cursor"]

    press(client, room, "Raj", undo["data"], reply["provider_message_id"])
    refused = wait_for(client, room, lambda f: bool(f["notices"]), after=cursor)
    [notice] = refused["notices"]
    assert notice["to"] == "Raj" and "Only Ana" in notice["text"]
    assert refused["edits"] == [] and bot_messages(refused) == []
    assert amounts(refused) == {"Ana": "40.00", "Raj": "-20.00", "Mia": "-20.00"}

    press(client, room, "Ana", undo["data"], reply["provider_message_id"])
    edited = wait_for(client, room, lambda f: bool(f["edits"]), after=refused["cursor"])
    [edit] = edited["edits"]
    assert edit["message_id"] == reply["provider_message_id"]
    assert "Removed" in edit["text"] and [a["label"] for a in edit["actions"]] == ["Restore"]
    assert set(amounts(edited).values()) <= {"0.00"}

    whole = client.get(f"{API}/rooms/{room}/feed").json()  # a fresh page sees it edited
    [shown] = bot_messages(whole)
    assert shown["edited"] is True and shown["text"] == edit["text"]
    assert [u["sender"] for u in whole["messages"] if u["type"] == "user"] == ["Ana"]


def test_the_cursor_only_brings_what_changed(client: TestClient) -> None:
    room = make_room(client)
    say(client, room, "Mia", "who owes what?")
    first = wait_for(client, room, lambda f: bool(bot_messages(f)))
    quiet = client.get(f"{API}/rooms/{room}/feed", params={"after": first["cursor"]}).json()
    assert quiet["messages"] == [] and quiet["cursor"] == first["cursor"]
    bad = client.get(f"{API}/rooms/{room}/feed", params={"after": "yesterday"})
    assert bad.status_code == 422


def test_bad_messages_are_refused_with_a_reason(client: TestClient) -> None:
    room = make_room(client)
    stranger = client.post(f"{API}/rooms/{room}/messages", json={"as": "Eve", "text": "hi"})
    assert stranger.status_code == 422 and "not a member" in stranger.json()["detail"]
    unknown = client.post(f"{API}/rooms/nowhere/messages", json={"as": "Ana", "text": "hi"})
    assert unknown.status_code == 404
    assert client.get(f"{API}/rooms/nowhere/feed").status_code == 404
    empty = client.post(f"{API}/rooms/{room}/messages", json={"as": "Ana", "text": "   "})
    assert empty.status_code == 422 and "some text" in str(empty.json()["detail"])
    long = client.post(f"{API}/rooms/{room}/messages", json={"as": "Ana", "text": "x" * 4001})
    assert long.status_code == 422
    missing = client.post(f"{API}/rooms/{room}/messages", json={"text": "hi"})
    assert missing.status_code == 422
    ghost = client.post(
        f"{API}/rooms/{room}/actions", json={"as": "Ana", "data": "u:1", "message_id": "web-nope"}
    )
    assert ghost.status_code == 422
    assert client.get(f"{API}/rooms/{room}/feed").json()["messages"] == []


def test_the_page_and_its_files_are_served(client: TestClient) -> None:
    home = client.get("/", follow_redirects=False)
    assert home.status_code in (302, 307) and home.headers["location"] == "/playground"
    page = client.get("/playground")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<form id="create-room"' in page.text and 'id="composer"' in page.text
    assert "I paid 60 for dinner, split with everyone" in page.text
    script = client.get("/playground/static/playground.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    style = client.get("/playground/static/playground.css")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert client.get("/playground/static/..%2Fplayground.py").status_code == 404
    assert client.get("/playground/static/secrets.txt").status_code == 404


def test_outside_development_the_playground_does_not_exist(engine: Engine) -> None:
    with TestClient(build_app(engine, env="production")) as client:
        assert client.get("/playground").status_code == 404
        assert client.get(f"{API}/rooms").status_code == 404
        created = client.post(f"{API}/rooms", json={"name": "X", "currency": "EUR"})
        assert created.status_code == 404
        assert client.get("/healthz").status_code == 200
