"""Scheduled messages reach the members who have a phone, on SQLite and PostgreSQL: a group that
lives on WhatsApp and SMS has no group chat, so its budget alerts, digests and reminders go to
each member on their own channel (WhatsApp first, SMS otherwise, opt-outs respected), once,
however often the scheduler runs; through the Twilio adapter to a fake Twilio."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select

from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage
from chipin.channels.twilio.adapter import twilio_adapters
from chipin.core import services
from chipin.core.budgets import Budget
from chipin.core.commands import AddExpense
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
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

ANA, RAJ, MIA = "+351912345678", "+447700900123", "+351913000111"
WHATSAPP_FROM, SMS_FROM = "+14155238886", "+15005550006"
AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # a Monday


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def settings_for(fake: FakeTwilio, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "PARSER": "rules",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": WHATSAPP_FROM,
        "TWILIO_SMS_FROM": SMS_FROM,
        "TWILIO_API_BASE_URL": fake.base_url,
        "PUBLIC_BASE_URL": "https://chipin.example.org",
        "CHIPIN_SECRET_KEY": "phone-alerts-test-secret-key-0123456789",
    }
    return Settings(**(values | extra))


def phone_group(engine: Engine, now: dt.datetime, *, chat: str | None = None) -> int:
    """Lisbon trip as phone users make it: Ana on WhatsApp (she wrote an hour ago), Raj by SMS
    only, Mia who sent STOP by SMS and has no WhatsApp; each one's phone conversation bound to
    the group, as "create group" and "join" leave it. With ``chat``, the group also has a
    playground room (as a Telegram group would), and Ana has no phone."""
    group = services.create_group(SqlUnitOfWork(engine), "Lisbon trip", "EUR", "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, ["Ana", "Raj", "Mia"])
    with SqlUnitOfWork(engine) as uow:
        members = {m.name: m.id for m in uow.ledger.members(group.id)}
        repo = PhoneRepository(uow.connection)
        people = [("Raj", RAJ, "sms"), ("Mia", MIA, "sms")]
        if chat is None:
            people.insert(0, ("Ana", ANA, "whatsapp"))
        else:
            room = uow.conversations.get_or_create("web", chat, now)
            uow.conversations.update(room.id, now, group_id=group.id)
        for name, phone, channel in people:
            repo.link(members[name], phone, name, now)
            repo.ensure_contact(phone, now, name=name)
            repo.update_contact(phone, now, active_group_id=group.id, has_whatsapp=False)
            conversation = uow.conversations.get_or_create(channel, phone, now)
            uow.conversations.update(conversation.id, now, group_id=group.id)
        if chat is None:
            hour_ago = now - dt.timedelta(hours=1)
            repo.update_contact(ANA, now, has_whatsapp=True, whatsapp_inbound_at=hour_ago)
        repo.set_opt_out(MIA, "sms", now, now)
        ScheduleRepository(uow.connection).set_budget(
            Budget(group.id, 10000, "EUR", "month"), None, now
        )
        uow.commit()
    return group.id


def spend(engine: Engine, group_id: int, amount: int, day: dt.date, payer: str = "Ana") -> None:
    expense = Expense(
        "EUR", amount, ((payer, amount),), EqualSplit(("Ana", "Raj", "Mia")), "food", day, "food"
    )
    services.add_expense(AddExpense(group_id, expense), SqlUnitOfWork(engine))


def rows(engine: Engine, template: str) -> list[Any]:
    with engine.connect() as conn:
        found = conn.execute(select(t.outbox).order_by(t.outbox.c.id))
        return [r for r in found if r.payload.get("template") == template]


def recipients(engine: Engine, template: str) -> Counter[tuple[str, str]]:
    return Counter((r.channel, r.recipient) for r in rows(engine, template))


def dispatch(engine: Engine, settings: Settings, now: dt.datetime) -> None:
    dispatcher = Dispatcher(engine, twilio_adapters(settings), clock=lambda: now)
    asyncio.run(dispatcher.drain())


def test_a_phone_only_group_hears_its_budget_alert_once_on_each_members_channel(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    spend(engine, group_id, 8500, dt.date(2026, 12, 2))
    jobs = Jobs(engine, settings=settings)
    # the 80% alert and the pace warning, each to Ana and to Raj
    assert jobs.run_due(AT).budget_alerts == 4
    assert jobs.run_due(AT).budget_alerts == 0  # a rerun sends nothing twice
    jobs.run_due(AT + dt.timedelta(hours=6))
    once_each = Counter({("whatsapp", ANA): 1, ("sms", RAJ): 1})
    assert recipients(engine, "budget_alert") == once_each
    assert recipients(engine, "budget_projection") == once_each
    dispatch(engine, settings, AT)
    to_ana, to_raj = fake.sent(to=ANA), fake.sent(to=RAJ)
    assert [r.channel for r in to_ana] == ["whatsapp", "whatsapp"]
    assert [r.channel for r in to_raj] == ["sms", "sms"]
    for sent in (to_ana, to_raj):
        assert sum("85% of the monthly budget spent" in r["Body"] for r in sent) == 1
        assert sum("At this pace you will exceed" in r["Body"] for r in sent) == 1
    assert fake.sent(to=MIA) == []  # STOP on SMS, no WhatsApp: nothing


def test_a_whatsapp_member_outside_the_window_gets_the_alert_by_sms(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT - dt.timedelta(days=2))  # Ana wrote two days ago
    spend(engine, group_id, 10500, dt.date(2026, 12, 2))
    Jobs(engine, settings=settings).run_due(AT)
    assert recipients(engine, "budget_alert") == Counter({("sms", ANA): 2, ("sms", RAJ): 2})


def test_an_opted_out_member_gets_nothing_and_starting_again_brings_the_next_alert(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    with SqlUnitOfWork(engine) as uow:
        PhoneRepository(uow.connection).set_opt_out(RAJ, "sms", AT, AT)
        uow.commit()
    spend(engine, group_id, 8500, dt.date(2026, 12, 2))
    Jobs(engine, settings=settings).run_due(AT)
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 1})
    with SqlUnitOfWork(engine) as uow:
        PhoneRepository(uow.connection).set_opt_out(RAJ, "sms", None, AT)
        uow.commit()
    spend(engine, group_id, 2000, dt.date(2026, 12, 3))
    Jobs(engine, settings=settings).run_due(AT + dt.timedelta(minutes=5))
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 2, ("sms", RAJ): 1})


def test_a_chat_group_tells_its_chat_and_its_phone_members(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT, chat="lisbon-room")
    spend(engine, group_id, 8500, dt.date(2026, 12, 2))
    Jobs(engine, settings=settings).run_due(AT)
    Jobs(engine, settings=settings).run_due(AT)
    assert recipients(engine, "budget_alert") == Counter(
        {("web", "lisbon-room"): 1, ("sms", RAJ): 1}
    )


def test_a_reminder_reaches_only_the_phone_of_the_person_who_owes(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    with SqlUnitOfWork(engine) as uow:
        ScheduleRepository(uow.connection).set_reminders(group_id, 5, 7, AT)
        uow.commit()
    # Raj paid 30 for everyone on the 20th: Ana and Mia owe him 10 each since then
    spend(engine, group_id, 3000, dt.date(2026, 11, 20), payer="Raj")
    jobs = Jobs(engine, settings=settings)
    assert jobs.run_due(AT).reminders == 1  # Ana's; Mia's reaches nobody (STOP, no WhatsApp)
    jobs.run_due(AT + dt.timedelta(hours=1))
    assert recipients(engine, "reminder") == Counter({("whatsapp", ANA): 1})
    [reminder] = rows(engine, "reminder")
    assert reminder.payload["text"].startswith("👋 Ana, you've owed 10.00 EUR")


def test_a_digest_reaches_phone_members_with_the_chart_on_whatsapp_only(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    with SqlUnitOfWork(engine) as uow:
        ScheduleRepository(uow.connection).set_digest(group_id, "week", True, AT)
        uow.commit()
    spend(engine, group_id, 4000, dt.date(2026, 12, 1))
    Jobs(engine, settings=settings).run_due(AT)
    Jobs(engine, settings=settings).run_due(AT + dt.timedelta(hours=1))
    digests = rows(engine, "digest")
    assert Counter((r.channel, r.recipient) for r in digests) == Counter(
        {("whatsapp", ANA): 1, ("sms", RAJ): 1}
    )
    by_channel = {r.channel: r.payload for r in digests}
    [url] = by_channel["whatsapp"]["media_urls"]
    assert url.startswith("https://chipin.example.org/media/charts/")
    assert "media_urls" not in by_channel["sms"] and "chart" not in by_channel["sms"]
    assert "40.00 EUR" in by_channel["sms"]["text"]


def test_an_alert_from_a_whatsapp_message_reaches_the_speaker_once_and_the_others_on_their_phones(
    engine: Engine, fake: FakeTwilio
) -> None:
    """The 80% alert right after the expense: Ana hears it in her reply, Raj by SMS; the
    scheduler then has nothing left to send."""
    settings = settings_for(fake)
    now = dt.datetime.now(dt.UTC)
    phone_group(engine, now)

    async def run() -> None:
        runtime = Runtime.build(settings, engine)
        accept(
            engine,
            InboundMessage(
                "whatsapp",
                ANA,
                ANA,
                "Ana",
                "I paid 85 for dinner, split with everyone",
                is_group=False,
            ),
            provider_id="SM-ana-1",
        )
        await runtime.worker.drain()
        await runtime.dispatcher.drain()
        await runtime.close()

    asyncio.run(run())
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 1, ("sms", RAJ): 1})
    [from_turn] = [r for r in rows(engine, "budget_alert") if r.recipient == ANA]
    assert from_turn.inbox_id is not None  # said after her own answer, in the same turn
    Jobs(engine, settings=settings).run_due(now + dt.timedelta(minutes=1))
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 1, ("sms", RAJ): 1})
    assert any("85% of the monthly budget" in r["Body"] for r in fake.sent(to=RAJ, channel="sms"))
    assert fake.sent(to=MIA) == []
