"""Spending charts: what a chart shows (read from the ledger), the PNG drawn from it, and the
signed, expiring links through which WhatsApp fetches one.

matplotlib is imported only when a PNG is drawn (it takes about a second to import), so the CLI
and a text-only deployment never pay for it. Drawing uses the object-oriented API on an Agg
canvas, never pyplot: no figure state is shared between threads. The same data always gives
the same bytes (no timestamp, no "Software" stamp in the PNG).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import io
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from babel.dates import format_date

from chipin.bot.messages import Chart
from chipin.core.entries import Entry, Expense
from chipin.core.money import format_number
from chipin.core.records import Group
from chipin.core.reports import spending
from chipin.settings import Settings
from chipin.store.uow import SqlUnitOfWork

MAX_BARS = 8
"""Categories drawn one by one; the smaller ones share the last bar."""
MAX_NAME = 24
OTHERS = "everything else"
LINK_PATH = "/media/charts/{token}.png"
BAR_COLOR, TIME_COLOR, INK, MUTED = "#3b7dd8", "#2a9d8f", "#222222", "#666666"


# -- what a chart shows --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartData:
    """One currency's spending in a period, ready to draw. Amounts are minor units."""

    title: str
    """ "Lisbon trip · spending last month"."""
    subtitle: str
    """The dates and the total: "1 Nov 2026 – 30 Nov 2026 · 1,234.00 EUR"."""
    currency: str
    locale: str
    categories: tuple[tuple[str, int], ...]
    """(category, amount), biggest first; at most :data:`MAX_BARS`."""
    series: tuple[tuple[str, int], ...]
    """(label, amount) per ``step``, oldest first, empty steps included."""
    step: str
    """day | week | month | year"""

    def to_json(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "subtitle": self.subtitle,
            "currency": self.currency,
            "locale": self.locale,
            "categories": [[n, a] for n, a in self.categories],
            "series": [[n, a] for n, a in self.series],
            "step": self.step,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChartData:
        """The inverse of :meth:`to_json`; ValueError when ``data`` is not one."""

        def pairs(value: Any) -> tuple[tuple[str, int], ...]:
            if not isinstance(value, list):
                raise ValueError("chart data: a list of [name, amount] pairs expected")
            out = []
            for item in value:
                if not (
                    isinstance(item, list)
                    and len(item) == 2
                    and isinstance(item[0], str)
                    and isinstance(item[1], int)
                    and not isinstance(item[1], bool)
                ):
                    raise ValueError(f"chart data: {item!r} is not [name, amount]")
                out.append((item[0], item[1]))
            return tuple(out)

        try:
            texts = {k: data[k] for k in ("title", "subtitle", "currency", "locale", "step")}
        except (KeyError, TypeError) as exc:
            raise ValueError(f"chart data: {exc} missing") from None
        if not all(isinstance(v, str) for v in texts.values()):
            raise ValueError("chart data: text fields must be strings")
        return cls(
            categories=pairs(data.get("categories")), series=pairs(data.get("series")), **texts
        )


def chart_data(
    entries: Iterable[Entry], *, group: Group, label: str, start: dt.date, end: dt.date
) -> ChartData | None:
    """What the spending chart of ``group`` in [start, end) shows, or None when nothing was
    spent. One currency per chart: the group's own when it was spent in, else the first."""
    expenses = [e for e in entries if isinstance(e, Expense) and start <= e.date < end]
    totals = spending(expenses)
    if not totals:
        return None
    total = next((t for t in totals if t.currency == group.currency), totals[0])
    mine = [e for e in expenses if e.currency == total.currency]
    # an open-ended period ("so far") is drawn from its first to its last entry
    first = start if start != dt.date.min else min(e.date for e in mine)
    stop = end if end != dt.date.max else max(e.date for e in mine) + dt.timedelta(days=1)
    step = _step(first, stop)
    per_step: dict[dt.date, int] = dict.fromkeys(_steps(first, stop, step), 0)
    for expense in mine:
        key = _step_start(expense.date, step)
        per_step[key] = per_step.get(key, 0) + expense.amount
    last = stop - dt.timedelta(days=1)
    locale = group.locale
    dates = " – ".join(format_date(d, "d MMM y", locale=locale) for d in (first, last))
    return ChartData(
        title=f"{group.name} · spending {label}",
        subtitle=f"{dates} · {format_number(total.total, total.currency, locale)} {total.currency}",
        currency=total.currency,
        locale=locale,
        categories=_top(total.by_category),
        series=tuple(
            (_step_label(d, step, first, last, locale), a) for d, a in sorted(per_step.items())
        ),
        step=step,
    )


def _top(by_category: dict[str, int]) -> tuple[tuple[str, int], ...]:
    ranked = sorted(by_category.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(ranked) <= MAX_BARS:
        return tuple(ranked)
    kept = ranked[: MAX_BARS - 1]
    return (*kept, (OTHERS, sum(a for _, a in ranked[MAX_BARS - 1 :])))


def _step(first: dt.date, stop: dt.date) -> str:
    days = (stop - first).days
    if days <= 31:
        return "day"
    if days <= 26 * 7:
        return "week"
    if days <= 3 * 366:
        return "month"
    return "year"


def _step_start(day: dt.date, step: str) -> dt.date:
    if step == "week":
        return day - dt.timedelta(days=day.weekday())  # weeks start on Monday, as reports do
    if step == "month":
        return day.replace(day=1)
    if step == "year":
        return dt.date(day.year, 1, 1)
    return day


def _steps(first: dt.date, stop: dt.date, step: str) -> list[dt.date]:
    out, day = [], _step_start(first, step)
    while day < stop:
        out.append(day)
        if step == "day":
            day += dt.timedelta(days=1)
        elif step == "week":
            day += dt.timedelta(days=7)
        elif step == "month":
            day = (day + dt.timedelta(days=32)).replace(day=1)
        else:
            day = dt.date(day.year + 1, 1, 1)
    return out


def _step_label(day: dt.date, step: str, first: dt.date, last: dt.date, locale: str) -> str:
    one_month = (first.year, first.month) == (last.year, last.month)
    one_year = first.year == last.year
    if step == "day":
        return format_date(day, "d" if one_month else "d MMM", locale=locale)
    if step == "week":
        return format_date(day, "d MMM", locale=locale)
    if step == "month":
        return format_date(day, "MMM" if one_year else "MMM yy", locale=locale)
    return str(day.year)


# -- drawing -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _glyphs() -> frozenset[int]:
    """The code points the default font can draw (a missing glyph is a warning, and an empty
    box, in matplotlib)."""
    from matplotlib import font_manager, rcParams

    default = font_manager.FontProperties(family=rcParams["font.family"])
    font = font_manager.get_font(font_manager.findfont(default))
    return frozenset(font.get_charmap())


def _safe(text: str, limit: int | None = None) -> str:
    """One line of user text as matplotlib draws it literally: no mathtext ("$"), no glyph the
    font lacks."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    glyphs = _glyphs()
    drawable = "".join(c for c in text if ord(c) in glyphs)  # an emoji in a name: left out
    return " ".join(drawable.split()).replace("$", r"\$") or "?"


def render_png(data: ChartData) -> bytes:
    """The chart as PNG bytes: spending by category (horizontal bars) over spending per day,
    week or month of the period."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    def money(value: float, _position: object = None) -> str:
        # axis positions are floats; amounts shown are whole minor units of the currency
        return format_number(round(value), data.currency, data.locale)

    rows = max(len(data.categories), 1)
    figure = Figure(figsize=(8, 4.2 + 0.3 * rows), dpi=100, facecolor="white", layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(
        f"{_safe(data.title)}\n{_safe(data.subtitle)}", fontsize=13, color=INK, linespacing=1.5
    )
    by_category, over_time = figure.subplots(2, 1, height_ratios=(1.2 + 0.3 * rows, 2.4))

    names = [_safe(n, MAX_NAME) for n, _ in data.categories][::-1]
    values = [a for _, a in data.categories][::-1]
    bars = by_category.barh(range(len(names)), values, color=BAR_COLOR, height=0.6)
    by_category.set_yticks(range(len(names)), labels=names, fontsize=10, color=INK)
    by_category.bar_label(bars, labels=[money(v) for v in values], padding=4, fontsize=9)
    by_category.set_title(f"By category ({data.currency})", loc="left", fontsize=10, color=MUTED)
    by_category.margins(x=0.2)

    labels = [label for label, _ in data.series]
    amounts = [a for _, a in data.series]
    over_time.bar(range(len(amounts)), amounts, color=TIME_COLOR, width=0.8)
    every = max(1, math.ceil(len(labels) / 12))
    shown = range(0, len(labels), every)
    over_time.set_xticks(list(shown), labels=[_safe(labels[i]) for i in shown], fontsize=8)
    over_time.set_title(f"Per {data.step} ({data.currency})", loc="left", fontsize=10, color=MUTED)

    for axis, ruler in ((by_category, by_category.xaxis), (over_time, over_time.yaxis)):
        ruler.set_major_formatter(FuncFormatter(money))
        ruler.set_major_locator(MaxNLocator(nbins=5, integer=True))
        axis.tick_params(labelsize=8, colors=MUTED)
        for side in ("top", "right"):
            axis.spines[side].set_visible(False)

    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


# -- signed links --------------------------------------------------------------------------------


class BadLink(Exception):
    """A chart link we did not make, or one that was altered."""


class ExpiredLink(BadLink):
    """A genuine chart link past its expiry."""


@dataclass(frozen=True, slots=True)
class ChartLink:
    """What a chart link grants: one group's spending chart for one period, until it expires."""

    group_id: int
    start: dt.date
    end: dt.date
    """Exclusive, as every period in Chipin."""
    label: str
    """The period as the chart's title says it ("last month")."""
    expires_at: dt.datetime


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ChartLinks:
    """Signs and reads chart links.

    A token is ``base64url(json).base64url(HMAC-SHA256)``, tamper-evident but not secret (it
    holds no secret; whoever has the link sees the chart until it expires, as with any media
    link handed to Twilio). The HMAC key is derived from ``CHIPIN_SECRET_KEY`` for this one use,
    so a chart token can never pass for an admin session or the other way round. Standard
    library only: ``itsdangerous`` is not a dependency (see ``chipin.admin.auth``).
    """

    def __init__(self, secret: bytes, base_url: str | None, ttl: dt.timedelta) -> None:
        self._key = hmac.new(secret, b"chipin:media:charts:v1", hashlib.sha256).digest()
        self.base_url = base_url.rstrip("/") if base_url else None
        self.ttl = ttl

    @classmethod
    def from_settings(cls, settings: Settings) -> ChartLinks | None:
        """None without ``CHIPIN_SECRET_KEY``: a key of this process only would make links
        that die on restart and fail on every other replica."""
        if settings.secret_key is None or not settings.secret_key.get_secret_value():
            return None
        return cls(
            settings.secret_key.get_secret_value().encode(),
            settings.public_base_url,
            dt.timedelta(hours=settings.chart_link_hours),
        )

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode(), hashlib.sha256).digest()

    def sign(self, link: ChartLink) -> str:
        payload = {
            "g": link.group_id,
            "s": link.start.isoformat(),
            "e": link.end.isoformat(),
            "l": link.label,
            "x": int(link.expires_at.timestamp()),
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def read(self, token: str, now: dt.datetime) -> ChartLink:
        """The link ``token`` carries; :class:`BadLink` or :class:`ExpiredLink` otherwise."""
        body, dot, mac = token.partition(".")
        if not dot or not body or not mac:
            raise BadLink("not a chart token")
        try:
            if not hmac.compare_digest(_unb64(mac), self._mac(body)):
                raise BadLink("bad signature")
            data = json.loads(_unb64(body))
            link = ChartLink(
                int(data["g"]),
                dt.date.fromisoformat(str(data["s"])),
                dt.date.fromisoformat(str(data["e"])),
                str(data["l"]),
                dt.datetime.fromtimestamp(int(data["x"]), dt.UTC),
            )
        except BadLink:
            raise
        except (binascii.Error, ValueError, TypeError, KeyError, OverflowError) as exc:
            raise BadLink(f"unreadable chart token: {type(exc).__name__}") from None
        if link.end <= link.start:
            raise BadLink("empty period")
        if now >= link.expires_at:
            raise ExpiredLink("the chart link has expired")
        return link

    def url(
        self, group_id: int, start: dt.date, end: dt.date, label: str, now: dt.datetime
    ) -> str | None:
        """The absolute URL of the chart, valid for the configured time; None without
        ``PUBLIC_BASE_URL`` (nobody outside could fetch it)."""
        if self.base_url is None:
            return None
        token = self.sign(ChartLink(group_id, start, end, label, now + self.ttl))
        return self.base_url + LINK_PATH.format(token=token)


# -- for replies and the media route -------------------------------------------------------------


def spending_chart(
    entries: Iterable[Entry],
    group: Group,
    start: dt.date,
    end: dt.date,
    label: str,
    *,
    settings: Settings | None,
    now: dt.datetime,
) -> Chart | None:
    """The chart that goes with a spending report or a digest of [start, end), drawn from the
    period's ``entries`` the report has read already; None when charts are switched off or
    nothing was spent."""
    if settings is not None and not settings.charts_enabled:
        return None
    data = chart_data(entries, group=group, label=label, start=start, end=end)
    if data is None:
        return None
    links = ChartLinks.from_settings(settings) if settings is not None else None
    url = links.url(group.id, start, end, label, now) if links is not None else None
    return Chart(data.to_json(), url)


def chart_png(uow: SqlUnitOfWork, link: ChartLink) -> bytes | None:
    """The PNG a link stands for, drawn from the ledger now; None when its group is gone or
    nothing is spent in the period any more."""
    try:
        group = uow.ledger.group(link.group_id)
    except LookupError:
        return None
    entries = (s.entry for s in uow.ledger.entries_between(group.id, link.start, link.end))
    data = chart_data(entries, group=group, label=link.label, start=link.start, end=link.end)
    return render_png(data) if data is not None else None
