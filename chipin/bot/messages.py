"""What flows through the pipeline, channel-agnostic: inbound messages, replies, actions, and the
adapter protocol every channel implements for sending."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

_UNSET: tuple[Any, ...] = (None, {}, "")
"""Values :meth:`InboundMessage.to_json` leaves out (compared with ``in``, as it always was)."""


class _NotPlain(Exception):
    """A value that is not plain JSON (a tuple, a dataclass …): copied by asdict instead."""


def _json_copy(value: Any) -> Any:
    """A deep copy of plain JSON values, as ``dataclasses.asdict`` makes one of them."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    if kind is dict:
        return {_json_copy(k): _json_copy(v) for k, v in value.items()}
    if kind is list:
        return [_json_copy(v) for v in value]
    raise _NotPlain


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A provider's message or button press, normalised (what the inbox stores as payload)."""

    channel: str
    """web | cli | telegram | whatsapp | sms"""
    chat_id: str
    """The conversation on the provider (a Telegram chat, a phone number, a playground room)."""
    sender_id: str
    """The speaker on the provider (a Telegram user id, a phone number, a playground name)."""
    sender_name: str
    text: str = ""
    sent_at: str | None = None
    """ISO timestamp from the provider, when it gives one."""
    is_group: bool = True
    chat_title: str | None = None
    message_id: str | None = None
    action: str | None = None
    """The data of a pressed button ("confirm:12"), for kind "action"."""
    action_id: str | None = None
    """The provider's id of the press (Telegram callback query id), to acknowledge it."""
    action_message_id: str | None = None
    """The provider message the pressed button belongs to, so it can be edited."""
    event: str | None = None
    """A chat event instead of text: member_joined, member_left, bot_removed, title_changed …"""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The fields that are set; required ones always, even when empty (a sender with no
        name must still read back).

        Written field by field (``dataclasses.asdict`` took 20–30 µs of every webhook
        delivery): the same keys in the same order, and ``extra`` copied as deeply as asdict
        copies it; an ``extra`` holding anything but JSON values goes through asdict itself."""
        try:
            extra = _json_copy(self.extra)
        except _NotPlain:
            return self._to_json_asdict()
        data: dict[str, Any] = {
            "channel": self.channel,
            "chat_id": self.chat_id,
            "sender_id": self.sender_id,
            "sender_name": self.sender_name,
        }
        for key, value in (
            ("text", self.text),
            ("sent_at", self.sent_at),
            ("is_group", self.is_group),
            ("chat_title", self.chat_title),
            ("message_id", self.message_id),
            ("action", self.action),
            ("action_id", self.action_id),
            ("action_message_id", self.action_message_id),
            ("event", self.event),
            ("extra", extra),
        ):
            if value not in _UNSET:
                data[key] = value
        return data

    def _to_json_asdict(self) -> dict[str, Any]:
        """The reference :meth:`to_json` (and its way for an unusual ``extra``)."""
        required = ("channel", "chat_id", "sender_id", "sender_name")
        return {k: v for k, v in asdict(self).items() if k in required or v not in _UNSET}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundMessage:
        return cls(**data)

    @property
    def kind(self) -> str:
        return "action" if self.action else "event" if self.event else "message"


@dataclass(frozen=True, slots=True)
class Action:
    """A button under a reply; ``data`` comes back as the InboundMessage's ``action``."""

    label: str
    data: str


@dataclass(frozen=True, slots=True)
class Chart:
    """A picture that goes with a reply (a spending chart). Channels that show pictures get it
    beside the text; the others get the text alone, which always says everything."""

    data: dict[str, Any]
    """What the chart shows (``chipin.bot.charts.ChartData`` as JSON): Telegram draws and
    uploads it at send time, so it needs no public URL."""
    url: str | None = None
    """The chart's signed, expiring absolute URL, for channels that fetch media by URL
    (WhatsApp); None without ``PUBLIC_BASE_URL`` or ``CHIPIN_SECRET_KEY``."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What the bot wants to say, before it is rendered for a channel."""

    template: str
    """Template name without channel or suffix ("recorded", "balances", "help" …)."""
    context: dict[str, Any] = field(default_factory=dict)
    actions: tuple[Action, ...] = ()
    edit: bool = False
    """Replace the message whose button was pressed instead of sending a new one."""
    private: bool = False
    """Only for the person it answers (acknowledging a press), not the whole group."""
    chart: Chart | None = None
    """A chart to show with the text, where the channel can."""


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_message_id: str | None
    provider_status: str | None = None


class SendError(Exception):
    """A send that failed; ``retryable`` says whether trying again may help."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: dt.timedelta | None = None,
        recipient_gone: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable and not recipient_gone
        self.retry_after = retry_after
        """The provider asked us to wait this long (Telegram 429) — not counted as a try."""
        self.recipient_gone = recipient_gone
        """The bot was removed or blocked: stop sending into this conversation."""


class ChannelAdapter(Protocol):
    """Sends outbox rows of one channel. Raises :class:`SendError` on failure."""

    channel: str

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult: ...
