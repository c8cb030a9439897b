"""Reply rendering: templates per channel, amounts in the group's locale, strict variables."""

from __future__ import annotations

import datetime as dt

import pytest
from jinja2 import UndefinedError

from chipin.bot.messages import Action, Reply
from chipin.bot.render import format_amount, render
from chipin.bot.views import entry_view
from chipin.core.entries import Expense
from chipin.core.splits import EqualSplit

HOTEL = Expense(
    "BRL", 125050, (("Ana", 125050),), EqualSplit(("Ana", "Bia")), "hotel", dt.date(2026, 11, 20)
)


def test_amounts_follow_the_groups_locale_even_inside_macros() -> None:
    reply = Reply("recorded", {"entry": entry_view(HOTEL, 7)}, actions=(Action("Undo", "u:7"),))
    assert render("web", reply, locale="pt_BR")["text"] == (
        "✓ Hotel · 1.250,50 BRL · paid by Ana · Ana 625,25, Bia 625,25"
    )
    assert render("web", reply, locale="en_US")["text"].startswith("✓ Hotel · 1,250.50 BRL")


def test_a_plain_channel_gets_plain_text_and_the_buttons() -> None:
    payload = render(
        "sms", Reply("recorded", {"entry": entry_view(HOTEL, 7)}, actions=(Action("Undo", "u:7"),))
    )
    assert payload["format"] == "plain"
    assert payload["actions"] == [{"label": "Undo", "data": "u:7"}]
    assert payload["template"] == "recorded"


def test_zero_and_three_decimal_currencies_keep_their_digits() -> None:
    assert format_amount(300000, "JPY", "ja_JP") == "300,000"
    assert format_amount(12500, "KWD", "en_US") == "12.500"
    assert format_amount(15000000, "INR", "en_IN") == "1,50,000.00"


def test_a_missing_template_variable_is_an_error_not_a_blank() -> None:
    with pytest.raises(UndefinedError):
        render("web", Reply("welcome", {"group": "Lisbon"}))
