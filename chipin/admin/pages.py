"""Rendering the dashboard's pages: the Jinja2 environment (autoescaped), its filters, and the
context every page shares (the CSRF token, the navigation, the development banner)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from chipin import __version__
from chipin.admin.auth import AdminSession, get_policy
from chipin.admin.masking import mask, mask_text
from chipin.core.money import format_minor

HERE = Path(__file__).resolve().parent
NAV = (
    ("overview", "/admin", "Overview"),
    ("inbox", "/admin/inbox", "Webhook log"),
    ("outbox", "/admin/outbox", "Outbox"),
    ("groups", "/admin/groups", "Groups"),
    ("review", "/admin/review", "Parse review"),
)
NOTICES = {
    "reprocessed": "The message is queued for the worker again.",
    "not-reprocessed": "Only a failed message can be reprocessed (a done one would be "
    "applied twice); replay its text in the playground instead.",
    "retried": "The message is queued for sending again.",
    "not-retried": "Only a failed or dead message can be retried.",
    "cancelled": "The message will not be sent.",
    "not-cancelled": "Only a message that is not sent yet can be cancelled.",
    "edited": "The entry is changed; the balances follow.",
    "deleted": "The entry is deleted; the balances follow.",
    "restored": "The entry is restored; the balances follow.",
    "unchanged": "Nothing changed.",
    "dismissed": "The message is off the review list.",
    "not-dismissed": "A failed message stays on the list until it is reprocessed.",
    "bad-filter": "A filter could not be read and was ignored (times look like 2026-11-29T14:00).",
}


def when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


def iso(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat() if value else ""


def pretty(value: Any) -> str:
    """Masked, indented JSON for a ``<pre>`` block."""
    return json.dumps(mask(value), indent=2, ensure_ascii=False, sort_keys=True, default=str)


def changes(before: Any, after: Any) -> list[tuple[str, str, str]]:
    """The fields an audited update changed, as (field, before, after) display strings."""
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}

    def show(value: Any) -> str:
        if value is None:
            return "–"
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return [
        (key, mask_text(show(old.get(key))), mask_text(show(new.get(key))))
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.1f} s"


def money(minor: int, currency: str) -> str:
    return f"{format_minor(minor, currency)} {currency}"


def query(params: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**params, **changes}.items() if v not in (None, "", False)}
    return "?" + urlencode(merged) if merged else ""


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE.parent / "templates" / "admin")),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        when=when,
        iso=iso,
        pretty=pretty,
        changes=changes,
        masked=lambda v: mask_text(str(v)) if v is not None else "",
        percent=percent,
        seconds=seconds,
        money=money,
    )
    env.globals.update(query=query, nav=NAV, version=__version__)
    return env


class Pages:
    def __init__(self) -> None:
        self.env = environment()

    def render(
        self,
        request: Request,
        template: str,
        session: AdminSession | None,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        policy = get_policy(request)
        notice = NOTICES.get(request.query_params.get("notice", ""))
        html = self.env.get_template(template).render(
            csrf=session.csrf if session else "",
            session=session,
            passwordless=policy.passwordless,
            notice=notice,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)
