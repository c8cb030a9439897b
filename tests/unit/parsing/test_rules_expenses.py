"""The rules parser on expenses: who paid, who shares, and how."""

from __future__ import annotations

from chipin.parsing.intents import ParseContext
from tests.unit.parsing.conftest import make_ctx
from tests.unit.parsing.helpers import deltas, out


def test_split_with_includes_the_speaker(ctx: ParseContext) -> None:
    assert deltas("I paid 60 for dinner, split with Raj and Mia", ctx) == {
        "Ana": "40.00", "Raj": "-20.00", "Mia": "-20.00",
    }  # fmt: skip


def test_split_between_means_exactly_those_listed(ctx: ParseContext) -> None:
    assert deltas("dinner 75 split between Raj and Mia", ctx) == {
        "Ana": "75.00", "Raj": "-37.50", "Mia": "-37.50",
    }  # fmt: skip


def test_for_someone_means_only_they_owe(ctx: ParseContext) -> None:
    assert deltas("paid 30 for Mia's lunch", ctx) == {"Ana": "30.00", "Mia": "-30.00"}


def test_a_possessive_names_who_owes(ctx: ParseContext) -> None:
    assert deltas("Mia's lunch 15", ctx) == {"Ana": "15.00", "Mia": "-15.00"}


def test_a_stated_debt_is_an_exact_amount(ctx: ParseContext) -> None:
    assert deltas("Raj owes me 20", ctx) == {"Ana": "20.00", "Raj": "-20.00"}
    assert deltas("I owe Raj 20", ctx) == {"Raj": "20.00", "Ana": "-20.00"}


def test_everyone_except_leaves_out_the_excluded(ctx: ParseContext) -> None:
    assert deltas("everyone except Tom owes me for the wine, $90", ctx) == {
        "Ana": "60.00", "Raj": "-30.00", "Mia": "-30.00",
    }  # fmt: skip


def test_the_group_words_mean_every_member(ctx: ParseContext) -> None:
    for text in ("paid 80 for groceries for all of us", "groceries 80, the group",
                 "paid 80 for groceries, the 4 of us", "80 for groceries, everyone"):  # fmt: skip
        assert deltas(text, ctx)["Tom"] == "-20.00", text


def test_percentages_follow_the_order_people_are_listed(ctx: ParseContext) -> None:
    assert deltas("split the 80 grocery bill 50/30/20 between me, Raj and Mia", ctx) == {
        "Ana": "40.00", "Raj": "-24.00", "Mia": "-16.00",
    }  # fmt: skip
    assert deltas("rent deposit 1000, split 70-30 with Tom, I paid", ctx) == {
        "Ana": "300.00", "Tom": "-300.00",
    }  # fmt: skip


def test_ratios_and_shares_weight_the_split(ctx: ParseContext) -> None:
    assert deltas("hotel was 270, I paid, split 2:1 with Mia", ctx) == {
        "Ana": "90.00", "Mia": "-90.00",
    }  # fmt: skip
    assert deltas("Raj 2 shares, me 1 for the 90 dollar hotel, I paid", ctx) == {
        "Ana": "60.00", "Raj": "-60.00",
    }  # fmt: skip


def test_split_by_nights_uses_the_nights_as_shares(ctx: ParseContext) -> None:
    assert deltas("Airbnb 600 split by nights: Ana 3, Raj 2, Mia 1", ctx) == {
        "Ana": "300.00", "Raj": "-200.00", "Mia": "-100.00",
    }  # fmt: skip


def test_explicit_amounts_per_person(ctx: ParseContext) -> None:
    assert deltas("I paid 120 for the boat, Raj 50 Mia 40 me 30", ctx) == {
        "Ana": "90.00", "Raj": "-50.00", "Mia": "-40.00",
    }  # fmt: skip


def test_several_payers(ctx: ParseContext) -> None:
    assert deltas("I paid 200 and Raj paid 100 for the cabin", ctx) == {
        "Ana": "125.00", "Raj": "25.00", "Mia": "-75.00", "Tom": "-75.00",
    }  # fmt: skip


def test_a_price_each_is_multiplied_by_the_people(ctx: ParseContext) -> None:
    assert deltas("movie 15 each for me and Mia, I paid", ctx) == {
        "Ana": "15.00", "Mia": "-15.00",
    }  # fmt: skip


def test_someone_else_paying(ctx: ParseContext) -> None:
    assert deltas("Mia paid for the gas, 52", ctx) == {
        "Mia": "39.00", "Ana": "-13.00", "Raj": "-13.00", "Tom": "-13.00",
    }  # fmt: skip


def test_a_known_shared_cost_with_only_an_amount_is_split_with_everyone(ctx: ParseContext) -> None:
    result = out("groceries 45.20", ctx)
    assert result["intent"] == "add_expense"
    assert result["category"] == "groceries"


def test_the_leftover_cent_goes_to_the_first_member_in_roster_order(ctx: ParseContext) -> None:
    assert deltas("paid 100 for the cabin, split with Raj and Mia", ctx) == {
        "Ana": "66.66", "Raj": "-33.33", "Mia": "-33.33",
    }  # fmt: skip


def test_three_decimal_currencies_keep_their_digits() -> None:
    kwd = make_ctx("Omar", ("Omar", "Noor"), "KWD")
    assert deltas("paid 12.500 KD for lunch, split with Noor", kwd) == {
        "Omar": "6.250", "Noor": "-6.250",
    }  # fmt: skip


def test_zero_decimal_currencies_have_no_fraction() -> None:
    jpy = make_ctx("Yuki", ("Yuki", "Haruto", "Sakura"), "JPY")
    assert deltas("I paid ¥3000 for ramen, split with Haruto and Sakura", jpy) == {
        "Yuki": "2000", "Haruto": "-1000", "Sakura": "-1000",
    }  # fmt: skip


def test_a_currency_named_in_the_message_overrides_the_groups(ctx: ParseContext) -> None:
    result = out("paid 40 euros for the museum, split with Raj", ctx)
    assert result["currency"] == "EUR"


def test_multi_word_and_accented_names(ctx: ParseContext) -> None:
    group = make_ctx("Sam", ("Mary Jane", "Tom Baker", "Sam", "Léa"))
    assert deltas("I paid 90 for the cabin, split with Mary Jane and lea", group) == {
        "Sam": "60.00", "Mary Jane": "-30.00", "Léa": "-30.00",
    }  # fmt: skip


def test_you_is_the_other_member_in_a_group_of_two() -> None:
    pair = make_ctx("Dan", ("Dan", "Alex"), "CAD")
    assert deltas("you owe me 25 for the hydro bill", pair) == {"Dan": "25.00", "Alex": "-25.00"}
