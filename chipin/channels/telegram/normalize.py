"""Telegram updates → :class:`InboundMessage` values: pure, no I/O, no database.

One handler per update kind (``UPDATE_HANDLERS``) and one per service message
(``SERVICE_HANDLERS``), Zulip-style; whatever Chipin does not handle is logged on
``chipin.telegram`` with a reason and normalises to nothing. The webhook route and the
long-polling loop both go through :func:`normalize`, so both feed the inbox identically.

Decisions worth knowing:

- An update may become several messages (``new_chat_members`` lists several people); the first
  is stored under ``str(update_id)``, the rest under ``f"{update_id}:{n}"`` so a redelivery of the
  update is still recognised message by message.
- Edited messages become a ``message_edited`` event: stored (visible in the dashboard), never
  parsed again. Recording the edit would silently change a ledger people already saw confirmed;
  "actually it was 70" and the Undo button are the ways to correct an entry.
- Commands lose an ``@ChipinBot`` suffix and mentions of the bot are removed from the text, so the
  command reader and the parser see "/settle Raj 20" and "I paid 60 for dinner". A command
  addressed to another bot ("/help@OtherBot") is not for us and is ignored.
- Messages from bots (including anonymous group admins, who appear as GroupAnonymousBot) and
  automatic forwards from a linked channel are ignored: they are nobody's expense.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import structlog
from telegram import CallbackQuery, Chat, ChatMemberUpdated, Message, MessageEntity, Update, User
from telegram.constants import ChatMemberStatus, ChatType

from chipin.bot.messages import InboundMessage

log = structlog.get_logger("chipin.telegram")

CHANNEL = "telegram"
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
PRESENT = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR})


@dataclass(frozen=True, slots=True)
class BotIdentity:
    """Who "we" are on Telegram: to recognise replies to the bot, mentions of it, and itself in
    member lists. The id is part of the token; the username comes from getMe."""

    id: int | None = None
    username: str | None = None

    @classmethod
    def from_token(cls, token: str | None, username: str | None = None) -> BotIdentity:
        head = (token or "").split(":", 1)[0]
        return cls(int(head) if head.isdigit() else None, username)

    def is_me(self, user: User | None) -> bool:
        if user is None:
            return False
        if self.id is not None:
            return user.id == self.id
        return bool(user.is_bot and self.username and user.username == self.username)

    def named(self, name: str) -> bool:
        return bool(self.username) and name.casefold() == (self.username or "").casefold()


@dataclass(frozen=True, slots=True)
class Normalized:
    """One inbox row to be: the provider id it is stored under and the message."""

    provider_id: str
    message: InboundMessage


UpdateHandler = Callable[[Update, BotIdentity], list[InboundMessage]]
ServiceHandler = Callable[[Message, BotIdentity], list[InboundMessage]]


def normalize(data: Mapping[str, Any], bot: BotIdentity) -> list[Normalized]:
    """An update as Telegram posts it → the messages to store (empty when Chipin ignores it).

    Raises ValueError for a body that is not an update at all (no integer ``update_id``)."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("an update needs an integer update_id")
    try:
        update = Update.de_json(dict(data), None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"unreadable update: {type(exc).__name__}: {exc}") from exc
    return normalize_update(update, bot, kinds=[k for k in data if k != "update_id"])


def normalize_update(
    update: Update, bot: BotIdentity, *, kinds: list[str] | None = None
) -> list[Normalized]:
    """The same for an :class:`Update` PTB already parsed (long polling)."""
    for kind, handler in UPDATE_HANDLERS.items():
        if getattr(update, kind) is not None:
            messages = handler(update, bot)
            return [
                Normalized(str(update.update_id) if n == 0 else f"{update.update_id}:{n}", m)
                for n, m in enumerate(messages)
            ]
    ignored(update.update_id, "update kind not handled", kinds=kinds or [])
    return []


def ignored(update_id: int, reason: str, **context: Any) -> list[InboundMessage]:
    log.info("chipin.telegram_ignored", update_id=update_id, reason=reason, **context)
    return []


# -- update kinds ---------------------------------------------------------------------------------


def on_message(update: Update, bot: BotIdentity) -> list[InboundMessage]:
    message = update.message
    assert message is not None
    if message.chat.type not in GROUP_TYPES and message.chat.type != ChatType.PRIVATE:
        return ignored(update.update_id, f"a {message.chat.type} chat")
    for attribute, handler in SERVICE_HANDLERS.items():
        if getattr(message, attribute):
            return handler(message, bot)
    return text_message(update.update_id, message, bot)


def on_edited_message(update: Update, bot: BotIdentity) -> list[InboundMessage]:
    message = update.edited_message
    assert message is not None
    user = message.from_user
    if user is None or user.is_bot or not (message.text or message.caption):
        return ignored(update.update_id, "an edit without a person's text")
    return [
        replace(
            _base(message.chat, user, message, text=message.text or message.caption or ""),
            event="message_edited",
        )
    ]


def on_callback_query(update: Update, bot: BotIdentity) -> list[InboundMessage]:
    query: CallbackQuery | None = update.callback_query
    assert query is not None
    if query.message is None or not query.data:
        # an inline-mode or game button: Chipin never sends those
        return ignored(update.update_id, "a button without a chat message or data")
    chat = query.message.chat
    return [
        InboundMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            sender_id=str(query.from_user.id),
            sender_name=query.from_user.full_name,
            is_group=chat.type in GROUP_TYPES,
            chat_title=chat.title,
            action=query.data,
            action_id=query.id,
            action_message_id=str(query.message.message_id),
            extra=_extra(query.from_user, personal=chat.type == ChatType.PRIVATE),
        )
    ]


def on_my_chat_member(update: Update, bot: BotIdentity) -> list[InboundMessage]:
    """The bot's own membership: added to a group, removed or kicked, blocked in a private chat."""
    change: ChatMemberUpdated | None = update.my_chat_member
    assert change is not None
    new, old = change.new_chat_member, change.old_chat_member
    present_now = new.status in PRESENT or (
        new.status == ChatMemberStatus.RESTRICTED and getattr(new, "is_member", False)
    )
    present_before = old.status in PRESENT or (
        old.status == ChatMemberStatus.RESTRICTED and getattr(old, "is_member", False)
    )
    if present_now == present_before:
        return ignored(update.update_id, "the bot's rights changed", status=new.status)
    event = "bot_added" if present_now else "bot_removed"
    chat = change.chat
    return [
        InboundMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            sender_id=str(change.from_user.id),
            sender_name=change.from_user.full_name,
            sent_at=change.date.isoformat(),
            is_group=chat.type in GROUP_TYPES,
            chat_title=chat.title,
            event=event,
            extra=_extra(change.from_user, personal=chat.type == ChatType.PRIVATE),
        )
    ]


UPDATE_HANDLERS: dict[str, UpdateHandler] = {
    "message": on_message,
    "edited_message": on_edited_message,
    "callback_query": on_callback_query,
    "my_chat_member": on_my_chat_member,
}
"""Update kind → handler. Its keys are also the ``allowed_updates`` given to Telegram."""

ALLOWED_UPDATES: tuple[str, ...] = tuple(UPDATE_HANDLERS)


# -- service messages -----------------------------------------------------------------------------


def members_joined(message: Message, bot: BotIdentity) -> list[InboundMessage]:
    # The bot itself is announced by my_chat_member too; other bots pay for nothing.
    people = [u for u in message.new_chat_members if not u.is_bot]
    return [replace(_base(message.chat, u, message), event="member_joined") for u in people]


def member_left(message: Message, bot: BotIdentity) -> list[InboundMessage]:
    user = message.left_chat_member
    if user is None or user.is_bot:
        return []
    return [replace(_base(message.chat, user, message), event="member_left")]


def title_changed(message: Message, bot: BotIdentity) -> list[InboundMessage]:
    if message.from_user is None:
        return []
    base = _base(message.chat, message.from_user, message)
    return [replace(base, event="title_changed", chat_title=message.new_chat_title)]


def migrated_to(message: Message, bot: BotIdentity) -> list[InboundMessage]:
    """A group became a supergroup: the old chat says where it went."""
    return _migrated(message, old=message.chat.id, new=message.migrate_to_chat_id)


def migrated_from(message: Message, bot: BotIdentity) -> list[InboundMessage]:
    """The new supergroup's first message says where it came from. Normalised into the *old*
    chat's conversation, like ``migrate_to_chat_id``, so the two are handled one after the other
    and the move happens once whichever arrives first."""
    return _migrated(message, old=message.migrate_from_chat_id, new=message.chat.id)


def _migrated(message: Message, *, old: int | None, new: int | None) -> list[InboundMessage]:
    if old is None or new is None or message.from_user is None:
        return []
    base = _base(message.chat, message.from_user, message)
    extra = base.extra | {"new_chat_id": str(new)}
    return [replace(base, event="migrated", chat_id=str(old), extra=extra)]


SERVICE_HANDLERS: dict[str, ServiceHandler] = {
    "new_chat_members": members_joined,
    "left_chat_member": member_left,
    "new_chat_title": title_changed,
    "migrate_to_chat_id": migrated_to,
    "migrate_from_chat_id": migrated_from,
}
"""Message attribute → handler for the service messages Chipin acts on (checked in order)."""


# -- text ---------------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t]{2,}")


def text_message(update_id: int, message: Message, bot: BotIdentity) -> list[InboundMessage]:
    user = message.from_user
    if user is None or user.is_bot:
        return ignored(update_id, "sent by a bot or an anonymous admin")
    if message.is_automatic_forward:
        return ignored(update_id, "an automatic forward from a linked channel")
    text = message.text or message.caption
    if not text:
        return ignored(update_id, "no text (a sticker, photo or other media)")
    entities = message.parse_entities() if message.text else message.parse_caption_entities()
    flags: dict[str, Any] = {}
    command = _command(entities)
    if command is not None:
        _, _, addressee = command.partition("@")
        if addressee and bot.username and not bot.named(addressee):
            return ignored(update_id, "a command for another bot", command=command)
        flags["is_command"] = True
        if addressee:  # "/settle@ChipinBot Raj 20" → "/settle Raj 20"
            text = command.partition("@")[0] + text[len(command) :]
    mentions: list[dict[str, str]] = []
    for entity, span in entities.items():
        if entity.type == MessageEntity.MENTION:
            handle = span.removeprefix("@")
            if bot.named(handle):
                flags["mentions_bot"] = True
            else:
                mentions.append({"text": span, "handle": handle})
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user is not None:
            mention = {"text": span, "user_id": str(entity.user.id), "name": entity.user.full_name}
            if entity.user.username:
                mention["handle"] = entity.user.username
            mentions.append(mention)
    if mentions:
        flags["mentions"] = mentions
    replied = message.reply_to_message
    if replied is not None and bot.is_me(replied.from_user):
        flags["reply_to_bot"] = True
        flags["reply_to_message_id"] = str(replied.message_id)
    if bot.username:
        text = _without_bot(text, bot.username)
    base = _base(message.chat, user, message, text=text)
    return [replace(base, extra=base.extra | flags)]


def _command(entities: Mapping[MessageEntity, str]) -> str | None:
    for entity, span in entities.items():
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            return span
    return None


def _without_bot(text: str, username: str) -> str:
    """Drop "@ChipinBot" (alone or after a command word); keep line breaks."""
    pattern = re.compile(rf"(?<![\w@])@{re.escape(username)}\b", re.IGNORECASE)
    cleaned = pattern.sub("", text)
    return "\n".join(_SPACES.sub(" ", line).strip() for line in cleaned.split("\n")).strip()


# -- building blocks ------------------------------------------------------------------------------


def _base(chat: Chat, user: User, message: Message, *, text: str = "") -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        chat_id=str(chat.id),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text=text,
        sent_at=message.date.isoformat(),
        is_group=chat.type in GROUP_TYPES,
        chat_title=chat.title,
        message_id=str(message.message_id),
        extra=_extra(user, personal=chat.type == ChatType.PRIVATE),
    )


def _extra(user: User, *, personal: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if user.username:
        extra["username"] = user.username
    if personal:
        # a one-to-one chat with the bot, not a group's conversation (see README: private chat)
        extra["personal"] = True
    return extra
