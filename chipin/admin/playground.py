"""The web playground: create a group, talk as any of its members, press the bot's buttons.

Nothing here talks to the bot directly: a message is accepted into the inbox like a webhook's, the
worker answers into the outbox, the dispatcher delivers it through the ``web`` adapter, and the
page polls a feed read back from the inbox and the outbox. Only served in development.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import Engine, and_, select
from sqlalchemy.exc import IntegrityError

from chipin import __version__
from chipin.bot.ingress import accept
from chipin.bot.intake import Delivery, app_writer
from chipin.bot.messages import InboundMessage
from chipin.core import services
from chipin.core.errors import ChipinError
from chipin.core.money import format_minor
from chipin.core.records import Group, Member, name_key
from chipin.settings import Settings
from chipin.store import tables as t
from chipin.store.conversations import Conversation, ConversationRepository
from chipin.store.outbox import OutboxItem
from chipin.store.uow import SqlUnitOfWork

CHANNEL = "web"
MAX_TEXT = 4000
MAX_NAME = 60
FEED_LIMIT = 500
"""Rows of each queue per feed answer; the cursor brings the rest on the next poll."""
COMMON_CURRENCIES = ("USD", "EUR", "GBP", "INR", "JPY", "CAD", "AUD", "CHF")
HERE = Path(__file__).resolve().parent
STATIC = {
    "playground.js": "text/javascript; charset=utf-8",
    "playground.css": "text/css; charset=utf-8",
}
FINAL_INBOX = frozenset({"done", "failed"})
"""Inbox rows the worker is finished with; the cursor never passes a row still in flight."""
SETTLED_OUTBOX = frozenset({"sent", "dead", "cancelled"})
SHOWN_OUTBOX = frozenset({"sent", "dead"})
"""A dead row is shown (marked undelivered) so a broken pipeline is visible, not silent."""
CURSOR = re.compile(r"(\d{1,18})\.(\d{1,18})", re.ASCII)
ROSTER_TTL = 5.0
"""Seconds a cached roster answers "who is speaking" without the database. A member added
never waits for it (a speaker missing from the roster reloads it); it bounds how long a member
deactivated elsewhere (the bot, another process) can still speak in a room."""
ROSTER_ROOMS = 4096
"""Rosters kept per process, least recently used dropped first: a bound on memory, far above
the rooms anyone talks in at once (``bench/pipeline.py`` uses 50)."""


# -- who may speak -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Roster:
    """What ``say`` needs of a room: its group's name and its active members' stored names."""

    group: str
    names: dict[str, str]
    """Stored name by name key."""
    loaded_at: float
    """On the cache's clock."""


class Rosters:
    """The app's cache of room id → :class:`Roster`, so that ``say`` (the playground's hot path
    and ``bench/pipeline.py``'s ingress) checks its speaker with no thread hop and no database.

    A kept roster may lack a member added since (a speaker it lacks reloads it, so they are
    accepted at once) or still hold one deactivated since (for at most ``ROSTER_TTL``). A room
    that does not exist is never kept, so a new room needs nothing here. Read on the event loop,
    reloaded and dropped from threads: hence the lock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._rosters: OrderedDict[str, Roster] = OrderedDict()
        self._lock = threading.Lock()

    def name(self, room_id: str, speaker: str) -> str | None:
        """The speaker's stored name from a fresh cached roster, or None: ask :meth:`load`."""
        with self._lock:
            roster = self._rosters.get(room_id)
            if roster is None:
                return None
            if self.clock() - roster.loaded_at >= ROSTER_TTL:
                del self._rosters[room_id]
                return None
            self._rosters.move_to_end(room_id)
        return roster.names.get(name_key(speaker))

    def load(self, engine: Engine, room_id: str) -> Roster | None:
        """The room's roster read now (one query) and kept, or None: no such room."""
        now = self.clock()
        with engine.connect() as conn:
            found = ConversationRepository(conn).roster(CHANNEL, room_id)
        if found is None:
            return None
        roster = Roster(*found, now)
        with self._lock:
            self._rosters[room_id] = roster
            self._rosters.move_to_end(room_id)
            while len(self._rosters) > ROSTER_ROOMS:
                self._rosters.popitem(last=False)
        return roster

    def forget(self, room_id: str) -> None:
        with self._lock:
            self._rosters.pop(room_id, None)


def app_rosters(state: Any) -> Rosters:
    """The app's cache (``app.state``; a test may put its own there, with its own clock)."""
    found: Rosters | None = getattr(state, "playground_rosters", None)
    if found is None:
        found = state.playground_rosters = Rosters()
    return found


# -- dependencies --------------------------------------------------------------------------------


def require_development(request: Request) -> None:
    """The playground lets anyone speak as anyone: it exists only in development."""
    settings: Settings = request.app.state.settings
    if settings.env != "development":
        raise HTTPException(status_code=404, detail="Not Found")


def get_engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_rosters(request: Request) -> Rosters:
    """Async so it runs on the event loop: the app's cache is made once, never by two threads."""
    return app_rosters(request.app.state)


def get_wake(request: Request) -> Callable[[], None]:
    """The runtime's nudge to the worker: a new message is waiting."""
    wake: Callable[[], None] = request.app.state.runtime.wake
    return wake


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RostersDep = Annotated[Rosters, Depends(get_rosters)]
WakeDep = Annotated[Callable[[], None], Depends(get_wake)]


# -- request bodies ------------------------------------------------------------------------------


def _clean_name(value: str) -> str:
    clean = " ".join(value.split())
    if not clean:
        raise ValueError("a name cannot be blank")
    return clean


def _clean_text(value: str) -> str:
    if not value.strip():
        raise ValueError("a message needs some text")
    return value.strip()


def _distinct(names: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name_key(name), name)
    return list(seen.values())


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME), AfterValidator(_clean_name)]


class NewRoom(BaseModel):
    name: Annotated[str, Field(max_length=200), AfterValidator(_clean_name)]
    currency: Annotated[str, Field(min_length=1, max_length=8)]
    timezone: Annotated[str | None, Field(max_length=64)] = None
    members: Annotated[list[Name], Field(max_length=50), AfterValidator(_distinct)] = []


class NewMember(BaseModel):
    name: Name


ClientId = Annotated[str | None, Field(min_length=1, max_length=100, pattern=r"^[\w.-]+$")]
"""A client's idempotency key: a retried POST with the same key is stored once."""


class Say(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    speaker: Name = Field(alias="as")
    text: Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_clean_text)]
    client_id: ClientId = None


class Press(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    speaker: Name = Field(alias="as")
    data: Annotated[str, Field(min_length=1, max_length=64)]
    message_id: Annotated[str, Field(min_length=1, max_length=200)]
    client_id: ClientId = None


# -- rooms ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Room:
    """A playground room: a web conversation and the group it talks to."""

    conversation: Conversation
    group: Group
    members: list[Member]

    @property
    def key(self) -> str:
        return self.conversation.key

    def member(self, name: str) -> Member | None:
        wanted = name_key(name)
        return next((m for m in self.members if m.active and name_key(m.name) == wanted), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.conversation.external_id,
            "group": self.group.name,
            "currency": self.group.currency,
            "timezone": self.group.timezone,
            "members": [m.name for m in self.members if m.active],
        }


def _no_room(room_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"no playground room {room_id!r}")


def _not_member(name: str, group: str) -> HTTPException:
    return HTTPException(422, f"{name} is not a member of {group}; add them first")


def _room(uow: SqlUnitOfWork, conversation: Conversation | None) -> Room | None:
    if conversation is None or conversation.group_id is None:
        return None
    group = uow.ledger.group(conversation.group_id)
    return Room(conversation, group, uow.ledger.members(group.id))


def _require_room(uow: SqlUnitOfWork, room_id: str) -> Room:
    room = _room(uow, uow.conversations.get(CHANNEL, room_id))
    if room is None:
        raise _no_room(room_id)
    return room


def _rooms(uow: SqlUnitOfWork) -> list[Room]:
    ids = uow.connection.execute(
        select(t.conversations.c.id)
        .where(and_(t.conversations.c.channel == CHANNEL, t.conversations.c.group_id.is_not(None)))
        .order_by(t.conversations.c.id.desc())
    ).scalars()
    found = (_room(uow, uow.conversations.by_id(i)) for i in ids)
    return [room for room in found if room is not None]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- the feed ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    kind: str
    payload: dict[str, Any]
    status: str
    received_at: dt.datetime


def _stamp(at: dt.datetime) -> str:
    """ISO timestamps of one shape, so the page can sort them as strings."""
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_cursor(after: str | None) -> tuple[int, int]:
    if not after:
        return 0, 0
    match = CURSOR.fullmatch(after)
    if match is None:
        raise HTTPException(status_code=422, detail="a feed cursor looks like '12.34'")
    return int(match[1]), int(match[2])


def _advance(cursor: int, rows: list[tuple[int, str]], final: frozenset[str]) -> int:
    """Move past the leading rows that will not change any more: each conversation's rows are
    handled in id order, so what follows an unfinished row is unfinished too."""
    for row_id, status in rows:
        if status not in final:
            break
        cursor = row_id
    return cursor


def _inbox_rows(uow: SqlUnitOfWork, key: str, after: int) -> list[InboxRow]:
    rows = uow.connection.execute(
        select(
            t.inbox.c.id,
            t.inbox.c.kind,
            t.inbox.c.payload,
            t.inbox.c.status,
            t.inbox.c.received_at,
        )
        .where(and_(t.inbox.c.conversation_key == key, t.inbox.c.id > after))
        .order_by(t.inbox.c.id)
        .limit(FEED_LIMIT)
    )
    return [InboxRow(r.id, r.kind, r.payload, r.status, r.received_at) for r in rows]


def _presser(uow: SqlUnitOfWork, inbox: dict[int, InboxRow], inbox_id: int | None) -> str | None:
    if inbox_id is None:
        return None
    row = inbox.get(inbox_id)
    if row is not None:
        return str(row.payload.get("sender_name", ""))
    item = uow.inbox.get(inbox_id)  # the press is older than this window
    return str(item.payload.get("sender_name", "")) if item else None


def _bot_message(item: OutboxItem) -> dict[str, Any]:
    return {
        "type": "bot",
        "id": item.id,
        "kind": item.kind,
        "text": str(item.payload.get("text", "")),
        "actions": list(item.payload.get("actions", [])),
        "provider_message_id": item.provider_message_id,
        "status": item.status,
        "created_at": _stamp(item.created_at),
        "edited": False,
    }


def _balances(uow: SqlUnitOfWork, group_id: int) -> list[dict[str, Any]]:
    plans = services.settle_up(uow, group_id, remember=False)
    return [
        {
            "currency": currency,
            "members": [
                {"name": name, "amount": format_minor(minor, currency)}
                for name, minor in amounts.items()
            ],
            "transfers": [
                {"from": p.debtor, "to": p.creditor, "amount": format_minor(p.amount, currency)}
                for p in plans.get(currency, [])
            ],
        }
        for currency, amounts in services.group_balances(uow, group_id).items()
    ]


def build_feed(uow: SqlUnitOfWork, room: Room, after: str | None) -> dict[str, Any]:
    """What the page shows since ``after``: user and bot messages in time order, edits of
    messages it already has, private notices, the balances, and the next cursor."""
    after_in, after_out = parse_cursor(after)
    inbox = _inbox_rows(uow, room.key, after_in)
    outbox = uow.outbox.for_conversation(room.key, after_out, limit=FEED_LIMIT)
    by_id = {row.id: row for row in inbox}
    messages: list[dict[str, Any]] = [
        {
            "type": "user",
            "id": row.id,
            "sender": str(row.payload.get("sender_name", "")),
            "text": str(row.payload.get("text", "")),
            "status": row.status,
            "received_at": _stamp(row.received_at),
        }
        for row in inbox
        if row.kind == "message"
    ]
    shown: dict[str, dict[str, Any]] = {}
    edits: list[dict[str, Any]] = []
    notices: list[dict[str, Any]] = []
    for item in outbox:
        if item.kind == "send" and item.status in SHOWN_OUTBOX:
            message = _bot_message(item)
            messages.append(message)
            if item.provider_message_id:
                shown[item.provider_message_id] = message
        elif item.kind == "edit" and item.status == "sent":
            target = str(item.payload.get("message_id", ""))
            change = {
                "text": str(item.payload.get("text", "")),
                "actions": list(item.payload.get("actions", [])),
            }
            if target in shown:  # the page gets it already edited
                shown[target].update(change, edited=True)
            else:
                edits.append({"id": item.id, "message_id": target, **change})
        elif item.kind == "answer" and item.status == "sent" and item.payload.get("text"):
            notices.append(
                {
                    "id": item.id,
                    "to": _presser(uow, by_id, item.inbox_id),
                    "text": str(item.payload["text"]),
                    "created_at": _stamp(item.created_at),
                }
            )
    messages.sort(
        key=lambda m: (m.get("received_at") or m["created_at"], m["type"] == "bot", m["id"])
    )
    cursor_in = _advance(after_in, [(r.id, r.status) for r in inbox], FINAL_INBOX)
    cursor_out = _advance(after_out, [(o.id, o.status) for o in outbox], SETTLED_OUTBOX)
    return {
        "room": room.to_json(),
        "messages": messages,
        "edits": edits,
        "notices": notices,
        "balances": _balances(uow, room.group.id),
        "cursor": f"{cursor_in}.{cursor_out}",
    }


# -- the router ----------------------------------------------------------------------------------


def _page_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(HERE.parent / "templates" / "web")),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def playground_router() -> APIRouter:
    """``/playground`` (the page and its two static files), ``/playground/api/…`` (JSON) and
    ``/`` (a redirect to the page). Every route answers 404 outside development."""
    router = APIRouter(dependencies=[Depends(require_development)], include_in_schema=False)
    pages = _page_environment()

    @router.get("/")
    def home() -> RedirectResponse:
        return RedirectResponse("/playground", status_code=307)

    @router.get("/playground", response_class=HTMLResponse, name="playground")
    def page(request: Request, settings: SettingsDep) -> HTMLResponse:
        currencies = list(COMMON_CURRENCIES)
        if settings.default_currency not in currencies:
            currencies.insert(0, settings.default_currency)
        html = pages.get_template("playground.html.j2").render(
            version=__version__,
            api=request.url_for("playground_rooms").path.removesuffix("/rooms"),
            script=request.url_for("playground_static", name="playground.js").path,
            stylesheet=request.url_for("playground_static", name="playground.css").path,
            currencies=currencies,
            default_currency=settings.default_currency,
            default_timezone=settings.default_timezone,
            max_text=MAX_TEXT,
        )
        return HTMLResponse(html)

    @router.get("/playground/static/{name}", name="playground_static")
    def static(name: str) -> Response:
        media_type = STATIC.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="Not Found")
        return Response(
            (HERE / "static" / name).read_bytes(),
            media_type=media_type,
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/playground/api/rooms", name="playground_rooms")
    def list_rooms(engine: EngineDep) -> dict[str, Any]:
        with SqlUnitOfWork(engine, readonly=True) as uow:
            return {"rooms": [room.to_json() for room in _rooms(uow)]}

    @router.post("/playground/api/rooms", status_code=201)
    def create_room(body: NewRoom, engine: EngineDep, settings: SettingsDep) -> dict[str, Any]:
        exists = HTTPException(409, f"a group named {body.name!r} already exists; pick it instead")
        try:
            with SqlUnitOfWork(engine) as uow:
                taken = uow.ledger.group_by_name(body.name)
                if taken is not None:
                    raise HTTPException(
                        409, f"a group named {taken.name!r} already exists; pick it instead"
                    )
                try:
                    group = services.create_group(
                        uow, body.name, body.currency, body.timezone or settings.default_timezone
                    )
                    services.add_members(uow, group.id, body.members)
                except ChipinError as exc:
                    raise HTTPException(status_code=422, detail=str(exc)) from None
                now = _now()
                conversation = uow.conversations.get_or_create(
                    CHANNEL, uuid.uuid4().hex, now, title=group.name
                )
                uow.conversations.update(conversation.id, now, group_id=group.id)
                room = _require_room(uow, conversation.external_id)
                uow.commit()
        except IntegrityError:  # another request created the same name a moment ago
            raise exists from None
        return room.to_json()

    @router.post("/playground/api/rooms/{room_id}/members", status_code=201)
    def add_member(
        room_id: str, body: NewMember, engine: EngineDep, rosters: RostersDep
    ) -> dict[str, Any]:
        with SqlUnitOfWork(engine) as uow:
            room = _require_room(uow, room_id)
            if room.member(body.name) is not None:
                raise HTTPException(409, f"{body.name} is already in {room.group.name}")
            try:
                services.add_members(uow, room.group.id, [body.name])
            except ChipinError as exc:
                raise HTTPException(status_code=422, detail=str(exc)) from None
            room = _require_room(uow, room_id)
            uow.commit()
        rosters.forget(room_id)
        return room.to_json()

    def speaker_of(engine: Engine, room_id: str, name: str) -> tuple[Room, Member]:
        with SqlUnitOfWork(engine, readonly=True) as uow:
            room = _require_room(uow, room_id)
        member = room.member(name)
        if member is None:
            raise _not_member(name, room.group.name)
        return room, member

    async def speaker_name(request: Request, room_id: str, name: str) -> str:
        """The member's stored name: from the app's cached roster when it has them, else from
        the roster read again (in a thread), so a member added a moment ago is known."""
        rosters = app_rosters(request.app.state)
        found = rosters.name(room_id, name)
        if found is not None:
            return found
        roster = await asyncio.to_thread(rosters.load, get_engine(request), room_id)
        if roster is None:
            raise _no_room(room_id)
        found = roster.names.get(name_key(name))
        if found is None:
            raise _not_member(name, roster.group)
        return found

    @router.post("/playground/api/rooms/{room_id}/messages", status_code=202)
    async def say(room_id: str, body: Say, request: Request) -> dict[str, Any]:
        """Stored through the app's group-commit writer, as the webhooks store theirs (no
        thread-pool transaction per message); answered after the commit that holds it."""
        speaker = await speaker_name(request, room_id, body.speaker)
        message = InboundMessage(
            channel=CHANNEL,
            chat_id=room_id,
            sender_id=speaker,
            sender_name=speaker,
            text=body.text,
            sent_at=_now().isoformat(),
            message_id=f"m-{uuid.uuid4().hex}",
        )
        delivery = Delivery(_provider_id(body.client_id), message)
        raw = body.model_dump(by_alias=True)
        ids = await app_writer(request.app.state).store_ids([delivery], raw)
        if ids:
            get_wake(request)()  # on the event loop, where the runtime's wake-up lives
        return {"inbox_id": ids[0] if ids else None, "duplicate": not ids}

    @router.post("/playground/api/rooms/{room_id}/actions", status_code=202)
    def press(room_id: str, body: Press, engine: EngineDep, wake: WakeDep) -> dict[str, Any]:
        room, member = speaker_of(engine, room_id, body.speaker)
        with SqlUnitOfWork(engine, readonly=True) as uow:
            known = uow.connection.execute(
                select(t.outbox.c.id).where(
                    and_(
                        t.outbox.c.conversation_key == room.key,
                        t.outbox.c.kind == "send",
                        t.outbox.c.provider_message_id == body.message_id,
                    )
                )
            ).first()
        if known is None:
            raise HTTPException(422, f"there is no message {body.message_id!r} in this room")
        message = InboundMessage(
            channel=CHANNEL,
            chat_id=room_id,
            sender_id=member.name,
            sender_name=member.name,
            sent_at=_now().isoformat(),
            action=body.data,
            action_id=f"a-{uuid.uuid4().hex}",
            action_message_id=body.message_id,
        )
        return _accepted(engine, message, body.model_dump(by_alias=True), wake, body.client_id)

    @router.get("/playground/api/rooms/{room_id}/feed")
    def feed(room_id: str, engine: EngineDep, after: str | None = None) -> dict[str, Any]:
        with SqlUnitOfWork(engine, readonly=True) as uow:
            return build_feed(uow, _require_room(uow, room_id), after)

    return router


def _provider_id(client_id: str | None) -> str:
    """A retry with the same ``client_id`` is the same delivery."""
    return f"client-{client_id}" if client_id else uuid.uuid4().hex


def _accepted(
    engine: Engine,
    message: InboundMessage,
    raw: dict[str, Any],
    wake: Callable[[], None],
    client_id: str | None,
) -> dict[str, Any]:
    """Store the message; a retry with the same ``client_id`` is acknowledged, stored nowhere."""
    inbox_id = accept(engine, message, provider_id=_provider_id(client_id), raw=raw, wake=wake)
    return {"inbox_id": inbox_id, "duplicate": inbox_id is None}
