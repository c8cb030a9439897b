from __future__ import annotations

from typing import Any

from chipin.parsing.intents import ParseContext, intent_to_json
from chipin.parsing.rules import parse_rules


def out(text: str, ctx: ParseContext) -> dict[str, Any]:
    return dict(intent_to_json(parse_rules(text, ctx), ctx))


def deltas(text: str, ctx: ParseContext) -> dict[str, str]:
    result = out(text, ctx)
    assert result["intent"] in ("add_expense", "record_payment"), result
    value = result["deltas"]
    assert isinstance(value, dict)
    return value
