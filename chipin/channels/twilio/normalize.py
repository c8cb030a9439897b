"""Twilio's inbound message webhook (form fields) → :class:`InboundMessage`.

A phone conversation is one person: ``chat_id`` and ``sender_id`` are both the sender's E.164
number, without WhatsApp's "whatsapp:" prefix, so one person is one identity on both channels.
Media (a photo, a voice note) is kept as URLs in ``extra``; its caption is the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chipin.bot.messages import InboundMessage
from chipin.store.phones import InvalidNumber, to_e164

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAX_MEDIA = 10
"""Twilio sends at most ten media items per message."""


@dataclass(frozen=True, slots=True)
class Normalized:
    message: InboundMessage
    provider_id: str
    """The MessageSid: a redelivery of the same message is stored once."""


def normalize(channel: str, form: Mapping[str, str]) -> Normalized:
    """Raises ValueError for a payload that is not an inbound message of ``channel``."""
    sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not sid:
        raise ValueError("no MessageSid")
    sender = form.get("From", "")
    if channel == "whatsapp" and not sender.startswith("whatsapp:"):
        raise ValueError("a WhatsApp message comes from a whatsapp: address")
    if channel == "sms" and sender.startswith("whatsapp:"):
        raise ValueError("a WhatsApp message posted to the SMS webhook")
    phone = sender.removeprefix("whatsapp:")
    if not E164.match(phone):  # Twilio sends E.164; anything else is parsed (and checked)
        try:
            phone = to_e164(sender)
        except InvalidNumber as exc:
            raise ValueError(f"From is not a phone number: {exc}") from None
    extra: dict[str, object] = {}
    media = []
    for n in range(min(_int(form.get("NumMedia")), MAX_MEDIA)):
        url = form.get(f"MediaUrl{n}")
        if url:
            media.append({"url": url, "type": form.get(f"MediaContentType{n}", "")})
    if media:
        extra["media"] = media
    if form.get("Latitude") and form.get("Longitude"):
        extra["location"] = {"latitude": form["Latitude"], "longitude": form["Longitude"]}
    if form.get("ButtonPayload"):
        extra["button"] = form["ButtonPayload"]
    text = form.get("Body") or form.get("ButtonText") or ""
    message = InboundMessage(
        channel=channel,
        chat_id=phone,
        sender_id=phone,
        # SMS has no name; the number stands in (an empty name would not survive the inbox)
        sender_name=" ".join(form.get("ProfileName", "").split()) or phone,
        text=text,
        is_group=False,
        message_id=sid,
        extra=extra,
    )
    return Normalized(message, sid)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0
