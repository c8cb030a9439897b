"""Reading the per-group CSV that Splitwise exports.

The export has ``Date, Description, Category, Cost, Currency`` and then one column per member with
that member's *net* effect of the row (positive: they are owed). A final "Total balance" row sums
the columns; it is checked, not imported. Rows in the "Payment" category with one positive and
one negative member are payments; every other row becomes an expense whose payers and shares
reproduce the nets exactly (Splitwise does not export who paid, only the net).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections import Counter
from collections.abc import Iterable, Sequence

from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import ChipinError
from chipin.core.ledger_doc import LedgerDoc, Problem
from chipin.core.money import allocate, format_minor, normalize_currency, parse_minor
from chipin.core.splits import ExactSplit

FIXED = ("Date", "Description", "Category", "Cost", "Currency")


def _amount(raw: str, currency: str) -> int:
    text = raw.strip().replace(",", "")
    return parse_minor(text or "0", currency)


def _expense_from_nets(
    nets: dict[str, int],
    cost: int,
    currency: str,
    date: dt.date,
    description: str,
    category: str | None,
) -> Expense:
    """An expense whose effects equal ``nets``: debtors owe their net; the creditors paid the
    cost and carry the rest of it as their own share, in proportion to what they are owed."""
    sign = -1 if cost < 0 else 1
    cost, nets = abs(cost), {m: sign * n for m, n in nets.items()}
    creditors = [m for m, n in nets.items() if n > 0]
    debtors = [m for m, n in nets.items() if n < 0]
    if not creditors:
        raise ChipinError("no member is owed anything in this row")
    owed = sum(nets[m] for m in creditors)
    own = cost - owed  # what the creditors consumed themselves
    if own < 0:
        raise ChipinError("the member amounts add up to more than the cost")
    own_parts = allocate(own, [nets[m] for m in creditors])
    shares = {m: -nets[m] for m in debtors}
    paid = {}
    for m, part in zip(creditors, own_parts, strict=True):
        shares[m] = part
        paid[m] = nets[m] + part
    return Expense(
        currency=currency,
        amount=sign * cost,
        paid_by=tuple((m, sign * a) for m, a in paid.items()),
        split=ExactSplit(tuple((m, a) for m, a in shares.items())),
        description=description,
        date=date,
        category=category,
    )


def parse_splitwise_csv(
    text: str, *, group_name: str, timezone: str = "UTC", currency: str | None = None
) -> tuple[LedgerDoc | None, list[Problem]]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    rows = [row for row in rows if any(cell.strip() for cell in row)]
    if not rows:
        return None, [Problem("file", "the CSV is empty")]
    header = [h.strip() for h in rows[0]]
    if tuple(header[:5]) != FIXED or len(header) < 7:
        return None, [
            Problem(
                "line 1",
                "expected the Splitwise header: Date,Description,Category,"
                "Cost,Currency, then one column per member",
            )
        ]
    names = header[5:]
    problems: list[Problem] = []
    entries: list[tuple[str | None, Entry]] = []
    seen: Counter[str] = Counter()
    currencies: Counter[str] = Counter()
    for lineno, cells in enumerate(rows[1:], start=2):
        where = f"line {lineno}"
        row = cells + [""] * (len(header) - len(cells))
        if row[1].strip().casefold() == "total balance":
            continue
        try:
            code = normalize_currency(row[4])
            date = dt.date.fromisoformat(row[0].strip()[:10])
            cost = _amount(row[3], code)
            nets = {n: _amount(v, code) for n, v in zip(names, row[5:], strict=False)}
        except (ChipinError, ValueError) as exc:
            problems.append(Problem(where, str(exc)))
            continue
        nets = {m: v for m, v in nets.items() if v}
        if sum(nets.values()) != 0:
            problems.append(Problem(where, "the member amounts do not sum to zero"))
            continue
        if not nets:
            continue  # a row that moves nothing (e.g. an expense only its payer shared)
        description = row[1].strip()
        category = row[2].strip() or None
        digest = hashlib.sha256("|".join(c.strip() for c in row).encode()).hexdigest()[:12]
        seen[digest] += 1
        entry_id = f"splitwise-{digest}-{seen[digest]}"
        currencies[code] += 1
        try:
            entry: Entry
            if (category or "").casefold() == "payment" and len(nets) == 2:
                (payer, a), (payee, _) = sorted(nets.items(), key=lambda kv: -kv[1])
                entry = Payment(
                    currency=code,
                    amount=a,
                    debtor=payer,
                    creditor=payee,
                    date=date,
                    notes=description,
                )
            else:
                entry = _expense_from_nets(nets, cost, code, date, description, category)
        except ChipinError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        entries.append((entry_id, entry))
    if problems:
        return None, problems
    group_currency = currency or (currencies.most_common(1)[0][0] if currencies else "USD")
    return LedgerDoc(
        group_name=group_name,
        currency=normalize_currency(group_currency),
        timezone=timezone,
        members=tuple(names),
        entries=tuple(entries),
    ), []


def write_splitwise_csv(members: Sequence[str], entries: Iterable[Entry]) -> str:
    """The Splitwise export layout: fixed columns, then each member's net effect of the row,
    then a "Total balance" row per currency (what :func:`parse_splitwise_csv` reads back)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow([*FIXED, *members])
    totals: dict[str, dict[str, int]] = {}
    for entry in entries:
        effects = entry.effects()
        if isinstance(entry, Payment):
            description, category = entry.notes or "Payment", "Payment"
        else:
            description, category = entry.description, entry.category or "General"
        currency = entry.currency
        out.writerow(
            [
                entry.date.isoformat(),
                description,
                category,
                format_minor(entry.amount, currency),
                currency,
                *(format_minor(effects.get(m, 0), currency) for m in members),
            ]
        )
        running = totals.setdefault(currency, {})
        for m, delta in effects.items():
            running[m] = running.get(m, 0) + delta
    for currency, amounts in sorted(totals.items()):
        out.writerow(
            [
                "",
                "Total balance",
                "",
                "",
                currency,
                *(format_minor(amounts.get(m, 0), currency) for m in members),
            ]
        )
    return buf.getvalue()
