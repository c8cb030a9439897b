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

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import structlog
from telegram import CallbackQuery, Chat, ChatMemberUpdated, Message, MessageEntity, Update, User
from telegram.constants import ChatMemberStatus, ChatType

from chipin.bot.messages import InboundMessage

log = structlog.get_logger("chipin.telegram")

CHANNEL = "telegram"
GROUP_TYPES = frozenset({ChatType.GROUP, ChatType.SUPERGROUP})
GONE = frozenset({ChatMemberStatus.LEFT, ChatMemberStatus.BANNED})
PRESENT = frozenset({ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR})


class Person(Protocol):
    """What is read of a user: a PTB ``User`` or the fast path's own record of one."""

    @property
    def id(self) -> int: ...
    @property
    def is_bot(self) -> bool: ...
    @property
    def username(self) -> str | None: ...


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

    def is_me(self, user: Person | None) -> bool:
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
    fast = _fast_normalize(data, update_id, bot)
    if fast is not None:
        return fast
    return normalize_with_ptb(data, bot)


def normalize_with_ptb(data: Mapping[str, Any], bot: BotIdentity) -> list[Normalized]:
    """:func:`normalize` through python-telegram-bot's ``Update.de_json`` only: the reference
    the fast path is tested against, and what every update it declines goes through."""
    update_id = data.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise ValueError("an update needs an integer update_id")
    try:
        update = Update.de_json(dict(data), None)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"unreadable update: {type(exc).__name__}: {exc}") from exc
    try:
        return normalize_update(update, bot, kinds=[k for k in data if k != "update_id"])
    except (AttributeError, TypeError) as exc:
        # PTB does not insist on every required field (a my_chat_member without its members
        # reads fine): a handler tripping over a missing one is a malformed update, 400, not 500
        raise ValueError(f"incomplete update: {type(exc).__name__}: {exc}") from exc


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


def _extra(user: Person, *, personal: bool) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if user.username:
        extra["username"] = user.username
    if personal:
        # a one-to-one chat with the bot, not a group's conversation (see README: private chat)
        extra["personal"] = True
    return extra


# -- the fast path --------------------------------------------------------------------------------
#
# ``Update.de_json`` builds a tree of PTB objects (100–150 µs per update, most of the webhook's own
# cost: bench/telegram.py). The common updates are read here straight from the dict instead, with
# the same outcome as the handlers above; anything unusual (another update kind, a key that PTB
# would parse into an object this path does not check, a value of an unexpected type, a member
# status other than member/left/kicked) makes the fast path decline, and the update goes through
# PTB exactly as before (so a malformed update still raises ValueError there).
# tests/unit/channels/test_telegram_fast_normalize.py runs both paths over every fixture and
# variants of them and asserts identical output.


class _Decline(Exception):
    """Not an update the fast path reads: use PTB."""


_CHAT_TYPES = frozenset({"group", "supergroup", "private"})
_ENTITY_TYPES = frozenset(str(t) for t in MessageEntity.ALL_TYPES)
_ENTITY_KEYS = frozenset({"type", "offset", "length", "user", "url", "language", "custom_emoji_id"})
_MESSAGE_KEYS = frozenset(
    {
        "message_id",
        "from",
        "chat",
        "date",
        "text",
        "entities",
        "edit_date",
        "new_chat_members",
        "left_chat_member",
        "migrate_to_chat_id",
        "is_automatic_forward",
        "reply_to_message",
        "reply_markup",
        # scalars PTB keeps as they are (or, the deprecated three, in api_kwargs): never parsed
        "new_chat_member",
        "new_chat_participant",
        "left_chat_participant",
        "message_thread_id",
        "is_topic_message",
        "has_protected_content",
    }
)
_BUTTON_KEYS = frozenset({"text", "callback_data", "url"})
_QUERY_KEYS = frozenset({"id", "from", "message", "chat_instance", "data"})
_CHANGE_KEYS = frozenset({"chat", "from", "date", "old_chat_member", "new_chat_member"})


@dataclass(frozen=True, slots=True)
class _User:
    id: int
    is_bot: bool
    full_name: str
    username: str | None


@dataclass(frozen=True, slots=True)
class _Chat:
    id: int
    type: str
    title: str | None


def _fast_normalize(
    data: Mapping[str, Any], update_id: int, bot: BotIdentity
) -> list[Normalized] | None:
    """The update's messages, or None to let PTB read it."""
    if len(data) != 2:
        return None  # no kind, or several: PTB decides which one counts
    try:
        if "message" in data:
            messages = _fast_message(update_id, data["message"], bot)
        elif "edited_message" in data:
            messages = _fast_edited(update_id, data["edited_message"])
        elif "callback_query" in data:
            messages = _fast_callback(update_id, data["callback_query"])
        elif "my_chat_member" in data:
            messages = _fast_my_chat_member(update_id, data["my_chat_member"])
        else:
            return None
    except _Decline:
        return None
    return [
        Normalized(str(update_id) if n == 0 else f"{update_id}:{n}", m)
        for n, m in enumerate(messages)
    ]


def _int(value: Any) -> int:
    if type(value) is not int:
        raise _Decline
    return value


def _optional_str(value: Any) -> str | None:
    if value is not None and type(value) is not str:
        raise _Decline
    return value


def _dict(value: Any, allowed: frozenset[str] | None = None) -> dict[str, Any]:
    if (
        type(value) is not dict
        or not value
        or (allowed is not None and not value.keys() <= allowed)
    ):
        raise _Decline
    return value


def _user(value: Any) -> _User:
    user = _dict(value)  # a User has no nested objects: other keys are kept by PTB as they are
    first, last = user.get("first_name"), _optional_str(user.get("last_name"))
    is_bot = user.get("is_bot")
    if type(first) is not str or not first or type(is_bot) is not bool:
        raise _Decline
    return _User(
        _int(user.get("id")),
        is_bot,
        f"{first} {last}" if last else first,
        _optional_str(user.get("username")),
    )


def _optional_user(value: Any) -> _User | None:
    return None if value is None else _user(value)


def _chat(value: Any) -> _Chat:
    chat = _dict(value)
    kind = chat.get("type")
    if type(kind) is not str or kind not in _CHAT_TYPES:
        raise _Decline  # a channel, or a type this path does not know: PTB's way
    return _Chat(_int(chat.get("id")), kind, _optional_str(chat.get("title")))


def _when(value: Any) -> str:
    stamp = _int(value)
    if stamp <= 0:
        raise _Decline  # date 0 is an inaccessible message
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC).isoformat()


def _check_message(message: dict[str, Any]) -> tuple[_Chat, _User | None, str]:
    """What PTB would parse in a message, checked; its chat, sender and time."""
    _int(message.get("message_id"))
    sent_at = _when(message.get("date"))
    chat = _chat(message.get("chat"))
    user = _optional_user(message.get("from"))
    _optional_str(message.get("text"))
    if "edit_date" in message and message["edit_date"] is not None:
        _int(message["edit_date"])
    for key in ("entities", "new_chat_members"):
        if message.get(key) is not None and type(message[key]) is not list:
            raise _Decline
    for entity in message.get("entities") or ():
        _dict(entity, _ENTITY_KEYS)
        if type(entity.get("type")) is not str:
            raise _Decline
        if _int(entity.get("offset")) < 0 or _int(entity.get("length")) < 0:
            raise _Decline
        _optional_user(entity.get("user"))
        for key in ("url", "language", "custom_emoji_id"):
            _optional_str(entity.get(key))
    for member in message.get("new_chat_members") or ():
        _user(member)
    _optional_user(message.get("left_chat_member"))
    if message.get("migrate_to_chat_id") is not None:
        _int(message["migrate_to_chat_id"])
    forward = message.get("is_automatic_forward")
    if forward is not None and type(forward) is not bool:
        raise _Decline
    if message.get("reply_to_message") is not None:
        _check_message(_dict(message["reply_to_message"], _MESSAGE_KEYS))
    if message.get("reply_markup") is not None:
        markup = _dict(message["reply_markup"], frozenset({"inline_keyboard"}))
        rows = markup.get("inline_keyboard")
        if type(rows) is not list:
            raise _Decline
        for row in rows:
            if type(row) is not list:
                raise _Decline
            for button in row:
                _dict(button, _BUTTON_KEYS)
                if type(button.get("text")) is not str:
                    raise _Decline
                _optional_str(button.get("callback_data"))
                _optional_str(button.get("url"))
    return chat, user, sent_at


def _fast_base(
    chat: _Chat,
    user: _User,
    message: dict[str, Any],
    sent_at: str,
    *,
    text: str = "",
    event: str | None = None,
) -> InboundMessage:
    return InboundMessage(
        channel=CHANNEL,
        chat_id=str(chat.id),
        sender_id=str(user.id),
        sender_name=user.full_name,
        text=text,
        sent_at=sent_at,
        is_group=chat.type in GROUP_TYPES,
        chat_title=chat.title,
        message_id=str(message["message_id"]),
        event=event,
        extra=_extra(user, personal=chat.type == ChatType.PRIVATE),
    )


def _fast_message(update_id: int, value: Any, bot: BotIdentity) -> list[InboundMessage]:
    message = _dict(value, _MESSAGE_KEYS)
    chat, user, sent_at = _check_message(message)
    members = message.get("new_chat_members")
    if members:
        people = [u for u in map(_user, members) if not u.is_bot]
        return [_fast_base(chat, u, message, sent_at, event="member_joined") for u in people]
    left = _optional_user(message.get("left_chat_member"))
    if left is not None:
        if left.is_bot:
            return []
        return [_fast_base(chat, left, message, sent_at, event="member_left")]
    new_id = message.get("migrate_to_chat_id")
    if new_id:
        if user is None:
            return []
        base = _fast_base(chat, user, message, sent_at, event="migrated")
        extra = base.extra | {"new_chat_id": str(new_id)}
        return [replace(base, chat_id=str(chat.id), extra=extra)]
    return _fast_text(update_id, message, chat, user, sent_at, bot)


def _fast_text(
    update_id: int,
    message: dict[str, Any],
    chat: _Chat,
    user: _User | None,
    sent_at: str,
    bot: BotIdentity,
) -> list[InboundMessage]:
    if user is None or user.is_bot:
        return ignored(update_id, "sent by a bot or an anonymous admin")
    if message.get("is_automatic_forward"):
        return ignored(update_id, "an automatic forward from a linked channel")
    text: str | None = message.get("text")
    if not text:
        return ignored(update_id, "no text (a sticker, photo or other media)")
    spans = _entity_spans(text, message.get("entities") or ())
    flags: dict[str, Any] = {}
    command = next(
        (
            span
            for entity, span in spans
            if entity["type"] == "bot_command" and not entity["offset"]
        ),
        None,
    )
    if command is not None:
        _, _, addressee = command.partition("@")
        if addressee and bot.username and not bot.named(addressee):
            return ignored(update_id, "a command for another bot", command=command)
        flags["is_command"] = True
        if addressee:
            text = command.partition("@")[0] + text[len(command) :]
    mentions: list[dict[str, str]] = []
    for entity, span in spans:
        if entity["type"] == "mention":
            handle = span.removeprefix("@")
            if bot.named(handle):
                flags["mentions_bot"] = True
            else:
                mentions.append({"text": span, "handle": handle})
        elif entity["type"] == "text_mention" and entity.get("user") is not None:
            person = _user(entity["user"])
            mention = {"text": span, "user_id": str(person.id), "name": person.full_name}
            if person.username:
                mention["handle"] = person.username
            mentions.append(mention)
    if mentions:
        flags["mentions"] = mentions
    replied = message.get("reply_to_message")
    if replied is not None:
        author = _optional_user(replied.get("from"))
        if author is not None and bot.is_me(author):
            flags["reply_to_bot"] = True
            flags["reply_to_message_id"] = str(replied["message_id"])
    if bot.username:
        text = _without_bot(text, bot.username)
    base = _fast_base(chat, user, message, sent_at, text=text)
    if flags:
        base = replace(base, extra=base.extra | flags)
    return [base]


def _entity_spans(text: str, entities: Any) -> list[tuple[dict[str, Any], str]]:
    """``Message.parse_entities()``: known types only, text cut by UTF-16 offsets. Two entities
    with the same type, offset and length are one key there: left to PTB."""
    spans: list[tuple[dict[str, Any], str]] = []
    seen: set[tuple[str, int, int]] = set()
    encoded = None if text.isascii() else text.encode("utf-16-le")
    for entity in entities:
        kind, offset, length = entity["type"], entity["offset"], entity["length"]
        if kind not in _ENTITY_TYPES:
            continue
        if (kind, offset, length) in seen:
            raise _Decline
        seen.add((kind, offset, length))
        if encoded is None:
            span = text[offset : offset + length]
        else:
            try:
                span = encoded[offset * 2 : (offset + length) * 2].decode("utf-16-le")
            except UnicodeDecodeError:
                raise _Decline from None
        spans.append((entity, span))
    return spans


def _fast_edited(update_id: int, value: Any) -> list[InboundMessage]:
    message = _dict(value, _MESSAGE_KEYS)
    chat, user, sent_at = _check_message(message)
    text = message.get("text")
    if user is None or user.is_bot or not text:
        return ignored(update_id, "an edit without a person's text")
    return [_fast_base(chat, user, message, sent_at, text=text, event="message_edited")]


def _fast_callback(update_id: int, value: Any) -> list[InboundMessage]:
    query = _dict(value, _QUERY_KEYS)
    query_id, data = query.get("id"), _optional_str(query.get("data"))
    if type(query_id) is not str or type(query.get("chat_instance")) is not str:
        raise _Decline
    user = _user(query.get("from"))
    message = _dict(query.get("message"), _MESSAGE_KEYS)  # none: an inline button, PTB's way
    chat, _, _ = _check_message(message)
    if not data:
        return ignored(update_id, "a button without a chat message or data")
    return [
        InboundMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            sender_id=str(user.id),
            sender_name=user.full_name,
            is_group=chat.type in GROUP_TYPES,
            chat_title=chat.title,
            action=data,
            action_id=query_id,
            action_message_id=str(message["message_id"]),
            extra=_extra(user, personal=chat.type == ChatType.PRIVATE),
        )
    ]


def _member_present(value: Any) -> bool:
    member = _dict(value)
    status = member.get("status")
    _user(member.get("user"))
    if status == "kicked" and member.keys() == {"user", "status", "until_date"}:
        _int(member["until_date"])
        return False
    if status in ("member", "left") and member.keys() == {"user", "status"}:
        return bool(status == "member")
    raise _Decline  # an administrator's or a restricted member's many fields: PTB checks them


def _fast_my_chat_member(update_id: int, value: Any) -> list[InboundMessage]:
    change = _dict(value, _CHANGE_KEYS)
    chat, user = _chat(change.get("chat")), _user(change.get("from"))
    sent_at = _when(change.get("date"))
    present_now = _member_present(change.get("new_chat_member"))
    present_before = _member_present(change.get("old_chat_member"))
    if present_now == present_before:
        status = change["new_chat_member"]["status"]
        return ignored(update_id, "the bot's rights changed", status=ChatMemberStatus(status))
    return [
        InboundMessage(
            channel=CHANNEL,
            chat_id=str(chat.id),
            sender_id=str(user.id),
            sender_name=user.full_name,
            sent_at=sent_at,
            is_group=chat.type in GROUP_TYPES,
            chat_title=chat.title,
            event="bot_added" if present_now else "bot_removed",
            extra=_extra(user, personal=chat.type == ChatType.PRIVATE),
        )
    ]
