"""Phone numbers are personal data: logs and the dashboard show them masked.

:func:`mask_phone` is for one number; :func:`mask_payload` masks a stored Twilio payload for
display (the inbox keeps the real numbers, the dashboard shows them through this).
"""

from __future__ import annotations

import re
from typing import Any

from chipin.store.phones import mask_phone

__all__ = ["mask_payload", "mask_phone", "mask_text"]

NUMBER_FIELDS = frozenset({"From", "To", "WaId", "Called", "Caller", "ForwardedFrom"})
"""Twilio fields that hold a phone number (WaId without the "+")."""
_NUMBER = re.compile(r"(?:whatsapp:)?\+?\d[\d ().\-]{5,18}\d")


def mask_text(text: str) -> str:
    """Every phone-number-like run in ``text`` masked ("add Ana +351 912 345 678"): one that
    starts with "+", or has at least 9 digits (so amounts and dates stay readable)."""

    def masked(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.startswith(("+", "whatsapp:")) or sum(c.isdigit() for c in found) >= 9:
            return mask_phone(found)
        return found

    return _NUMBER.sub(masked, text)


def mask_payload(payload: Any) -> Any:
    """A copy of ``payload`` with phone numbers masked, for display."""
    if isinstance(payload, dict):
        return {
            k: mask_phone(f"+{v}" if str(v).isdigit() else str(v))
            if k in NUMBER_FIELDS and v
            else mask_payload(v)
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [mask_payload(v) for v in payload]
    if isinstance(payload, str):
        return mask_text(payload)
    return payload
