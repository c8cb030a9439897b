"""When the rules cannot tell who pays or who shares, they ask instead of assuming everyone."""

from __future__ import annotations

import pytest

from chipin.parsing.intents import WRITE_KINDS, ParseContext, Unclear
from chipin.parsing.rules import parse_rules
from tests.unit.parsing.conftest import make_ctx
from tests.unit.parsing.helpers import deltas, out

FIVE = make_ctx("Ana", ("Ana", "Raj", "Mia", "Tom", "Leo"))


@pytest.mark.parametrize(
    "text",
    [
        "paid 60 for dinner with friends",
        "paid 15 for the shisha, split with Mia and her brother",
        "paid 1200 for petrol, me and the driver",
        "paid 50 for dinner for the kids",
        "taxi 30, me and the girls",
        "paid 240 for the uber, split with my cousin and Raj",
    ],
)
def test_people_outside_the_roster_are_asked_about(text: str) -> None:
    intent = parse_rules(text, FIVE)
    assert isinstance(intent, Unclear), intent
    assert "members" in intent.question


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("me and jake split the uber 30", "Jake"),
        ("paid 30 for the uber split with jake", "Jake"),
        ("i paid 40 for me and jake", "Jake"),
        ("jake and i got pizza, 24", "Jake"),
        ("paid 20 for jake's lunch", "Jake"),
    ],
)
def test_an_unknown_lower_case_name_next_to_a_member_is_asked_about(text: str, name: str) -> None:
    intent = parse_rules(text, FIVE)
    assert isinstance(intent, Unclear), intent
    assert name in intent.question


@pytest.mark.parametrize(
    "text",
    [
        "paid 6000 for dinner, split between some of us",
        "paid 1500 for the cab, us 3",
        "raj or mia owes me 20, can't remember which",
        "paid the 64 for dinner, raj and I... wait also mia",
        "dinner 60 w jake",
        "paid 80 for groceries, half each",
        "paid 150 for the cabin, half is yours",
        "the churrasco was 320, split 5 ways",
        "dinner 80 but raj had the steak so he owes more",
        "paid 60 for dinner, the rest of you owe me",
        "spent 200 at the hardware store for the house stuff",
        "coffee 4.50",
        "i transferred 50 to the group",
        "sent mia 20 and tom 20",
    ],
)
def test_what_is_not_read_with_certainty_is_never_recorded(text: str) -> None:
    intent = parse_rules(text, FIVE)
    assert intent.kind not in WRITE_KINDS, intent


@pytest.mark.parametrize(
    "text",
    [
        "olivia shouted us all brunch, legend 110 bucks",
        "I paid 30 for my haircut",
        "bought myself a 12 lunch",
        "petrol is so cheap here, filled up for 40",
        "mia wants 50 for her old bike",
        "i paid 60 for dinner last time so you guys get this one",
        "pretty sure mia covered the 40 for drinks",
        "next time i'm paying for the pizza, 30 max",
        "jack's car needs a 600 repair, poor guy",
        "i got this, 45",
        "suppose raj pays 40",
        "lend me 20 till friday",
    ],
)
def test_treats_purchases_for_oneself_and_chatter_are_none(text: str) -> None:
    group = make_ctx("Ana", ("Ana", "Raj", "Mia", "Tom", "Olivia", "Jack"))
    assert parse_rules(text, group).kind == "none"


def test_a_group_of_people_named_by_their_possessives(ctx: ParseContext) -> None:
    assert deltas("paid 30 for mia's and tom's lunch", ctx) == {
        "Ana": "30.00", "Mia": "-15.00", "Tom": "-15.00",
    }  # fmt: skip


def test_paying_someones_share_means_they_owe_it(ctx: ParseContext) -> None:
    assert deltas("I paid Tom's share of the concert tickets, 55", ctx) == {
        "Ana": "55.00", "Tom": "-55.00",
    }  # fmt: skip


def test_both_of_us_includes_the_speaker() -> None:
    group = make_ctx("Ishaan", ("Aditya", "Sneha", "Ishaan", "Neha"), "INR")
    assert deltas("Sneha covered the auto fare 180 for both of us", group) == {
        "Sneha": "90.00", "Ishaan": "-90.00",
    }  # fmt: skip


def test_several_debts_in_one_message_are_one_entry(ctx: ParseContext) -> None:
    assert deltas("raj owes me 15 and mia owes me 15 for the movie", ctx) == {
        "Ana": "30.00", "Raj": "-15.00", "Mia": "-15.00",
    }  # fmt: skip


def test_paying_back_what_one_owed_is_a_payment_in_the_right_direction(ctx: ParseContext) -> None:
    assert deltas("paid the 20 i owed raj", ctx) == {"Ana": "20.00", "Raj": "-20.00"}
    assert deltas("here's the 20 i owe you mia", ctx) == {"Ana": "20.00", "Mia": "-20.00"}


def test_a_pronoun_is_the_only_other_person_named(ctx: ParseContext) -> None:
    assert deltas("mia and i split the uber, she paid 96", ctx) == {
        "Mia": "48.00", "Ana": "-48.00",
    }  # fmt: skip
    assert deltas("raj covered lunch for everyone but himself, 30", ctx) == {
        "Raj": "30.00", "Ana": "-10.00", "Mia": "-10.00", "Tom": "-10.00",
    }  # fmt: skip


def test_a_total_and_a_price_each_that_agree(ctx: ParseContext) -> None:
    assert deltas("i paid 90 for the museum, 30 each for me raj and mia", ctx) == {
        "Ana": "60.00", "Raj": "-30.00", "Mia": "-30.00",
    }  # fmt: skip


def test_split_with_all_means_everyone(ctx: ParseContext) -> None:
    assert deltas("paid 80 for the cleaning fee, split with all", ctx)["Tom"] == "-20.00"


def test_a_pronoun_in_a_split_list_does_not_crash(ctx: ParseContext) -> None:
    assert out("split the 60 dinner with him", ctx)["intent"] == "unclear"


def test_hyphenated_and_spaced_names_resolve() -> None:
    group = make_ctx("Benoît", ("Chloé", "Marc-André", "Élodie", "Benoît"), "CAD")
    assert deltas("marc-andre owes me 20 for the poutine", group) == {
        "Benoît": "20.00", "Marc-André": "-20.00",
    }  # fmt: skip
    assert deltas("marc andre owes me 20", group) == {"Benoît": "20.00", "Marc-André": "-20.00"}


def test_names_that_are_words_are_people_only_where_a_name_goes() -> None:
    group = make_ctx("Grace", ("Will", "Grace", "Jack", "Bill"))
    assert deltas("Will paid 80 for gas, split with everyone", group)["Will"] == "60.00"
    assert deltas("the bill was 60 and i paid, split with jack", group) == {
        "Grace": "30.00", "Jack": "-30.00",
    }  # fmt: skip
    assert parse_rules("i will pay 30 tomorrow", group).kind == "none"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("undo, wrong amount", "undo"),
        ("wait scratch that", "undo"),
        ("how does this bot work", "help"),
        ("do i owe you anything", "show_balances"),
    ],
)
def test_more_ways_to_give_a_command(text: str, kind: str, ctx: ParseContext) -> None:
    assert parse_rules(text, ctx).kind == kind
