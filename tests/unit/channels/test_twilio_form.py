"""The Twilio webhook's form reader against ``urllib.parse.parse_qsl`` (what it replaced): the
same pairs for real-shaped bodies and for random ones full of escapes, pluses, broken UTF-8
sequences and non-ASCII text; the same refusal past the field limit."""

from __future__ import annotations

import json
import random
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from chipin.webhooks.twilio import MAX_FIELDS, parse_form

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twilio"


def reference(text: str, max_fields: int = MAX_FIELDS) -> list[tuple[str, str]]:
    return parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_fixture_bodies_read_the_same(path: Path) -> None:
    form = json.loads(path.read_text())
    if not isinstance(form, dict):
        pytest.skip("not a form")
    body = urlencode(form)
    assert parse_form(body) == reference(body)


PIECES = [
    "a",
    "Z",
    "=",
    "&",
    "+",
    "%",
    "%2",
    "%2B",
    "%3a",
    "%C3",
    "%A9",
    "%E2%82",
    "%AC",
    "%FF",
    "%%",
    "é",
    "€",
    "🍕",
    " ",
    "%F0%9F",
    "%8D%95",
    "whatsapp%3A%2B351",
    "Body",
    "",
]


def test_random_bodies_read_the_same() -> None:
    rng = random.Random(20251122)
    for _ in range(20_000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 12)))
        assert parse_form(text) == reference(text), text


@pytest.mark.parametrize("fields", [MAX_FIELDS - 1, MAX_FIELDS, MAX_FIELDS + 1])
def test_the_field_limit_is_the_same(fields: int) -> None:
    text = "&".join(f"f{n}=v" for n in range(fields))
    try:
        expected: object = reference(text)
    except ValueError:
        with pytest.raises(ValueError):
            parse_form(text)
        return
    assert parse_form(text) == expected
