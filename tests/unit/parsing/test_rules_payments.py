from __future__ import annotations

import pytest

from chipin.parsing.intents import ParseContext, RecordPayment
from chipin.parsing.rules import parse_rules
from tests.unit.parsing.helpers import deltas


@pytest.mark.parametrize(
    ("text", "debtor", "creditor"),
    [
        ("Raj sent me 30", "Raj", "Ana"),
        ("I paid Mia back 30", "Ana", "Mia"),
        ("settled with Tom, gave him 30", "Ana", "Tom"),
        ("Mia paid Raj 30", "Mia", "Raj"),
        ("got 30 from Tom for the tickets", "Tom", "Ana"),
        ("sent 30 to Raj on zelle", "Ana", "Raj"),
        ("Raj paid me back, 30", "Raj", "Ana"),
    ],
)
def test_payments_move_money_from_debtor_to_creditor(
    text: str, debtor: str, creditor: str, ctx: ParseContext
) -> None:
    assert deltas(text, ctx) == {debtor: "30.00", creditor: "-30.00"}


@pytest.mark.parametrize(
    ("text", "method"),
    [("venmo'd Raj 20", "venmo"), ("Raj sent me 20 via pix", "pix"), ("sent Raj 20 on UPI", "upi")],
)
def test_the_payment_method_is_kept(text: str, method: str, ctx: ParseContext) -> None:
    intent = parse_rules(text, ctx)
    assert isinstance(intent, RecordPayment)
    assert intent.method == method


def test_money_from_outside_the_group_is_not_a_payment(ctx: ParseContext) -> None:
    assert parse_rules("my mom sent me 100 for my birthday", ctx).kind == "none"
