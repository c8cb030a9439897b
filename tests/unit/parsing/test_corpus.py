"""The rules parser against the labelled corpus in tests/data/parse_corpus.jsonl.

The floors sit a little under what the parser reaches, so a change that loses accuracy fails
here; a wrong write (recording an entry that differs from the label) is never tolerated.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from chipin.parsing.eval import read_jsonl, score
from chipin.parsing.intents import intent_to_json
from chipin.parsing.rules import parse_rules

CORPUS = Path(__file__).resolve().parents[2] / "data" / "parse_corpus.jsonl"
OVERALL_FLOOR = 0.97
PER_INTENT_FLOOR = 0.90


def test_the_corpus_is_large_and_varied() -> None:
    lines = read_jsonl(str(CORPUS))
    kinds = Counter(line["expect"]["intent"] for line in lines)
    currencies = {line["currency"] for line in lines}
    assert len(lines) >= 250
    assert kinds["none"] >= len(lines) / 5
    assert {"USD", "EUR", "GBP", "INR", "BRL", "JPY", "KWD"} <= currencies


def test_the_rules_parser_meets_its_floor_on_the_corpus() -> None:
    report = score(read_jsonl(str(CORPUS)), lambda t, c: intent_to_json(parse_rules(t, c), c))
    misses = "\n".join(f"{text!r}: want {want} got {got}" for text, want, got in report.misses)
    assert report.wrong_writes == 0, misses
    assert report.accuracy >= OVERALL_FLOOR, misses
    for kind, n in report.total.items():
        assert report.exact[kind] / n >= PER_INTENT_FLOOR, (kind, misses)
