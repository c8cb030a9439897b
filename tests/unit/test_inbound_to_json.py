"""``InboundMessage.to_json`` (written field by field) against the ``dataclasses.asdict`` way it
replaced: the same dict, the same key order, and a copy of ``extra`` as deep as asdict's."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from chipin.bot.messages import InboundMessage


@dataclasses.dataclass
class Point:
    x: int
    y: int


def reference(message: InboundMessage) -> dict[str, Any]:
    required = ("channel", "chat_id", "sender_id", "sender_name")
    return {
        k: v
        for k, v in dataclasses.asdict(message).items()
        if k in required or v not in (None, {}, "")
    }


MESSAGES = [
    InboundMessage("web", "room", "Ana", "Ana"),
    InboundMessage("sms", "", "", ""),
    InboundMessage(
        "telegram",
        "-100",
        "111",
        "Ana Costa",
        text="I paid 60 for dinner @raj",
        sent_at="2025-11-21T19:00:00+00:00",
        chat_title="Lisbon trip",
        message_id="41",
        extra={
            "username": "ana",
            "is_command": True,
            "mentions": [{"text": "@raj", "handle": "raj"}, {"text": "Mia", "user_id": "3"}],
            "nested": {"deeper": {"list": [1, 2.5, None, False, {"k": "v"}]}},
        },
    ),
    InboundMessage(
        "telegram",
        "1",
        "2",
        "Raj",
        is_group=False,
        action="c:1",
        action_id="99",
        action_message_id="48",
        extra={"personal": True},
    ),
    InboundMessage("telegram", "1", "2", "Raj", event="member_left", extra={}),
    InboundMessage("whatsapp", "+351", "+351", "+351", text="", sent_at=None, chat_title=""),
    # not plain JSON: a tuple and a dataclass (asdict turns it into a dict) go through asdict
    InboundMessage("web", "r", "s", "n", extra={"pair": (1, 2), "point": Point(1, 2)}),
    InboundMessage("web", "r", "s", "n", extra={"items": [{"empty": {}}, ""], "z": 0}),
]


@pytest.mark.parametrize("message", MESSAGES)
def test_to_json_is_what_asdict_gave(message: InboundMessage) -> None:
    got, expected = message.to_json(), reference(message)
    assert got == expected
    assert list(got) == list(expected)
    assert repr(got) == repr(expected)  # types and nested order too


@pytest.mark.parametrize("message", MESSAGES)
def test_to_json_copies_extra_deeply(message: InboundMessage) -> None:
    before = repr(message.extra)
    got = message.to_json()
    if "extra" in got:
        assert got["extra"] is not message.extra
        for key, value in got["extra"].items():
            if isinstance(value, dict | list):
                assert value is not message.extra[key]
    assert repr(message.extra) == before


def test_to_json_reads_back() -> None:
    for message in MESSAGES[:5]:
        assert InboundMessage.from_json(json.loads(json.dumps(message.to_json()))) == message
