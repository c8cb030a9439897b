"""The conversation engine: one inbound message → the ledger → the replies to send.

Two steps, so the slow part never holds a transaction: :meth:`ConversationEngine.prepare` reads
the group and roster and parses the text (the Gemini call may take seconds); then
:meth:`ConversationEngine.apply` runs inside the worker's transaction and changes the ledger
through the core services. Everything the engine remembers between messages (drafts, members,
the conversation's group) is in the database, never in process memory.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import structlog

from chipin.bot import buttons, events, handlers, mentions, personal, phone
from chipin.bot.alerts import check_budgets
from chipin.bot.commands import read_command
from chipin.bot.messages import InboundMessage
from chipin.bot.turns import Outcome, Scene, Turn
from chipin.core.records import Group, Member, name_key
from chipin.parsing.gemini import GeminiParser
from chipin.parsing.intents import ParseContext
from chipin.parsing.recurrence import split_recurrence
from chipin.parsing.router import parse_offline, parse_text
from chipin.settings import Settings
from chipin.store.conversations import split_conversation_key
from chipin.store.inbox import InboxItem
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.bot")

UowFactory = Callable[..., SqlUnitOfWork]
Clock = Callable[[], dt.datetime]
SELF_NAMED_CHANNELS = ("web", "cli")
"""Channels where the sender id *is* the member name (the playground and the terminal)."""


@dataclass(frozen=True, slots=True)
class ToParse:
    """A turn whose text still has to go through the parser (against ``turn.ctx``)."""

    turn: Turn

    @property
    def ctx(self) -> ParseContext:
        assert self.turn.ctx is not None  # read() always sets it on a turn to parse
        return self.turn.ctx


def is_personal(message: InboundMessage) -> bool:
    """A one-to-one chat with the bot that is no group's conversation (a Telegram private
    chat): it answers with the person's balances across their groups."""
    return bool(message.extra.get("personal"))


class ConversationEngine:
    def __init__(
        self, settings: Settings, *, gemini: GeminiParser | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        self.gemini = gemini
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # -- step 1: outside any write transaction ---------------------------------------------

    async def prepare(self, uow_factory: UowFactory, item: InboxItem) -> Turn:
        """:meth:`read` in a read-only unit of work of its own, then :meth:`finish`."""
        with uow_factory(readonly=True) as uow:
            step = self.read(uow, item)
        return await self.finish(step)

    def read(self, uow: SqlUnitOfWork, item: InboxItem) -> Turn | ToParse:
        """The database half of step 1 (the worker reads many messages in one snapshot): a
        finished turn, or the text and context still to parse."""
        message = InboundMessage.from_json(item.payload)
        turn = Turn(item.id, message, item.conversation_key)
        if message.kind != "message" or not message.text.strip() or is_personal(message):
            return turn
        if message.channel in phone.PHONE_CHANNELS:
            message = phone.scoped(uow, message)
            if phone.handles(message):  # keywords and group commands: nothing to parse
                return Turn(item.id, message, item.conversation_key)
        group = self._find_group(uow, message)
        if group is not None:
            message = mentions.resolve(self, uow, group, message)
        ctx = self._context(uow, group, message) if group else None
        roster = ctx.members if ctx else ()
        command = read_command(message.text, roster)
        if command is not None:
            return Turn(item.id, message, item.conversation_key, ctx=ctx, command=command)
        if ctx is None:  # a first message in a new chat: parse against the group it will get
            ctx = mentions.with_mentioned(self._new_context(message), message)
        return ToParse(Turn(item.id, message, item.conversation_key, ctx=ctx))

    @property
    def offline(self) -> bool:
        """Every parse is the rules parser's (no Gemini configured, or PARSER=rules): cheap
        enough that the worker reads, parses and applies a message in one transaction."""
        return self.settings.parser == "rules" or self.gemini is None

    def prepare_offline(self, uow: SqlUnitOfWork, item: InboxItem) -> Turn:
        """Step 1 without a Gemini call, in the caller's unit of work."""
        step = self.read(uow, item)
        if isinstance(step, Turn):
            return step
        text, recurrence = split_recurrence(step.turn.message.text)
        intent = parse_offline(text, step.ctx, mode=self.settings.parser, gemini=self.gemini)
        if intent is None:
            raise RuntimeError("this message needs Gemini: prepare it outside the transaction")
        return dataclasses.replace(step.turn, intent=intent, recurrence=recurrence)

    async def finish(self, step: Turn | ToParse) -> Turn:
        """The parsing half of step 1, outside any transaction (a Gemini call may be slow)."""
        if isinstance(step, Turn):
            return step
        text, recurrence = split_recurrence(step.turn.message.text)
        intent = await parse_text(text, step.ctx, mode=self.settings.parser, gemini=self.gemini)
        return dataclasses.replace(step.turn, intent=intent, recurrence=recurrence)

    # -- step 2: inside the worker's transaction ---------------------------------------------

    def apply(self, uow: SqlUnitOfWork, turn: Turn) -> Outcome:
        message = turn.message
        now = self.clock()
        if message.channel in phone.PHONE_CHANNELS:
            routed = phone.route(self, uow, turn, now)
            if routed is not None:
                return routed
        if is_personal(message):  # a person's own chat with the bot: no group of its own
            return personal.on_personal(self, uow, message, now)
        if message.event == "migrated":
            return events.on_migrated(uow, message, now)
        group = self._find_group(uow, message) or self._create_group(uow, message, now)
        if message.event:
            return events.on_event(self, uow, group, message, now)
        sender = self.ensure_member(uow, group, message, now)
        mentions.learn(self, uow, group, message, now)
        scene = Scene(group, sender, self._context(uow, group, message), message, turn.inbox_id)
        # "add Ana +351 …" in any group; "1" answering a phone reply's numbered options
        outcome = phone.on_scene(self, uow, scene, turn, now)
        if outcome is None:
            if message.action:
                outcome = buttons.on_action(self, uow, scene, message.action, now)
            elif turn.command is not None:
                outcome = handlers.on_command(self, uow, scene, turn.command, now)
            elif turn.intent is not None:
                outcome = handlers.on_intent(
                    self, uow, scene, turn.intent, now, recurrence=turn.recurrence
                )
            else:
                return Outcome(result={"ignored": "empty message"})
        phone.after_turn(self, uow, scene, outcome, now)  # numbered options, member notices
        if outcome.entry_id is not None:  # 80% / 100% of a budget right away; undo re-arms
            check_budgets(
                uow,
                group,
                scene.ctx.today,
                now,
                here=(turn.conversation_key, outcome.replies),
                settings=self.settings,
            )
        return outcome

    def prefetch(self, uow: SqlUnitOfWork, items: Iterable[InboxItem]) -> None:
        """What a round's messages look up first (their conversations, groups and members)
        read in three queries for the whole round instead of three per conversation. Phone
        messages find their group through the sender's phone, and are left to do so."""
        chats = []
        for item in items:
            channel, chat_id = split_conversation_key(item.conversation_key)
            if channel not in phone.PHONE_CHANNELS:
                chats.append((channel, chat_id))
        uow.conversations.load(chats)
        found = (uow.conversations.get(channel, chat_id) for channel, chat_id in chats)
        uow.ledger.load_groups(c.group_id for c in found if c is not None and c.group_id)

    def group_of(self, uow: SqlUnitOfWork, message: InboundMessage) -> Group | None:
        return self._find_group(uow, message)

    # -- groups, members, context ------------------------------------------------------------

    def _find_group(self, uow: SqlUnitOfWork, message: InboundMessage) -> Group | None:
        if message.channel in phone.PHONE_CHANNELS:  # the group it names, or the active one
            return phone.group_for(uow, message)
        conversation = uow.conversations.get(message.channel, message.chat_id)
        if conversation is None or conversation.group_id is None:
            return None
        return uow.ledger.group(conversation.group_id)

    def _create_group(self, uow: SqlUnitOfWork, message: InboundMessage, now: dt.datetime) -> Group:
        base = " ".join((message.chat_title or f"{message.channel} chat {message.chat_id}").split())
        name = uow.ledger.unique_group_name(base)
        group = uow.ledger.add_group(
            name, self.settings.default_currency, self.settings.default_timezone, "en_US", now
        )
        conversation = uow.conversations.get_or_create(
            message.channel, message.chat_id, now, title=message.chat_title
        )
        uow.conversations.update(conversation.id, now, group_id=group.id)
        log.info("chipin.group_created", group=group.name, channel=message.channel)
        return group

    def member_name_for(self, uow: SqlUnitOfWork, group: Group, message: InboundMessage) -> str:
        """The roster name the sender has, or will get when they first speak."""
        clean = " ".join(message.sender_name.split()) or "Someone"
        if message.channel in SELF_NAMED_CHANNELS:
            known = uow.ledger.member_by_name(group.id, clean)
            return known.name if known else clean
        linked = uow.conversations.member_for(group.id, message.channel, message.sender_id)
        if linked is not None:
            return next(m.name for m in uow.ledger.members(group.id) if m.id == linked)
        taken = {name_key(m.name) for m in uow.ledger.members(group.id)}
        name, n = clean, 1
        while name_key(name) in taken:
            n += 1
            name = f"{clean} {n}"
        return name

    def ensure_member(
        self, uow: SqlUnitOfWork, group: Group, message: InboundMessage, now: dt.datetime
    ) -> Member:
        """The sender as a member of ``group``: found by their channel identity, or added and
        linked to it (so a later message, a join or a leave finds the same member)."""
        name = self.member_name_for(uow, group, message)
        existing = uow.ledger.member_by_name(group.id, name)
        member = existing or uow.ledger.add_member(group.id, name, now)
        if not member.active:
            uow.ledger.set_member_active(group.id, member.id, True)
        if message.channel not in SELF_NAMED_CHANNELS:
            uow.conversations.link_member(
                member.id,
                message.channel,
                message.sender_id,
                message.sender_name,
                now,
                handle=message.extra.get("username"),
            )
        return member

    def today(self, group: Group | None) -> dt.date:
        zone = ZoneInfo(group.timezone if group else self.settings.default_timezone)
        return self.clock().astimezone(zone).date()

    def _context(self, uow: SqlUnitOfWork, group: Group, message: InboundMessage) -> ParseContext:
        sender = self.member_name_for(uow, group, message)
        roster = [m.name for m in uow.ledger.members(group.id) if m.active]
        if sender not in roster:
            roster.append(sender)
        return ParseContext(
            sender=sender,
            members=tuple(roster),
            currency=group.currency,
            today=self.today(group),
            timezone=group.timezone,
        )

    def _new_context(self, message: InboundMessage) -> ParseContext:
        sender = " ".join(message.sender_name.split()) or "Someone"
        return ParseContext(
            sender=sender,
            members=(sender,),
            currency=self.settings.default_currency,
            today=self.today(None),
            timezone=self.settings.default_timezone,
        )
