"""Rendering replies from Jinja2 templates, per channel.

Templates live in ``chipin/templates/<channel>/<name>.<ext>.j2`` with ``chipin/templates/text``
as the plain-text fallback (web playground, terminal, SMS until they get their own). Undefined
variables are errors (StrictUndefined), and HTML templates autoescape user text.

A reply's chart becomes payload keys for the channels that show pictures: ``chart`` (the data,
drawn and uploaded by the Telegram adapter) or ``media_urls`` (the signed URL WhatsApp fetches).
SMS, the playground and the terminal get the text alone. A WhatsApp payload also carries
``sms_text``: the same reply rendered for SMS, for its one SMS fallback.
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path
from typing import Any

import structlog
from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

from chipin.bot.messages import Chart, Reply
from chipin.core.money import format_number

log = structlog.get_logger("chipin.render")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FORMATS = {"telegram": "html"}
"""Channels whose messages are marked up; every other channel gets plain text."""
DRAWS_CHARTS = frozenset({"telegram"})
"""Channels whose adapter draws a chart from its data and uploads the picture."""
FETCHES_MEDIA = frozenset({"whatsapp"})
"""Channels whose provider fetches pictures from a URL (Twilio's ``MediaUrl``)."""
SMS_TWIN = frozenset({"whatsapp"})
"""Channels whose payload carries ``sms_text``, its SMS rendering: a WhatsApp message that fails
goes out once by SMS (``chipin.channels.twilio.delivery``), as an SMS."""


def format_amount(minor: int, currency: str, locale: str = "en_US") -> str:
    """A number in the currency's digits, grouped for the locale: "1,250.50", "1.250,50"."""
    return format_number(minor, currency, locale)


@pass_context
def _amount(ctx: Context, minor: int, currency: str) -> str:
    return format_amount(minor, currency, ctx.get("locale", "en_US"))


@pass_context
def _money(ctx: Context, minor: int, currency: str) -> str:
    return f"{format_amount(minor, currency, ctx.get('locale', 'en_US'))} {currency}"


@lru_cache(maxsize=16)
def _environment(channel: str) -> Environment:
    paths = [TEMPLATES / channel, TEMPLATES / "text"]
    env = Environment(
        loader=FileSystemLoader([str(p) for p in paths if p.is_dir()]),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["amount"] = _amount
    env.filters["money"] = _money
    return env


def message_format(channel: str) -> str:
    return FORMATS.get(channel, "plain")


def render(channel: str, reply: Reply, *, locale: str = "en_US") -> dict[str, Any]:
    """The outbox payload for ``reply`` on ``channel``: text, format and buttons."""
    fmt = message_format(channel)
    env = _environment(channel)
    if fmt == "html" and not (TEMPLATES / channel / f"{reply.template}.html.j2").is_file():
        # no marked-up twin yet: the plain template, escaped, is still valid HTML
        plain = env.get_template(f"{reply.template}.txt.j2")
        text = html.escape(plain.render(**reply.context, locale=locale).strip(), quote=False)
    else:
        suffix = "html.j2" if fmt == "html" else "txt.j2"
        template = env.get_template(f"{reply.template}.{suffix}")
        text = template.render(**reply.context, locale=locale).strip()
    payload: dict[str, Any] = {"text": text, "format": fmt, "template": reply.template}
    if reply.actions:
        payload["actions"] = [{"label": a.label, "data": a.data} for a in reply.actions]
    if reply.chart is not None:
        payload |= chart_payload(channel, reply.chart)
    if channel in SMS_TWIN:
        twin = sms_twin(reply, locale)
        if twin is not None:
            payload["sms_text"] = twin
    return payload


def sms_twin(reply: Reply, locale: str = "en_US") -> str | None:
    """The SMS rendering of ``reply`` (``templates/sms``, else the plain ``templates/text`` one,
    as :func:`render` resolves any channel), for the SMS fallback of a WhatsApp message; None
    when neither renders (the fallback then makes the WhatsApp text plain)."""
    try:
        return str(render("sms", reply, locale=locale)["text"])
    except TemplateError as exc:  # no SMS (or plain) template, or it cannot render this reply
        log.warning("chipin.no_sms_twin", template=reply.template, error=str(exc))
        return None


def chart_payload(channel: str, chart: Chart) -> dict[str, Any]:
    """The payload keys that carry ``chart`` on ``channel`` (none where it cannot be shown)."""
    if channel in DRAWS_CHARTS:
        return {"chart": chart.data}
    if channel in FETCHES_MEDIA and chart.url:
        return {"media_urls": [chart.url]}
    return {}
