from __future__ import annotations

import datetime as dt

import pytest

from chipin.parsing.intents import ParseContext

TODAY = dt.date(2026, 11, 21)  # a Saturday


def make_ctx(sender: str = "Ana", members: tuple[str, ...] = ("Ana", "Raj", "Mia", "Tom"),
             currency: str = "USD") -> ParseContext:  # fmt: skip
    return ParseContext(sender=sender, members=members, currency=currency, today=TODAY)


@pytest.fixture
def ctx() -> ParseContext:
    return make_ctx()
