"""The text a phone receives: a reply's buttons as numbered options ("Reply 1 to undo."), SMS
kept plain and short, WhatsApp within Twilio's body limit. Pure functions of the outbox payload.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chipin.channels.twilio import segments

BODY_LIMIT = 1600
"""Twilio refuses a longer ``Body``."""
SMS_MAX_SEGMENTS = 3
"""A reply longer than this is cut: a fourth part costs more than it tells."""

# Symbols of the shared text templates that force UCS-2 (70 characters a part) on SMS.
SMS_SYMBOLS = {
    "✓": "OK:",
    "✗": "x",
    "✎": "",
    "↩": "",
    "↪": "",
    "⌛": "",
    "🎉": "",
    "📊": "",
    "📈": "",
    "🔁": "",
    "👋": "",
    "⚠️": "!",
    "🚨": "!",
    "·": "-",
    "•": "-",
    "→": "->",
    "–": "-",
    "—": "-",
    "…": "...",
    "“": '"',
    "”": '"',
    "‘": "'",
    "’": "'",
    "\u00a0": " ",
    "\u202f": " ",
}


def options_line(actions: Sequence[dict[str, Any]]) -> str:
    """ "Reply 1 to undo." / "Reply 1 to confirm, 2 to cancel." — the numbers map back to the
    actions in ``chipin.bot.phone`` (the same order)."""
    parts = [f"{n} to {str(a.get('label', '')).lower()}" for n, a in enumerate(actions, 1)]
    return f"Reply {', '.join(parts)}." if parts else ""


def sms_plain(text: str) -> str:
    for symbol, plain in SMS_SYMBOLS.items():
        text = text.replace(symbol, plain)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(line for line in lines if line)


def sms_body(
    text: str, actions: Sequence[dict[str, Any]] = (), *, max_segments: int = SMS_MAX_SEGMENTS
) -> str:
    """Plain text within ``max_segments``; the options line is never the part that is cut."""
    options = options_line(actions)
    body = sms_plain(text)
    if not options:
        return segments.truncate(body, max_segments)
    full = f"{body}\n{options}"
    if segments.count(full).count <= max_segments:
        return full
    room = max_segments
    while (
        room > 1
        and segments.count(f"{segments.truncate(body, room)}\n{options}").count > max_segments
    ):
        room -= 1
    return f"{segments.truncate(body, room)}\n{options}"


def whatsapp_body(text: str, actions: Sequence[dict[str, Any]] = ()) -> str:
    options = options_line(actions)
    body = f"{text}\n\n{options}" if options else text
    if len(body) <= BODY_LIMIT:
        return body
    keep = BODY_LIMIT - len(options) - 5
    return f"{text[:keep].rstrip()}…\n\n{options}" if options else f"{text[: BODY_LIMIT - 1]}…"
