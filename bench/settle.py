"""Benchmark of settle-up plans against ``debts`` (the settle function IHateMoney uses).

Run: ``.venv/bin/python bench/settle.py``. Prints, for each case, the transfer count and the median
wall time of :func:`chipin.core.settle.settle_plan` and of ``debts.settle`` on the same balances.
``debts`` works on Decimal major units and returns floats, so the cents are converted for it here.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal

import debts

from chipin.core.settle import EXACT_LIMIT, settle_plan

Balances = dict[str, int]


def random_balances(count: int, seed: int, spread: int = 10**6) -> Balances:
    """``count`` members with random balances (cents); the last one balances the rest."""
    rng = random.Random(seed)
    values = [rng.randint(-spread, spread) or 1 for _ in range(count - 1)]
    values.append(-sum(values))
    return {f"member{i:04d}": value for i, value in enumerate(values)}


def cancelling_triples(count: int, seed: int) -> Balances:
    """``count`` triples that each sum to zero, names shuffled: the minimum is 2 per triple."""
    rng = random.Random(seed)
    values: list[int] = []
    for _ in range(count):
        a, b = rng.randint(1_000, 99_999), rng.randint(1_000, 99_999)
        values += [a, b, -(a + b)]
    names = [f"member{i:04d}" for i in range(len(values))]
    rng.shuffle(names)
    return dict(zip(names, values, strict=True))


def equal_shares(owing: int, owed: int, share: int = 1_000) -> Balances:
    """``owing`` members owe one share each to ``owed`` members who are owed the same in total.

    The worst case for the exact partition: a huge number of zero-sum subsets and many groups.
    """
    per_creditor = owing * share // owed
    return {f"owes{i:02d}": -share for i in range(owing)} | {
        f"owed{i:02d}": per_creditor for i in range(owed)
    }


def median_time(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ours(balances: Balances) -> tuple[int, float]:
    settle_plan(balances)  # warm up (first numpy allocations)
    count = len(settle_plan(balances))
    return count, median_time(lambda: settle_plan(balances), repeat=11)


def theirs(balances: Balances) -> tuple[int, float]:
    pairs = [(name, Decimal(cents).scaleb(-2)) for name, cents in balances.items()]
    count = len(debts.settle(pairs) or [])
    return count, median_time(lambda: debts.settle(pairs), repeat=5)


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:9.2f} ms"


def main() -> None:
    sys.setrecursionlimit(20_000)  # debts recurses once per transfer
    cases = [
        ("random, greedy", random_balances(1_000, seed=1)),
        ("random (few zero-sum subsets)", random_balances(18, seed=18)),
        ("6 cancelling triples", cancelling_triples(6, seed=6)),
        ("equal shares 12 owe 6", equal_shares(12, 6)),
        ("random", random_balances(EXACT_LIMIT, seed=24)),
        ("equal shares 16 owe 8 (worst)", equal_shares(16, 8)),
    ]
    header = (
        f"{'case':32} {'members':>7} {'exact':>5} | {'chipin':>9} {'time':>12} | "
        f"{'debts':>9} {'time':>12}"
    )
    print(header)
    print("-" * len(header))
    for label, balances in cases:
        nonzero = sum(1 for value in balances.values() if value)
        our_count, our_time = ours(balances)
        their_count, their_time = theirs(balances)
        exact = "yes" if nonzero <= EXACT_LIMIT else "no"
        print(
            f"{label:32} {nonzero:>7} {exact:>5} | {our_count:>9} {milliseconds(our_time):>12} | "
            f"{their_count:>9} {milliseconds(their_time):>12}"
        )
    print(
        f"\nchipin: median of 11 runs after a warm-up; debts: median of 5. 'exact' = at most "
        f"{EXACT_LIMIT} non-zero members, where chipin's count is the proven minimum."
    )


if __name__ == "__main__":
    main()
