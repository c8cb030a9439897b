"""Entries as the plain dicts reply templates read (names, amounts in minor units, kind)."""

from __future__ import annotations

from typing import Any

from chipin.core.entries import Entry, Expense


def headline(text: str) -> str:
    """First letter up for display ("dinner" → "Dinner"), the rest as typed ("iPhone case")."""
    return text[:1].upper() + text[1:]


def entry_view(entry: Entry, entry_id: int | None = None) -> dict[str, Any]:
    if isinstance(entry, Expense):
        return {
            "id": entry_id,
            "kind": "refund" if entry.amount < 0 else "expense",
            "description": headline(entry.description),
            "category": entry.category,
            "amount": entry.amount,
            "currency": entry.currency,
            "date": entry.date.isoformat(),
            "payers": [{"name": m, "amount": a} for m, a in entry.paid_by],
            "shares": [{"name": m, "amount": a} for m, a in entry.shares],
            "date_note": None,
        }
    return {
        "id": entry_id,
        "kind": "payment",
        "description": f"{entry.debtor} paid {entry.creditor}",
        "amount": entry.amount,
        "currency": entry.currency,
        "date": entry.date.isoformat(),
        "debtor": entry.debtor,
        "creditor": entry.creditor,
        "method": entry.method,
        "date_note": None,
    }
