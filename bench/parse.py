"""Rules-parser throughput on one core and accuracy per intent on the labelled corpus.

    .venv/bin/python bench/parse.py [CORPUS.jsonl]

Throughput parses the corpus over and over (intent + JSON output, as `chipin parse` does) until at
least two seconds of work have been timed; the first pass is a warm-up (lazy imports, caches).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chipin.parsing.eval import context_from, format_report, read_jsonl, score
from chipin.parsing.intents import intent_to_json
from chipin.parsing.rules import parse_rules

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "data" / "parse_corpus.jsonl"
MIN_SECONDS = 2.0


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    lines = read_jsonl(str(path))
    work = [(str(obj["text"]), context_from(obj)) for obj in lines]
    for text, ctx in work:  # warm-up
        intent_to_json(parse_rules(text, ctx), ctx)

    done = 0
    start = time.perf_counter()
    elapsed = 0.0
    while elapsed < MIN_SECONDS:
        for text, ctx in work:
            intent_to_json(parse_rules(text, ctx), ctx)
        done += len(work)
        elapsed = time.perf_counter() - start
    rate = done / elapsed

    report = score(lines, lambda text, ctx: intent_to_json(parse_rules(text, ctx), ctx))
    print(f"corpus: {path.name} ({len(lines)} messages)")
    print(f"throughput: {rate:,.0f} messages/s on one core ({done:,} parsed in {elapsed:.2f} s)")
    print(f"mean latency: {1e6 / rate:.0f} µs per message")
    print()
    print(format_report(report))


if __name__ == "__main__":
    main()
