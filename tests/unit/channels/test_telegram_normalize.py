"""Every Telegram fixture → the exact inbound messages Chipin stores (or nothing, and why)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chipin.bot.messages import InboundMessage
from chipin.channels.telegram.normalize import (
    ALLOWED_UPDATES,
    UPDATE_HANDLERS,
    BotIdentity,
    normalize,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram"
BOT = BotIdentity(7000000001, "ChipinBot")
GROUP = "-1001234567890"
ANA, RAJ, MIA = "111111111", "222222222", "333333333"
AT = "2025-11-21T19:00:00+00:00"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def group_message(sender: str, name: str, **fields: Any) -> InboundMessage:
    values: dict[str, Any] = {
        "channel": "telegram",
        "chat_id": GROUP,
        "sender_id": sender,
        "sender_name": name,
        "sent_at": AT,
        "is_group": True,
        "chat_title": "Lisbon trip",
    }
    return InboundMessage(**(values | fields))


EXPECTED: dict[str, list[tuple[str, InboundMessage]]] = {
    "message__text_in_group": [
        (
            "500000101",
            group_message(
                ANA,
                "Ana Costa",
                text="I paid 60 for dinner, split with everyone 🍝",
                message_id="41",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "message__command_with_botname": [
        (
            "500000102",
            group_message(
                ANA,
                "Ana Costa",
                text="/settle Raj 20",
                message_id="42",
                extra={"username": "ana_costa", "is_command": True},
            ),
        )
    ],
    "message__command_for_another_bot": [],
    "message__text_mention": [
        (
            "500000104",
            group_message(
                ANA,
                "Ana Costa",
                text="🚕 I paid 30 for the taxi, split with Mia",
                message_id="44",
                extra={
                    "username": "ana_costa",
                    "mentions": [{"text": "Mia", "user_id": MIA, "name": "Mia"}],
                },
            ),
        )
    ],
    "message__mention_username": [
        (
            "500000105",
            group_message(
                ANA,
                "Ana Costa",
                text="I paid 20 for museum tickets, split with @rajp",
                message_id="45",
                extra={"username": "ana_costa", "mentions": [{"text": "@rajp", "handle": "rajp"}]},
            ),
        )
    ],
    "message__mention_bot": [
        (
            "500000106",
            group_message(
                RAJ,
                "Raj Patel",
                text="I paid 12 for snacks, split with everyone",
                message_id="46",
                extra={"username": "rajp", "mentions_bot": True},
            ),
        )
    ],
    "message__reply_to_bot": [
        (
            "500000107",
            group_message(
                RAJ,
                "Raj Patel",
                text="who owes what?",
                message_id="47",
                extra={"username": "rajp", "reply_to_bot": True, "reply_to_message_id": "40"},
            ),
        )
    ],
    "callback_query__undo": [
        (
            "500000108",
            group_message(
                ANA,
                "Ana Costa",
                sent_at=None,
                action="u:1",
                action_id="4382919283746510001",
                action_message_id="40",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "callback_query__confirm": [
        (
            "500000109",
            group_message(
                ANA,
                "Ana Costa",
                sent_at=None,
                action="c:1",
                action_id="4382919283746510002",
                action_message_id="48",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "edited_message__text": [
        (
            "500000110",
            group_message(
                ANA,
                "Ana Costa",
                text="I paid 70 for dinner, split with everyone 🍝",
                message_id="41",
                event="message_edited",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "message__new_chat_members": [
        (
            "500000111",
            group_message(
                RAJ, "Raj Patel", message_id="49", event="member_joined", extra={"username": "rajp"}
            ),
        ),
        ("500000111:1", group_message(MIA, "Mia", message_id="49", event="member_joined")),
    ],
    "message__left_chat_member": [
        ("500000112", group_message(MIA, "Mia", message_id="50", event="member_left"))
    ],
    "message__new_chat_title": [
        (
            "500000113",
            group_message(
                ANA,
                "Ana Costa",
                message_id="51",
                event="title_changed",
                chat_title="Lisbon trip 2026",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "message__migrate_to_chat_id": [
        (
            "500000114",
            group_message(
                RAJ,
                "Raj Patel",
                chat_id="-4001234567",
                chat_title="Flat 12",
                message_id="52",
                event="migrated",
                extra={"username": "rajp", "new_chat_id": "-1009876543210"},
            ),
        )
    ],
    "message__migrate_from_chat_id": [
        (
            "500000115",
            group_message(
                "1087968824",
                "Group",
                chat_id="-4001234567",
                chat_title="Flat 12",
                message_id="1",
                event="migrated",
                extra={"username": "GroupAnonymousBot", "new_chat_id": "-1009876543210"},
            ),
        )
    ],
    "my_chat_member__added": [
        (
            "500000116",
            group_message(
                ANA,
                "Ana Costa",
                sent_at="2025-11-21T18:00:00+00:00",
                event="bot_added",
                extra={"username": "ana_costa"},
            ),
        )
    ],
    "my_chat_member__promoted": [],
    "my_chat_member__kicked": [
        (
            "500000118",
            group_message(
                RAJ,
                "Raj Patel",
                sent_at="2025-11-21T20:00:00+00:00",
                event="bot_removed",
                extra={"username": "rajp"},
            ),
        )
    ],
    "my_chat_member__blocked": [
        (
            "500000119",
            InboundMessage(
                channel="telegram",
                chat_id=ANA,
                sender_id=ANA,
                sender_name="Ana Costa",
                sent_at="2025-11-21T21:00:00+00:00",
                is_group=False,
                event="bot_removed",
                extra={"username": "ana_costa", "personal": True},
            ),
        )
    ],
    "message__private_chat": [
        (
            "500000120",
            InboundMessage(
                channel="telegram",
                chat_id=ANA,
                sender_id=ANA,
                sender_name="Ana Costa",
                text="/balance",
                sent_at=AT,
                is_group=False,
                message_id="7",
                extra={"username": "ana_costa", "personal": True, "is_command": True},
            ),
        )
    ],
    "message__photo_caption": [
        (
            "500000121",
            group_message(
                MIA, "Mia", text="I paid 45 for groceries, split with everyone", message_id="53"
            ),
        )
    ],
    "message__sticker": [],
    "channel_post__text": [],
}


def test_every_fixture_has_an_expectation() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_fixture_normalises_to_the_exact_messages(name: str) -> None:
    got = [(n.provider_id, n.message) for n in normalize(fixture(name), BOT)]
    assert got == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_normalised_message_survives_the_inbox_round_trip(name: str) -> None:
    for item in normalize(fixture(name), BOT):
        assert InboundMessage.from_json(json.loads(json.dumps(item.message.to_json()))) == (
            item.message
        )


def test_without_the_bots_username_any_command_is_taken_as_ours() -> None:
    # before getMe answered we cannot tell "@OtherBot" from ourselves; the suffix goes either way
    [item] = normalize(fixture("message__command_with_botname"), BotIdentity(7000000001))
    assert item.message.text == "/settle Raj 20"
    [other] = normalize(fixture("message__command_for_another_bot"), BotIdentity(7000000001))
    assert other.message.text == "/help"


def test_a_reply_to_the_bot_is_recognised_by_the_bots_id_alone() -> None:
    [item] = normalize(fixture("message__reply_to_bot"), BotIdentity.from_token("7000000001:x"))
    assert item.message.extra["reply_to_bot"] is True


def test_a_reply_to_someone_else_is_not_a_reply_to_the_bot() -> None:
    data = fixture("message__reply_to_bot")
    data["message"]["reply_to_message"]["from"] = data["message"]["from"]
    [item] = normalize(data, BOT)
    assert "reply_to_bot" not in item.message.extra


def test_the_bot_joining_in_new_chat_members_is_left_to_my_chat_member() -> None:
    data = fixture("message__new_chat_members")
    bot_user = {"id": 7000000001, "is_bot": True, "first_name": "Chipin", "username": "ChipinBot"}
    data["message"]["new_chat_members"] = [bot_user]
    assert normalize(data, BOT) == []


def test_messages_from_anonymous_admins_and_other_bots_are_ignored() -> None:
    data = fixture("message__text_in_group")
    data["message"]["from"] = {
        "id": 1087968824,
        "is_bot": True,
        "first_name": "Group",
        "username": "GroupAnonymousBot",
    }
    assert normalize(data, BOT) == []


def test_the_bots_mention_is_removed_wherever_it_is_and_line_breaks_stay() -> None:
    data = fixture("message__mention_bot")
    data["message"]["text"] = "I paid 12 for snacks @chipinbot\nsplit with everyone"
    data["message"]["entities"] = [{"type": "mention", "offset": 21, "length": 10}]
    [item] = normalize(data, BOT)
    assert item.message.text == "I paid 12 for snacks\nsplit with everyone"
    assert item.message.extra["mentions_bot"] is True


@pytest.mark.parametrize(
    "body", [{}, {"update_id": "5"}, {"update_id": True}, {"update_id": 5, "message": "hi"}]
)
def test_a_body_that_is_not_an_update_is_refused(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="update"):
        normalize(body, BOT)


def test_the_allowed_updates_are_the_handled_kinds() -> None:
    assert tuple(UPDATE_HANDLERS) == ALLOWED_UPDATES
    assert set(ALLOWED_UPDATES) == {"message", "edited_message", "callback_query", "my_chat_member"}
