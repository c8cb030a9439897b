"""Telegram replies are HTML: every template escapes what users typed and keeps its own markup."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from chipin.bot.messages import Reply
from chipin.bot.render import TEMPLATES, render

HOSTILE = ["<b>Bo</b>", "Tom & Jerry", "</i>Eve"]
ENTRY: dict[str, Any] = {
    "id": 7,
    "kind": "expense",
    "description": "Dinner <script>alert(1)</script> & wine",
    "category": "food",
    "amount": 6000,
    "currency": "EUR",
    "date": "2026-11-21",
    "payers": [{"name": HOSTILE[0], "amount": 4000}, {"name": HOSTILE[1], "amount": 2000}],
    "shares": [{"name": n, "amount": 2000} for n in HOSTILE],
    "date_note": "<i>yesterday</i>",
}
PAYMENT: dict[str, Any] = {
    "id": 8,
    "kind": "payment",
    "description": "x",
    "amount": 2500,
    "currency": "EUR",
    "date": "2026-11-21",
    "debtor": HOSTILE[2],
    "creditor": HOSTILE[0],
    "method": "<a href='x'>cash</a>",
    "date_note": None,
}
GROUP = "Trip <3 & co"
CONTEXTS: dict[str, dict[str, Any]] = {
    "recorded": {"entry": ENTRY},
    "draft": {"entry": PAYMENT, "author": HOSTILE[1]},
    "draft_resolved": {"entry": ENTRY, "outcome": "cancelled"},
    "edited": {"entry": PAYMENT},
    "undone": {"entry": ENTRY},
    "restored": {"entry": PAYMENT},
    "notice": {"text": "Only <b>Bo</b> & co can answer this."},
    "unclear": {"question": "Who is <Zed>?"},
    "welcome": {"group": GROUP, "name": HOSTILE[2]},
    "help": {"group": GROUP},
    "my_balances": {
        "name": HOSTILE[1],
        "groups": [
            {"group": GROUP, "balances": [{"currency": "EUR", "amount": -1500}]},
            {"group": "<Flat>", "balances": []},
        ],
    },
    "history": {"group": GROUP, "entries": [ENTRY, PAYMENT]},
    "balances": {
        "group": GROUP,
        "currencies": [
            {
                "currency": "EUR",
                "balances": [
                    {"name": HOSTILE[0], "amount": 500},
                    {"name": HOSTILE[1], "amount": -500},
                ],
                "transfers": [{"debtor": HOSTILE[1], "creditor": HOSTILE[0], "amount": 500}],
            }
        ],
    },
    "spending": {
        "group": GROUP,
        "period_label": "this month",
        "category": "<food>",
        "member": HOSTILE[2],
        "totals": [
            {
                "currency": "EUR",
                "amount": 6000,
                "by_category": [{"name": "<food>", "amount": 6000}],
                "by_member": [{"name": HOSTILE[0], "amount": 6000}],
            }
        ],
    },
}
ALLOWED_TAGS = re.compile(r"</?(?:b|i|s|u|code|pre)>")


def test_every_reply_of_the_conversation_has_a_telegram_twin() -> None:
    # the bot's replies (notifications added since render as escaped plain text, see render.py)
    telegram = {p.name.removesuffix(".html.j2") for p in (TEMPLATES / "telegram").glob("*.j2")}
    assert set(CONTEXTS) | {"_entry"} <= telegram
    plain = {p.name.removesuffix(".txt.j2") for p in (TEMPLATES / "text").glob("*.txt.j2")}
    assert set(CONTEXTS) - {"my_balances"} <= plain


@pytest.mark.parametrize("name", sorted(CONTEXTS))
def test_a_telegram_reply_escapes_user_text_and_keeps_only_telegram_tags(name: str) -> None:
    payload = render("telegram", Reply(name, CONTEXTS[name]))
    text = payload["text"]
    assert payload["format"] == "html"
    assert payload["template"] == name
    # no raw user markup survives; the only tags are the template's own
    markup = re.findall(r"</?[A-Za-z][^>]*>", text)
    assert all(ALLOWED_TAGS.fullmatch(tag) for tag in markup), markup
    assert "<script>" not in text and "<a " not in text and "<Zed>" not in text
    # every & starts an entity Telegram understands
    assert not re.search(r"&(?!(?:lt|gt|amp|quot|#\d+);)", text)
    # and once the tags are dropped and entities decoded, the user's text reads as typed
    shown = html.unescape(ALLOWED_TAGS.sub("", text))
    for value in _user_strings(CONTEXTS[name]):
        assert value in shown, (value, shown)


def test_amounts_use_the_money_filters() -> None:
    text = render("telegram", Reply("recorded", {"entry": ENTRY}))["text"]
    assert "<b>60.00 EUR</b>" in text
    assert "&lt;b&gt;Bo&lt;/b&gt; 40.00" in text
    assert "<b>Dinner &lt;script&gt;alert(1)&lt;/script&gt; &amp; wine</b>" in text
    assert "<i>(&lt;i&gt;yesterday&lt;/i&gt;)</i>" in text


def _user_strings(context: dict[str, Any]) -> list[str]:
    """The names and descriptions a template must show (amounts are formatted, not copied)."""
    found: list[str] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif isinstance(value, str) and key in {
            "name", "debtor", "creditor", "group", "author", "text", "question", "member",
        }:  # fmt: skip
            found.append(value)

    walk(context)
    return found
