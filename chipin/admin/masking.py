"""Masking for what the dashboard shows: secrets and phone numbers never reach an operator's
screen (or a screenshot of it) in the clear.

Two nets, because providers put secrets in both places: values under secret-sounding keys are
replaced whole, and every string is scanned for things that look like tokens, signatures and
phone numbers wherever they appear (a token inside a URL, a number inside ``whatsapp:+…``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SECRET = "[masked]"  # noqa: S105 - the placeholder shown instead of a secret

_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "accountsid",
        "authtoken",
        "apikey",
        "password",
        "passwd",
        "secret",
        "token",
        "signature",
        "xtwiliosignature",
        "xtelegrambotapisecrettoken",
        "xapikey",
        "xgoogapikey",
        "clientsecret",
        "privatekey",
        "session",
    }
)
_SECRET_SUFFIXES = ("token", "secret", "password", "signature", "apikey", "authtoken")
_PHONE_KEYS = frozenset(
    {"waid", "from", "to", "phone", "phonenumber", "msisdn", "caller", "called"}
)
"""Keys whose value is a phone number even without a ``+`` (Twilio's ``WaId`` is bare digits)."""

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # a Telegram bot token, also inside https://api.telegram.org/bot<token>/…
    (re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}"), SECRET),
    # Twilio AccountSid / API key sid (SK…), and Google API keys
    (re.compile(r"\b(?:AC|SK)[0-9a-fA-F]{32}\b"), SECRET),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), SECRET),
    # Authorization header values written out in a string
    (
        re.compile(r"\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]{8,}", re.IGNORECASE),
        r"\1 " + SECRET,
    ),
    # credentials in a URL (scheme://user:password@host)
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1" + SECRET + "@"),
    # secret-looking query parameters (?key=…, &token=…, &signature=…)
    (
        re.compile(
            r"([?&;](?:api_?key|key|token|secret|signature|sig|password|auth_?token)=)[^&\s#]+",
            re.IGNORECASE,
        ),
        r"\1" + SECRET,
    ),
)

_PHONE = re.compile(r"(?<![\w+])\+(\d[\d ().-]{5,18}\d)(?!\d)")
"""E.164 and lightly formatted international numbers: ``+14155550123``, ``+44 20 7946 0958``,
``whatsapp:+14155550123`` (the prefix is kept, the number masked)."""


_BARE_PHONE = re.compile(r"\d{6,15}")


def _normal(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def is_secret_key(key: str) -> bool:
    name = _normal(key)
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def mask_phone_digits(digits: str) -> str:
    """Keep what helps an operator tell numbers apart (country code, last two digits)."""
    bare = re.sub(r"\D", "", digits)
    if len(bare) < 6:
        return "•" * len(bare)
    return bare[:2] + "•" * (len(bare) - 4) + bare[-2:]


def _phone(match: re.Match[str]) -> str:
    return "+" + mask_phone_digits(match[1])


def mask_text(text: str) -> str:
    """A string with every secret-looking token and phone number in it masked."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return _PHONE.sub(_phone, text)


def _mask_phone_value(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) >= 6:
        return mask_phone_digits(str(value))
    if isinstance(value, str) and _BARE_PHONE.fullmatch(value.strip()):
        return mask_phone_digits(value)  # a number without its "+" under a phone key
    return mask(value)


def mask(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, strings, scalars) safe to display."""
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = str(key)
            if is_secret_key(name) and item not in (None, "", [], {}):
                out[key] = SECRET
            elif _normal(name) in _PHONE_KEYS:
                out[key] = _mask_phone_value(item)
            else:
                out[key] = mask(item)
        return out
    if isinstance(value, list | tuple):
        return [mask(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
