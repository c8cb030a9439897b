"""Twilio's inbound webhook fields → the inbound message the inbox stores (fixtures per variant)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chipin.channels.twilio.normalize import normalize

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twilio"


def fixture(name: str) -> dict[str, str]:
    data: dict[str, str] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def test_a_whatsapp_text_is_one_person_keyed_by_their_e164_number() -> None:
    item = normalize("whatsapp", fixture("whatsapp__text"))
    message = item.message
    assert item.provider_id == "SM00000000000000000000000000001001"
    assert (message.channel, message.chat_id, message.sender_id) == (
        "whatsapp",
        "+351912345678",
        "+351912345678",
    )
    assert message.sender_name == "Ana Costa"
    assert message.text == "I paid 60 for dinner, split with everyone"
    assert message.is_group is False and message.message_id == item.provider_id
    assert message.extra == {}


def test_an_sms_has_no_name_so_the_number_stands_in() -> None:
    message = normalize("sms", fixture("sms__text")).message
    assert (message.channel, message.chat_id, message.sender_name) == (
        "sms",
        "+447700900123",
        "+447700900123",
    )
    assert message.text == "who owes what?"


def test_a_media_message_keeps_its_urls_and_its_caption() -> None:
    message = normalize("whatsapp", fixture("whatsapp__media")).message
    assert message.text == "I paid 18 for the taxi, split with everyone"
    [media] = message.extra["media"]
    assert media["type"] == "image/jpeg" and media["url"].startswith("https://api.twilio.com/")
    assert normalize("whatsapp", fixture("whatsapp__media_only")).message.text == ""


@pytest.mark.parametrize("name", ["sms__stop", "sms__start", "sms__help"])
def test_keyword_messages_are_ordinary_messages(name: str) -> None:
    message = normalize("sms", fixture(name)).message
    assert message.text == name.split("__")[1].upper()


def test_the_round_trip_through_the_inbox_keeps_the_message() -> None:
    from chipin.bot.messages import InboundMessage

    for name in ("whatsapp__text", "whatsapp__media"):
        message = normalize("whatsapp", fixture(name)).message
        assert InboundMessage.from_json(message.to_json()) == message
    sms = normalize("sms", fixture("sms__text")).message
    assert InboundMessage.from_json(sms.to_json()) == sms


@pytest.mark.parametrize(
    ("channel", "change", "error"),
    [
        ("whatsapp", {"MessageSid": "", "SmsMessageSid": ""}, "no MessageSid"),
        ("whatsapp", {"From": "+351912345678"}, "comes from a whatsapp: address"),
        ("sms", {"From": "whatsapp:+447700900123"}, "posted to the SMS webhook"),
        ("sms", {"From": "Twilio"}, "From is not a phone number"),
    ],
)
def test_a_payload_that_is_not_a_message_is_refused(
    channel: str, change: dict[str, str], error: str
) -> None:
    form = fixture(f"{channel}__text") | change
    with pytest.raises(ValueError, match=error):
        normalize(channel, form)
