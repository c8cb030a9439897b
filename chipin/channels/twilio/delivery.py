"""What happens after Twilio takes a message: delivery reports (status callbacks and the
status the REST API answered), kept in order, and the SMS fallback of a WhatsApp message.

A WhatsApp message that ends failed — its row dead after the REST API refused it (63016 outside
the 24-hour window, not a WhatsApp number, tries exhausted), or a "failed"/"undelivered" report
— is sent once more by SMS, with its SMS rendering (``templates/sms``): the ``sms_text`` every
WhatsApp payload carries (``chipin.bot.render``), else — a payload without one — its WhatsApp
text made plain. Media stays behind: SMS gets the text.
"Once" is the outbox's unique ``dedupe_key`` ("fallback-<outbox id>"): a second failure report
queues nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog

from chipin.store.outbox import OutboxItem
from chipin.store.phones import Delivery, PhoneRepository, mask_phone
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.twilio")

FAILED = frozenset({"failed", "undelivered"})
NOT_ON_WHATSAPP = frozenset({"63003"})
"""Twilio: the channel could not find the To address (the number has no WhatsApp)."""
SMS_OPTED_OUT = frozenset({"21610"})
"""Twilio: the number replied STOP to this sender."""


@dataclass(frozen=True, slots=True)
class Report:
    delivery: Delivery
    fallback_id: int | None
    """The SMS copy this report queued, if any."""


def record_status(
    uow: SqlUnitOfWork,
    message_sid: str,
    status: str,
    error_code: str | None,
    now: dt.datetime,
    *,
    sms_enabled: bool,
) -> Report:
    """A status callback: stored in order; the outbox row follows; a failure falls back."""
    repo = PhoneRepository(uow.connection)
    known = repo.delivery(message_sid)
    # the row is linked already in the usual case (the dispatcher records the send first):
    # only an unlinked one needs the outbox looked up and written
    outbox_id = None if known and known.outbox_id else repo.outbox_for(message_sid)
    delivery = repo.record_delivery(
        message_sid, status, now, error_code=error_code, outbox_id=outbox_id
    )
    fallback = None
    if delivery.outbox_id is not None:
        error = f"{status}: Twilio error {error_code}" if error_code else None
        repo.set_outbox_status(delivery.outbox_id, delivery.status, error, now)
        if delivery.changed and delivery.status in FAILED:
            item = uow.outbox.get(delivery.outbox_id)
            if item is not None:
                fallback = failed(uow, item, delivery.error_code, now, sms_enabled=sms_enabled)
    return Report(delivery, fallback)


def sent(
    uow: SqlUnitOfWork,
    item: OutboxItem,
    message_sid: str,
    status: str | None,
    now: dt.datetime,
    *,
    sms_enabled: bool,
) -> None:
    """The REST API took the message: link its MessageSid to the row. A status callback that
    came before this (it can) is applied now."""
    repo = PhoneRepository(uow.connection)
    delivery = repo.record_delivery(message_sid, status or "queued", now, outbox_id=item.id)
    repo.set_outbox_status(item.id, delivery.status, None, now)
    if delivery.status in FAILED:
        failed(uow, item, delivery.error_code, now, sms_enabled=sms_enabled)


def failed(
    uow: SqlUnitOfWork,
    item: OutboxItem,
    error_code: str | None,
    now: dt.datetime,
    *,
    sms_enabled: bool,
) -> int | None:
    """What a final failure teaches about the number, and the SMS copy of a WhatsApp message."""
    repo = PhoneRepository(uow.connection)
    if item.channel == "sms":
        if error_code in SMS_OPTED_OUT:
            repo.set_opt_out(item.recipient, "sms", now, now)
        return None
    if error_code in NOT_ON_WHATSAPP:
        repo.ensure_contact(item.recipient, now)
        repo.update_contact(item.recipient, now, has_whatsapp=False)
    return queue_sms_copy(uow, item, now, sms_enabled=sms_enabled)


def queue_sms_copy(
    uow: SqlUnitOfWork, item: OutboxItem, now: dt.datetime, *, sms_enabled: bool
) -> int | None:
    """The one SMS copy of a failed WhatsApp message; None when it was queued before, or SMS
    may not reach the number."""
    if item.channel != "whatsapp" or item.kind == "answer":
        return None
    phone = item.recipient
    contact = PhoneRepository(uow.connection).contact(phone)
    if not sms_enabled or (contact is not None and contact.opted_out("sms")):
        log.info("chipin.twilio_no_fallback", outbox_id=item.id, phone=mask_phone(phone))
        return None
    text, source = sms_text(item)
    payload = {
        "text": text,
        "format": "plain",
        "template": item.payload.get("template"),
        "fallback_of": item.id,
        "sms_source": source,
    }
    if item.payload.get("actions"):
        payload["actions"] = item.payload["actions"]
    copy = uow.outbox.add(
        channel="sms",
        conversation_key=f"sms:{phone}",
        recipient=phone,
        kind="send",
        payload=payload,
        now=now,
        inbox_id=item.inbox_id,
        dedupe_key=f"fallback-{item.id}",
    )
    if copy is not None:
        log.info(
            "chipin.twilio_fallback",
            outbox_id=item.id,
            sms_id=copy,
            phone=mask_phone(phone),
            source=source,
        )
    return copy


def sms_text(item: OutboxItem) -> tuple[str, str]:
    """The SMS text of a WhatsApp row, and where it came from: "payload" (the ``sms_text`` every
    WhatsApp payload carries: its SMS rendering, see ``chipin.bot.render``) or "plain" (a row
    without one, e.g. queued by hand or before payloads carried it: the WhatsApp text, whose
    symbols the adapter strips)."""
    carried = item.payload.get("sms_text")
    if carried:
        return str(carried), "payload"
    return str(item.payload.get("text", "")), "plain"
