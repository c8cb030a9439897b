"""The text a phone receives: a reply's buttons as short answers ("Reply 1 to confirm, 2 to drop
it.", "Reply UNDO to undo."), SMS kept plain, GSM-7 and short, WhatsApp within Twilio's body
limit. Pure functions of the outbox payload.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Any

from chipin.bot.phone_choices import offer_line
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
    """ "Reply UNDO to undo." / "Reply 1 to confirm, 2 to drop it." — read back by
    ``chipin.bot.phone_choices`` with the same convention."""
    return offer_line(actions)


GSM_LETTERS = {"Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Œ": "OE", "œ": "oe", "ı": "i", "ð": "d"}
"""Letters with no decomposition to fold through."""


def gsm_fold(char: str) -> str:
    """A letter GSM-7 lacks as its base letter ("ë" → "e", "ć" → "c", "Ł" → "L"), so one name
    does not turn the whole SMS into UCS-2 (70 characters a part instead of 160); else as is."""
    if segments.is_gsm7(char):
        return char
    if char in GSM_LETTERS:
        return GSM_LETTERS[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base and segments.is_gsm7(base) else char


def sms_plain(text: str) -> str:
    for symbol, plain in SMS_SYMBOLS.items():
        text = text.replace(symbol, plain)
    if not segments.is_gsm7(text):
        text = "".join(gsm_fold(c) for c in text)
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
