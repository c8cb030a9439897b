"""The Telegram adapter against the fake Bot API: what each kind sends, how every failure maps
to a SendError the dispatcher understands, and the rate limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator

import pytest

from chipin.bot.messages import SendError
from chipin.channels.telegram.adapter import TelegramAdapter
from chipin.channels.telegram.limits import RateLimiter, RateLimits
from tests.fakes.telegram import TOKEN, FakeTelegram

GROUP, USER = "-1001234567890", "111111111"
UNLIMITED = RateLimits(per_chat=None, per_group=None, overall=None)


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def adapter(fake: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(TOKEN, fake.base_url, limits=UNLIMITED, timeout=0.5)
    yield adapter
    await adapter.aclose()


async def failure(adapter: TelegramAdapter, kind: str = "send", chat: str = GROUP) -> SendError:
    payload = {"text": "hi", "message_id": "5", "action_id": "q1"}
    with pytest.raises(SendError) as caught:
        await adapter.send(chat, kind, payload)
    return caught.value


async def test_a_reply_is_html_with_its_buttons_and_answers_the_question(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    result = await adapter.send(
        GROUP,
        "send",
        {
            "text": "✓ <b>Dinner</b> &amp; wine",
            "format": "html",
            "actions": [{"label": "Confirm", "data": "c:3"}, {"label": "Cancel", "data": "x:3"}],
            "reply_to": "41",
        },
    )
    assert result.provider_message_id == "1000"
    [get_me, call] = fake.calls
    assert get_me.method == "getMe" and adapter.identity.username == "ChipinBot"
    assert call.params == {
        "chat_id": GROUP,
        "text": "✓ <b>Dinner</b> &amp; wine",
        "parse_mode": "HTML",
        "link_preview_options": {"is_disabled": True},
        "reply_markup": {
            "inline_keyboard": [
                [
                    {"text": "Confirm", "callback_data": "c:3"},
                    {"text": "Cancel", "callback_data": "x:3"},
                ]
            ]
        },
        "reply_parameters": {"message_id": 41, "allow_sending_without_reply": True},
    }


async def test_plain_text_goes_without_a_parse_mode(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await adapter.send(USER, "send", {"text": "a < b", "format": "plain"})
    assert "parse_mode" not in fake.calls_to("sendMessage")[0].params


async def test_an_edit_replaces_the_text_and_drops_the_buttons(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    result = await adapter.send(
        GROUP, "edit", {"text": "done", "format": "html", "message_id": "7"}
    )
    assert result.provider_message_id == "7"
    [edit] = fake.calls_to("editMessageText")
    assert edit["message_id"] == "7" and "reply_markup" not in edit.params


async def test_an_unchanged_edit_is_a_success(fake: FakeTelegram, adapter: TelegramAdapter) -> None:
    fake.fail(
        "editMessageText",
        400,
        description="Bad Request: message is not modified: specified new message content and "
        "reply markup are exactly the same as a current content and reply markup of the message",
    )
    result = await adapter.send(GROUP, "edit", {"text": "done", "message_id": "7"})
    assert result.provider_status == "unchanged"


async def test_an_edit_of_a_deleted_message_is_sent_anew(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail("editMessageText", 400, description="Bad Request: message to edit not found")
    result = await adapter.send(GROUP, "edit", {"text": "done", "message_id": "7"})
    assert result.provider_message_id == "1000"
    assert fake.sent()[0]["text"] == "done"


async def test_every_press_is_answered_and_an_expired_one_is_not_an_error(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await adapter.send(GROUP, "answer", {"action_id": "q1", "text": "Only Ana can answer this."})
    await adapter.send(GROUP, "answer", {"action_id": "q2", "text": ""})
    fake.fail(
        "answerCallbackQuery",
        400,
        description="Bad Request: query is too old and response timeout expired or query ID is "
        "invalid",
    )
    expired = await adapter.send(GROUP, "answer", {"action_id": "q3", "text": ""})
    assert expired.provider_status == "expired"
    calls = fake.calls_to("answerCallbackQuery")
    assert calls[0].params == {"callback_query_id": "q1", "text": "Only Ana can answer this."}
    assert calls[1].params == {"callback_query_id": "q2"}


async def test_a_429_asks_the_dispatcher_to_wait_without_counting_a_try(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.throttle("sendMessage", times=1, retry_after=7)
    error = await failure(adapter)
    assert error.retry_after == dt.timedelta(seconds=7) and error.retryable
    # and the chat stays blocked on our side until then
    assert adapter.limiter.reserve(GROUP, group=True) > 6


async def test_blocked_or_kicked_means_the_recipient_is_gone(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail("sendMessage", 403)
    blocked = await failure(adapter, chat=USER)
    fake.fail("sendMessage", 403, description="Forbidden: bot was kicked from the supergroup chat")
    kicked = await failure(adapter)
    fake.fail("sendMessage", 400, description="Bad Request: chat not found")
    unknown = await failure(adapter)
    for error in (blocked, kicked, unknown):
        assert error.recipient_gone and not error.retryable
    assert str(blocked) == "Forbidden: bot was blocked by the user"


async def test_server_errors_and_timeouts_are_retried_and_bad_requests_are_not(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail("sendMessage", 500)
    assert (await failure(adapter)).retryable
    fake.slow("sendMessage", 2.0)  # the adapter waits 0.5 s
    assert (await failure(adapter)).retryable
    fake.fail("sendMessage", 400, description="Bad Request: can't parse entities")
    bad = await failure(adapter)
    assert not bad.retryable and not bad.recipient_gone


async def test_a_send_to_a_group_that_became_a_supergroup_follows_it(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    fake.fail(
        "sendMessage",
        400,
        description="Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": -1009876543210},
        chat_id="-4001234567",
    )
    await adapter.send("-4001234567", "send", {"text": "hi", "reply_to": "3"})
    [sent] = fake.sent()
    assert sent.chat_id == "-1009876543210" and "reply_parameters" not in sent.params


def test_the_limiter_paces_one_message_a_second_per_chat_and_twenty_a_minute_per_group() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(), lambda: now[0])
    assert limiter.reserve("-1", group=True) == 0
    assert limiter.reserve("-1", group=True) == pytest.approx(1.0)
    assert limiter.reserve("5", group=False) == 0  # another chat is not held back
    for _ in range(19):
        now[0] += 1.0
        assert limiter.reserve("-1", group=True) == 0 or now[0] >= 20
    now[0] += 1.0
    wait = limiter.reserve("-1", group=True)
    assert wait == pytest.approx(60.0 - now[0])  # the 21st in a minute waits for the first


def test_the_limiter_keeps_thirty_a_second_overall() -> None:
    now = [0.0]
    limiter = RateLimiter(RateLimits(), lambda: now[0])
    assert all(limiter.reserve(str(n), group=False) == 0 for n in range(30))
    assert limiter.reserve("31", group=False) == pytest.approx(1.0)
    now[0] += 1.0
    assert limiter.reserve("31", group=False) == 0


async def test_a_rate_limited_send_never_reaches_telegram(fake: FakeTelegram) -> None:
    now = [100.0]
    adapter = TelegramAdapter(TOKEN, fake.base_url, clock=lambda: now[0])
    try:
        await adapter.send(GROUP, "send", {"text": "one"})
        error = await failure(adapter)
        assert error.retry_after == dt.timedelta(seconds=1) and error.retryable
        await adapter.send(GROUP, "answer", {"action_id": "q", "text": ""})  # presses never wait
        now[0] += 1.0
        await adapter.send(GROUP, "send", {"text": "two"})
    finally:
        await adapter.aclose()
    assert [c["text"] for c in fake.sent()] == ["one", "two"]
