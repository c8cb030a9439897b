"""Spending charts end to end on SQLite and PostgreSQL: the signed media route, a digest that
reaches Telegram as an uploaded photo (fake Bot API) and WhatsApp as a media URL (fake Twilio)
that the app then serves, a chat's spending report with its chart, and SMS with the text only."""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine, select

from chipin.app import create_app
from chipin.bot.charts import ChartLink, ChartLinks
from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage
from chipin.channels import media
from chipin.channels.telegram.adapter import TelegramAdapter
from chipin.channels.telegram.limits import RateLimits
from chipin.channels.twilio import adapter as twilio_adapter
from chipin.channels.twilio.adapter import twilio_adapters
from chipin.core import services
from chipin.core.commands import AddExpense, DeleteEntry
from chipin.core.entries import Expense
from chipin.core.splits import EqualSplit
from chipin.notify.dispatcher import Dispatcher
from chipin.runtime import Runtime
from chipin.scheduler.jobs import Jobs
from chipin.settings import Settings
from chipin.store import tables as t
from chipin.store.phones import PhoneRepository
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork
from tests.fakes.telegram import TOKEN, FakeTelegram, Upload
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

PUBLIC = "https://chipin.example.org"
SECRET = "charts-test-secret-key-0123456789abcdef"
GROUP_CHAT = "-1001234567890"
ANA, RAJ = "+351912345678", "+447700900123"
AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # Monday: last week is 30 Nov – 6 Dec
UNLIMITED = RateLimits(per_chat=None, per_group=None, overall=None)
MEDIA_READY = "media_urls" in inspect.getsource(twilio_adapter)
"""The Twilio adapter sends a payload's ``media_urls`` as MediaUrl (its owner's change)."""


def settings(**extra: Any) -> Settings:
    values: dict[str, Any] = {
        "PARSER": "rules",
        "DEFAULT_CURRENCY": "EUR",
        "PUBLIC_BASE_URL": PUBLIC,
        "CHIPIN_SECRET_KEY": SECRET,
    }
    return Settings(**(values | extra))


def app_at(engine: Engine, config: Settings, now: dt.datetime) -> FastAPI:
    app = create_app(config, engine=engine, background=False)
    app.dependency_overrides[media.media_clock] = lambda: lambda: now
    return app


def lisbon(engine: Engine) -> int:
    group = services.create_group(SqlUnitOfWork(engine), "Lisbon trip", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, ["Ana", "Raj"])
    return group.id


def spend(engine: Engine, group_id: int, amount: int, day: dt.date, category: str) -> int:
    expense = Expense(
        "EUR", amount, (("Ana", amount),), EqualSplit(("Ana", "Raj")), category, day, category
    )
    return services.add_expense(AddExpense(group_id, expense), SqlUnitOfWork(engine)).entry_id


def last_week(engine: Engine, group_id: int) -> None:
    spend(engine, group_id, 4200, dt.date(2026, 11, 30), "food")
    spend(engine, group_id, 12000, dt.date(2026, 12, 2), "hotel")
    spend(engine, group_id, 1850, dt.date(2026, 12, 5), "taxi")
    with SqlUnitOfWork(engine) as uow:
        ScheduleRepository(uow.connection).set_digest(group_id, "week", True, AT)
        uow.commit()


def assert_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size[0] == 800 and image.size[1] >= 400
    return image


def outbox(engine: Engine, template: str) -> list[Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(t.outbox).order_by(t.outbox.c.id))
        return [r for r in rows if r.payload.get("template") == template]


# -- the media route -----------------------------------------------------------------------------


def token_for(group_id: int, expires: dt.datetime, key: str = SECRET) -> str:
    link = ChartLink(group_id, dt.date(2026, 11, 30), dt.date(2026, 12, 7), "last week", expires)
    return ChartLinks(key.encode(), PUBLIC, dt.timedelta(days=7)).sign(link)


def test_a_signed_link_serves_the_png_drawn_from_the_ledger(engine: Engine) -> None:
    group_id = lisbon(engine)
    last_week(engine, group_id)
    token = token_for(group_id, AT + dt.timedelta(days=7))
    with TestClient(app_at(engine, settings(), AT)) as client:
        answer = client.get(f"/media/charts/{token}.png")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert "private" in answer.headers["cache-control"]
        assert_png(answer.content)
        assert client.get(f"/media/charts/{token}.png").content == answer.content  # stable
        assert client.head(f"/media/charts/{token}.png").status_code == 200


def test_forged_expired_or_unknown_links_are_refused_never_a_500(engine: Engine) -> None:
    group_id = lisbon(engine)
    last_week(engine, group_id)
    good = token_for(group_id, AT + dt.timedelta(days=7))
    body, mac = good.split(".")
    other_group = token_for(group_id + 1, AT + dt.timedelta(days=7)).split(".")[0]
    with TestClient(app_at(engine, settings(), AT), raise_server_exceptions=False) as client:

        def status(token: str) -> int:
            return client.get(f"/media/charts/{token}.png").status_code

        assert status(f"{other_group}.{mac}") == 403  # someone else's group under our signature
        assert status(token_for(group_id, AT + dt.timedelta(days=7), key="x" * 40)) == 403
        assert status(f"{body}.{mac[::-1]}") == 403
        assert status("not-a-token") == 403
        assert status("%00.%ff") == 403
        assert status(token_for(group_id, AT - dt.timedelta(seconds=1))) == 404  # expired
        assert status(token_for(group_id + 1, AT + dt.timedelta(days=7))) == 404  # no group
        assert client.get("/media/charts/.png").status_code == 404
    with TestClient(app_at(engine, settings(CHIPIN_SECRET_KEY=None), AT)) as client:
        assert client.get(f"/media/charts/{good}.png").status_code == 404  # no key: no links


def test_a_period_with_its_spending_undone_has_no_chart_any_more(engine: Engine) -> None:
    group_id = lisbon(engine)
    entry = spend(engine, group_id, 4200, dt.date(2026, 12, 1), "food")
    token = token_for(group_id, AT + dt.timedelta(days=7))
    with TestClient(app_at(engine, settings(), AT)) as client:
        assert client.get(f"/media/charts/{token}.png").status_code == 200
        services.delete_entry(DeleteEntry(group_id, entry), SqlUnitOfWork(engine))
        assert client.get(f"/media/charts/{token}.png").status_code == 404


# -- digests -------------------------------------------------------------------------------------


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def test_a_digest_on_telegram_is_a_photo_of_the_chart_with_the_text_as_caption(
    engine: Engine, telegram: FakeTelegram
) -> None:
    group_id = lisbon(engine)
    last_week(engine, group_id)
    with SqlUnitOfWork(engine) as uow:
        chat = uow.conversations.get_or_create("telegram", GROUP_CHAT, AT)
        uow.conversations.update(chat.id, AT, group_id=group_id)
        uow.commit()
    # no PUBLIC_BASE_URL: polling deployments upload the picture, no link needed
    jobs = Jobs(engine, settings=settings(PUBLIC_BASE_URL=None))
    jobs.run_due(AT)
    jobs.run_due(AT + dt.timedelta(hours=1))
    [row] = outbox(engine, "digest")  # once, however often the scheduler runs
    assert row.payload["chart"]["categories"] == [["hotel", 12000], ["food", 4200], ["taxi", 1850]]
    assert "media_urls" not in row.payload

    async def send() -> None:
        adapter = TelegramAdapter(TOKEN, telegram.base_url, limits=UNLIMITED, timeout=5)
        await Dispatcher(engine, {"telegram": adapter}, clock=lambda: AT).drain()
        await adapter.aclose()

    asyncio.run(send())
    [photo] = telegram.photos()
    assert telegram.sent() == []
    assert photo.chat_id == GROUP_CHAT
    assert photo["caption"].startswith("📊 Lisbon trip spent last week (2026-11-30 – 2026-12-06)")
    assert "180.50 EUR" in photo["caption"]
    upload = photo["photo"]
    assert isinstance(upload, Upload) and upload.filename == "chart.png"
    assert_png(upload.data)
    with engine.connect() as conn:
        status = conn.execute(select(t.outbox.c.status).where(t.outbox.c.id == row.id)).scalar()
    assert status == "sent"


def phone_members(engine: Engine, group_id: int, now: dt.datetime) -> None:
    """Ana is on WhatsApp (wrote an hour ago), Raj has SMS only."""
    with SqlUnitOfWork(engine) as uow:
        members = {m.name: m.id for m in uow.ledger.members(group_id)}
        repo = PhoneRepository(uow.connection)
        for name, phone in (("Ana", ANA), ("Raj", RAJ)):
            repo.link(members[name], phone, name, now)
            repo.ensure_contact(phone, now, name=name)
            repo.update_contact(phone, now, active_group_id=group_id, has_whatsapp=False)
        hour_ago = now - dt.timedelta(hours=1)
        repo.update_contact(ANA, now, has_whatsapp=True, whatsapp_inbound_at=hour_ago)
        uow.commit()


def twilio_settings(fake: FakeTwilio) -> Settings:
    return settings(
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_WHATSAPP_FROM="+14155238886",
        TWILIO_SMS_FROM="+15005550006",
        TWILIO_API_BASE_URL=fake.base_url,
    )


def test_a_digest_on_whatsapp_carries_a_link_the_app_serves_and_sms_gets_the_text(
    engine: Engine, twilio: FakeTwilio
) -> None:
    config = twilio_settings(twilio)
    group_id = lisbon(engine)
    last_week(engine, group_id)
    phone_members(engine, group_id, AT)
    Jobs(engine, settings=config).run_due(AT)
    by_channel = {r.channel: r.payload for r in outbox(engine, "digest")}
    assert set(by_channel) == {"whatsapp", "sms"}
    [url] = by_channel["whatsapp"]["media_urls"]
    assert url.startswith(f"{PUBLIC}/media/charts/") and url.endswith(".png")
    assert "media_urls" not in by_channel["sms"] and "chart" not in by_channel["sms"]
    asyncio.run(Dispatcher(engine, twilio_adapters(config), clock=lambda: AT).drain())
    [to_raj] = twilio.sent(to=RAJ)
    assert to_raj.channel == "sms" and "MediaUrl" not in to_raj.params
    assert "180.50 EUR" in to_raj["Body"]
    [to_ana] = twilio.sent(to=ANA)
    assert to_ana.channel == "whatsapp" and "180.50 EUR" in to_ana["Body"]
    # what Twilio would fetch: the app serves it for a week, then no more
    with TestClient(app_at(engine, config, AT + dt.timedelta(days=6))) as client:
        answer = client.get(url.removeprefix(PUBLIC))
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        assert_png(answer.content)
    with TestClient(app_at(engine, config, AT + dt.timedelta(days=7, seconds=1))) as client:
        assert client.get(url.removeprefix(PUBLIC)).status_code == 404
    if MEDIA_READY:
        assert to_ana["MediaUrl"] == url


@pytest.mark.xfail(not MEDIA_READY, reason="the Twilio adapter's media_urls change", strict=True)
def test_the_whatsapp_message_names_the_chart_as_its_media(
    engine: Engine, twilio: FakeTwilio
) -> None:
    config = twilio_settings(twilio)
    group_id = lisbon(engine)
    last_week(engine, group_id)
    phone_members(engine, group_id, AT)
    Jobs(engine, settings=config).run_due(AT)
    asyncio.run(Dispatcher(engine, twilio_adapters(config), clock=lambda: AT).drain())
    [to_ana] = twilio.sent(to=ANA)
    assert to_ana["MediaUrl"].startswith(f"{PUBLIC}/media/charts/")


def test_a_quiet_week_has_no_digest_and_no_chart(engine: Engine, telegram: FakeTelegram) -> None:
    group_id = lisbon(engine)
    spend(engine, group_id, 4200, dt.date(2026, 11, 20), "food")  # the week before last
    with SqlUnitOfWork(engine) as uow:
        ScheduleRepository(uow.connection).set_digest(group_id, "week", True, AT)
        chat = uow.conversations.get_or_create("telegram", GROUP_CHAT, AT)
        uow.conversations.update(chat.id, AT, group_id=group_id)
        uow.commit()
    Jobs(engine, settings=settings()).run_due(AT)
    assert outbox(engine, "digest") == []


# -- the spending report in a chat ---------------------------------------------------------------


def test_asking_what_was_spent_in_a_telegram_group_answers_with_the_chart(
    engine: Engine, telegram: FakeTelegram
) -> None:
    config = settings(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE_URL=telegram.base_url)
    group = services.create_group(SqlUnitOfWork(engine), "Lisbon trip", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, ["Raj"])
    now = dt.datetime.now(dt.UTC)
    with SqlUnitOfWork(engine) as uow:
        chat = uow.conversations.get_or_create("telegram", GROUP_CHAT, now)
        uow.conversations.update(chat.id, now, group_id=group.id)
        uow.commit()

    def said(n: int, text: str) -> InboundMessage:
        return InboundMessage(
            "telegram", GROUP_CHAT, "111", "Ana", text, chat_title="Lisbon trip", message_id=str(n)
        )

    async def run() -> None:
        adapter = TelegramAdapter(TOKEN, telegram.base_url, limits=UNLIMITED, timeout=5)
        runtime = Runtime.build(config, engine, adapters={"telegram": adapter})
        for n, text in enumerate(
            [
                "I paid 60 for dinner, split with Raj",
                "/spending",
                "how much did we spend on food this month?",
            ],
            1,
        ):
            accept(engine, said(n, text), provider_id=f"u{n}")
            await runtime.worker.drain()
            await runtime.dispatcher.drain()
        await runtime.close()

    asyncio.run(run())
    [photo] = telegram.photos()  # the whole group's report; one on a category is text only
    assert photo["caption"].startswith("<b>Spending in Lisbon trip this month:</b>")
    assert photo["parse_mode"] == "HTML"
    assert photo["reply_parameters"]["message_id"] == 2
    assert_png(photo["photo"].data)
    on_food = [m["text"] for m in telegram.sent() if "on food" in m["text"]]
    assert len(on_food) == 1 and on_food[0].startswith("<b>Spending in Lisbon trip this month on")
