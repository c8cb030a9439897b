"""The ``chipin-ledger/1`` JSON format: parsing (every problem at once) and writing.

Parsing never stops at the first problem: it returns all of them, each with where it is, so an
import that fails tells the user everything to fix in one go (beancount's way with errors).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chipin.core.codec import rename_split, split_from_json, split_to_json
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import ChipinError
from chipin.core.money import format_minor, normalize_currency, parse_minor
from chipin.core.splits import split_members

FORMAT = "chipin-ledger/1"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, and where: ``expenses[2] (id "e3")``."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True, slots=True)
class LedgerDoc:
    """A parsed, fully validated ledger file."""

    group_name: str
    currency: str
    timezone: str
    members: tuple[str, ...]
    entries: tuple[tuple[str | None, Entry], ...]
    """(id from the file, entry), expenses first then payments, in file order."""
    rates: Mapping[str, Decimal] = field(default_factory=dict)


def entry_to_json(entry: Entry, entry_id: str | None) -> dict[str, Any]:
    """One entry in the file format (also what the audit trail records before/after)."""
    out: dict[str, Any] = {}
    if entry_id is not None:
        out["id"] = entry_id
    out["date"] = entry.date.isoformat()
    amount = format_minor(entry.amount, entry.currency)
    if isinstance(entry, Expense):
        out["description"] = entry.description
        if entry.category:
            out["category"] = entry.category
        out["amount"] = amount
        out["currency"] = entry.currency
        out["paid_by"] = {m: format_minor(a, entry.currency) for m, a in entry.paid_by}
        out["split"] = split_to_json(entry.split, entry.currency)
    else:
        out.update(
            {
                "from": entry.debtor,
                "to": entry.creditor,
                "amount": amount,
                "currency": entry.currency,
            }
        )
        if entry.method:
            out["method"] = entry.method
    if entry.notes:
        out["notes"] = entry.notes
    return out


def ledger_to_json(
    *,
    group_name: str,
    currency: str,
    timezone: str,
    members: Sequence[str],
    entries: Iterable[tuple[str | None, Entry]],
    rates: Mapping[str, Decimal] | None = None,
) -> dict[str, Any]:
    expenses: list[dict[str, Any]] = []
    payments: list[dict[str, Any]] = []
    for entry_id, entry in entries:
        (expenses if isinstance(entry, Expense) else payments).append(
            entry_to_json(entry, entry_id)
        )
    doc: dict[str, Any] = {
        "format": FORMAT,
        "group": {"name": group_name, "currency": currency, "timezone": timezone},
        "members": [{"name": m} for m in members],
        "expenses": expenses,
        "payments": payments,
    }
    if rates:
        doc["rates"] = {c: format(r.normalize(), "f") for c, r in sorted(rates.items())}
    return doc


class _Reader:
    """Collects problems while reading one document."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, where: str, message: str) -> None:
        self.problems.append(Problem(where, message))

    def text(
        self, obj: Mapping[str, Any], key: str, where: str, *, required: bool = True
    ) -> str | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(where, f'"{key}" is missing')
            return None
        if not isinstance(value, str):
            self.fail(where, f'"{key}" must be a string')
            return None
        return value

    def date(self, obj: Mapping[str, Any], where: str) -> dt.date | None:
        raw = self.text(obj, "date", where)
        if raw is None:
            return None
        try:
            # a timestamp ("2026-11-20T19:30:00Z") is accepted for its calendar date
            return dt.date.fromisoformat(raw[:10]) if len(raw) > 10 else dt.date.fromisoformat(raw)
        except ValueError:
            self.fail(where, f'"date" {raw!r} is not a date like 2026-11-20')
            return None

    def currency(self, obj: Mapping[str, Any], where: str, default: str | None) -> str | None:
        raw = obj.get("currency", default)
        if not isinstance(raw, str):
            self.fail(
                where, '"currency" is missing' if raw is None else '"currency" must be a code'
            )
            return None
        try:
            return normalize_currency(raw)
        except ChipinError as exc:
            self.fail(where, str(exc))
            return None

    def amount(self, raw: Any, currency: str, where: str, what: str) -> int | None:
        if raw is None:
            self.fail(where, f"{what} is missing")
            return None
        # JSON numbers are accepted when the file was decoded with parse_float=Decimal (exact);
        # a binary float is refused: 0.1 + 0.2 is not 0.3 there.
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            self.fail(where, f'{what} must be a decimal string like "20.00"')
            return None
        try:
            return parse_minor(str(raw), currency)
        except ChipinError as exc:
            self.fail(where, f"{what}: {exc}")
            return None


def parse_ledger(obj: Any) -> tuple[LedgerDoc | None, list[Problem]]:
    """Validate a decoded JSON document; returns the ledger, or None and every problem found."""
    r = _Reader()
    if not isinstance(obj, Mapping):
        return None, [Problem("file", "the top level must be a JSON object")]
    if obj.get("format") != FORMAT:
        r.fail("format", f'expected "format": "{FORMAT}", got {obj.get("format")!r}')

    group = obj.get("group")
    name = currency = None
    timezone = "UTC"
    if not isinstance(group, Mapping):
        r.fail("group", 'missing "group" object with name, currency and timezone')
    else:
        name = r.text(group, "name", "group")
        if name is not None and not name.strip():
            r.fail("group", "the group name is empty")
        currency = r.currency(group, "group", None)
        tz = r.text(group, "timezone", "group", required=False)
        if tz is not None:
            try:
                ZoneInfo(tz)
                timezone = tz
            except (ZoneInfoNotFoundError, ValueError):
                r.fail(
                    "group", f"unknown timezone {tz!r} (expected an IANA name like Europe/Lisbon)"
                )

    canonical: dict[str, str] = {}
    raw_members = obj.get("members")
    if not isinstance(raw_members, list):
        r.fail("members", 'missing "members" list')
        raw_members = []
    for i, raw_member in enumerate(raw_members):
        where = f"members[{i}]"
        # a bare name is as clear as {"name": ...}
        m = {"name": raw_member} if isinstance(raw_member, str) else raw_member
        mname = r.text(m, "name", where) if isinstance(m, Mapping) else None
        if not isinstance(m, Mapping):
            r.fail(where, 'each member must be an object like {"name": "Ana"}')
        if mname is None:
            continue
        clean = " ".join(mname.split())
        if not clean:
            r.fail(where, "member name is empty")
        elif clean.casefold() in canonical:
            r.fail(where, f"member {clean!r} is listed twice")
        else:
            canonical[clean.casefold()] = clean

    def member(raw: Any, where: str, what: str) -> str | None:
        if not isinstance(raw, str):
            r.fail(where, f"{what} must be a member name")
            return None
        found = canonical.get(" ".join(raw.split()).casefold())
        if found is None:
            r.fail(where, f'{what} {raw!r} is not in "members"')
        return found

    seen_ids: dict[str, str] = {}

    def entry_id(item: Mapping[str, Any], where: str) -> str | None:
        raw = item.get("id")
        if raw is None:
            return None
        if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw) == "":
            r.fail(where, '"id" must be a non-empty string')
            return None
        key = str(raw)
        if key in seen_ids:
            r.fail(f'{where} (id "{key}")', f"id {key!r} is used twice (also {seen_ids[key]})")
        seen_ids[key] = where
        return key

    entries: list[tuple[str | None, Entry]] = []
    for section, build in (("expenses", _expense), ("payments", _payment)):
        items = obj.get(section, [])
        if not isinstance(items, list):
            r.fail(section, f'"{section}" must be a list')
            continue
        for i, item in enumerate(items):
            where = f"{section}[{i}]"
            if not isinstance(item, Mapping):
                r.fail(where, "must be an object")
                continue
            eid = entry_id(item, where)
            if eid is not None:
                where = f'{where} (id "{eid}")'
            entry = build(r, item, where, currency, member, tuple(canonical.values()))
            if entry is not None:
                entries.append((eid, entry))

    rates: dict[str, Decimal] = {}
    raw_rates = obj.get("rates", {})
    if not isinstance(raw_rates, Mapping):
        r.fail("rates", '"rates" must be an object of currency → rate')
    else:
        for code, raw in raw_rates.items():
            try:
                rate = Decimal(str(raw))
                if not rate.is_finite() or rate <= 0:
                    raise InvalidOperation
                rates[normalize_currency(code)] = rate
            except (InvalidOperation, ChipinError):
                r.fail(f"rates.{code}", f"not a positive rate for a known currency: {raw!r}")

    if r.problems or name is None or currency is None:
        return None, r.problems
    doc = LedgerDoc(
        group_name=" ".join(name.split()),
        currency=currency,
        timezone=timezone,
        members=tuple(canonical.values()),
        entries=tuple(entries),
        rates=rates,
    )
    return doc, []


def _expense(
    r: _Reader,
    item: Mapping[str, Any],
    where: str,
    default_currency: str | None,
    member: Any,
    all_members: Sequence[str] = (),
) -> Expense | None:
    date = r.date(item, where)
    currency = r.currency(item, where, default_currency)
    description = r.text(item, "description", where, required=False) or ""
    category = r.text(item, "category", where, required=False)
    notes = r.text(item, "notes", where, required=False) or ""
    if currency is None:
        return None
    amount = r.amount(item.get("amount"), currency, where, '"amount"')
    paid_raw = item.get("paid_by")
    if isinstance(paid_raw, str):  # "paid_by": "Ana" — one payer paid it all
        paid_raw = {paid_raw: item.get("amount")}
    paid: list[tuple[str, int]] = []
    if not isinstance(paid_raw, Mapping) or not paid_raw:
        r.fail(where, '"paid_by" must be an object of member → amount')
    else:
        for who, raw in paid_raw.items():
            name = member(who, where, "payer")
            value = r.amount(raw, currency, where, f"amount paid by {who}")
            if name is not None and value is not None:
                paid.append((name, value))
    raw_split = item.get("split")
    if raw_split is None:  # no split given: shared equally by every member of the group
        raw_split = {"type": "equal", "members": list(all_members)}
    try:
        split = split_from_json(raw_split, currency)
    except ChipinError as exc:
        r.fail(where, f"split: {exc}")
        return None
    names = {m: member(m, where, "split member") for m in split_members(split)}
    if None in names.values() or amount is None or date is None or len(paid) != len(paid_raw or {}):
        return None
    try:
        return Expense(
            currency=currency,
            amount=amount,
            paid_by=tuple(paid),
            split=rename_split(split, lambda m: names[m] or m),
            description=description,
            date=date,
            category=category,
            notes=notes,
        )
    except ChipinError as exc:
        r.fail(where, str(exc))
        return None


def _payment(
    r: _Reader,
    item: Mapping[str, Any],
    where: str,
    default_currency: str | None,
    member: Any,
    all_members: Sequence[str] = (),
) -> Payment | None:
    date = r.date(item, where)
    currency = r.currency(item, where, default_currency)
    debtor = member(item.get("from"), where, '"from"')
    creditor = member(item.get("to"), where, '"to"')
    notes = r.text(item, "notes", where, required=False) or ""
    method = r.text(item, "method", where, required=False)
    if debtor is not None and debtor == creditor:
        r.fail(where, f"{debtor} cannot pay themselves")
        return None
    if currency is None:
        return None
    amount = r.amount(item.get("amount"), currency, where, '"amount"')
    if None in (date, debtor, creditor, amount):
        return None
    assert date is not None and debtor is not None and creditor is not None and amount is not None
    try:
        return Payment(
            currency=currency,
            amount=amount,
            debtor=debtor,
            creditor=creditor,
            date=date,
            notes=notes,
            method=method,
        )
    except ChipinError as exc:
        r.fail(where, str(exc))
        return None


def parse_entry(
    kind: str, obj: Mapping[str, Any], members: Sequence[str], default_currency: str
) -> tuple[Entry | None, list[Problem]]:
    """One entry in the file format (a stored draft), checked against a roster."""
    r = _Reader()
    canonical = {" ".join(m.split()).casefold(): m for m in members}

    def member(raw: Any, where: str, what: str) -> str | None:
        found = canonical.get(" ".join(raw.split()).casefold()) if isinstance(raw, str) else None
        if found is None:
            r.fail(where, f"{what} {raw!r} is not a member")
        return found

    build = _expense if kind == "expense" else _payment
    entry = build(r, obj, kind, default_currency, member, tuple(members))
    return (entry if not r.problems else None), r.problems
