"""Reaching people on their phones: which channel reaches a person now; adding a member by
phone number (in any group, Telegram too) with an invitation and a join code; and the notice
each affected member gets when an entry that involves them is recorded, changed, undone or
restored, in any group (a phone group, a Telegram group, the playground); and the scheduler's
group-wide messages (budget alerts, digests, reminders) to each member who has a phone.

WhatsApp first where the person has it: free-form inside the 24 hours after their last WhatsApp
message, else the approved template (``TWILIO_WHATSAPP_TEMPLATE_SID``) when one is configured;
SMS otherwise. Opt-outs are per channel and always respected. A WhatsApp message carries its
SMS rendering too, for the one SMS fallback when WhatsApp fails.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Collection
from typing import Any

import structlog

from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.bot.replies import notice
from chipin.bot.turns import Outcome, Scene
from chipin.bot.views import entry_view
from chipin.core.entries import Entry, Expense
from chipin.core.records import Group
from chipin.settings import Settings
from chipin.store.phones import (
    PHONE_CHANNELS,
    Contact,
    InvalidNumber,
    PhoneRepository,
    mask_phone,
    region_of,
    to_e164,
)
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.phone")

WINDOW = dt.timedelta(hours=24)
"""WhatsApp's customer-service window: free-form messages only this long after theirs."""
CHANGES = ("recorded", "edited", "undone", "restored")
INVITATION_TTL = dt.timedelta(days=7)
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: codes are read aloud


def enabled_channels(settings: Settings) -> frozenset[str]:
    """The phone channels this deployment can send on."""
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return frozenset()
    chosen = set()
    if settings.twilio_whatsapp_from:
        chosen.add("whatsapp")
    if settings.twilio_sms_from:
        chosen.add("sms")
    return frozenset(chosen)


def template_sid(settings: Settings) -> str | None:
    """The approved WhatsApp template (a Content SID with one variable) for messages outside
    the 24-hour window."""
    sid = getattr(settings, "twilio_whatsapp_template_sid", None)
    return str(sid) if sid else None


def in_window(contact: Contact, now: dt.datetime) -> bool:
    at = contact.whatsapp_inbound_at
    return at is not None and now - at < WINDOW


def choose_channel(
    contact: Contact, settings: Settings, now: dt.datetime
) -> tuple[str, str | None] | None:
    """(channel, template SID or None) for a message the person did not ask for, or None when
    nothing may reach them."""
    enabled = enabled_channels(settings)
    whatsapp = (
        "whatsapp" in enabled
        and not contact.opted_out("whatsapp")
        and contact.has_whatsapp is not False
    )
    sms = "sms" in enabled and not contact.opted_out("sms")
    template = template_sid(settings)
    if whatsapp and in_window(contact, now):
        return "whatsapp", None
    if whatsapp and template and (contact.has_whatsapp or not sms):
        return "whatsapp", template
    if sms:
        return "sms", None
    return None


def flat(text: str) -> str:
    """Template variables may not hold newlines, tabs or runs of spaces (WhatsApp's rule)."""
    return " · ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def deliver(
    settings: Settings,
    uow: SqlUnitOfWork,
    phone: str,
    reply: Reply,
    *,
    locale: str,
    dedupe_key: str,
    now: dt.datetime,
    inbox_id: int | None = None,
) -> str | None:
    """Queue ``reply`` to ``phone`` on the channel that reaches them; that channel, or None."""
    contact = PhoneRepository(uow.connection).ensure_contact(phone, now)
    chosen = choose_channel(contact, settings, now)
    if chosen is None:
        log.info("chipin.phone_unreachable", phone=mask_phone(phone), template=reply.template)
        return None
    channel, content_sid = chosen
    payload = render(channel, reply, locale=locale)  # on WhatsApp, with its ``sms_text``
    if channel == "whatsapp" and content_sid:
        payload["content_sid"] = content_sid
        payload["content_variables"] = {"1": flat(payload["text"])}
        payload.pop("media_urls", None)  # an approved template carries its own content only
    uow.outbox.add(
        channel=channel,
        conversation_key=f"{channel}:{phone}",
        recipient=phone,
        kind="send",
        payload=payload,
        now=now,
        inbox_id=inbox_id,
        dedupe_key=dedupe_key,
    )
    return channel


def to_phone_members(
    settings: Settings,
    uow: SqlUnitOfWork,
    group: Group,
    reply: Reply,
    *,
    key: str,
    now: dt.datetime,
    only: Collection[int] | None = None,
    skip_phone: str | None = None,
) -> int:
    """Queue a group-wide message (a budget alert, a digest, a reminder) to each active member
    of ``group`` who has a phone, on the channel that reaches them (:func:`deliver`: WhatsApp
    first, SMS otherwise, opt-outs respected); ``only`` limits it to those member ids, and
    ``skip_phone`` is the person who hears it in the turn they are having. Each recipient's
    outbox row has its own dedupe key, so a repeated run queues nothing twice. How many were
    reachable."""
    members = [
        m for m in uow.ledger.members(group.id) if m.active and (only is None or m.id in only)
    ]
    phones = PhoneRepository(uow.connection).phones_of([m.id for m in members])
    reached = 0
    for member in sorted(members, key=lambda m: m.id):
        phone = phones.get(member.id)
        if phone is None or phone == skip_phone:
            continue
        channel = deliver(
            settings,
            uow,
            phone,
            reply,
            locale=group.locale,
            dedupe_key=f"{key}:member-{member.id}",
            now=now,
        )
        if channel is not None:
            reached += 1
            log.info(
                "chipin.phone_alert",
                phone=mask_phone(phone),
                channel=channel,
                group_id=group.id,
                template=reply.template,
            )
    return reached


def involved(entry: Entry) -> list[str]:
    """The members an entry changes the balance of, in the entry's order."""
    if isinstance(entry, Expense):
        names = [m for m, _ in entry.paid_by] + [m for m, _ in entry.shares]
    else:
        names = [entry.debtor, entry.creditor]
    return list(dict.fromkeys(names))


def share_of(entry: Entry, name: str) -> int:
    if isinstance(entry, Expense):
        return sum(a for m, a in entry.shares if m == name)
    return entry.amount if name in (entry.debtor, entry.creditor) else 0


def group_phones(uow: SqlUnitOfWork, group_id: int) -> dict[str, tuple[int, str]]:
    """member name → (member id, phone number) for the group's members who have a phone."""
    return PhoneRepository(uow.connection, uow.cache).group_phones(group_id)


def entry_changed(
    settings: Settings,
    uow: SqlUnitOfWork,
    scene: Scene,
    entry_id: int,
    change: str,
    now: dt.datetime,
) -> int:
    """Queue a notice to each member the entry involves who has a phone, except its author;
    how many were queued.

    It runs after every entry recorded, changed, undone or restored, so it starts with the one
    question most groups answer "nobody": who in the group has a phone besides the author. Only
    then is the entry read."""
    if change not in CHANGES:
        return 0
    group = scene.group
    phones = {
        name: found
        for name, found in group_phones(uow, group.id).items()
        if found[0] != scene.sender.id
    }
    if not phones:
        return 0
    stored = uow.ledger.entry(group.id, entry_id)
    if stored is None:
        return 0
    entry = stored.entry
    targets = [(n, *phones[n]) for n in involved(entry) if n in phones]
    if not targets:
        return 0
    repo = PhoneRepository(uow.connection)
    balances = uow.ledger.balances(group.id).get(entry.currency, {})
    view = entry_view(entry, entry_id)
    queued = 0
    for name, member_id, phone in targets:
        contact = repo.contact(phone)
        here = contact is not None and contact.active_group_id == group.id
        context: dict[str, Any] = {
            "group": group.name,
            "actor": scene.sender.name,
            "change": change,
            "entry": view,
            "name": name,
            "share": share_of(entry, name),
            "net": balances.get(name, 0),
            "hint": "BALANCES" if here else f"{group.name}: balances",
        }
        channel = deliver(
            settings,
            uow,
            phone,
            Reply("entry_notice", context),
            locale=group.locale,
            dedupe_key=f"notice-{scene.inbox_id}-{entry_id}-{member_id}",
            now=now,
            inbox_id=scene.inbox_id,
        )
        if channel is not None:
            queued += 1
            log.info(
                "chipin.phone_notice",
                phone=mask_phone(phone),
                channel=channel,
                group_id=group.id,
                entry_id=entry_id,
                change=change,
            )
    return queued


# -- adding a member by phone ------------------------------------------------------------------


def add_by_phone(
    settings: Settings,
    uow: SqlUnitOfWork,
    scene: Scene,
    raw_name: str,
    raw_phone: str,
    now: dt.datetime,
) -> Outcome:
    """Add a member reached by phone, and invite them with a join code."""
    group, result = scene.group, {"phone": "add"}
    own = scene.message.sender_id if scene.message.channel in PHONE_CHANNELS else ""
    try:
        phone = to_e164(raw_phone, region_of(own) if own else settings.default_phone_region)
    except InvalidNumber as exc:
        return Outcome(
            replies=[notice(f"I can't use that number: {exc}. Write it like +351 912 345 678.")],
            result=result | {"outcome": "invalid number"},
        )
    name = " ".join(raw_name.split())
    repo = PhoneRepository(uow.connection)
    holder = next((m for m in repo.memberships(phone) if m.group_id == group.id), None)
    if holder is not None:
        return Outcome(
            replies=[notice(f"{holder.member_name} already has that number in {group.name}.")],
            result=result | {"outcome": "already there"},
        )
    member = uow.ledger.member_by_name(group.id, name)
    if member is not None and repo.phones_of([member.id]):
        return Outcome(
            replies=[notice(f"{member.name} is already in {group.name} with another number.")],
            result=result | {"outcome": "other number"},
        )
    member = member or uow.ledger.add_member(group.id, name, now, is_guest=True)
    if not member.active:
        uow.ledger.set_member_active(group.id, member.id, True)
    code = invitation_code(repo, group.id, member.id, phone, scene.sender.name, now)
    repo.ensure_contact(phone, now, name=member.name)
    reply = Reply(
        "invitation",
        {"group": group.name, "by": scene.sender.name, "name": member.name, "code": code},
    )
    channel = deliver(
        settings,
        uow,
        phone,
        reply,
        locale=group.locale,
        dedupe_key=f"invite-{scene.inbox_id}-{member.id}",
        now=now,
        inbox_id=scene.inbox_id,
    )
    log.info("chipin.phone_invited", phone=mask_phone(phone), group_id=group.id, channel=channel)
    if channel is None:
        text = (
            f"Added {member.name} to {group.name}, but I can't message that number. "
            f"Ask them to send JOIN {code} to Chipin on WhatsApp or SMS."
        )
    else:
        how = "on WhatsApp" if channel == "whatsapp" else "by SMS"
        text = (
            f"Added {member.name} to {group.name}. I sent them an invitation {how}; "
            f"they answer JOIN {code} to take part."
        )
    return Outcome(
        replies=[notice(text)],
        result=result | {"outcome": "member added", "member": member.name, "channel": channel},
    )


def invitation_code(
    repo: PhoneRepository, group_id: int, member_id: int, phone: str, by: str, now: dt.datetime
) -> str:
    """The open invitation's code (its time renewed), or a new one."""
    for invitation in repo.open_invitations(phone, now):
        if invitation.group_id == group_id and invitation.member_id == member_id:
            repo.extend(invitation.id, now + INVITATION_TTL)
            return invitation.code
    size = 4
    for attempt in range(20):
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(size + attempt // 10))
        if not repo.code_taken(code):
            break
    repo.invite(
        code=code,
        group_id=group_id,
        member_id=member_id,
        phone=phone,
        invited_by=by,
        expires_at=now + INVITATION_TTL,
        now=now,
    )
    return code
