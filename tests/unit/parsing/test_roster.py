from __future__ import annotations

from chipin.parsing.roster import Roster, Status

ROSTER = Roster(("Ana", "Raj", "Mia", "Léa", "Mary Jane", "Tom Baker", "Tom Hardy", "Sebastian"))


def test_names_match_without_case_or_accents() -> None:
    assert ROSTER.resolve("RAJ").member == "Raj"
    assert ROSTER.resolve("lea").member == "Léa"


def test_possessives_are_stripped() -> None:
    assert ROSTER.resolve("Mia's").member == "Mia"
    assert ROSTER.resolve("Léa’s").member == "Léa"


def test_a_unique_first_name_finds_a_multi_word_member() -> None:
    assert ROSTER.resolve("mary").member == "Mary Jane"


def test_a_first_name_shared_by_two_members_is_ambiguous() -> None:
    result = ROSTER.resolve("Tom")
    assert result.status is Status.AMBIGUOUS
    assert result.candidates == ("Tom Baker", "Tom Hardy")


def test_small_typos_are_forgiven() -> None:
    assert ROSTER.resolve("Sebastain").member == "Sebastian"
    assert ROSTER.resolve("Rja").member == "Raj"
    assert ROSTER.resolve("Leaa").member == "Léa"


def test_a_different_short_name_is_never_taken_for_a_member() -> None:
    assert ROSTER.resolve("Jake").status is Status.UNKNOWN
    assert ROSTER.resolve("Max").status is Status.UNKNOWN


def test_common_words_are_never_names() -> None:
    assert ROSTER.resolve("and").status is Status.UNKNOWN
    assert ROSTER.resolve("me").status is Status.UNKNOWN
