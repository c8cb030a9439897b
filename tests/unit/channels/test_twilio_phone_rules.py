"""The phone conversation's rules without a database: keywords, group picking, and which
channel reaches a person (WhatsApp's 24-hour window, the template, opt-outs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from chipin.bot.member_notices import choose_channel, enabled_channels, flat
from chipin.bot.messages import InboundMessage
from chipin.bot.phone import handles, keyword, pick_group
from chipin.settings import Settings
from chipin.store.phones import Contact, Membership

NOW = dt.datetime(2026, 11, 21, 19, 0, tzinfo=dt.UTC)
TEMPLATE = "HX" + "ab" * 16


def settings(**extra: str) -> Settings:
    values: dict[str, Any] = {
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_WHATSAPP_FROM": "+14155238886",
        "TWILIO_SMS_FROM": "+15005550006",
    }
    return Settings(**(values | extra))


def contact(**fields: object) -> Contact:
    base: dict[str, object] = {
        "phone": "+351912345678",
        "name": "Ana",
        "active_group_id": 1,
        "has_whatsapp": None,
        "whatsapp_inbound_at": None,
        "whatsapp_opted_out_at": None,
        "sms_opted_out_at": None,
        "offered": None,
    }
    return Contact(**(base | fields))  # type: ignore[arg-type]


def message(text: str, channel: str = "sms") -> InboundMessage:
    return InboundMessage(channel, "+351912345678", "+351912345678", "Ana", text, is_group=False)


@pytest.mark.parametrize(
    ("text", "word"), [("STOP", "STOP"), ("stop.", "STOP"), ("Help?", "HELP"), ("stop it", "")]
)
def test_a_keyword_is_a_single_word(text: str, word: str) -> None:
    assert keyword(text) == word


def test_cancel_opts_out_on_sms_only() -> None:
    assert handles(message("CANCEL", "sms"))
    assert not handles(message("cancel", "whatsapp"))  # an ordinary word there
    assert handles(message("STOP", "whatsapp"))


@pytest.mark.parametrize(
    "text",
    [
        "create group Lisbon trip",
        "Create a new group called “Lisbon trip” as Ana",
        "add Raj +44 7700 900123",
        "/add Priya 912 345 678",
        "join 4F7K",
        "groups",
        "switch to Flat",
        "my name is Ana",
        "1",
    ],
)
def test_phone_commands_are_answered_without_the_parser(text: str) -> None:
    assert handles(message(text))


@pytest.mark.parametrize("text", ["I paid 60 for dinner", "add the wine to it", "who owes what?"])
def test_other_messages_go_to_the_parser(text: str) -> None:
    assert not handles(message(text))


def test_a_group_is_picked_by_number_name_or_a_part_only_it_has() -> None:
    groups = [Membership(1, "Lisbon trip", 1, "Ana"), Membership(2, "Lisbon flat", 5, "Ana")]
    assert pick_group("2", groups) == groups[1]
    assert pick_group("lisbon TRIP", groups) == groups[0]
    assert pick_group("flat", groups) == groups[1]
    assert pick_group("lisbon", groups) is None  # both: ask again rather than guess
    assert pick_group("3", groups) is None


def test_only_configured_channels_are_used() -> None:
    assert enabled_channels(settings()) == {"whatsapp", "sms"}
    assert enabled_channels(settings(TWILIO_SMS_FROM="")) == {"whatsapp"}
    assert enabled_channels(Settings()) == set()


def test_whatsapp_inside_the_24_hour_window() -> None:
    recent = contact(has_whatsapp=True, whatsapp_inbound_at=NOW - dt.timedelta(hours=23))
    assert choose_channel(recent, settings(), NOW) == ("whatsapp", None)


def test_outside_the_window_the_template_or_sms() -> None:
    old = contact(has_whatsapp=True, whatsapp_inbound_at=NOW - dt.timedelta(hours=25))
    assert choose_channel(old, settings(), NOW) == ("sms", None)
    with_template = settings(TWILIO_WHATSAPP_TEMPLATE_SID=TEMPLATE)
    if "twilio_whatsapp_template_sid" in Settings.model_fields:
        assert choose_channel(old, with_template, NOW) == ("whatsapp", TEMPLATE)


def test_a_number_never_seen_on_whatsapp_gets_sms_and_opt_outs_hold() -> None:
    assert choose_channel(contact(), settings(), NOW) == ("sms", None)
    no_whatsapp = contact(has_whatsapp=False, whatsapp_inbound_at=NOW)
    assert choose_channel(no_whatsapp, settings(), NOW) == ("sms", None)
    recent = contact(has_whatsapp=True, whatsapp_inbound_at=NOW)
    stopped_wa = contact(has_whatsapp=True, whatsapp_inbound_at=NOW, whatsapp_opted_out_at=NOW)
    assert choose_channel(stopped_wa, settings(), NOW) == ("sms", None)
    stopped_both = contact(whatsapp_opted_out_at=NOW, sms_opted_out_at=NOW)
    assert choose_channel(stopped_both, settings(), NOW) is None
    assert choose_channel(recent, settings(TWILIO_WHATSAPP_FROM=""), NOW) == ("sms", None)


def test_a_template_variable_has_no_newlines() -> None:
    assert flat("*Lisbon trip* · Ana added:\nDinner\n\n  Reply  BALANCES") == (
        "*Lisbon trip* · Ana added: · Dinner · Reply BALANCES"
    )
