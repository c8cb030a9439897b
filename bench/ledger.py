"""Benchmark of the ledger store on one big group, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/ledger.py [--expenses 100000] [--members 50]
[--backend sqlite|postgres|both] [--quick] [--what-if]``; ``--quick`` is 10,000 entries.

For each backend it builds a throwaway database (a temporary SQLite file; a PostgreSQL database
created on the test server, as ``tests/conftest.py`` does, and dropped afterwards, even on
failure), migrates it, creates one group through the services, and fills it with realistic
entries: one payer, an equal split over 2-6 random members, 1.00-500.00, dates over two years,
a few percent payments and a few percent in a second currency. The rows are bulk-inserted
straight into ``entries``, ``entry_lines``, ``balances`` and ``audit_log``, but they are built
with the repository's own ``_row``/``_lines`` helpers and checked at the end: a sample of entries
is written again through ``SqlLedgerRepository.add_entry`` (rolled back) and must produce the
same rows, entries must read back equal, and ``services.check_balances`` must find no mismatch.

It then times, with ``time.perf_counter`` after a warm-up (median and p95):

1. the balances read, ``services.group_balances`` through a fresh read-only unit of work
   (target 10 ms);
2. the full recompute, ``SqlLedgerRepository.recompute_balances`` (the SQL aggregate) in a fresh
   read-only unit of work (target 100 ms);
3. recording one expense, ``services.add_expense`` through a fresh ``SqlUnitOfWork``, commit
   included (target 5 ms);

and reports the population rate for information. A figure "meets" its target when its p95 does.
The bench's own data (the planned entries) is frozen out of the garbage collector before timing.

``--what-if`` also times recording an expense with candidate store fixes monkeypatched in, in
alternating blocks with the code as it is (so machine noise hits both alike):

- "text upsert": ``SqlLedgerRepository._apply`` through one module-level ``text()`` upsert.
  SQLAlchemy never caches the compiled form of the dialect ``insert().on_conflict_do_update()``
  (``inherit_cache = False``: its echo says ``[no key]``), so today it is rebuilt and compiled on
  every write; the same ``INSERT ... ON CONFLICT ... DO UPDATE`` text runs on SQLite and PostgreSQL.
- "bg checkpoint" (SQLite): ``PRAGMA wal_autocheckpoint=0`` on the app's connections and a
  background thread running ``PRAGMA wal_checkpoint(PASSIVE)`` every 0.1 s, so no commit pays
  for a checkpoint (an fsync of the database file, about 10 ms here, every ~1000 WAL pages).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import signal
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from common import (
    backend_engine,
    load,
    machine,
    p95,
    report_check,
    settle,
    terminate,
)
from sqlalchemy import Engine, event, func, insert, select, text

from chipin.core import services
from chipin.core.commands import AddExpense
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.ledger_doc import entry_to_json
from chipin.core.splits import EqualSplit
from chipin.store import tables as t
from chipin.store.db import make_engine
from chipin.store.repository import SqlLedgerRepository
from chipin.store.uow import SqlUnitOfWork

CURRENCY, OTHER_CURRENCY = "EUR", "USD"
START = dt.date(2024, 1, 1)
DAYS = 730  # two years
PAYMENT_RATE = 0.04
OTHER_CURRENCY_RATE = 0.02
CHUNK = 5_000
SAMPLE = 50  # entries re-written through the repository to check the bulk rows
DESCRIPTIONS = (
    "groceries",
    "dinner",
    "lunch",
    "taxi",
    "fuel",
    "rent",
    "electricity",
    "internet",
    "coffee",
    "drinks",
    "cinema",
    "train tickets",
    "hotel",
    "museum",
    "pharmacy",
    "pizza",
    "breakfast",
    "parking",
    "flowers",
    "gift",
)
CATEGORIES = ("food", "transport", "home", "fun", None, None)
METHODS = ("cash", "bank", "pix", None)

TARGETS_MS = {"balances read": 10.0, "full recompute": 100.0, "add expense": 5.0}


# -- data --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Planned:
    entry: Entry
    external_id: str
    created_at: dt.datetime
    actor: str


def member_names(count: int) -> list[str]:
    return [f"Member {i:02d}" for i in range(1, count + 1)]


def random_expense(rng: random.Random, names: list[str], day: dt.date, currency: str) -> Expense:
    split = rng.sample(names, rng.randint(2, min(6, len(names))))
    payer = rng.choice(split) if rng.random() < 0.85 else rng.choice(names)
    amount = rng.randint(100, 50_000)
    return Expense(
        currency=currency,
        amount=amount,
        paid_by=((payer, amount),),
        split=EqualSplit(tuple(split)),
        description=rng.choice(DESCRIPTIONS),
        date=day,
        category=rng.choice(CATEGORIES),
    )


def random_entry(rng: random.Random, names: list[str], day: dt.date) -> Entry:
    currency = OTHER_CURRENCY if rng.random() < OTHER_CURRENCY_RATE else CURRENCY
    if rng.random() < PAYMENT_RATE:
        debtor, creditor = rng.sample(names, 2)
        return Payment(
            currency=currency,
            amount=rng.randint(100, 50_000),
            debtor=debtor,
            creditor=creditor,
            date=day,
            method=rng.choice(METHODS),
        )
    return random_expense(rng, names, day, currency)


def plan_entries(count: int, names: list[str], seed: int = 2024) -> list[Planned]:
    """``count`` entries in recording order (dates ascending over two years)."""
    rng = random.Random(seed)
    days = sorted(START + dt.timedelta(days=rng.randrange(DAYS)) for _ in range(count))
    out = []
    for day in days:
        entry = random_entry(rng, names, day)
        created = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) + dt.timedelta(
            seconds=rng.randrange(8 * 3600, 23 * 3600)
        )
        kind = "expense" if isinstance(entry, Expense) else "payment"
        actor = entry.paid_by[0][0] if isinstance(entry, Expense) else entry.debtor
        out.append(Planned(entry, services.new_entry_id(kind), created, actor))
    return out


# -- timing ------------------------------------------------------------------------------------


@dataclass
class Figure:
    backend: str
    name: str
    median: float  # ms, or the rate for information figures
    p95: float | None = None
    target: float | None = None
    unit: str = "ms"
    runs: int = 0
    over: int = 0  # timed calls slower than the target
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        assert self.p95 is not None
        if self.p95 <= self.target:
            return "meets"
        return "meets (median only)" if self.median <= self.target else "misses"


def measure(run: Callable[[], object], *, warmup: int, runs: int, budget_s: float) -> list[float]:
    """Wall times in ms of up to ``runs`` calls after ``warmup`` calls, within ``budget_s``."""
    for _ in range(warmup):
        run()
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < runs and (len(times) < 20 or time.perf_counter() < deadline):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def timed_figure(
    backend: str, name: str, times: list[float], target: float | None = None
) -> Figure:
    target = TARGETS_MS[name] if target is None else target
    return Figure(
        backend,
        name,
        statistics.median(times),
        p95(times),
        target,
        runs=len(times),
        over=sum(1 for x in times if x > target),
    )


# -- databases ---------------------------------------------------------------------------------


# -- population --------------------------------------------------------------------------------


@dataclass
class Population:
    group_id: int
    ids: dict[int, Planned] = field(default_factory=dict)  # entry id → what it holds
    rows: int = 0
    insert_s: float = 0.0
    total_s: float = 0.0


def populate(engine: Engine, names: list[str], planned: list[Planned]) -> Population:
    """One group with ``names`` and the ``planned`` entries, bulk-inserted in one transaction."""
    started = time.perf_counter()
    group = services.create_group(SqlUnitOfWork(engine), "Bench flat", CURRENCY, "Europe/Lisbon")
    services.add_members(SqlUnitOfWork(engine), group.id, names)
    pop = Population(group.id)
    totals: dict[tuple[str, int], int] = {}
    with engine.begin() as conn:
        repo = SqlLedgerRepository(conn)
        next_id = (conn.execute(select(func.max(t.entries.c.id))).scalar() or 0) + 1
        for start in range(0, len(planned), CHUNK):
            entry_rows, line_rows, audit_rows = [], [], []
            for plan in planned[start : start + CHUNK]:
                entry, entry_id = plan.entry, next_id
                next_id += 1
                pop.ids[entry_id] = plan
                # exactly what SqlLedgerRepository.add_entry + services._record write
                entry_rows.append(
                    {
                        "id": entry_id,
                        "group_id": group.id,
                        "external_id": plan.external_id,
                        "author_id": None,
                        "created_at": plan.created_at,
                        "updated_at": plan.created_at,
                        **repo._row(group.id, entry),
                    }
                )
                for mid, (paid, share) in repo._lines(group.id, entry).items():
                    line_rows.append(
                        {
                            "entry_id": entry_id,
                            "member_id": mid,
                            "group_id": group.id,
                            "currency": entry.currency,
                            "active": True,
                            "paid": paid,
                            "share": share,
                            "net": paid - share,
                        }
                    )
                    key = (entry.currency, mid)
                    totals[key] = totals.get(key, 0) + paid - share
                audit_rows.append(
                    {
                        "group_id": group.id,
                        "entry_id": entry_id,
                        "action": "create",
                        "actor": plan.actor,
                        "at": plan.created_at,
                        "before": None,
                        "after": entry_to_json(entry, plan.external_id),
                    }
                )
            t0 = time.perf_counter()
            conn.execute(insert(t.entries), entry_rows)
            conn.execute(insert(t.entry_lines), line_rows)
            conn.execute(insert(t.audit_log), audit_rows)
            pop.insert_s += time.perf_counter() - t0
            pop.rows += len(entry_rows) + len(line_rows) + len(audit_rows)
        balance_rows = [
            {"group_id": group.id, "member_id": mid, "currency": currency, "amount": amount}
            for (currency, mid), amount in sorted(totals.items())
        ]
        t0 = time.perf_counter()
        conn.execute(insert(t.balances), balance_rows)
        if conn.dialect.name == "postgresql":  # ids were given explicitly: move the sequences on
            for table in ("entries", "audit_log"):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        pop.rows += len(balance_rows)
    pop.insert_s += time.perf_counter() - t0  # the commit included
    settle(engine)
    pop.total_s = time.perf_counter() - started
    return pop


# -- checks ------------------------------------------------------------------------------------


def verify(engine: Engine, pop: Population, seed: int = 7) -> list[str]:
    """What is wrong with the bulk-loaded data (empty when it is what the repository writes)."""
    problems = [
        f"check_balances: {p}"
        for p in services.check_balances(SqlUnitOfWork(engine, readonly=True), pop.group_id)
    ]
    sample = random.Random(seed).sample(sorted(pop.ids), min(SAMPLE, len(pop.ids)))
    entry_cols = [c for c in t.entries.c if c.name not in ("id", "external_id")]
    line_cols = [c for c in t.entry_lines.c if c.name != "entry_id"]
    with engine.connect() as conn:
        conn.begin()
        try:
            repo = SqlLedgerRepository(conn)
            for bulk_id in sample:
                plan = pop.ids[bulk_id]
                stored = repo.entry(pop.group_id, bulk_id)
                if stored is None or stored.entry != plan.entry:
                    problems.append(f"entry {bulk_id} does not read back as written")
                new_id = repo.add_entry(
                    pop.group_id, plan.entry, external_id=None, author=None, now=plan.created_at
                )
                rows = [
                    conn.execute(select(*entry_cols).where(t.entries.c.id == i)).one()
                    for i in (bulk_id, new_id)
                ]
                lines = [
                    conn.execute(
                        select(*line_cols)
                        .where(t.entry_lines.c.entry_id == i)
                        .order_by(t.entry_lines.c.member_id)
                    ).all()
                    for i in (bulk_id, new_id)
                ]
                if rows[0] != rows[1] or lines[0] != lines[1]:
                    problems.append(f"entry {bulk_id}: bulk rows differ from the repository's")
        finally:
            conn.rollback()
    return problems


# -- what if: candidate fixes, monkeypatched -----------------------------------------------------

UPSERT = text(
    "INSERT INTO balances (group_id, member_id, currency, amount) "
    "VALUES (:group_id, :member_id, :currency, :amount) "
    "ON CONFLICT (group_id, member_id, currency) "
    "DO UPDATE SET amount = balances.amount + excluded.amount"
)


def _apply_text(
    self: SqlLedgerRepository, group_id: int, currency: str, deltas: dict[int, int]
) -> None:
    """``SqlLedgerRepository._apply`` with one cached text statement (same rows, same order)."""
    rows = [
        {"group_id": group_id, "member_id": mid, "currency": currency, "amount": d}
        for mid, d in sorted(deltas.items())
    ]
    if rows:
        self.conn.execute(UPSERT, rows)


@contextmanager
def as_is(engine: Engine) -> Iterator[Engine]:
    yield engine


@contextmanager
def text_upsert(engine: Engine) -> Iterator[Engine]:
    original = SqlLedgerRepository._apply
    SqlLedgerRepository._apply = _apply_text  # type: ignore[method-assign]
    try:
        yield engine
    finally:
        SqlLedgerRepository._apply = original  # type: ignore[method-assign]


@contextmanager
def background_checkpoint(engine: Engine) -> Iterator[Engine]:
    """An engine on the same SQLite file whose commits never checkpoint; a thread does it."""
    quiet = make_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(quiet, "connect")
    def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")

    stop = threading.Event()

    def checkpointer() -> None:
        con = sqlite3.connect(str(engine.url.database), isolation_level=None)
        try:
            while not stop.wait(0.1):
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            # leave nothing behind for the next (untimed-for-it) variant to checkpoint
            con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            con.close()

    thread = threading.Thread(target=checkpointer, daemon=True)
    thread.start()
    try:
        yield quiet
    finally:
        stop.set()
        thread.join()
        quiet.dispose()


@contextmanager
def both_fixes(engine: Engine) -> Iterator[Engine]:
    with text_upsert(engine), background_checkpoint(engine) as quiet:
        yield quiet


def what_ifs(
    backend: str, engine: Engine, add: Callable[[Engine], object], quick: bool
) -> list[Figure]:
    """Recording an expense as is and with each candidate fix, in alternating blocks."""
    variants: dict[str, Callable[[Engine], Any]] = {"as is": as_is, "text upsert": text_upsert}
    if backend == "sqlite":
        variants |= {"bg checkpoint": background_checkpoint, "both": both_fixes}
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(3 if quick else 10):
        for name, variant in variants.items():
            with variant(engine) as target:
                times[name] += measure(
                    lambda target=target: add(target), warmup=5, runs=50, budget_s=60
                )
    return [
        timed_figure(backend, f"add expense, {name}", ts, TARGETS_MS["add expense"])
        for name, ts in times.items()
    ]


# -- the benchmark -----------------------------------------------------------------------------


def bench_backend(
    backend: str,
    engine: Engine,
    names: list[str],
    planned: list[Planned],
    quick: bool,
    what_if: bool,
) -> tuple[list[Figure], list[str]]:
    pop = populate(engine, names, planned)
    gid = pop.group_id
    figures = [
        Figure(
            backend,
            "populate",
            pop.rows / pop.insert_s,
            unit="rows/s",
            note=f"{pop.rows:,} rows inserted in {pop.insert_s:.1f} s",
        ),
        Figure(
            backend,
            "populate, all in",
            len(planned) / pop.total_s,
            unit="entries/s",
            note=f"{len(planned):,} entries in {pop.total_s:.1f} s incl. building rows",
        ),
    ]

    def balances_read() -> object:
        return services.group_balances(SqlUnitOfWork(engine, readonly=True), gid)

    def recompute() -> object:
        with SqlUnitOfWork(engine, readonly=True) as uow:
            return uow.ledger.recompute_balances(gid)

    rng = random.Random(99)
    today = START + dt.timedelta(days=DAYS)

    def add_expense(on: Engine = engine) -> object:
        expense = random_expense(rng, names, today, CURRENCY)
        cmd = AddExpense(gid, expense, actor=expense.paid_by[0][0])
        return services.add_expense(cmd, SqlUnitOfWork(on))

    gc.collect()
    gc.freeze()  # the planned entries are the bench's, not the app's: keep them out of GC passes
    scale = 0.3 if quick else 1.0
    times = measure(balances_read, warmup=20, runs=500, budget_s=4 * scale)
    figures.append(timed_figure(backend, "balances read", times))
    times = measure(recompute, warmup=3, runs=50, budget_s=8 * scale)
    figures.append(timed_figure(backend, "full recompute", times))
    times = measure(add_expense, warmup=20, runs=300, budget_s=5 * scale)
    figures.append(timed_figure(backend, "add expense", times))
    if what_if:
        figures += what_ifs(backend, engine, add_expense, quick)
    return figures, verify(engine, pop)


def print_table(figures: list[Figure]) -> None:
    header = (
        f"{'backend':9} {'figure':26} {'median':>12} {'p95':>10} {'target':>9} {'runs':>5}  verdict"
    )
    print(header)
    print("-" * len(header))
    for f in figures:
        if f.unit == "ms":
            median, p95_s = f"{f.median:9.2f} ms", f"{f.p95:7.2f} ms"
            target = f"≤{f.target:g} ms"
            print(
                f"{f.backend:9} {f.name:26} {median:>12} {p95_s:>10} {target:>9} {f.runs:>5}  "
                f"{f.verdict} ({f.over} over target)"
            )
        else:
            rate = f"{f.median:,.0f} {f.unit}"
            print(f"{f.backend:9} {f.name:26} {rate:>23} {'':>9} {'':>5}  info: {f.note}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--expenses", type=int, default=100_000, help="entries in the group")
    parser.add_argument("--members", type=int, default=50, help="members of the group")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="10,000 entries, shorter timing")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help="also time recording an expense with candidate store fixes patched in",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.expenses = 10_000
    if args.members < 6:
        parser.error("--members must be at least 6")
    return args


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, terminate)
    args = parse_args(argv)
    started = time.perf_counter()
    names = member_names(args.members)
    planned = plan_entries(args.expenses, names)
    payments = sum(isinstance(p.entry, Payment) for p in planned)
    print(machine())
    print(
        f"group: {args.members} members, {args.expenses:,} entries ({payments:,} payments), "
        f"planned in {time.perf_counter() - started:.1f} s"
    )
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    figures: list[Figure] = []
    failed = False
    for backend in backends:
        with backend_engine(backend) as engine:
            results, problems = bench_backend(
                backend, engine, names, planned, args.quick, args.what_if
            )
        figures += results
        if report_check(
            backend,
            problems,
            "data check MISMATCH",
            f"data check OK (check_balances clean; {SAMPLE} sampled entries read "
            "back equal and match rows written by SqlLedgerRepository.add_entry)",
        ):
            failed = True
    print()
    print_table(figures)
    print(
        f"\nmedian and p95 of 'runs' timed calls after a warm-up; 'meets' = p95 within the "
        f"target. Total run {time.perf_counter() - started:.0f} s; load average now {load()} "
        "(other work on the machine shows up in the p95)."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
