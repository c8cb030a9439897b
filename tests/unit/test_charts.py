"""Spending charts without a database: what a chart shows, the PNG it draws, the signed links
WhatsApp fetches it through, and the payload keys each channel gets."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys

import pytest
from PIL import Image

from chipin.bot.charts import (
    MAX_BARS,
    OTHERS,
    BadLink,
    ChartData,
    ChartLink,
    ChartLinks,
    ExpiredLink,
    chart_data,
    render_png,
)
from chipin.bot.messages import Chart, Reply
from chipin.bot.render import render
from chipin.core.entries import Expense, Payment
from chipin.core.records import Group
from chipin.core.splits import EqualSplit
from chipin.settings import Settings

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
LISBON = Group(7, "Lisbon trip", "EUR", "Europe/Lisbon")


def spend(amount: int, day: int, category: str | None, currency: str = "EUR") -> Expense:
    return Expense(
        currency,
        amount,
        (("Ana", amount),),
        EqualSplit(("Ana", "Raj")),
        category or "thing",
        dt.date(2026, 11, day),
        category,
    )


def november() -> list[Expense | Payment]:
    return [
        spend(4000, 3, "food"),
        spend(2550, 3, "taxi"),
        spend(1000, 10, "food"),
        spend(12000, 20, "hotel"),
        spend(999, 20, None),
        Payment("EUR", 5000, "Raj", "Ana", dt.date(2026, 11, 21)),
    ]


def data(entries: list[Expense | Payment] | None = None, **kw: object) -> ChartData:
    found = chart_data(
        november() if entries is None else entries,
        group=kw.pop("group", LISBON),  # type: ignore[arg-type]
        label="last month",
        start=kw.pop("start", NOV),  # type: ignore[arg-type]
        end=kw.pop("end", DEC),  # type: ignore[arg-type]
    )
    assert found is not None
    return found


# -- what a chart shows --------------------------------------------------------------------------


def test_a_chart_shows_categories_biggest_first_and_every_day_of_the_period() -> None:
    chart = data()
    assert chart.title == "Lisbon trip · spending last month"
    assert chart.subtitle == "1 Nov 2026 – 30 Nov 2026 · 205.49 EUR"
    assert chart.categories == (("hotel", 12000), ("food", 5000), ("taxi", 2550), ("other", 999))
    assert chart.step == "day"
    assert len(chart.series) == 30  # quiet days are drawn as zero, payments are not spending
    assert chart.series[2] == ("3", 6550)
    assert chart.series[19] == ("20", 12999)
    assert sum(a for _, a in chart.series) == 20549
    assert ChartData.from_json(chart.to_json()) == chart


def test_nothing_spent_means_no_chart() -> None:
    payment_only = [Payment("EUR", 5000, "Raj", "Ana", dt.date(2026, 11, 21))]
    assert chart_data(payment_only, group=LISBON, label="x", start=NOV, end=DEC) is None
    outside = [spend(100, 3, "food")]
    assert chart_data(outside, group=LISBON, label="x", start=DEC, end=DEC.replace(day=8)) is None


def test_small_categories_share_the_last_bar_so_the_total_is_kept() -> None:
    many = [spend(1000 + n, 1 + n, f"cat{n:02}") for n in range(12)]
    chart = data(many)
    assert len(chart.categories) == MAX_BARS
    assert chart.categories[-1][0] == OTHERS
    assert sum(a for _, a in chart.categories) == sum(e.amount for e in many)


def test_the_groups_currency_is_charted_and_a_long_period_goes_by_month() -> None:
    mixed = [spend(5000, 2, "food", "USD"), spend(300, 4, "food"), spend(9000, 5, "taxi", "USD")]
    chart = data(mixed, start=dt.date(2026, 1, 1), end=dt.date(2027, 1, 1))
    assert chart.currency == "EUR" and chart.categories == (("food", 300),)
    assert chart.step == "month" and len(chart.series) == 12 and chart.series[10] == ("Nov", 300)
    in_dollars = data(mixed, group=Group(8, "NYC", "USD", "UTC"))
    assert in_dollars.currency == "USD" and in_dollars.subtitle.endswith("140.00 USD")


def test_an_open_ended_period_is_drawn_from_its_first_to_its_last_entry() -> None:
    chart = data(start=dt.date.min, end=dt.date.max)
    assert chart.subtitle.startswith("3 Nov 2026 – 20 Nov 2026")
    assert len(chart.series) == 18


def test_weeks_start_on_monday() -> None:
    chart = data(start=dt.date(2026, 10, 1), end=dt.date(2026, 12, 1))
    assert chart.step == "week"
    assert chart.series[0] == ("28 Sep", 0)  # the week of 1 October starts on 28 September
    week_of_the_2nd = dict(chart.series)["2 Nov"]
    assert week_of_the_2nd == 6550


def test_amounts_follow_the_currency_digits_and_the_groups_locale() -> None:
    yen = Group(9, "Tokyo", "JPY", "Asia/Tokyo", "de_DE")
    chart = data([spend(123456, 5, "food", "JPY")], group=yen)
    assert chart.subtitle.endswith("123.456 JPY")


def test_broken_chart_data_is_refused_not_drawn() -> None:
    good = data().to_json()
    for bad in (
        {k: v for k, v in good.items() if k != "title"},
        good | {"categories": [["food", "12.00"]]},
        good | {"series": "nope"},
        good | {"currency": 3},
    ):
        with pytest.raises(ValueError):
            ChartData.from_json(bad)


# -- the picture ---------------------------------------------------------------------------------


def test_the_png_is_a_real_image_and_the_same_data_gives_the_same_bytes() -> None:
    png = render_png(data())
    assert png.startswith(PNG_MAGIC)
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size[0] == 800 and 500 <= image.size[1] <= 1000
    # something is drawn in colour: the bars, not an empty white canvas
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 10
    assert render_png(data()) == png
    assert b"Software" not in png and b"matplotlib" not in png
    assert render_png(data(november()[:2])) != png


def test_names_with_emoji_or_dollar_signs_are_drawn_without_warnings() -> None:
    odd = Group(3, "Trip $$ 🌍 x$y$", "USD", "UTC")
    chart = data([spend(500, 2, "🍕 pizza $5$"), spend(700, 3, "🍺")], group=odd)
    # pytest turns warnings into errors: a missing glyph or bad mathtext would fail here
    assert render_png(chart).startswith(PNG_MAGIC)


def test_importing_chipin_does_not_import_matplotlib() -> None:
    code = (
        "import sys, chipin.app, chipin.cli, chipin.bot.charts, chipin.channels.media; "
        "print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- signed links --------------------------------------------------------------------------------

LINKS = ChartLinks(b"a-test-secret", "https://chipin.example.org/", dt.timedelta(days=7))
LINK = ChartLink(7, NOV, DEC, "last month", NOW + dt.timedelta(days=7))


def test_a_signed_link_reads_back_until_it_expires() -> None:
    token = LINKS.sign(LINK)
    assert LINKS.read(token, NOW) == LINK
    assert LINKS.read(token, NOW + dt.timedelta(days=6, hours=23)) == LINK
    with pytest.raises(ExpiredLink):
        LINKS.read(token, NOW + dt.timedelta(days=7))


def test_a_tampered_or_foreign_token_is_refused() -> None:
    token = LINKS.sign(LINK)
    body, mac = token.split(".")
    other_group = LINKS.sign(ChartLink(8, NOV, DEC, "last month", LINK.expires_at)).split(".")[0]
    flipped = mac[:-2] + ("A" if mac[-2] != "A" else "B") + mac[-1]
    foreign = ChartLinks(b"another-secret", None, dt.timedelta(days=1)).sign(LINK)
    for bad in (f"{other_group}.{mac}", f"{body}.{flipped}", foreign, body, "", "..", "a.b"):
        with pytest.raises(BadLink) as caught:
            LINKS.read(bad, NOW)
        assert not isinstance(caught.value, ExpiredLink), bad


def test_an_expired_forgery_is_a_forgery_not_an_expiry() -> None:
    stale = ChartLinks(b"another-secret", None, dt.timedelta(days=1)).sign(
        ChartLink(7, NOV, DEC, "x", NOW - dt.timedelta(days=1))
    )
    with pytest.raises(BadLink) as caught:
        LINKS.read(stale, NOW)
    assert not isinstance(caught.value, ExpiredLink)


def test_the_url_is_absolute_under_the_public_root_and_expires_after_the_setting() -> None:
    url = LINKS.url(7, NOV, DEC, "last month", NOW)
    assert url is not None
    assert url.startswith("https://chipin.example.org/media/charts/") and url.endswith(".png")
    token = url.removeprefix("https://chipin.example.org/media/charts/").removesuffix(".png")
    assert LINKS.read(token, NOW).expires_at == NOW + dt.timedelta(days=7)
    assert ChartLinks(b"k", None, dt.timedelta(days=1)).url(7, NOV, DEC, "x", NOW) is None


def test_links_need_the_secret_key_and_take_their_lifetime_from_the_settings() -> None:
    assert ChartLinks.from_settings(Settings(PUBLIC_BASE_URL="https://x.example")) is None
    links = ChartLinks.from_settings(
        Settings(
            CHIPIN_SECRET_KEY="k" * 32, PUBLIC_BASE_URL="https://x.example", CHART_LINK_HOURS=2
        )
    )
    assert links is not None and links.ttl == dt.timedelta(hours=2)
    assert links.base_url == "https://x.example"


# -- per channel ---------------------------------------------------------------------------------


def test_each_channel_gets_the_chart_its_own_way_and_text_channels_the_text_alone() -> None:
    totals = [
        {
            "currency": "EUR",
            "amount": 20549,
            "previous": 0,
            "by_category": [{"name": "hotel", "amount": 12000}],
            "by_member": [],
        }
    ]
    context = {
        "group": "Lisbon trip",
        "label": "last month",
        "totals": totals,
        "start": "2026-11-01",
        "end": "2026-11-30",
    }
    chart = Chart(data().to_json(), "https://chipin.example.org/media/charts/t.png")
    reply = Reply("digest", context, chart=chart)
    telegram = render("telegram", reply)
    assert telegram["chart"] == chart.data and "media_urls" not in telegram
    whatsapp = render("whatsapp", reply)
    assert whatsapp["media_urls"] == [chart.url] and "chart" not in whatsapp
    for text_only in ("sms", "web", "cli"):
        payload = render(text_only, reply)
        assert "chart" not in payload and "media_urls" not in payload
        assert "205.49" in payload["text"] or "hotel" in payload["text"]
    assert render("sms", reply)["text"] == (
        "Lisbon trip spent last month (2026-11-01 to 2026-11-30): 205.49 EUR (hotel 120.00)"
    )
    without_link = render("whatsapp", Reply("digest", context, chart=Chart(chart.data)))
    assert "media_urls" not in without_link
    assert render("whatsapp", Reply("digest", context)).keys() == without_link.keys()
