"""Scoring a parser against a labelled JSONL corpus (``chipin parse --eval``, bench/parse.py).

Each line is ``{"text", "sender", "members", "currency", "today", "expect"}``; ``expect`` holds the
output keys that matter (``intent``, and ``currency``/``deltas`` for entries, ``amount``/``period``/
``category`` for budgets). A prediction is *exact* when every expected key matches; a *wrong
write* is an entry recorded that differs from the label, or recorded where none was meant.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chipin.core.errors import ChipinError
from chipin.core.money import normalize_currency
from chipin.parsing.intents import WRITE_KINDS, JsonValue, ParseContext

IGNORED_KEYS = frozenset({"parser", "question", "description", "date", "method"})


class BadLine(ValueError):
    """A corpus or batch line that is not a usable object."""


def context_from(obj: Mapping[str, Any], today: dt.date | None = None) -> ParseContext:
    """The ParseContext a batch or corpus line describes (raises BadLine with the reason)."""
    try:
        sender = str(obj["sender"]).strip()
        members = tuple(str(m).strip() for m in obj["members"])
        currency = normalize_currency(str(obj["currency"]))
    except (KeyError, TypeError) as exc:
        raise BadLine(f"missing or malformed field: {exc}") from None
    except ChipinError as exc:  # an unknown currency code
        raise BadLine(str(exc)) from None
    if not members or any(not m for m in members) or len(set(members)) != len(members):
        raise BadLine("members must be a non-empty list of distinct names")
    if sender not in members:
        raise BadLine(f"sender {sender!r} is not in members")
    raw_today = obj.get("today")
    try:
        day = dt.date.fromisoformat(str(raw_today)) if raw_today else today
    except ValueError:
        raise BadLine(f"today {raw_today!r} is not an ISO date (YYYY-MM-DD)") from None
    if day is None:
        raise BadLine("today is missing")
    timezone = str(obj.get("timezone") or "UTC")
    return ParseContext(sender, members, currency, day, timezone)


def matches(expect: Mapping[str, Any], got: Mapping[str, JsonValue]) -> bool:
    """Whether every labelled key (except free text and the parser's name) is what was produced."""
    for key, want in expect.items():
        if key in IGNORED_KEYS:
            continue
        if got.get(key) != want:
            return False
    return True


def wrong_write(expect: Mapping[str, Any], got: Mapping[str, JsonValue]) -> bool:
    if got.get("intent") not in {k.value for k in WRITE_KINDS}:
        return False
    return not matches(expect, got)


@dataclass(slots=True)
class Report:
    total: Counter[str] = field(default_factory=Counter)
    exact: Counter[str] = field(default_factory=Counter)
    wrong_writes: int = 0
    lines: int = 0
    misses: list[tuple[str, Mapping[str, Any], Mapping[str, JsonValue]]] = field(
        default_factory=list
    )

    @property
    def accuracy(self) -> float:
        return sum(self.exact.values()) / self.lines if self.lines else 0.0

    @property
    def wrong_write_rate(self) -> float:
        return self.wrong_writes / self.lines if self.lines else 0.0

    def as_json(self) -> dict[str, object]:
        per_intent = {
            kind: {"n": n, "exact": self.exact[kind], "accuracy": round(self.exact[kind] / n, 4)}
            for kind, n in sorted(self.total.items())
        }
        return {
            "lines": self.lines,
            "accuracy": round(self.accuracy, 4),
            "wrong_writes": self.wrong_writes,
            "wrong_write_rate": round(self.wrong_write_rate, 4),
            "per_intent": per_intent,
        }


def score(
    lines: Iterable[Mapping[str, Any]],
    parse: Callable[[str, ParseContext], Mapping[str, JsonValue]],
) -> Report:
    """Run ``parse`` (text, context -> output JSON) over labelled lines and tally the results."""
    return score_outputs((obj, parse(str(obj["text"]), context_from(obj))) for obj in lines)


def score_outputs(pairs: Iterable[tuple[Mapping[str, Any], Mapping[str, JsonValue]]]) -> Report:
    """Tally (labelled line, produced output) pairs (the CLI parses asynchronously first)."""
    report = Report()
    for obj, got in pairs:
        expect = obj["expect"]
        kind = str(expect["intent"])
        report.lines += 1
        report.total[kind] += 1
        if matches(expect, got):
            report.exact[kind] += 1
        else:
            report.misses.append((str(obj["text"]), expect, got))
        if wrong_write(expect, got):
            report.wrong_writes += 1
    return report


def format_report(report: Report) -> str:
    rows = [f"{'intent':<16}{'n':>6}{'exact':>8}{'accuracy':>10}"]
    for kind, n in sorted(report.total.items()):
        rows.append(f"{kind:<16}{n:>6}{report.exact[kind]:>8}{report.exact[kind] / n:>10.1%}")
    rows.append(
        f"{'all':<16}{report.lines:>6}{sum(report.exact.values()):>8}{report.accuracy:>10.1%}"
    )
    rows.append(f"wrong writes: {report.wrong_writes} ({report.wrong_write_rate:.2%})")
    return "\n".join(rows)


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
