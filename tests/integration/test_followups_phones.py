"""Phone members and the follow-ups of the phone work, on SQLite and PostgreSQL:

- a budget set in chat when spending is already past 80% alerts the phone members too (on their
  own channel, opt-outs respected), and the speaker hears it after the answer;
- every WhatsApp payload carries its SMS twin (``sms_text``), so a failed WhatsApp budget alert —
  from the scheduler or from a turn — falls back to the SMS rendering;
- the member notice after each entry costs at most one query in a group without phones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event

from chipin.bot import member_notices
from chipin.bot.ingress import accept
from chipin.bot.messages import InboundMessage, Reply
from chipin.bot.render import render
from chipin.runtime import Runtime
from chipin.scheduler.jobs import Jobs
from chipin.settings import Settings
from chipin.store import tables as t
from chipin.store.phones import PhoneRepository
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork
from tests.fakes.twilio import FakeTwilio
from tests.integration.test_phone_alerts import (
    ANA,
    MIA,
    RAJ,
    dispatch,
    phone_group,
    recipients,
    rows,
    settings_for,
    spend,
)
from tests.integration.test_pipeline import Clock, make_room, say, worker_for

AT = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # a Monday; Lisbon is on UTC in December


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


def fixed(now: dt.datetime) -> Clock:
    clock = Clock()
    clock.now = now
    return clock


def run_turn(engine: Engine, settings: Settings, now: dt.datetime, message: InboundMessage) -> None:
    """One message through the app's worker and dispatcher, at ``now``."""

    async def run() -> None:
        runtime = Runtime.build(settings, engine, clock=fixed(now))
        accept(engine, message, provider_id=f"SM-{message.text[:20]}-{now.timestamp()}")
        await runtime.worker.drain()
        await runtime.dispatcher.drain()
        await runtime.close()

    asyncio.run(run())


def whatsapp(text: str, phone: str = ANA, name: str = "Ana") -> InboundMessage:
    return InboundMessage("whatsapp", phone, phone, name, text, is_group=False)


def without_budgets(engine: Engine, group_id: int) -> None:
    with SqlUnitOfWork(engine) as uow:
        ScheduleRepository(uow.connection).remove_budget(group_id, None, None)
        uow.commit()


def switch_raj_to_another_group(engine: Engine, now: dt.datetime) -> None:
    """Raj also belongs to Porto, now his active group: his SMS conversation is Porto's."""
    with SqlUnitOfWork(engine) as uow:
        porto = uow.ledger.add_group("Porto", "EUR", "Europe/Lisbon", "en_US", now)
        raj = uow.ledger.add_member(porto.id, "Raj", now)
        repo = PhoneRepository(uow.connection)
        repo.link(raj.id, RAJ, "Raj", now)
        repo.update_contact(RAJ, now, active_group_id=porto.id)
        conversation = uow.conversations.get_or_create("sms", RAJ, now)
        uow.conversations.update(conversation.id, now, group_id=porto.id)
        uow.commit()


# -- 2. a budget set past 80% reaches the phone members -------------------------------------------


def test_a_budget_set_past_80_percent_alerts_the_phone_members_at_once(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    without_budgets(engine, group_id)
    spend(engine, group_id, 28000, dt.date(2026, 12, 2))  # 280 on food this month
    switch_raj_to_another_group(engine, AT)
    run_turn(engine, settings, AT, whatsapp("set a monthly food budget of 300"))

    # Ana hears it in her turn, after the answer; Raj by SMS although Porto is his active
    # group; Mia (STOP on SMS, no WhatsApp) nothing
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 1, ("sms", RAJ): 1})
    [answer] = rows(engine, "budget_set")
    [to_ana] = [r for r in rows(engine, "budget_alert") if r.recipient == ANA]
    assert to_ana.inbox_id == answer.inbox_id and to_ana.id > answer.id
    [to_raj] = [r for r in rows(engine, "budget_alert") if r.recipient == RAJ]
    assert to_raj.dedupe_key.endswith(":member-" + str(member_id(engine, group_id, "Raj")))
    assert "93% of the monthly food budget spent" in to_raj.payload["text"]
    assert any("93% of the monthly food budget" in r["Body"] for r in fake.sent(to=RAJ))
    assert fake.sent(to=MIA) == []

    # the alert was claimed: the scheduler has nothing left to say
    Jobs(engine, settings=settings).run_due(AT + dt.timedelta(minutes=5))
    assert recipients(engine, "budget_alert") == Counter({("whatsapp", ANA): 1, ("sms", RAJ): 1})


def test_a_budget_set_in_a_chat_group_alerts_the_chat_and_the_phone_members(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT, chat="lisbon-room")
    without_budgets(engine, group_id)
    spend(engine, group_id, 28000, dt.date(2026, 12, 2))
    message = InboundMessage("web", "lisbon-room", "Ana", "Ana", "set a monthly food budget of 300")
    run_turn(engine, settings, AT, message)
    assert recipients(engine, "budget_alert") == Counter(
        {("web", "lisbon-room"): 1, ("sms", RAJ): 1}
    )
    [answer] = rows(engine, "budget_set")
    [in_room] = [r for r in rows(engine, "budget_alert") if r.channel == "web"]
    assert in_room.inbox_id == answer.inbox_id and in_room.id > answer.id  # said after it


def member_id(engine: Engine, group_id: int, name: str) -> int:
    with SqlUnitOfWork(engine) as uow:
        return next(m.id for m in uow.ledger.members(group_id) if m.name == name)


# -- 3. the SMS twin of every WhatsApp payload -----------------------------------------------------


def test_every_whatsapp_payload_carries_its_sms_rendering() -> None:
    reply = Reply(
        "budget_alert",
        {
            "label": "the monthly food budget",
            "spent": 28000,
            "amount": 30000,
            "currency": "EUR",
            "percent": 93,
            "period": "month",
            "threshold": 80,
        },
    )
    payload = render("whatsapp", reply)
    assert payload["sms_text"] == render("sms", reply)["text"]
    assert "sms_text" not in render("sms", reply) and "sms_text" not in render("web", reply)
    entry = {
        "id": 3,
        "kind": "expense",
        "description": "Taxi",
        "category": None,
        "amount": 1800,
        "currency": "EUR",
        "date": "2026-12-07",
        "payers": [{"name": "Ana", "amount": 1800}],
        "shares": [{"name": "Ana", "amount": 900}, {"name": "Raj", "amount": 900}],
        "date_note": None,
    }
    recorded = Reply("recorded", {"entry": entry})
    twin = render("whatsapp", recorded)["sms_text"]
    assert twin == render("sms", recorded)["text"] and twin.startswith("OK: Taxi 18.00 EUR")


def sms_copies(engine: Engine) -> list[Any]:
    with SqlUnitOfWork(engine) as uow:
        return [
            o for o in uow.outbox.for_conversation(f"sms:{ANA}") if o.payload.get("fallback_of")
        ]


def test_a_scheduled_budget_alert_that_fails_on_whatsapp_falls_back_to_the_sms_text(
    engine: Engine, fake: FakeTwilio
) -> None:
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    spend(engine, group_id, 8500, dt.date(2026, 12, 2))
    Jobs(engine, settings=settings).run_due(AT)
    [alert] = [r for r in rows(engine, "budget_alert") if r.recipient == ANA]
    assert alert.channel == "whatsapp" and alert.payload["sms_text"]
    fake.fail(63016, channel="whatsapp", to=f"whatsapp:{ANA}", times=5)
    dispatch(engine, settings, AT)
    dispatch(engine, settings, AT)  # the SMS copy
    copies = {c.payload["template"]: c for c in sms_copies(engine)}
    copy = copies["budget_alert"]
    assert copy.payload["sms_source"] == "payload"
    assert copy.payload["text"] == alert.payload["sms_text"]
    assert copy.payload["text"].startswith("⚠️ 85% of the monthly budget spent: 85.00 EUR")
    [body] = [r["Body"] for r in fake.sent(to=ANA, channel="sms") if "85%" in r["Body"]]
    assert "85% of the monthly budget spent: 85.00 EUR of 100.00 EUR" in body


def test_an_alert_said_in_a_whatsapp_turn_falls_back_to_the_sms_text_too(
    engine: Engine, fake: FakeTwilio
) -> None:
    """The alert joins the turn's replies after the phone bookkeeping ran: it still carries
    its SMS twin, because the payload does."""
    settings = settings_for(fake)
    phone_group(engine, AT)
    fake.fail(63016, channel="whatsapp", to=f"whatsapp:{ANA}", times=10)
    run_turn(engine, settings, AT, whatsapp("I paid 85 for dinner, split with everyone"))
    run_turn(engine, settings, AT, whatsapp("balances"))  # a second pass sends the copies
    [alert] = [r for r in rows(engine, "budget_alert") if r.channel == "whatsapp"]
    assert alert.inbox_id is not None and alert.payload["sms_text"]
    copy = next(c for c in sms_copies(engine) if c.payload["fallback_of"] == alert.id)
    assert copy.payload["sms_source"] == "payload"
    assert copy.payload["text"] == alert.payload["sms_text"]


# -- 4. the member notice after an entry is cheap without phones ----------------------------------


def test_the_entry_notice_costs_one_query_in_a_group_without_phones(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, clock = Settings(PARSER="rules"), Clock()
    make_room(engine, "Flat", ["Ana", "Raj", "Mia"], "flat")
    original = member_notices.entry_changed
    calls: list[tuple[str, int, int]] = []

    def counted(*args: Any, **kwargs: Any) -> int:
        uow = args[1]
        statements: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if conn is uow.connection:
                statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            queued = original(*args, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        calls.append((args[4], len(statements), queued))
        return queued

    monkeypatch.setattr(member_notices, "entry_changed", counted)
    worker = worker_for(engine, settings, clock)
    say(engine, "flat", "Ana", "I paid 60 for dinner, split with Raj and Mia", "n1")
    asyncio.run(worker.drain())
    say(engine, "flat", "Ana", "undo", "n2")
    asyncio.run(worker.drain())
    assert [change for change, _, _ in calls] == ["recorded", "undone"]
    for change, statements, queued in calls:
        assert statements <= 1, change
        assert queued == 0


def test_a_group_whose_only_phone_is_the_authors_stays_at_one_query(
    engine: Engine, fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ana writes on WhatsApp; Raj and Mia have no phones: nobody to tell, one query."""
    settings = settings_for(fake)
    group_id = phone_group(engine, AT)
    others = [member_id(engine, group_id, "Raj"), member_id(engine, group_id, "Mia")]
    with SqlUnitOfWork(engine) as uow:  # Raj and Mia without their phones
        mi = t.member_identities
        uow.connection.execute(mi.delete().where(mi.c.member_id.in_(others)))
        uow.commit()
    statements: list[int] = []
    original = member_notices.entry_changed

    def counted(*args: Any, **kwargs: Any) -> int:
        uow = args[1]
        seen: list[str] = []

        def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if conn is uow.connection:
                seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            return original(*args, **kwargs)
        finally:
            event.remove(engine, "before_cursor_execute", count)
            statements.append(len(seen))

    monkeypatch.setattr(member_notices, "entry_changed", counted)
    run_turn(engine, settings, AT, whatsapp("I paid 30 for taxi, split with everyone"))
    assert statements == [1]
    assert rows(engine, "entry_notice") == []
