"""What Chipin keeps about people it reaches by phone (WhatsApp and SMS): contacts with their
active group, 24-hour window and opt-outs; invitations with join codes; and the delivery status
Twilio reports for each message it sent, linked to the outbox row.

The tables live on the same ``metadata`` as the rest of the schema (migration 0003 builds them).
A phone number is always E.164 ("+351912345678") here: :func:`to_e164` makes one from what
people type, and :func:`mask_phone` is how one appears in logs and on the dashboard.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    insert,
    or_,
    select,
    update,
)

from chipin.store import tables as t
from chipin.store.sql import insert_ignore
from chipin.store.tables import UTCDateTime, metadata

PHONE_IDENTITY = "phone"
"""``member_identities.channel`` of a member's phone number, whichever app they write from."""
PHONE_CHANNELS = ("whatsapp", "sms")


_DIGITS = re.compile(r"\d")


class InvalidNumber(ValueError):
    """Text that is not a phone number we could message; the message says why, for the user."""


def to_e164(text: str, region: str | None = None) -> str:
    """ "+351 912 345 678", "whatsapp:+351912345678", "912 345 678" (with ``region`` "PT")
    → "+351912345678".

    A number of a possible length for its country is accepted even when phonenumbers does not
    know it as valid: its tables lag behind new allocations and leave out the ranges kept for
    examples (the UK's 07700 900xxx). Twilio reports a number that does not exist.
    """
    raw = text.strip().removeprefix("whatsapp:").strip()
    if not _DIGITS.search(raw):
        raise InvalidNumber(f"{raw or 'that'} is not a phone number")
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else region)
    except phonenumbers.NumberParseException:
        if not raw.startswith("+") and not region:
            raise InvalidNumber(
                f"I need the country code for {raw} (like +351 912 345 678)"
            ) from None
        raise InvalidNumber(f"{raw} is not a phone number") from None
    if not (phonenumbers.is_valid_number(number) or phonenumbers.is_possible_number(number)):
        raise InvalidNumber(f"{raw} does not look like a complete phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def region_of(phone: str) -> str | None:
    """The country of an E.164 number ("PT"), or None when it is not clear."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    return region if region and region != "ZZ" else None


def mask_phone(phone: str) -> str:
    """ "+351912345678" → "+351 ••• ••• 678": enough to tell numbers apart in a log, not to call."""
    raw = phone.strip()
    prefix = "whatsapp:" if raw.startswith("whatsapp:") else ""
    raw = raw.removeprefix("whatsapp:")
    digits = "".join(_DIGITS.findall(raw))
    if len(digits) < 6:
        return prefix + "•" * len(digits)
    if not raw.startswith("+"):
        return f"{prefix}••• ••• {digits[-3:]}"
    try:
        country = str(phonenumbers.parse(raw).country_code)
    except phonenumbers.NumberParseException:
        country = digits[:2]
    return f"{prefix}+{country} ••• ••• {digits[-3:]}"


phone_contacts = Table(
    "phone_contacts",
    metadata,
    Column("phone", String(20), primary_key=True),
    Column("name", String(200), nullable=True),
    # the group a message without a group name goes to; switched with "switch to …"
    Column("active_group_id", ForeignKey("groups.id", ondelete="SET NULL"), nullable=True),
    # True once they wrote from WhatsApp, False once WhatsApp could not reach them
    Column("has_whatsapp", Boolean, nullable=True),
    # WhatsApp allows free-form messages for 24 hours after the person's last message
    Column("whatsapp_inbound_at", UTCDateTime(), nullable=True),
    Column("whatsapp_opted_out_at", UTCDateTime(), nullable=True),
    Column("sms_opted_out_at", UTCDateTime(), nullable=True),
    # the numbered options of the last reply ({"group_id", "actions": [data…], "at"})
    Column("offered", JSON, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

phone_invitations = Table(
    "phone_invitations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(8), nullable=False, unique=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("phone", String(20), nullable=False),
    Column("invited_by", String(200), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("joined_at", UTCDateTime(), nullable=True),
    Index("ix_phone_invitations_phone", "phone"),
)

phone_deliveries = Table(
    "phone_deliveries",
    metadata,
    # Twilio's MessageSid: status callbacks find the outbox row through it, and a callback that
    # arrives before the dispatcher recorded the send waits here until it does
    Column("message_sid", String(64), primary_key=True),
    Column("outbox_id", ForeignKey("outbox.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(32), nullable=False),
    Column("error_code", String(16), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_phone_deliveries_outbox", "outbox_id"),
)

# Status callbacks find their outbox row by the MessageSid the dispatcher recorded.
Index("ix_outbox_provider_message_id", t.outbox.c.provider_message_id)

STATUS_ORDER = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "failed": 9,
    "undelivered": 9,
    "canceled": 9,
}
"""A message's status only moves up this order (callbacks may arrive out of order); the
failures are final."""


def earlier_statuses(status: str) -> tuple[str, ...]:
    """The statuses ``status`` may replace."""
    rank = STATUS_ORDER.get(status)
    if rank is None:
        return ()
    return tuple(s for s, r in STATUS_ORDER.items() if r < rank)


@dataclass(frozen=True, slots=True)
class Contact:
    phone: str
    name: str | None
    active_group_id: int | None
    has_whatsapp: bool | None
    whatsapp_inbound_at: dt.datetime | None
    whatsapp_opted_out_at: dt.datetime | None
    sms_opted_out_at: dt.datetime | None
    offered: dict[str, Any] | None

    def opted_out(self, channel: str) -> bool:
        at = self.whatsapp_opted_out_at if channel == "whatsapp" else self.sms_opted_out_at
        return at is not None


@dataclass(frozen=True, slots=True)
class Membership:
    """A group a phone number belongs to, and who it is there."""

    group_id: int
    group_name: str
    member_id: int
    member_name: str


@dataclass(frozen=True, slots=True)
class Invitation:
    id: int
    code: str
    group_id: int
    member_id: int
    phone: str
    invited_by: str | None
    expires_at: dt.datetime
    joined_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Delivery:
    message_sid: str
    outbox_id: int | None
    status: str
    error_code: str | None
    changed: bool
    """This report moved the status forward (False: a repeat or an out-of-order report)."""


_GROUP_PHONES = (
    select(t.members.c.id, t.members.c.name, t.member_identities.c.external_user_id)
    .select_from(
        t.member_identities.join(t.members, t.members.c.id == t.member_identities.c.member_id)
    )
    .where(
        and_(
            t.members.c.group_id == bindparam("group_id"),
            t.member_identities.c.channel == PHONE_IDENTITY,
        )
    )
)


class PhoneRepository:
    def __init__(self, conn: Connection, cache: dict[Any, Any] | None = None) -> None:
        self.conn = conn
        self._cache: dict[Any, Any] = {} if cache is None else cache
        """A unit of work's look-up cache (``SqlUnitOfWork.cache``), emptied by any write to
        member identities or members."""

    def group_phones(self, group_id: int) -> dict[str, tuple[int, str]]:
        """member name → (member id, phone number), for the group's members who have a phone:
        one query, read once per unit of work (it is asked after every entry), so a group
        without any (the common case) costs one indexed look-up a round."""
        key = ("phones", group_id)
        found: dict[str, tuple[int, str]] | None = self._cache.get(key)
        if found is None:
            rows = self.conn.execute(_GROUP_PHONES, {"group_id": group_id})
            found = {str(r.name): (int(r.id), str(r.external_user_id)) for r in rows}
            self._cache[key] = found
        return dict(found)

    # -- contacts ----------------------------------------------------------------------------

    @staticmethod
    def _contact(r: Any) -> Contact:
        return Contact(
            r.phone,
            r.name,
            r.active_group_id,
            r.has_whatsapp,
            r.whatsapp_inbound_at,
            r.whatsapp_opted_out_at,
            r.sms_opted_out_at,
            r.offered,
        )

    def contact(self, phone: str) -> Contact | None:
        row = self.conn.execute(
            select(phone_contacts).where(phone_contacts.c.phone == phone)
        ).first()
        return self._contact(row) if row else None

    def ensure_contact(self, phone: str, now: dt.datetime, *, name: str | None = None) -> Contact:
        self.conn.execute(
            insert_ignore(self.conn, phone_contacts)
            .values(phone=phone, name=name, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )
        found = self.contact(phone)
        assert found is not None
        if name and not found.name:
            self.update_contact(phone, now, name=name)
            found = self.contact(phone)
            assert found is not None
        return found

    def update_contact(self, phone: str, now: dt.datetime, **fields: Any) -> None:
        self.conn.execute(
            update(phone_contacts)
            .where(phone_contacts.c.phone == phone)
            .values(updated_at=now, **fields)
        )

    def set_opt_out(
        self, phone: str, channel: str, at: dt.datetime | None, now: dt.datetime
    ) -> None:
        """Record (``at``) or lift (None) an opt-out of one channel."""
        self.ensure_contact(phone, now)
        column = "whatsapp_opted_out_at" if channel == "whatsapp" else "sms_opted_out_at"
        self.update_contact(phone, now, **{column: at})

    # -- memberships -------------------------------------------------------------------------

    def memberships(self, phone: str) -> list[Membership]:
        """The groups this number has joined (created, or joined with a code), oldest first."""
        mi, m, g = t.member_identities, t.members, t.groups
        rows = self.conn.execute(
            select(g.c.id, g.c.name, m.c.id.label("member_id"), m.c.name.label("member_name"))
            .select_from(mi.join(m, m.c.id == mi.c.member_id).join(g, g.c.id == m.c.group_id))
            .where(
                and_(
                    mi.c.channel == PHONE_IDENTITY,
                    mi.c.external_user_id == phone,
                    m.c.active.is_(True),
                )
            )
            .order_by(m.c.id)
        )
        return [Membership(r.id, r.name, r.member_id, r.member_name) for r in rows]

    def phones_of(self, member_ids: list[int]) -> dict[int, str]:
        """member id → phone number, for the members that have one."""
        if not member_ids:
            return {}
        mi = t.member_identities
        rows = self.conn.execute(
            select(mi.c.member_id, mi.c.external_user_id).where(
                and_(mi.c.channel == PHONE_IDENTITY, mi.c.member_id.in_(member_ids))
            )
        )
        return {int(r.member_id): str(r.external_user_id) for r in rows}

    def link(self, member_id: int, phone: str, display_name: str | None, now: dt.datetime) -> None:
        """The member is this phone number, on WhatsApp and on SMS alike."""
        for channel in (PHONE_IDENTITY, *PHONE_CHANNELS):
            self.conn.execute(
                insert_ignore(self.conn, t.member_identities)
                .values(
                    member_id=member_id,
                    channel=channel,
                    external_user_id=phone,
                    display_name=display_name,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )

    # -- invitations ---------------------------------------------------------------------------

    @staticmethod
    def _invitation(r: Any) -> Invitation:
        return Invitation(
            r.id, r.code, r.group_id, r.member_id, r.phone, r.invited_by, r.expires_at, r.joined_at
        )

    def code_taken(self, code: str) -> bool:
        found = self.conn.execute(
            select(phone_invitations.c.id).where(phone_invitations.c.code == code)
        ).first()
        return found is not None

    def invite(
        self,
        *,
        code: str,
        group_id: int,
        member_id: int,
        phone: str,
        invited_by: str | None,
        expires_at: dt.datetime,
        now: dt.datetime,
    ) -> Invitation:
        result = self.conn.execute(
            insert(phone_invitations).values(
                code=code,
                group_id=group_id,
                member_id=member_id,
                phone=phone,
                invited_by=invited_by,
                created_at=now,
                expires_at=expires_at,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        return Invitation(
            int(key[0]), code, group_id, member_id, phone, invited_by, expires_at, None
        )

    def invitation(self, code: str) -> Invitation | None:
        row = self.conn.execute(
            select(phone_invitations).where(phone_invitations.c.code == code)
        ).first()
        return self._invitation(row) if row else None

    def open_invitations(self, phone: str, now: dt.datetime) -> list[Invitation]:
        rows = self.conn.execute(
            select(phone_invitations)
            .where(
                and_(
                    phone_invitations.c.phone == phone,
                    phone_invitations.c.joined_at.is_(None),
                    phone_invitations.c.expires_at > now,
                )
            )
            .order_by(phone_invitations.c.id)
        )
        return [self._invitation(r) for r in rows]

    def extend(self, invitation_id: int, expires_at: dt.datetime) -> None:
        self.conn.execute(
            update(phone_invitations)
            .where(phone_invitations.c.id == invitation_id)
            .values(expires_at=expires_at)
        )

    def accept(self, invitation_id: int, now: dt.datetime) -> bool:
        """Mark the invitation used; False when it already was (a repeated "join")."""
        return bool(
            self.conn.execute(
                update(phone_invitations)
                .where(
                    and_(
                        phone_invitations.c.id == invitation_id,
                        phone_invitations.c.joined_at.is_(None),
                    )
                )
                .values(joined_at=now)
            ).rowcount
        )

    # -- deliveries ----------------------------------------------------------------------------

    def delivery(self, message_sid: str) -> Delivery | None:
        row = self.conn.execute(
            select(phone_deliveries).where(phone_deliveries.c.message_sid == message_sid)
        ).first()
        if row is None:
            return None
        return Delivery(row.message_sid, row.outbox_id, row.status, row.error_code, False)

    def outbox_for(self, message_sid: str) -> int | None:
        """The outbox row the dispatcher recorded this MessageSid on."""
        row = self.conn.execute(
            select(t.outbox.c.id).where(t.outbox.c.provider_message_id == message_sid)
        ).first()
        return int(row[0]) if row else None

    def record_delivery(
        self,
        message_sid: str,
        status: str,
        now: dt.datetime,
        *,
        error_code: str | None = None,
        outbox_id: int | None = None,
    ) -> Delivery:
        """Store a status report; it replaces the stored status only if it is further along."""
        d = phone_deliveries
        inserted = self.conn.execute(
            insert_ignore(self.conn, d)
            .values(
                message_sid=message_sid,
                outbox_id=outbox_id,
                status=status,
                error_code=error_code,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
            .returning(d.c.message_sid)  # rowcount is not reliable for ON CONFLICT DO NOTHING
        ).first()
        changed = inserted is not None
        if not inserted:
            if outbox_id is not None:
                self.conn.execute(
                    update(d).where(d.c.message_sid == message_sid).values(outbox_id=outbox_id)
                )
            changed = bool(
                self.conn.execute(
                    update(d)
                    .where(
                        and_(
                            d.c.message_sid == message_sid, d.c.status.in_(earlier_statuses(status))
                        )
                    )
                    .values(status=status, error_code=error_code, updated_at=now)
                ).rowcount
            )
        found = self.delivery(message_sid)
        assert found is not None
        return Delivery(found.message_sid, found.outbox_id, found.status, found.error_code, changed)

    def set_outbox_status(
        self, outbox_id: int, status: str, error: str | None, now: dt.datetime
    ) -> bool:
        """Copy a provider status onto the outbox row, never moving it backwards."""
        o = t.outbox
        values: dict[str, Any] = {"provider_status": status, "updated_at": now}
        if error:
            values["last_error"] = error[:2000]
        return bool(
            self.conn.execute(
                update(o)
                .where(
                    and_(
                        o.c.id == outbox_id,
                        or_(
                            o.c.provider_status.is_(None),
                            o.c.provider_status.in_(earlier_statuses(status)),
                        ),
                    )
                )
                .values(**values)
            ).rowcount
        )
