"""What the rules parser refuses to record: talk is none, unsafe money is unclear."""

from __future__ import annotations

import pytest

from chipin.parsing.intents import ParseContext, Unclear
from chipin.parsing.rules import parse_rules


@pytest.mark.parametrize(
    "text",
    [
        "lol 60 bucks was a rip-off",
        "I'll pay you back tomorrow",
        "should we get the 40 dollar wine?",
        "I didn't pay for the parking",
        "dinner's on me tonight, 80",
        "gonna grab groceries, ~50 probably",
        "rent is 2400 for the 2 of us",
        "meet at 7:30 at the usual place",
        "I spent like 200 on shoes today lol",
        "the bar charged us 90 for cocktails",
        "thanks for dinner guys!",
    ],
)
def test_talk_that_mentions_money_records_nothing(text: str, ctx: ParseContext) -> None:
    assert parse_rules(text, ctx).kind == "none"


def test_an_unknown_name_is_asked_about_never_invented(ctx: ParseContext) -> None:
    intent = parse_rules("paid 60 for dinner, split with Raj and Jake", ctx)
    assert isinstance(intent, Unclear)
    assert "Jake" in intent.question


def test_an_ambiguous_name_is_asked_about() -> None:
    from tests.unit.parsing.conftest import make_ctx

    group = make_ctx("Sam", ("Sam", "Tom Baker", "Tom Hardy"))
    intent = parse_rules("paid 60 for dinner, split with Tom", group)
    assert isinstance(intent, Unclear)
    assert "Tom Baker" in intent.question


@pytest.mark.parametrize(
    "text",
    [
        "we spent 90 on drinks",
        "dinner was 60",
        "I see 60 and 20 here, split with Raj",
        "Raj and Mia owe me 40",
    ],
)
def test_money_that_cannot_be_read_safely_becomes_a_question(text: str, ctx: ParseContext) -> None:
    intent = parse_rules(text, ctx)
    assert isinstance(intent, Unclear), intent
    assert intent.question.endswith("?")


def test_a_sender_outside_the_roster_is_refused(ctx: ParseContext) -> None:
    from dataclasses import replace

    assert parse_rules("I paid 60 for dinner", replace(ctx, sender="Zed")).kind == "unclear"


def test_defaulted_readings_are_less_confident(ctx: ParseContext) -> None:
    said = parse_rules("I paid 60 for dinner, split with Raj", ctx)
    guessed = parse_rules("groceries 45", ctx)
    assert said.confidence >= 0.9 > guessed.confidence
