"""A reply's buttons on WhatsApp and SMS, end to end on SQLite and PostgreSQL: the text ends with
short answers ("Reply 1 to confirm, 2 to drop it.", "Reply UNDO to undo."), and the person's
answer — a number, a word or a quick-reply button — presses the button, once, for its author
only. Real-shaped webhooks (``tests/fixtures/twilio/*__choice_*``, ``whatsapp__button``), signed
as Twilio signs them; the fake Twilio REST API records what went out."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from chipin.store import tables as t
from chipin.store.phones import PhoneRepository
from chipin.store.uow import SqlUnitOfWork
from tests.fakes.twilio import FakeTwilio
from tests.integration.test_twilio import ANA, RAJ, Harness, fixture, make_app, settings_for

DRAFT = "groceries 40"
"""A household shorthand the rules parser is not sure of (0.75): a draft to confirm."""


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def tw(engine: Engine, fake: FakeTwilio) -> Iterator[Harness]:
    with TestClient(make_app(settings_for(fake), engine)) as client:
        yield Harness(client, fake, engine, itertools.count(0x6000))


def answer(tw: Harness, variant: str, phone: str, **fields: str) -> None:
    """Post the fixture ``variant`` as ``phone`` with a fresh MessageSid."""
    channel = variant.split("__", 1)[0]
    form = fixture(variant)
    sid = f"SM{next(tw.ids):032x}"
    form.update(MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, **fields)
    if channel == "whatsapp":
        form.update(From=f"whatsapp:{phone}", WaId=phone.lstrip("+"))
    else:
        form.update(From=phone)
    response = tw.post(channel, form)
    assert response.status_code == 200, response.text
    tw.work()


def live_entries(engine: Engine) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(t.entries).where(t.entries.c.deleted_at.is_(None))
        return int(conn.execute(query).scalar_one())


def draft_statuses(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(t.drafts.c.status).order_by(t.drafts.c.id)).scalars())


def test_a_whatsapp_draft_answered_1_twice_is_recorded_once(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    assert tw.last(ANA).startswith("Did I get this right, Ana Costa?")
    assert tw.last(ANA).endswith("\n\nReply 1 to confirm, 2 to drop it.")

    answer(tw, "whatsapp__choice_number", ANA)
    assert tw.last(ANA).startswith("✓ Groceries · 40.00 EUR · paid by Ana Costa")
    # the follow-up is a word, never "1" again: a second "1" must not undo the first
    assert tw.last(ANA).endswith("\n\nReply UNDO to undo.")
    answer(tw, "whatsapp__choice_number", ANA)
    assert tw.last(ANA) == "1 is not one of the choices.\n\nReply UNDO to undo."
    assert live_entries(tw.engine) == 1
    assert draft_statuses(tw.engine) == ["confirmed"]


def test_only_the_author_of_a_draft_can_answer_it(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    answer(tw, "sms__choice_number", RAJ)  # Raj was offered nothing
    assert tw.last(RAJ, "sms") == "There is nothing to answer with 1 right now."
    answer(tw, "whatsapp__button", RAJ, ButtonPayload="c:1")  # a forged button id
    assert live_entries(tw.engine) == 0
    assert draft_statuses(tw.engine) == ["pending"]
    answer(tw, "whatsapp__choice_number", ANA)
    assert live_entries(tw.engine) == 1


def test_undo_after_a_recorded_entry_undoes_it_and_restore_brings_it_back(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, "I paid 10 for taxi, split with everyone")
    tw.work()
    assert tw.last(ANA).endswith("Reply UNDO to undo.")
    answer(tw, "whatsapp__choice_word", ANA)  # "Undo"
    assert tw.last(ANA).startswith("↩ Removed: Taxi · 10.00 EUR")
    assert tw.last(ANA).endswith("Reply RESTORE to restore.")
    assert live_entries(tw.engine) == 0
    answer(tw, "whatsapp__choice_word", ANA, Body="restore")
    assert live_entries(tw.engine) == 1


def test_a_quick_reply_button_press_answers_like_its_number(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    answer(tw, "whatsapp__button", ANA)  # ButtonPayload "1", ButtonText "Confirm"
    assert tw.last(ANA).startswith("✓ Groceries")
    assert draft_statuses(tw.engine) == ["confirmed"]


def test_a_word_answers_too_and_cancel_drops_the_draft_on_whatsapp(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    tw.say("whatsapp", ANA, "cancel")  # an ordinary word on WhatsApp, the label of option 2
    tw.work()
    assert tw.last(ANA).startswith("✗ Cancelled: Groceries")
    assert draft_statuses(tw.engine) == ["cancelled"]
    assert live_entries(tw.engine) == 0


def test_stop_keeps_priority_over_the_options(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("sms", RAJ, DRAFT)
    tw.work()
    assert tw.last(RAJ, "sms").endswith("\nReply 1 to confirm, 2 to drop it.")
    sent = len(tw.fake.sent(to=RAJ))
    tw.say("sms", RAJ, "cancel")  # on SMS an opt-out word (Twilio blocks the number itself)
    tw.work()
    assert len(tw.fake.sent(to=RAJ)) == sent  # Twilio confirms an SMS opt-out, not us
    with SqlUnitOfWork(tw.engine) as uow:
        contact = PhoneRepository(uow.connection).contact(RAJ)
    assert contact is not None and contact.opted_out("sms") and contact.offered is None
    assert draft_statuses(tw.engine) == ["pending"]

    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    answer(tw, "whatsapp__stop", ANA)
    assert tw.last(ANA, "whatsapp").startswith("OK, no more WhatsApp messages")
    assert draft_statuses(tw.engine) == ["pending", "pending"]


def test_a_later_unrelated_message_is_just_a_message(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, DRAFT)
    tw.work()
    tw.say("whatsapp", ANA, "who owes what?")
    tw.work()
    assert tw.last(ANA).startswith("Everyone in Lisbon trip is settled up.")
    answer(tw, "whatsapp__choice_number", ANA)
    assert tw.last(ANA) == "There is nothing to answer with 1 right now."
    assert draft_statuses(tw.engine) == ["pending"]
    assert live_entries(tw.engine) == 0


def test_options_expire_after_a_day(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, "I paid 10 for taxi, split with everyone")
    tw.work()
    with SqlUnitOfWork(tw.engine) as uow:
        repo = PhoneRepository(uow.connection)
        contact = repo.contact(ANA)
        assert contact is not None and contact.offered is not None
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
        repo.update_contact(ANA, old, offered=contact.offered | {"at": old.isoformat()})
        uow.commit()
    answer(tw, "whatsapp__choice_word", ANA)  # "Undo" is now the UNDO command: the last entry
    assert tw.last(ANA).startswith("↩ Removed: Taxi")
    answer(tw, "whatsapp__choice_number", ANA)
    assert tw.last(ANA) == "1 is not one of the choices.\n\nReply RESTORE to restore."


def test_the_answer_is_understood_by_another_process(engine: Engine, fake: FakeTwilio) -> None:
    """The options live in the database: a second app (another worker) maps the answer."""
    ids = itertools.count(0x6800)
    with TestClient(make_app(settings_for(fake), engine)) as client:
        first = Harness(client, fake, engine, ids)
        first.setup_lisbon()
        first.say("whatsapp", ANA, DRAFT)
        first.work()
    with TestClient(make_app(settings_for(fake), engine)) as client:
        second = Harness(client, fake, engine, ids)
        answer(second, "whatsapp__choice_number", ANA)
        assert second.last(ANA).startswith("✓ Groceries")
    assert live_entries(engine) == 1
