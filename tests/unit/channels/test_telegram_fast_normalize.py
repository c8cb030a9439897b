"""The fast path of Telegram normalisation (straight from the dict) against the reference path
(python-telegram-bot's ``Update.de_json``): identical output for every fixture, for generated
variants, and for every single-field mutation of every fixture (a mutation PTB refuses must
still be refused, a mutation PTB accepts must give the same messages)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chipin.channels.telegram import normalize as module
from chipin.channels.telegram.normalize import (
    BotIdentity,
    Normalized,
    normalize,
    normalize_with_ptb,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))
BOTS = [
    BotIdentity(7000000001, "ChipinBot"),
    BotIdentity(7000000001, None),
    BotIdentity(None, "ChipinBot"),
    BotIdentity(None, None),
]
FAST_KINDS = ("message", "edited_message", "callback_query", "my_chat_member")
DECLINED = {
    # kinds or shapes the fast path leaves to PTB on purpose
    "channel_post__text",
    "message__new_chat_title",
    "message__migrate_from_chat_id",
    "message__photo_caption",
    "message__sticker",
    "my_chat_member__promoted",
}


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def outcome(function: Any, data: Any, bot: BotIdentity) -> tuple[str, Any]:
    """What a path gives: its items with their stored JSON (key order included), or the
    exception's type."""
    try:
        items: list[Normalized] = function(copy.deepcopy(data), bot)
    except Exception as exc:  # the PTB path may fail with anything on garbage: compare types
        return ("error", type(exc))
    return ("ok", [(i.provider_id, i.message, json.dumps(i.message.to_json())) for i in items])


def assert_same(data: Any, bot: BotIdentity) -> None:
    assert outcome(normalize, data, bot) == outcome(normalize_with_ptb, data, bot), data


def fast_taken(data: dict[str, Any], bot: BotIdentity) -> bool:
    return module._fast_normalize(data, data["update_id"], bot) is not None


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bot", BOTS, ids=["id+name", "id", "name", "none"])
def test_every_fixture_normalises_the_same_on_both_paths(name: str, bot: BotIdentity) -> None:
    assert_same(fixture(name), bot)


@pytest.mark.parametrize("name", NAMES)
def test_the_fast_path_takes_the_common_updates(name: str) -> None:
    data = fixture(name)
    assert fast_taken(data, BOTS[0]) is (name not in DECLINED)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield (*prefix, n)
            yield from _paths(item, (*prefix, n))


def _set(data: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    changed = copy.deepcopy(data)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


REPLACEMENTS: list[Any] = [None, 0, -1, 1.5, True, "", "x", "supergroup", [], {}, [{}], {"a": 1}]


@pytest.mark.parametrize("name", NAMES)
def test_every_single_field_mutation_gives_the_same_outcome(name: str) -> None:
    data = fixture(name)
    bot = BOTS[0]
    for path in list(_paths(data)):
        if path == ("update_id",):
            continue
        assert_same(_set(data, path, None, delete=True), bot)
        for value in REPLACEMENTS:
            assert_same(_set(data, path, value), bot)


def _text(text: str, entities: list[dict[str, Any]], **message: Any) -> dict[str, Any]:
    data = fixture("message__text_in_group")
    data["message"]["text"] = text
    data["message"]["entities"] = entities
    data["message"].update(message)
    return data


def variants() -> Iterator[tuple[str, dict[str, Any]]]:
    group = fixture("message__text_in_group")
    for kind in ("group", "private", "channel", "supergroup"):
        data = copy.deepcopy(group)
        data["message"]["chat"]["type"] = kind
        yield f"chat type {kind}", data
    data = copy.deepcopy(group)
    del data["message"]["from"]["last_name"], data["message"]["from"]["username"]
    yield "no last name or username", data
    data = copy.deepcopy(group)
    data["message"]["from"]["is_bot"] = True
    yield "from a bot", data
    yield (
        "emoji before a mention",
        _text(
            "🍕🍕 @raj_k and @ChipinBot 20",
            [
                {"type": "mention", "offset": 5, "length": 6},
                {"type": "mention", "offset": 16, "length": 10},
            ],
        ),
    )
    yield (
        "command for us",
        _text("/settle@ChipinBot Raj 20", [{"type": "bot_command", "offset": 0, "length": 17}]),
    )
    yield (
        "command for another bot",
        _text("/help@OtherBot", [{"type": "bot_command", "offset": 0, "length": 14}]),
    )
    yield (
        "command not at the start",
        _text("see /help", [{"type": "bot_command", "offset": 4, "length": 5}]),
    )
    yield (
        "unknown entity type",
        _text("hello there", [{"type": "sparkle", "offset": 0, "length": 5}]),
    )
    yield (
        "duplicate entities",
        _text("@raj_k 20", [{"type": "mention", "offset": 0, "length": 6}] * 2),
    )
    yield "entity past the end", _text("@raj", [{"type": "mention", "offset": 2, "length": 40}])
    yield "half a surrogate pair", _text("🍕 x", [{"type": "mention", "offset": 1, "length": 2}])
    yield (
        "text mention with username",
        _text(
            "paid for Mia",
            [
                {
                    "type": "text_mention",
                    "offset": 9,
                    "length": 3,
                    "user": {"id": 3, "is_bot": False, "first_name": "Mia", "username": "mia"},
                }
            ],
        ),
    )
    yield "automatic forward", _text("I paid 5", [], is_automatic_forward=True)
    yield "empty text", _text("", [])
    yield (
        "spaces around the bot",
        _text(
            "  @ChipinBot   I paid   60  \n  ok ", [{"type": "mention", "offset": 2, "length": 10}]
        ),
    )
    reply = fixture("message__reply_to_bot")
    for author in (
        {"id": 7000000001, "is_bot": True, "first_name": "Chipin", "username": "ChipinBot"},
        {"id": 5, "is_bot": True, "first_name": "Other", "username": "ChipinBot"},
        {"id": 5, "is_bot": False, "first_name": "Raj"},
    ):
        data = copy.deepcopy(reply)
        data["message"]["reply_to_message"]["from"] = author
        yield f"reply to {author['first_name']}", data
    joined = fixture("message__new_chat_members")
    data = copy.deepcopy(joined)
    data["message"]["new_chat_members"].append({"id": 9, "is_bot": True, "first_name": "B"})
    yield "members joined with a bot", data
    data = copy.deepcopy(joined)
    data["message"]["new_chat_members"] = []
    yield "no members joined", data
    left = fixture("message__left_chat_member")
    data = copy.deepcopy(left)
    data["message"]["left_chat_member"]["is_bot"] = True
    yield "a bot left", data
    migrated = fixture("message__migrate_to_chat_id")
    data = copy.deepcopy(migrated)
    del data["message"]["from"]
    yield "migrated without a sender", data
    data = copy.deepcopy(migrated)
    data["message"]["migrate_to_chat_id"] = 0
    yield "migrated to 0", data
    edited = fixture("edited_message__text")
    data = copy.deepcopy(edited)
    data["edited_message"]["chat"]["type"] = "private"
    yield "edited in private", data
    query = fixture("callback_query__confirm")
    data = copy.deepcopy(query)
    del data["callback_query"]["data"]
    yield "button without data", data
    data = copy.deepcopy(query)
    data["callback_query"]["message"]["date"] = 0
    yield "button on an inaccessible message", data
    data = copy.deepcopy(query)
    data["callback_query"]["message"]["chat"]["type"] = "private"
    yield "button in private", data
    added = fixture("my_chat_member__added")
    for old, new in (("member", "member"), ("left", "left"), ("member", "kicked")):
        data = copy.deepcopy(added)
        change = data["my_chat_member"]
        change["old_chat_member"]["status"], change["new_chat_member"]["status"] = old, new
        if new == "kicked":
            change["new_chat_member"]["until_date"] = 0
        yield f"bot {old} → {new}", data
    data = copy.deepcopy(group)
    data["edited_message"] = data["message"]
    yield "two kinds in one update", data


VARIANTS = list(variants())


@pytest.mark.parametrize(("label", "data"), VARIANTS, ids=[label for label, _ in VARIANTS])
@pytest.mark.parametrize("bot", BOTS, ids=["id+name", "id", "name", "none"])
def test_generated_variants_normalise_the_same(label: str, data: Any, bot: BotIdentity) -> None:
    assert_same(data, bot)


def test_the_fast_path_reads_the_variants_it_should() -> None:
    taken = {label for label, data in VARIANTS if fast_taken(copy.deepcopy(data), BOTS[0])}
    assert {
        "emoji before a mention",
        "command for us",
        "reply to Chipin",
        "bot member → kicked",
    } <= taken
    assert not {"chat type channel", "two kinds in one update", "duplicate entities"} & taken


@pytest.mark.parametrize(
    "body",
    [
        {"update_id": 1, "message": {"message_id": 1}},
        {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": 1}}},
        {"update_id": 1, "message": {"date": 1, "chat": {"id": 1, "type": "group"}}},
        {"update_id": 1, "callback_query": {"id": "1", "data": "c:1"}},
        {"update_id": 1, "my_chat_member": {"chat": {"id": 1, "type": "group"}}},
        {"update_id": 1, "message": "hello"},
    ],
)
def test_malformed_updates_still_raise_value_error(body: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        normalize(body, BOTS[0])
    with pytest.raises(ValueError):
        normalize_with_ptb(body, BOTS[0])
