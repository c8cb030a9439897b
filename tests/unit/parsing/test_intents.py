from __future__ import annotations

from decimal import Decimal

from chipin.core.splits import EqualSplit, ExactSplit
from chipin.parsing.intents import (
    AddExpense,
    EditLast,
    ParseContext,
    RecordPayment,
    SetBudget,
    Unclear,
    intent_to_json,
)
from chipin.parsing.validate import MAX_MINOR, validate_intent


def expense(**overrides: object) -> AddExpense:
    fields: dict[str, object] = {
        "payers": (("Ana", 6000),), "amount": 6000, "currency": "USD",
        "split": EqualSplit(("Ana", "Raj", "Mia")), "description": "dinner",
    }  # fmt: skip
    fields.update(overrides)
    return AddExpense(**fields)  # type: ignore[arg-type]


def test_expense_json_has_deltas_that_sum_to_zero(ctx: ParseContext) -> None:
    out = intent_to_json(expense(), ctx)
    assert out == {
        "intent": "add_expense", "currency": "USD",
        "deltas": {"Ana": "40.00", "Raj": "-20.00", "Mia": "-20.00"},
        "amount": "60.00", "description": "dinner", "parser": "rules",
    }  # fmt: skip


def test_payment_json_credits_the_debtor(ctx: ParseContext) -> None:
    intent = RecordPayment(debtor="Raj", creditor="Ana", amount=3000, currency="USD")
    assert intent_to_json(intent, ctx)["deltas"] == {"Raj": "30.00", "Ana": "-30.00"}


def test_budget_json_uses_the_currencys_digits(ctx: ParseContext) -> None:
    intent = SetBudget(amount=50000, currency="KWD", period="week", category="food")
    out = intent_to_json(intent, ctx)
    assert (out["amount"], out["period"], out["category"]) == ("50.000", "week", "food")


def test_edit_and_unclear_json(ctx: ParseContext) -> None:
    assert intent_to_json(EditLast(amount=Decimal(70)), ctx)["amount"] == "70"
    assert intent_to_json(Unclear(question="Who paid?"), ctx)["question"] == "Who paid?"


def test_valid_intents_pass_unchanged(ctx: ParseContext) -> None:
    assert validate_intent(expense(), ctx) == expense()


def test_a_name_outside_the_roster_is_rejected_with_a_question(ctx: ParseContext) -> None:
    result = validate_intent(expense(split=EqualSplit(("Ana", "Jake"))), ctx)
    assert isinstance(result, Unclear)
    assert "Jake" in result.question


def test_amounts_must_be_positive_and_bounded(ctx: ParseContext) -> None:
    assert validate_intent(expense(amount=0, payers=(("Ana", 0),)), ctx).kind == "unclear"
    huge = expense(amount=MAX_MINOR, payers=(("Ana", MAX_MINOR),))
    assert validate_intent(huge, ctx).kind == "unclear"


def test_the_currency_must_be_an_iso_code(ctx: ParseContext) -> None:
    assert validate_intent(expense(currency="XYZ"), ctx).kind == "unclear"


def test_a_split_that_does_not_allocate_is_rejected(ctx: ParseContext) -> None:
    bad = expense(split=ExactSplit((("Raj", 1000),)))
    assert validate_intent(bad, ctx).kind == "unclear"


def test_a_member_cannot_pay_themselves(ctx: ParseContext) -> None:
    same = RecordPayment(debtor="Ana", creditor="Ana", amount=100, currency="USD")
    assert validate_intent(same, ctx).kind == "unclear"


def test_budgets_need_a_known_period(ctx: ParseContext) -> None:
    daily = SetBudget(amount=100, currency="USD", period="day")
    assert validate_intent(daily, ctx).kind == "unclear"
