"""Phone conversations (WhatsApp and SMS). They are one person each, with no group chat behind
them, so a phone user's groups live in Chipin: "create group Lisbon trip", "add Ana +351 912 345
678" (an invitation with a join code goes to Ana), "join 4F7K", "groups", "switch to Lisbon
trip", or a message that names its group ("Lisbon trip: I paid 20 for taxi"). STOP / START /
HELP are honoured per channel. Buttons become short answers ("Reply 1 to confirm, 2 to drop it",
"Reply UNDO to undo"; see :mod:`chipin.bot.phone_choices`).

The conversation engine calls in here at a few points and otherwise runs as for any channel:
:func:`scoped` and :func:`handles` while preparing, :func:`group_for` to find the group,
:func:`route` before the normal flow, :func:`on_scene` once the speaker is a member, and
:func:`after_turn` with the outcome (the options remembered; member notices queued). A WhatsApp
reply carries its SMS rendering in its payload (``chipin.bot.render``) for its SMS fallback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import phonenumbers
import structlog
from babel.numbers import get_territory_currencies
from phonenumbers import timezone as phone_zones

from chipin.bot import buttons, member_notices
from chipin.bot import phone_choices as pc
from chipin.bot.messages import Action, InboundMessage, Reply
from chipin.bot.replies import notice
from chipin.bot.turns import Outcome, Scene, Turn
from chipin.core.records import Group, name_key
from chipin.store.phones import (
    PHONE_CHANNELS,
    Contact,
    Membership,
    PhoneRepository,
    mask_phone,
    region_of,
)
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine

log = structlog.get_logger("chipin.phone")

__all__ = ["PHONE_CHANNELS", "after_turn", "group_for", "handles", "on_scene", "route", "scoped"]

OPT_OUT, OPT_IN, HELP = pc.OPT_OUT, pc.OPT_IN, pc.HELP

CREATE = re.compile(
    r"^/?(?:create|new|start)\s+(?:a\s+)?(?:new\s+)?group\s+(?:called\s+|named\s+)?"
    r"[\"“']?(?P<name>[^\"”'\n]{1,60}?)[\"”']?(?:\s+as\s+(?P<me>[^\d@/#:,;\n]{1,40}))?[.!]?$",
    re.IGNORECASE,
)
ADD_BY_PHONE = re.compile(
    r"^/?add\s+(?P<name>[^\d+@/#:,;\n]{1,60}?)\s*[,:]?\s*(?P<phone>\+?[\d(][\d\s().\-]{1,24}\d)"
    r"\s*(?:to\s+(?:the\s+)?group)?[.!]?$",
    re.IGNORECASE,
)
JOIN = re.compile(r"^/?join\s+(?:code\s+)?(?P<code>[A-Za-z0-9]{4,8})[.!]?$", re.IGNORECASE)
GROUPS = re.compile(r"^/?(?:groups|my groups|list groups|list my groups)[?.!]?$", re.IGNORECASE)
SWITCH = re.compile(r"^/?switch\s+(?:to\s+)?(?:group\s+)?(?P<name>.{1,60}?)[.!]?$", re.IGNORECASE)
NAME = re.compile(r"^(?:my name is|call me|/name)\s+(?P<name>[^\d@/#:,;\n]{1,40}?)[.!]?$", re.I)
SCOPE = re.compile(r"^(?:(?:in|for)\s+)?(?P<name>[^:\n]{1,60}?)\s*:\s*(?P<rest>\S.*)$", re.I | re.S)
WORD_COMMANDS = {
    "BALANCE": "/balance",
    "BALANCES": "/balance",
    "HISTORY": "/history",
    "UNDO": "/undo",
    "SETTLE": "/settle",
    "SPENDING": "/spending",
}
COMMANDS = (CREATE, ADD_BY_PHONE, JOIN, GROUPS, SWITCH, NAME)


def keyword(text: str) -> str:
    """The single word a message is, upper-cased ("Stop." → "STOP"), or ""."""
    word = text.strip().rstrip(".!?").upper()
    return word if word.isalpha() else ""


# -- while preparing (read-only) ---------------------------------------------------------------


def scoped(uow: SqlUnitOfWork, message: InboundMessage) -> InboundMessage:
    """A message that starts with one of the sender's groups ("Lisbon trip: I paid 20") is for
    that group: the name is cut off and the group kept in ``extra["group_id"]``. An answer to
    the options of the person's last reply is marked (``extra["choice"]``: nothing to parse);
    else a bare command word ("balances", "undo") becomes its command."""
    match = SCOPE.match(message.text.strip())
    if match is not None:
        wanted = name_key(match["name"])
        for m in PhoneRepository(uow.connection).memberships(message.sender_id):
            if name_key(m.group_name) == wanted:
                extra = {**message.extra, "group_id": m.group_id}
                message = dataclasses.replace(message, text=match["rest"].strip(), extra=extra)
                break
    word = keyword(message.text)
    if _is_choice(uow, message):  # "undo", "confirm" answering the last reply: nothing to parse
        return dataclasses.replace(message, extra={**message.extra, "choice": True})
    command = WORD_COMMANDS.get(word)
    if command is not None:  # "balances" is "/balance": slashes are hard to type on a phone
        extra = {**message.extra, "said": message.text}  # "undo" may still answer an option
        message = dataclasses.replace(message, text=command, extra=extra)
    return message


def _is_choice(uow: SqlUnitOfWork, message: InboundMessage) -> bool:
    """Whether the message answers the options still open (checked again when applied)."""
    text = message.text.strip()
    if len(text.split()) > 2 and not message.extra.get("button"):
        return False
    contact = PhoneRepository(uow.connection).contact(message.sender_id)
    group = group_for(uow, message)
    if contact is None or group is None:
        return False
    now = dt.datetime.now(dt.UTC)
    actions = pc.offered_actions(contact.offered, group.id, now)
    return pc.pick(actions, _answers(message)) is not None


def _answers(message: InboundMessage) -> list[str]:
    """What may answer the offered options: a quick-reply button's id, the word as typed (before
    it became a command), the text."""
    found = [message.extra.get("button"), message.extra.get("said"), message.text]
    return [str(a) for a in found if a]


def handles(message: InboundMessage) -> bool:
    """Phone commands and keywords: answered by :func:`route` / :func:`on_scene`, never parsed."""
    text = message.text.strip()
    word = keyword(text)
    if word in OPT_OUT.get(message.channel, frozenset()) | HELP | {"START", "UNSTOP"}:
        return True
    if pc.is_number(text) or message.extra.get("choice"):
        return True
    return any(p.match(text) for p in COMMANDS)


def group_for(uow: SqlUnitOfWork, message: InboundMessage) -> Group | None:
    """The group a phone message is for: the one it names, else the sender's active group."""
    repo = PhoneRepository(uow.connection)
    groups = {m.group_id for m in repo.memberships(message.sender_id)}
    named = message.extra.get("group_id")
    if isinstance(named, int) and named in groups:
        return uow.ledger.group(named)
    contact = repo.contact(message.sender_id)
    if contact is not None and contact.active_group_id in groups:
        return uow.ledger.group(contact.active_group_id)
    return None


# -- before the normal flow -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Ask:
    """A phone message being routed, with what answering it needs."""

    engine: ConversationEngine
    uow: SqlUnitOfWork
    repo: PhoneRepository
    message: InboundMessage
    now: dt.datetime

    @property
    def phone(self) -> str:
        return self.message.sender_id

    def contact(self) -> Contact:
        return self.repo.ensure_contact(self.phone, self.now)


def route(
    engine: ConversationEngine, uow: SqlUnitOfWork, turn: Turn, now: dt.datetime
) -> Outcome | None:
    """Keywords, group commands and "no group yet"; None lets the normal flow go on."""
    message = turn.message
    ask = Ask(engine, uow, PhoneRepository(uow.connection), message, now)
    phone, channel, repo = ask.phone, message.channel, ask.repo
    profile = " ".join(message.sender_name.split())
    contact = repo.ensure_contact(phone, now, name=profile if profile != phone else None)
    if channel == "whatsapp":
        repo.update_contact(phone, now, whatsapp_inbound_at=now, has_whatsapp=True)
    uow.conversations.get_or_create(channel, phone, now)
    text = message.text.strip()
    word = keyword(text)
    if word in OPT_OUT[channel]:
        return opt_out(ask)
    if contact.opted_out(channel):
        if word in OPT_IN:
            return opt_in(ask)
        return Outcome(result={"ignored": f"opted out of {channel}; START lifts it"})
    if word in HELP or word in ("START", "UNSTOP"):
        group = group_for(uow, message)
        return Outcome(replies=[Reply("help", {"group": group.name if group else None})])
    if message.extra.get("media") and not text:
        return Outcome(replies=[Reply("media_unread", {"with_text": False})])
    for pattern, handler in ROUTES:
        match = pattern.match(text)
        if match:
            outcome = handler(ask, match)
            if outcome is not None:
                return outcome
            break
    group = group_for(uow, message)
    if group is None:
        return no_group(ask)
    if contact.active_group_id is None:
        activate(ask, group.id)
    return None


def opt_out(ask: Ask) -> Outcome:
    channel = ask.message.channel
    ask.repo.set_opt_out(ask.phone, channel, ask.now, ask.now)
    ask.repo.update_contact(ask.phone, ask.now, offered=None)  # nothing pending survives STOP
    key = f"{channel}:{ask.phone}"
    cancelled = ask.uow.outbox.cancel_conversation(key, ask.now, "opted out (STOP)")
    log.info(
        "chipin.phone_opted_out", phone=mask_phone(ask.phone), channel=channel, cancelled=cancelled
    )
    result = {"phone": "opted out", "channel": channel}
    if channel == "sms":
        return Outcome(result=result)  # Twilio confirms it; a message from us would be refused
    return Outcome(replies=[Reply("opted_out", {"channel": channel})], result=result)


def opt_in(ask: Ask) -> Outcome:
    channel = ask.message.channel
    ask.repo.set_opt_out(ask.phone, channel, None, ask.now)
    conversation = ask.uow.conversations.get(channel, ask.phone)
    if conversation is not None and not conversation.active:
        ask.uow.conversations.update(conversation.id, ask.now, active=True)
    log.info("chipin.phone_opted_in", phone=mask_phone(ask.phone), channel=channel)
    return Outcome(
        replies=[notice("Welcome back! Send HELP to see what I can do.")],
        result={"phone": "opted in", "channel": channel},
    )


def no_group(ask: Ask) -> Outcome:
    contact = ask.contact()
    invitations = [
        {"group": ask.uow.ledger.group(i.group_id).name, "code": i.code, "by": i.invited_by}
        for i in ask.repo.open_invitations(ask.phone, ask.now)
    ]
    return Outcome(
        replies=[Reply("no_group", {"invitations": invitations, "name": contact.name})],
        result={"phone": "no group"},
    )


def activate(ask: Ask, group_id: int) -> None:
    """Make ``group_id`` the person's active group, on WhatsApp and SMS alike."""
    ask.repo.update_contact(ask.phone, ask.now, active_group_id=group_id, offered=None)
    for channel in PHONE_CHANNELS:
        conversation = ask.uow.conversations.get(channel, ask.phone)
        if conversation is not None and conversation.group_id != group_id:
            ask.uow.conversations.update(conversation.id, ask.now, group_id=group_id)


# -- group commands ------------------------------------------------------------------------------


def create_group(ask: Ask, match: re.Match[str]) -> Outcome:
    base = " ".join(match["name"].split())
    me = " ".join((match["me"] or "").split())
    if me:
        ask.repo.update_contact(ask.phone, ask.now, name=me)
    contact = ask.contact()
    if not contact.name:
        return Outcome(
            replies=[notice(f"What should I call you? Send: create group {base} as YOUR NAME")],
            result={"phone": "asked name"},
        )
    ledger, settings = ask.uow.ledger, ask.engine.settings
    name = ledger.unique_group_name(base)
    currency = _currency(ask.phone) or settings.default_currency
    zone = _zone(ask.phone) or settings.default_timezone
    group = ledger.add_group(name, currency, zone, "en_US", ask.now)
    member = ledger.add_member(group.id, contact.name, ask.now)
    ask.repo.link(member.id, ask.phone, contact.name, ask.now)
    activate(ask, group.id)
    log.info("chipin.phone_group_created", phone=mask_phone(ask.phone), group_id=group.id)
    return Outcome(
        replies=[Reply("group_created", {"group": name, "currency": currency})],
        result={"phone": "group created", "group_id": group.id},
    )


def join(ask: Ask, match: re.Match[str]) -> Outcome:
    code, ledger = match["code"].upper(), ask.uow.ledger
    invitation = ask.repo.invitation(code)
    result: dict[str, Any] = {"phone": "join", "code": code}
    if invitation is None or invitation.phone != ask.phone:
        # one answer for both: a code sent to someone else tells nothing about them
        return Outcome(
            replies=[Reply("join_failed", {"code": code, "group": None})],
            result=result | {"outcome": "unknown code"},
        )
    group = ledger.group(invitation.group_id)
    member = next((m for m in ledger.members(group.id) if m.id == invitation.member_id), None)
    if member is None or (invitation.joined_at is None and invitation.expires_at <= ask.now):
        return Outcome(
            replies=[Reply("join_failed", {"code": code, "group": group.name})],
            result=result | {"outcome": "expired"},
        )
    ask.repo.accept(invitation.id, ask.now)
    ask.repo.link(member.id, ask.phone, member.name, ask.now)
    if not member.active:
        ledger.set_member_active(group.id, member.id, True)
    ask.repo.ensure_contact(ask.phone, ask.now, name=member.name)
    activate(ask, group.id)
    log.info("chipin.phone_joined", phone=mask_phone(ask.phone), group_id=group.id)
    return Outcome(
        replies=[Reply("welcome", {"group": group.name, "name": member.name})],
        result=result | {"outcome": "joined", "group_id": group.id},
    )


def list_groups(ask: Ask, match: re.Match[str]) -> Outcome:
    contact, memberships = ask.contact(), ask.repo.memberships(ask.phone)
    if not memberships:
        return no_group(ask)
    groups = [
        {"n": n, "name": m.group_name, "active": m.group_id == contact.active_group_id}
        for n, m in enumerate(memberships, 1)
    ]
    return Outcome(replies=[Reply("groups", {"groups": groups})], result={"phone": "groups"})


def switch(ask: Ask, match: re.Match[str]) -> Outcome:
    memberships = ask.repo.memberships(ask.phone)
    if not memberships:
        return no_group(ask)
    target = pick_group(match["name"], memberships)
    if target is None:
        names = ", ".join(m.group_name for m in memberships)
        wanted = match["name"].strip()
        return Outcome(
            replies=[notice(f"You're not in a group called {wanted}. Your groups: {names}")],
            result={"phone": "switch", "outcome": "unknown group"},
        )
    activate(ask, target.group_id)
    return Outcome(
        replies=[notice(f"Now in {target.group_name}. Messages without a group name go there.")],
        result={"phone": "switch", "group_id": target.group_id},
    )


def set_name(ask: Ask, match: re.Match[str]) -> Outcome:
    name = " ".join(match["name"].split())
    ask.contact()
    ask.repo.update_contact(ask.phone, ask.now, name=name)
    return Outcome(
        replies=[notice(f"Hi {name}! New groups you create will call you that.")],
        result={"phone": "name"},
    )


def needs_group(ask: Ask, match: re.Match[str]) -> Outcome | None:
    """ "add Ana +351…" is answered once there is a group (:func:`on_scene`)."""
    return None if group_for(ask.uow, ask.message) is not None else no_group(ask)


def pick_group(wanted: str, memberships: list[Membership]) -> Membership | None:
    """By its number in the "groups" list, its name, or a part of its name only it has."""
    key = name_key(wanted)
    if key.isdigit() and 1 <= int(key) <= len(memberships):
        return memberships[int(key) - 1]
    for found in (
        [m for m in memberships if name_key(m.group_name) == key],
        [m for m in memberships if name_key(m.group_name).startswith(key)],
        [m for m in memberships if key in name_key(m.group_name)],
    ):
        if len(found) == 1:
            return found[0]
    return None


def _currency(phone: str) -> str | None:
    region = region_of(phone)
    if not region:
        return None
    try:
        found = get_territory_currencies(region, dt.date.today(), tender=True)  # noqa: DTZ011
    except (ValueError, LookupError):
        return None
    return found[0] if found else None


def _zone(phone: str) -> str | None:
    zones = phone_zones.time_zones_for_number(phonenumbers.parse(phone, None))
    return zones[0] if len(zones) == 1 and zones[0] != "Etc/Unknown" else None


Handler = Callable[[Ask, re.Match[str]], Outcome | None]
ROUTES: tuple[tuple[re.Pattern[str], Handler], ...] = (
    (CREATE, create_group),
    (JOIN, join),
    (GROUPS, list_groups),
    (NAME, set_name),
    (SWITCH, switch),
    (ADD_BY_PHONE, needs_group),
)


# -- once the speaker is a member of the group ---------------------------------------------------


def on_scene(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, turn: Turn, now: dt.datetime
) -> Outcome | None:
    """ "add NAME +PHONE" in any group (Telegram too), and the answer to a reply's options."""
    message = scene.message
    text = message.text.strip()
    if message.kind != "message" or not text:
        return None
    match = ADD_BY_PHONE.match(text)
    if match:
        return member_notices.add_by_phone(
            engine.settings, uow, scene, match["name"], match["phone"], now
        )
    if message.channel in PHONE_CHANNELS:
        return choose(engine, uow, scene, text, now)
    return None


def choose(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, text: str, now: dt.datetime
) -> Outcome | None:
    """ "1", "undo", "confirm" (or a quick-reply button) presses the button the person's last
    reply offered in this group; anything else is an ordinary message."""
    message = scene.message
    repo = PhoneRepository(uow.connection)
    contact = repo.contact(message.sender_id)
    actions = pc.offered_actions(contact.offered if contact else None, scene.group.id, now)
    choice = pc.pick(actions, _answers(message))
    if choice is not None:
        repo.update_contact(message.sender_id, now, offered=None)  # answered once
        log.info("chipin.phone_choice", phone=mask_phone(message.sender_id), key=choice.key)
        outcome = buttons.on_action(engine, uow, scene, choice.data, now)
        outcome.result.setdefault("choice", choice.key)
        return outcome
    if actions and (pc.is_number(text) or message.extra.get("choice")):
        # a wrong number keeps the options open, and says them again
        again = tuple(Action(str(a["label"]), str(a["data"])) for a in actions)
        return Outcome(
            replies=[Reply("notice", {"text": f"{text} is not one of the choices."}, again)],
            result={"phone": "option", "outcome": "not a choice"},
        )
    if pc.is_number(text) or message.extra.get("choice"):
        return Outcome(
            replies=[notice(f"There is nothing to answer with {text} right now.")],
            result={"phone": "option", "outcome": "nothing offered"},
        )
    return None


# -- with the outcome ---------------------------------------------------------------------------


def after_turn(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, outcome: Outcome, now: dt.datetime
) -> None:
    """Remember a phone reply's options; note unread media; tell the members an entry change
    involves (any channel)."""
    message = scene.message
    if message.channel in PHONE_CHANNELS:
        if message.extra.get("media") and message.text.strip():
            outcome.replies.append(Reply("media_unread", {"with_text": True}))
        with_actions = [r for r in outcome.replies if r.actions]
        if outcome.replies:  # a reply without options closes the last ones: "1" means nothing
            offered = None
            if with_actions:
                actions = [{"label": a.label, "data": a.data} for a in with_actions[-1].actions]
                offered = pc.offer(scene.group.id, actions, now)
            PhoneRepository(uow.connection).update_contact(message.sender_id, now, offered=offered)
    change = outcome.result.get("outcome")
    if outcome.entry_id is not None and change in member_notices.CHANGES:
        member_notices.entry_changed(engine.settings, uow, scene, outcome.entry_id, change, now)
