"""A reply with a chart on Telegram: the chart is drawn and uploaded with sendPhoto (multipart,
no public URL needed), captioned with the text when it fits, else followed by it."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import AsyncIterator, Iterator

import pytest
from PIL import Image

from chipin.bot.charts import chart_data
from chipin.channels.telegram.adapter import TELEGRAM_CAPTION_LIMIT, TelegramAdapter
from chipin.channels.telegram.limits import RateLimits
from chipin.core.entries import Expense
from chipin.core.records import Group
from chipin.core.splits import EqualSplit
from tests.fakes.telegram import TOKEN, FakeTelegram, Upload

GROUP = "-1001234567890"
UNLIMITED = RateLimits(per_chat=None, per_group=None, overall=None)


def chart_json() -> dict[str, object]:
    food = Expense(
        "EUR", 4200, (("Ana", 4200),), EqualSplit(("Ana", "Raj")), "dinner", dt.date(2026, 11, 3)
    )
    found = chart_data(
        [food],
        group=Group(1, "Lisbon trip", "EUR", "UTC"),
        label="last month",
        start=dt.date(2026, 11, 1),
        end=dt.date(2026, 12, 1),
    )
    assert found is not None
    return found.to_json()


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def adapter(fake: FakeTelegram) -> AsyncIterator[TelegramAdapter]:
    adapter = TelegramAdapter(TOKEN, fake.base_url, limits=UNLIMITED, timeout=5)
    yield adapter
    await adapter.aclose()


def uploaded_png(upload: object) -> Image.Image:
    assert isinstance(upload, Upload)
    assert upload.filename == "chart.png"
    image = Image.open(io.BytesIO(upload.data))
    assert image.format == "PNG" and image.size[0] == 800
    return image


async def test_a_chart_goes_as_a_photo_captioned_with_the_text(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    payload = {
        "text": "📊 <b>Lisbon trip</b> spent last month: 42.00 EUR",
        "format": "html",
        "chart": chart_json(),
        "actions": [{"label": "Details", "data": "d:1"}],
        "reply_to": "41",
    }
    result = await adapter.send(GROUP, "send", payload)
    assert fake.sent() == []
    [photo] = fake.photos()
    assert result.provider_message_id == "1000"
    assert photo.chat_id == GROUP
    assert photo["caption"] == payload["text"] and photo["parse_mode"] == "HTML"
    assert photo.buttons == [{"text": "Details", "callback_data": "d:1"}]
    assert photo["reply_parameters"]["message_id"] == 41
    uploaded_png(photo["photo"])


async def test_a_text_too_long_for_a_caption_follows_the_photo(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    text = "<b>Spending</b>\n" + "– food: 12.00\n" * 120
    assert len(text) > TELEGRAM_CAPTION_LIMIT
    result = await adapter.send(
        GROUP, "send", {"text": text, "format": "html", "chart": chart_json()}
    )
    [photo] = fake.photos()
    [message] = fake.sent()
    assert "caption" not in photo.params
    uploaded_png(photo["photo"])
    assert message["text"] == text and message["parse_mode"] == "HTML"
    assert [c.method for c in fake.calls if c.method != "getMe"] == ["sendPhoto", "sendMessage"]
    assert result.provider_message_id == "1001"  # the text's message: the one edits belong to


async def test_markup_does_not_count_against_the_caption(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    text = "<b>x</b>" * 300  # 2,400 characters of HTML, 300 visible
    await adapter.send(GROUP, "send", {"text": text, "format": "html", "chart": chart_json()})
    assert fake.sent() == [] and fake.photos()[0]["caption"] == text


async def test_a_chart_that_cannot_be_drawn_leaves_the_text_alone(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await adapter.send(GROUP, "send", {"text": "the digest", "chart": {"title": 1}})
    assert fake.photos() == []
    assert [m["text"] for m in fake.sent()] == ["the digest"]


async def test_without_a_chart_nothing_changes(
    fake: FakeTelegram, adapter: TelegramAdapter
) -> None:
    await adapter.send(GROUP, "send", {"text": "hello", "format": "plain"})
    assert fake.photos() == [] and len(fake.sent()) == 1
