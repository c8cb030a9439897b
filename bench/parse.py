"""Rules-parser throughput on one core, and accuracy per intent on the labelled corpus and on the
held-out files (messages the rules were not tuned on: the fairer estimate).

    .venv/bin/python bench/parse.py [CORPUS.jsonl [HOLDOUT.jsonl ...]]

Throughput parses the corpus over and over (intent + JSON output, as `chipin parse` does) until at
least two seconds of work have been timed; the first pass is a warm-up (lazy imports, caches). The
CPU time is printed too: on a loaded machine it is the fairer measure of one core's throughput.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from chipin.parsing.eval import Report, context_from, format_report, read_jsonl, score
from chipin.parsing.intents import intent_to_json
from chipin.parsing.rules import parse_rules

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
CORPUS = DATA / "parse_corpus.jsonl"
HOLDOUTS = (DATA / "parse_holdout.jsonl", DATA / "parse_holdout2.jsonl")
MIN_SECONDS = 2.0


def _score(path: Path) -> Report:
    lines = read_jsonl(str(path))
    return score(lines, lambda text, ctx: intent_to_json(parse_rules(text, ctx), ctx))


def _summary(name: str, report: Report) -> str:
    return (
        f"{name:<24}{report.lines:>6} lines  {report.accuracy:>7.1%} exact  "
        f"{report.wrong_writes:>3} wrong writes ({report.wrong_write_rate:.2%})"
    )


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CORPUS
    holdouts = [Path(p) for p in sys.argv[2:]] or [p for p in HOLDOUTS if p.exists()]
    lines = read_jsonl(str(path))
    work = [(str(obj["text"]), context_from(obj)) for obj in lines]
    for text, ctx in work:  # warm-up
        intent_to_json(parse_rules(text, ctx), ctx)

    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    elapsed = 0.0
    while elapsed < MIN_SECONDS:
        for text, ctx in work:
            intent_to_json(parse_rules(text, ctx), ctx)
        done += len(work)
        elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    rate = done / elapsed

    reports = [(path, _score(path)), *((p, _score(p)) for p in holdouts)]
    print(f"corpus: {path.name} ({len(lines)} messages)")
    print(f"throughput: {rate:,.0f} messages/s on one core ({done:,} parsed in {elapsed:.2f} s)")
    print(f"mean latency: {1e6 / rate:.0f} µs per message")
    # On a busy machine the wall clock also counts time spent waiting for a core.
    print(f"cpu time: {cpu:.2f} s ({done / cpu:,.0f} messages per cpu-second)")
    print()
    for name, report in reports:
        print(_summary(name.name, report))
    for name, report in reports:
        print()
        print(f"{name.name}:")
        print(format_report(report))


if __name__ == "__main__":
    main()
