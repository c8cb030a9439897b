"""The SMS copy of a failed WhatsApp message is the SMS rendering (``templates/sms``), short and
GSM-7, sent once; and a WhatsApp payload's ``media_urls`` reach Twilio as ``MediaUrl`` (SMS gets
the text alone). On SQLite and PostgreSQL, through the app's worker and dispatcher, to the fake
Twilio REST API."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from chipin.channels.twilio import segments
from chipin.channels.twilio.adapter import TwilioAdapter
from chipin.store.uow import SqlUnitOfWork
from tests.fakes.twilio import FakeTwilio
from tests.integration.test_twilio import ANA, RAJ, Harness, make_app, settings_for

CHART = "https://chipin.example.org/charts/7.png?expires=1790000000&sig=3f1c0a"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def tw(engine: Engine, fake: FakeTwilio) -> Iterator[Harness]:
    with TestClient(make_app(settings_for(fake), engine)) as client:
        yield Harness(client, fake, engine, itertools.count(0x8000))


def queue(tw: Harness, channel: str, phone: str, payload: dict[str, Any], key: str) -> int:
    with SqlUnitOfWork(tw.engine) as uow:
        queued = uow.outbox.add(
            channel=channel,
            conversation_key=f"{channel}:{phone}",
            recipient=phone,
            kind="send",
            payload=payload,
            now=dt.datetime.now(dt.UTC),
            dedupe_key=key,
        )
        uow.commit()
    assert queued is not None
    return queued


def test_a_failed_whatsapp_reply_goes_out_once_as_the_sms_template(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.say("whatsapp", ANA, "I paid 18 for taxi, split with everyone")
    tw.work()
    row = tw.outbox()[-1]
    assert row.channel == "whatsapp" and row.payload["template"] == "recorded"
    assert tw.last(ANA, "whatsapp").startswith("✓ Taxi · 18.00 EUR")
    for state in ("undelivered", "failed", "undelivered"):
        tw.status(row.provider_message_id, state, "63024")
    tw.work()
    sms = tw.fake.sent(to=ANA, channel="sms")
    assert len(sms) == 1
    body = sms[0]["Body"]
    assert body == (
        "OK: Taxi 18.00 EUR, paid by Ana Costa (Ana Costa 9.00, Raj 9.00)\nReply UNDO to undo."
    )
    counted = segments.count(body)
    assert counted.encoding == "GSM-7" and counted.count == 1
    copy = tw.outbox()[-1]
    assert copy.payload["sms_source"] == "payload" and copy.dedupe_key == f"fallback-{row.id}"
    # the options are the person's, whichever channel they answer on
    tw.say("sms", ANA, "undo")
    tw.work()
    assert tw.last(ANA, "sms").startswith("Removed: Taxi 18.00 EUR")


def test_outside_the_window_the_reply_goes_by_sms_from_the_sms_template(tw: Harness) -> None:
    tw.setup_lisbon()
    tw.fake.fail(63016, channel="whatsapp")
    tw.say("whatsapp", ANA, "I paid 12 for lunch, split with everyone")
    tw.work()
    rows = tw.outbox()
    assert rows[-2].channel == "whatsapp" and rows[-2].status == "dead"
    assert tw.last(ANA, "sms").startswith("OK: Lunch 12.00 EUR, paid by Ana Costa")
    assert len(tw.fake.sent(to=ANA, channel="sms")) == 1


def test_media_urls_reach_twilio_as_media_url_on_whatsapp_only(tw: Harness) -> None:
    payload = {"text": "Spending in Lisbon trip", "template": "chart", "media_urls": [CHART]}
    queue(tw, "whatsapp", ANA, payload, "chart-1")
    queue(tw, "sms", RAJ, payload, "chart-2")
    tw.work()
    (whatsapp,) = tw.fake.sent(to=ANA)
    assert whatsapp.media_urls == (CHART,)
    assert whatsapp["Body"] == "Spending in Lisbon trip"
    assert whatsapp["MediaUrl"] == CHART
    assert tw.fake.message(tw.outbox()[0].provider_message_id)["num_media"] == "1"
    (sms,) = tw.fake.sent(to=RAJ)
    assert sms.media_urls == () and sms["Body"] == "Spending in Lisbon trip"


def test_a_failed_media_message_falls_back_to_text_only(tw: Harness) -> None:
    payload = {"text": "Spending in Lisbon trip", "template": "chart", "media_urls": [CHART]}
    queue(tw, "whatsapp", ANA, payload, "chart-3")
    tw.work()
    tw.status(tw.outbox()[0].provider_message_id, "failed", "63024")
    tw.work()
    (sms,) = tw.fake.sent(to=ANA, channel="sms")
    assert sms.media_urls == () and sms["Body"] == "Spending in Lisbon trip"


def test_whatsapp_sends_the_first_media_url_and_a_picture_alone(fake: FakeTwilio) -> None:
    settings = settings_for(fake)
    adapter = TwilioAdapter(settings, "whatsapp")
    second = CHART.replace("7.png", "8.png")
    params = adapter.params(ANA, {"text": "", "media_urls": [CHART, second, "/relative.png"]})
    assert params["media_url"] == [CHART] and "body" not in params
    result = asyncio.run(adapter.send(ANA, "send", {"text": "", "media_urls": [CHART]}))
    assert result.provider_message_id is not None
    assert fake.sent(to=ANA)[-1].media_urls == (CHART,)
    template = {"text": "x", "content_sid": "HX" + "ab" * 16, "media_urls": [CHART]}
    assert "media_url" not in adapter.params(ANA, template)
