from __future__ import annotations

from decimal import Decimal

import pytest

from chipin.parsing.intents import EditLast, ParseContext, SetBudget, ShowSpending
from chipin.parsing.rules import parse_rules


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("who owes what?", "show_balances"),
        ("how much do I owe?", "show_balances"),
        ("balances pls", "show_balances"),
        ("undo", "undo"),
        ("delete my last expense", "undo"),
        ("scratch that", "undo"),
        ("help", "help"),
        ("how do I add an expense?", "help"),
        ("/join", "join"),
        ("count me in", "join"),
        ("how much did we spend this month?", "show_spending"),
    ],
)
def test_commands_are_recognised(text: str, kind: str, ctx: ParseContext) -> None:
    assert parse_rules(text, ctx).kind == kind


def test_cancelling_something_else_is_not_an_undo(ctx: ParseContext) -> None:
    assert parse_rules("cancel the dinner reservation", ctx).kind == "none"


def test_a_budget_has_amount_period_and_category(ctx: ParseContext) -> None:
    intent = parse_rules("set a budget of 400 a month for groceries", ctx)
    assert intent == SetBudget(amount=40000, currency="USD", period="month",
                               category="groceries", confidence=intent.confidence)  # fmt: skip
    weekly = parse_rules("set budget 150/week for drinks", ctx)
    assert isinstance(weekly, SetBudget)
    assert (weekly.period, weekly.category) == ("week", "drinks")


def test_spending_reads_period_category_and_member(ctx: ParseContext) -> None:
    intent = parse_rules("how much did Raj spend on food last month?", ctx)
    assert intent == ShowSpending(period="last_month", category="food", member="Raj",
                                  confidence=intent.confidence)  # fmt: skip


@pytest.mark.parametrize("text", ["actually it was 70", "make that 70", "sorry, 70 not 60",
                                  "correction: 70"])  # fmt: skip
def test_a_correction_edits_the_last_amount(text: str, ctx: ParseContext) -> None:
    intent = parse_rules(text, ctx)
    assert isinstance(intent, EditLast)
    assert intent.amount == Decimal(70)
