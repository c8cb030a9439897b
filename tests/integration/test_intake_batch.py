"""Group commit of webhook deliveries (``chipin.bot.intake``, ``InboxQueue.enqueue_many``) on
SQLite and PostgreSQL: repeats stored once within a batch and across batches, one bad delivery
never fails the others, a bad signature stores nothing, and a 2xx is only ever sent after the
commit that holds the delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from chipin.app import create_app
from chipin.bot.intake import InboxWriter
from chipin.bot.messages import InboundMessage
from chipin.settings import Settings
from chipin.store import tables as t
from chipin.store.inbox import InboxQueue
from chipin.store.uow import SqlUnitOfWork
from chipin.webhooks.telegram import telegram_router
from chipin.webhooks.twilio import EMPTY_TWIML, twilio_router

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
SECRET = "intake-test-secret-0123456789"
TOKEN = "7000000001:AAH-intake-test"
AUTH_TOKEN = "intake-test-twilio-auth-token"
PUBLIC = "https://chipin.example.org"


@dataclass(frozen=True, slots=True)
class Item:
    provider_id: str
    message: InboundMessage


def item(channel: str, provider_id: str, chat: str = "c1", **extra: Any) -> Item:
    message = InboundMessage(
        channel=channel,
        chat_id=chat,
        sender_id="u1",
        sender_name="Ana",
        text=f"I paid {provider_id}",
        is_group=channel == "telegram",
        message_id=provider_id,
        extra=extra,
    )
    return Item(provider_id, message)


def row(channel: str, provider_id: str, key: str = "k1", raw: Any = None) -> dict[str, Any]:
    return {
        "channel": channel,
        "provider_id": provider_id,
        "conversation_key": key,
        "kind": "message",
        "payload": {"text": provider_id, "ü": "non-ASCII ✓"},
        "raw": raw,
    }


def inbox(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.inbox).order_by(t.inbox.c.id)))


def leases(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        query = select(t.conversation_leases.c.conversation_key)
        return sorted(conn.execute(query).scalars())


# -- enqueue_many --------------------------------------------------------------------------------


def test_enqueue_many_stores_each_provider_id_once_within_and_across_batches(
    engine: Engine,
) -> None:
    with SqlUnitOfWork(engine) as uow:
        first = uow.inbox.enqueue_many(
            [
                row("telegram", "1", "telegram:a", raw={"update_id": 1}),
                row("telegram", "2", "telegram:a"),
                row("telegram", "1", "telegram:a"),  # a repeat within the batch
                row("whatsapp", "1", "whatsapp:+351", raw={"Body": "x"}),  # other channel
            ],
            NOW,
        )
        uow.commit()
    assert set(first) == {("telegram", "1"), ("telegram", "2"), ("whatsapp", "1")}
    with SqlUnitOfWork(engine) as uow:
        second = uow.inbox.enqueue_many(
            [row("telegram", "2", "telegram:a"), row("telegram", "3", "telegram:b")], NOW
        )
        uow.commit()
    assert set(second) == {("telegram", "3")}
    rows = inbox(engine)
    assert [(r.channel, r.provider_id) for r in rows] == sorted(
        [("telegram", "1"), ("telegram", "2"), ("whatsapp", "1"), ("telegram", "3")],
        key=lambda k: {**first, **second}[k],
    )
    assert {r.id for r in rows} == set(first.values()) | set(second.values())
    stored = {(r.channel, r.provider_id): r for r in rows}
    assert stored[("telegram", "1")].raw == {"update_id": 1}  # the first of the repeats
    assert stored[("telegram", "2")].raw is None
    assert stored[("whatsapp", "1")].payload == {"text": "1", "ü": "non-ASCII ✓"}
    assert {r.status for r in rows} == {"pending"}
    assert {r.received_at for r in rows} == {NOW}
    assert leases(engine) == ["telegram:a", "telegram:b", "whatsapp:+351"]


def test_enqueue_many_of_nothing_and_of_many_rows(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        assert uow.inbox.enqueue_many([], NOW) == {}
        many = [row("telegram", str(n), f"telegram:{n % 7}") for n in range(450)]
        assert len(uow.inbox.enqueue_many(many, NOW)) == 450  # over several SQLite chunks
        uow.commit()
    assert len(inbox(engine)) == 450
    assert len(leases(engine)) == 7


def test_enqueue_many_agrees_with_enqueue(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        one = uow.inbox.enqueue(now=NOW, **row("sms", "SM1", "sms:+1", raw={"a": [1, 2]}))
        [(key, many)] = uow.inbox.enqueue_many(
            [row("sms", "SM2", "sms:+1", raw={"a": [1, 2]})], NOW
        ).items()
        uow.commit()
    assert key == ("sms", "SM2")
    a, b = inbox(engine)
    assert (a.id, b.id) == (one, many)
    for column in ("channel", "conversation_key", "kind", "raw", "status", "attempts"):
        assert getattr(a, column) == getattr(b, column), column
    assert (a.payload, b.payload) == (row("sms", "SM1")["payload"], row("sms", "SM2")["payload"])
    assert a.received_at == b.received_at == NOW


# -- the writer ----------------------------------------------------------------------------------


def test_the_writer_stores_repeats_once_and_counts_them_not_new(engine: Engine) -> None:
    async def run() -> list[int]:
        writer = InboxWriter(engine, idle_seconds=0.1)
        jobs = [writer.store([item("telegram", str(n % 25))], {"n": n}) for n in range(60)]
        jobs += [writer.store([item("whatsapp", f"SM{n % 5}")], None) for n in range(10)]
        first = await asyncio.gather(*jobs)
        again = await writer.store([item("telegram", "3"), item("telegram", "99")], {"n": 99})
        return [*first, again]

    results = asyncio.run(run())
    assert sorted(results[:60]) == [0] * 35 + [1] * 25
    assert sorted(results[60:70]) == [0] * 5 + [1] * 5
    assert results[70] == 1  # "3" was stored before, "99" is new
    assert len(inbox(engine)) == 25 + 5 + 1


def test_one_delivery_that_cannot_be_stored_fails_alone(engine: Engine) -> None:
    bad = item("telegram", "bad", extra={"x": {1, 2}})  # a set is not JSON

    async def run() -> list[int | BaseException]:
        writer = InboxWriter(engine, idle_seconds=0.1)
        jobs = [writer.store([item("telegram", str(n))], {"n": n}) for n in range(20)]
        jobs.insert(7, writer.store([bad], {"n": "bad"}))
        return await asyncio.gather(*jobs, return_exceptions=True)

    results = asyncio.run(run())
    assert isinstance(results.pop(7), Exception)
    assert results == [1] * 20
    assert sorted(r.provider_id for r in inbox(engine)) == sorted(str(n) for n in range(20))


def test_two_writers_on_one_database_store_each_delivery_once(engine: Engine) -> None:
    """Two processes' writers (`chipin serve --workers 2`) receiving redeliveries of the same
    updates at once: each stored once, no deadlock, every request answered."""

    async def run() -> list[int]:
        a = InboxWriter(engine, idle_seconds=0.1)
        b = InboxWriter(engine, idle_seconds=0.1)
        jobs = []
        for n in range(200):
            ids = [str(n), str(199 - n)]  # opposite orders on the two writers
            jobs.append(a.store([item("telegram", ids[0], chat=f"c{n % 9}")], None))
            jobs.append(b.store([item("telegram", ids[1], chat=f"c{(199 - n) % 9}")], None))
        return await asyncio.wait_for(asyncio.gather(*jobs), timeout=60)

    results = asyncio.run(run())
    assert sum(results) == 200
    assert len(inbox(engine)) == 200
    assert len(leases(engine)) == 9


def test_the_writer_survives_the_engine_being_disposed(engine: Engine) -> None:
    async def run() -> tuple[int, int]:
        writer = InboxWriter(engine, idle_seconds=5)
        first = await writer.store([item("telegram", "1")], None)
        engine.dispose()  # its connection (PostgreSQL: kept by the writer) belongs to a dead pool
        second = await writer.store([item("telegram", "2")], None)
        return first, second

    assert asyncio.run(run()) == (1, 1)
    assert len(inbox(engine)) == 2


# -- through the webhooks ------------------------------------------------------------------------


def settings() -> Settings:
    values: dict[str, Any] = {
        "PARSER": "rules",
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        "TWILIO_SMS_FROM": "+15005550006",
        "PUBLIC_BASE_URL": PUBLIC,
    }
    return Settings(**values)


@asynccontextmanager
async def client(engine: Engine) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings(), engine=engine, background=False)
    if not any(getattr(r, "path", "") == "/webhooks/telegram" for r in app.routes):
        app.include_router(telegram_router())
    if not any(getattr(r, "path", "").startswith("/webhooks/twilio") for r in app.routes):
        app.include_router(twilio_router())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield app, http


def update(n: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / "telegram" / "message__text_in_group.json").read_text()
    )
    data["update_id"] = 700000000 + n
    data["message"]["message_id"] = 5000 + n
    return data


def whatsapp(n: int, token: str = AUTH_TOKEN) -> tuple[bytes, dict[str, str]]:
    form: dict[str, str] = json.loads((FIXTURES / "twilio" / "whatsapp__text.json").read_text())
    sid = f"SM{n:032x}"
    form.update(MessageSid=sid, SmsSid=sid, SmsMessageSid=sid)
    path = "/webhooks/twilio/whatsapp"
    signature = RequestValidator(token).compute_signature(f"{PUBLIC}{path}", form)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": str(signature),
    }
    return urlencode(form).encode(), headers


def test_concurrent_deliveries_of_both_channels_are_acknowledged_once_stored(
    engine: Engine,
) -> None:
    """Telegram and WhatsApp deliveries arriving together (redeliveries and forged signatures
    among them): every genuine one is answered 200 and stored once, every forged one 403 and
    stored nowhere, and each 200 is seen by another connection (committed) when it arrives."""
    committed_on_answer: list[bool] = []

    def stored(channel: str, provider_id: str) -> bool:
        with engine.connect() as conn:  # another connection: sees only committed rows
            query = select(func.count()).where(
                t.inbox.c.channel == channel, t.inbox.c.provider_id == provider_id
            )
            return conn.execute(select(func.count()).select_from(query.subquery())).scalar() == 1

    async def run() -> list[int]:
        async with client(engine) as (_, http):

            async def telegram(n: int) -> int:
                answer = await http.post(
                    "/webhooks/telegram",
                    json=update(n),
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                if answer.status_code == 200:
                    committed_on_answer.append(stored("telegram", str(700000000 + n)))
                return answer.status_code

            async def twilio(n: int, token: str = AUTH_TOKEN) -> int:
                body, headers = whatsapp(n, token)
                answer = await http.post("/webhooks/twilio/whatsapp", content=body, headers=headers)
                if answer.status_code == 200:
                    assert answer.content == EMPTY_TWIML
                    committed_on_answer.append(stored("whatsapp", f"SM{n:032x}"))
                return answer.status_code

            calls = [telegram(n % 30) for n in range(40)]
            calls += [twilio(n % 15) for n in range(20)]
            calls += [twilio(100 + n, token="forged") for n in range(5)]
            return await asyncio.gather(*calls)

    codes = asyncio.run(run())
    assert codes == [200] * 60 + [403] * 5
    assert all(committed_on_answer) and len(committed_on_answer) == 60
    rows = inbox(engine)
    assert sorted((r.channel, r.provider_id) for r in rows) == sorted(
        [("telegram", str(700000000 + n)) for n in range(30)]
        + [("whatsapp", f"SM{n:032x}") for n in range(15)]
    )


def test_a_delivery_that_cannot_be_stored_is_not_acknowledged(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database refusing the write: 500 (Telegram and Twilio deliver again), nothing kept,
    and the next delivery is stored as usual."""
    real: Callable[..., Any] = InboxQueue.enqueue_many
    failing = {"on": True}

    def enqueue_many(self: InboxQueue, rows: Any, now: dt.datetime) -> Any:
        if failing["on"]:
            raise RuntimeError("the database is away")
        return real(self, rows, now)

    monkeypatch.setattr(InboxQueue, "enqueue_many", enqueue_many)

    async def run() -> tuple[int, int, int]:
        async with client(engine) as (_, http):
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            refused = await http.post("/webhooks/telegram", json=update(1), headers=headers)
            body, signed = whatsapp(1)
            refused_tw = await http.post("/webhooks/twilio/whatsapp", content=body, headers=signed)
            failing["on"] = False
            accepted = await http.post("/webhooks/telegram", json=update(1), headers=headers)
            return refused.status_code, refused_tw.status_code, accepted.status_code

    assert asyncio.run(run()) == (500, 500, 200)
    assert [(r.channel, r.provider_id) for r in inbox(engine)] == [("telegram", "700000001")]


def test_the_normalised_message_is_stored_as_the_single_path_stores_it(engine: Engine) -> None:
    message = replace(item("sms", "SM9", chat="+15551234567").message, is_group=False)

    async def run() -> int:
        return await InboxWriter(engine, idle_seconds=0.1).store([Item("SM9", message)], None)

    assert asyncio.run(run()) == 1
    [stored] = inbox(engine)
    assert InboundMessage.from_json(stored.payload) == message
