"""The playground's speaker check, on SQLite and PostgreSQL: a room's roster is read once and
kept for a few seconds, without ever refusing a member just added or accepting a stranger.

The app runs without its worker, so every statement that touches ``members`` is the route's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from chipin.admin import playground
from chipin.admin.playground import ROSTER_TTL, Rosters
from chipin.app import create_app
from chipin.core import services
from chipin.settings import Settings
from chipin.store.uow import SqlUnitOfWork
from tests.integration.test_playground import API, make_room

MEMBERS = re.compile(r"\bmembers\b", re.IGNORECASE)


class Clock:
    """The roster cache's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    settings = Settings(
        DATABASE_URL=str(engine.url),
        CHIPIN_ENV="development",
        PARSER="rules",
        DEFAULT_TIMEZONE="UTC",
    )
    app = create_app(settings, engine=engine, background=False)
    app.state.playground_rosters = Rosters(clock)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def roster_reads(engine: Engine) -> Iterator[list[str]]:
    """Every statement run on the app's engine that reads or writes a member."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if MEMBERS.search(statement):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def post(client: TestClient, room: str, speaker: str, **extra: str) -> Any:
    return client.post(f"{API}/rooms/{room}/messages", json={"as": speaker, "text": "hi", **extra})


def senders(client: TestClient, room: str) -> list[str]:
    feed = client.get(f"{API}/rooms/{room}/feed").json()
    return [m["sender"] for m in feed["messages"] if m["type"] == "user"]


def test_repeated_messages_to_a_room_read_its_roster_once(
    client: TestClient, roster_reads: list[str]
) -> None:
    room = make_room(client)
    roster_reads.clear()
    answers = [post(client, room, who) for who in ("Ana", "raj", " MIA ", "ana")]
    again = [post(client, room, "Raj", client_id="retry-1") for _ in range(2)]
    assert len(roster_reads) == 1
    assert [a.status_code for a in answers + again] == [202] * 6
    ids = [a.json()["inbox_id"] for a in answers + again[:1]]
    assert len(set(ids)) == 5 and all(isinstance(i, int) for i in ids)
    assert [a.json()["duplicate"] for a in answers + again[:1]] == [False] * 5
    assert again[1].json() == {"inbox_id": None, "duplicate": True}
    assert senders(client, room) == ["Ana", "Raj", "Mia", "Ana", "Raj"]


def test_a_member_added_is_accepted_on_the_very_next_message(client: TestClient) -> None:
    room = make_room(client)
    assert post(client, room, "Ana").status_code == 202
    added = client.post(f"{API}/rooms/{room}/members", json={"name": "Zoe"})
    assert added.status_code == 201
    assert post(client, room, "zoe").status_code == 202
    assert senders(client, room) == ["Ana", "Zoe"]


def test_adding_a_member_drops_the_rooms_roster(
    client: TestClient, roster_reads: list[str]
) -> None:
    room = make_room(client)
    assert post(client, room, "Ana").status_code == 202
    assert client.post(f"{API}/rooms/{room}/members", json={"name": "Zoe"}).status_code == 201
    roster_reads.clear()
    assert post(client, room, "Ana").status_code == 202
    assert len(roster_reads) == 1
    assert post(client, room, "Zoe").status_code == 202
    assert len(roster_reads) == 1


def test_a_member_added_elsewhere_is_accepted_at_once(client: TestClient, engine: Engine) -> None:
    """Another process (the bot, a second server) adds members without telling this cache."""
    room = make_room(client)
    assert post(client, room, "Ana").status_code == 202
    with SqlUnitOfWork(engine) as uow:
        group = uow.ledger.group_by_name("Lisbon trip")
        assert group is not None
        services.add_members(uow, group.id, ["Zoe"])
        uow.commit()
    assert post(client, room, "ZOE").status_code == 202
    assert senders(client, room) == ["Ana", "Zoe"]


def test_a_stranger_is_refused_as_before_and_the_roster_is_read_again_to_be_sure(
    client: TestClient, roster_reads: list[str]
) -> None:
    room = make_room(client)
    refused = "Eve is not a member of Lisbon trip; add them first"
    first = post(client, room, "Eve")
    assert (first.status_code, first.json()) == (422, {"detail": refused})
    assert post(client, room, "Ana").status_code == 202
    roster_reads.clear()
    cached = post(client, room, "Eve")
    assert (cached.status_code, cached.json()) == (422, {"detail": refused})
    assert len(roster_reads) == 1
    assert senders(client, room) == ["Ana"]


def test_an_unknown_room_is_not_found_every_time(
    client: TestClient, roster_reads: list[str]
) -> None:
    for _ in range(2):
        unknown = post(client, "nowhere", "Ana")
        assert unknown.status_code == 404
        assert unknown.json() == {"detail": "no playground room 'nowhere'"}
    assert len(roster_reads) == 2  # never kept: a room made elsewhere is found at once


def test_a_roster_is_read_again_once_its_time_is_up(
    client: TestClient, roster_reads: list[str], clock: Clock
) -> None:
    room = make_room(client)
    roster_reads.clear()
    assert post(client, room, "Ana").status_code == 202
    clock.now += ROSTER_TTL - 0.01
    assert post(client, room, "Raj").status_code == 202
    assert len(roster_reads) == 1
    clock.now += 0.01
    assert post(client, room, "Mia").status_code == 202
    assert post(client, room, "Ana").status_code == 202
    assert len(roster_reads) == 2


def test_the_least_recently_used_roster_makes_room_for_another(
    client: TestClient, roster_reads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(playground, "ROSTER_ROOMS", 2)
    rooms = [make_room(client, name) for name in ("One", "Two", "Three")]
    roster_reads.clear()
    for room in (rooms[0], rooms[1], rooms[0], rooms[2]):  # Three pushes out Two, not One
        assert post(client, room, "Ana").status_code == 202
    assert len(roster_reads) == 3
    assert post(client, rooms[0], "Ana").status_code == 202
    assert len(roster_reads) == 3
    assert post(client, rooms[1], "Ana").status_code == 202
    assert len(roster_reads) == 4
