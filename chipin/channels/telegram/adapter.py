"""Sending outbox rows through the Telegram Bot API (python-telegram-bot), and the error mapping
the dispatcher relies on.

Kinds: ``send`` (sendMessage, HTML, an inline keyboard from the payload's actions, a reply to
the message that asked; with a ``chart`` in the payload, sendPhoto with the chart drawn here and
uploaded — no public URL needed, polling works — the text as its caption when it fits, else the
photo and then the text), ``edit`` (editMessageText of the message whose button was pressed)
and ``answer`` (answerCallbackQuery: every press is acknowledged). Failures become
:class:`SendError`: a 429 or our own rate limit → ``retry_after`` (deferred, not a try); 403 →
``recipient_gone`` (the conversation goes inactive); a network error, timeout or 5xx → retryable;
any other 400 → not retryable (sending it again cannot help).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import re
import time
from collections.abc import Callable
from typing import Any

import structlog
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    WebhookInfo,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    TelegramError,
)
from telegram.request import HTTPXRequest, RequestData

from chipin.bot.charts import ChartData, render_png
from chipin.bot.messages import SendError, SendResult
from chipin.channels.telegram.limits import RateLimiter, RateLimits
from chipin.channels.telegram.normalize import BotIdentity
from chipin.settings import Settings

log = structlog.get_logger("chipin.telegram")

TELEGRAM_TEXT_LIMIT = 4096
TELEGRAM_CAPTION_LIMIT = 1024
"""Characters of a photo's caption, counted after the HTML markup is parsed away."""
_TAG = re.compile(r"<[^>]+>")
_UNCHANGED = "message is not modified"
_EDIT_GONE = ("message to edit not found", "message can't be edited")
_QUERY_EXPIRED = "query is too old"
_CHAT_GONE = ("chat not found", "group chat was deactivated", "have no rights to send")


class FloodWait(TelegramError):
    """Telegram answered 429: wait ``seconds``.

    Raised by :class:`_Request` instead of PTB's ``RetryAfter``, whose constructor emits a
    deprecation warning in PTB 22 (``retry_after`` is becoming a timedelta)."""

    def __init__(self, seconds: float, description: str) -> None:
        super().__init__(description)
        self.seconds = seconds


class _Request(HTTPXRequest):
    """PTB's HTTPX transport, with 429 answers turned into :class:`FloodWait`."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        code, body = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        if code == 429:
            try:
                answer = json.loads(body)
                seconds = float(answer.get("parameters", {}).get("retry_after") or 1)
                description = str(answer.get("description") or "Too Many Requests")
            except (ValueError, AttributeError, TypeError):
                seconds, description = 1.0, "Too Many Requests"
            raise FloodWait(seconds, description)
        return code, body


def make_bot(
    token: str,
    base_url: str = "https://api.telegram.org",
    *,
    timeout: float = 10.0,
    pool_size: int = 32,
    poll_timeout: float = 30.0,
) -> Bot:
    """A PTB Bot pointed at ``base_url`` (the real Bot API, a local Bot API server or a fake)."""
    root = base_url.rstrip("/")
    return Bot(
        token,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=_Request(
            connection_pool_size=pool_size,
            read_timeout=timeout,
            write_timeout=timeout,
            connect_timeout=timeout,
            pool_timeout=timeout,
        ),
        # getUpdates long-polls: PTB adds its ``timeout`` to this read timeout
        get_updates_request=_Request(
            connection_pool_size=1, read_timeout=poll_timeout, connect_timeout=timeout
        ),
    )


class TelegramAdapter:
    """The Telegram :class:`~chipin.bot.messages.ChannelAdapter`."""

    channel = "telegram"

    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org",
        *,
        timeout: float = 10.0,
        limits: RateLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        bot: Bot | None = None,
    ) -> None:
        self.bot = bot or make_bot(token, base_url, timeout=timeout)
        self.limiter = RateLimiter(limits or RateLimits(), clock)
        self._identity = BotIdentity.from_token(token)
        self._started = False
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> TelegramAdapter | None:
        if settings.telegram_bot_token is None:
            return None
        token = settings.telegram_bot_token.get_secret_value()
        return cls(token, settings.telegram_api_base_url) if token else None

    @property
    def identity(self) -> BotIdentity:
        """Our id (from the token) and, once started, our @username (from getMe)."""
        return self._identity

    async def webhook_status(self) -> dict[str, Any]:
        """getWebhookInfo with stable keys, for the dashboard and `chipin telegram status`."""
        return webhook_info_json(await self.bot.get_webhook_info())

    async def start(self) -> BotIdentity:
        """Open the HTTP pool and learn who we are (getMe). Called lazily by :meth:`send`."""
        if self._started:
            return self._identity
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if not self._started:
                await self.bot.initialize()
                me = self.bot.bot
                self._identity = BotIdentity(me.id, me.username)
                self._started = True
        return self._identity

    async def aclose(self) -> None:
        """Close the HTTP pool; safe to call twice or without :meth:`start`."""
        await self.bot.shutdown()
        self._started = False

    # -- sending -------------------------------------------------------------------------------

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        try:
            await self.start()
            if kind == "answer":
                return await self._answer(payload)
            self._pace(recipient)
            if kind == "edit":
                return await self._edit(recipient, payload)
            return await self._send(recipient, payload)
        except SendError:
            raise
        except FloodWait as exc:
            self.limiter.block(recipient, exc.seconds)
            raise SendError(
                f"Telegram asked to wait {exc.seconds:g}s: {exc.message}",
                retry_after=dt.timedelta(seconds=exc.seconds),
            ) from exc
        except Forbidden as exc:  # blocked by the user, kicked from the group
            raise SendError(exc.message, recipient_gone=True) from exc
        except ChatMigrated as exc:  # an edit in a group that became a supergroup
            raise SendError(f"the chat moved to {exc.new_chat_id}", retryable=False) from exc
        except InvalidToken as exc:
            raise SendError(f"the bot token was rejected: {exc.message}", retryable=False) from exc
        except BadRequest as exc:
            gone = any(reason in exc.message.lower() for reason in _CHAT_GONE)
            raise SendError(
                f"Bad Request: {exc.message}", retryable=False, recipient_gone=gone
            ) from exc
        except NetworkError as exc:  # timeouts, connection errors, 5xx
            raise SendError(f"{type(exc).__name__}: {exc.message}") from exc
        except TelegramError as exc:
            raise SendError(f"{type(exc).__name__}: {exc.message}") from exc

    def _pace(self, recipient: str) -> None:
        wait = self.limiter.reserve(recipient, group=recipient.startswith("-"))
        if wait > 0:
            raise SendError(
                f"rate limit: next send to {recipient} in {wait:.2f}s",
                retry_after=dt.timedelta(seconds=wait),
            )

    async def _send(self, recipient: str, payload: dict[str, Any]) -> SendResult:
        reply_to = payload.get("reply_to")
        kwargs = self._common(payload)
        if reply_to is not None and str(reply_to).isdigit():
            # the question may have been deleted meanwhile: answer anyway
            kwargs["reply_parameters"] = ReplyParameters(
                int(reply_to), allow_sending_without_reply=True
            )
        photo = await self._chart(payload)
        try:
            message = await self._post(int(recipient), kwargs, photo)
        except ChatMigrated as exc:  # the group became a supergroup: follow it once
            log.info("chipin.telegram_chat_migrated", old=recipient, new=exc.new_chat_id)
            kwargs.pop("reply_parameters", None)
            message = await self._post(exc.new_chat_id, kwargs, photo)
        return SendResult(str(message.message_id))

    async def _post(self, chat_id: int, kwargs: dict[str, Any], photo: bytes | None) -> Message:
        """sendMessage; with a photo, sendPhoto captioned with the text when it fits, else the
        photo and then the text (the text's message is the one buttons and edits belong to)."""
        if photo is None:
            return await self.bot.send_message(chat_id=chat_id, **kwargs)
        text = kwargs["text"]
        visible = html.unescape(_TAG.sub("", text)) if "parse_mode" in kwargs else text
        if len(visible.encode("utf-16-le")) // 2 <= TELEGRAM_CAPTION_LIMIT:
            options = {k: v for k, v in kwargs.items() if k not in ("text", "link_preview_options")}
            return await self.bot.send_photo(
                chat_id=chat_id, photo=photo, filename="chart.png", caption=text, **options
            )
        await self.bot.send_photo(
            chat_id=chat_id,
            photo=photo,
            filename="chart.png",
            reply_parameters=kwargs.get("reply_parameters"),
        )
        return await self.bot.send_message(chat_id=chat_id, **kwargs)

    @staticmethod
    async def _chart(payload: dict[str, Any]) -> bytes | None:
        """The payload's chart drawn as PNG (off the event loop: it takes a few hundred ms), or
        None. A chart that cannot be drawn is logged and the text goes alone."""
        data = payload.get("chart")
        if not isinstance(data, dict):
            return None
        try:
            return await asyncio.to_thread(render_png, ChartData.from_json(data))
        except Exception:
            log.exception("chipin.telegram_chart_failed")
            return None

    async def _edit(self, recipient: str, payload: dict[str, Any]) -> SendResult:
        message_id = int(payload["message_id"])
        try:
            edited = await self.bot.edit_message_text(
                chat_id=int(recipient), message_id=message_id, **self._common(payload)
            )
        except BadRequest as exc:
            reason = exc.message.lower()
            if _UNCHANGED in reason:  # a double-tapped button: the message already says so
                return SendResult(str(message_id), "unchanged")
            if any(gone in reason for gone in _EDIT_GONE):  # deleted or too old: say it anew
                return await self._send(recipient, payload)
            raise
        return SendResult(str(edited.message_id if isinstance(edited, Message) else message_id))

    async def _answer(self, payload: dict[str, Any]) -> SendResult:
        text = str(payload.get("text") or "")[:200] or None
        try:
            await self.bot.answer_callback_query(str(payload["action_id"]), text=text)
        except BadRequest as exc:
            if _QUERY_EXPIRED in exc.message.lower():
                # Telegram forgets a press after ~15 minutes; the spinner is long gone
                return SendResult(None, "expired")
            raise
        return SendResult(None, "answered")

    @staticmethod
    def _common(payload: dict[str, Any]) -> dict[str, Any]:
        text = str(payload.get("text") or "")
        if len(text) > TELEGRAM_TEXT_LIMIT:
            log.warning("chipin.telegram_text_too_long", length=len(text))
        kwargs: dict[str, Any] = {
            "text": text,
            "link_preview_options": LinkPreviewOptions(is_disabled=True),
        }
        if payload.get("format") == "html":
            kwargs["parse_mode"] = ParseMode.HTML
        actions = payload.get("actions") or []
        if actions:
            kwargs["reply_markup"] = InlineKeyboardMarkup(
                [[InlineKeyboardButton(a["label"], callback_data=a["data"]) for a in actions]]
            )
        return kwargs


def webhook_info_json(info: WebhookInfo) -> dict[str, Any]:
    """getWebhookInfo with stable keys (dates as ISO strings, absent values as null)."""
    return {
        "url": info.url,
        "pending_update_count": info.pending_update_count,
        "last_error_date": info.last_error_date.isoformat() if info.last_error_date else None,
        "last_error_message": info.last_error_message,
        "max_connections": info.max_connections,
        "allowed_updates": list(info.allowed_updates) if info.allowed_updates else None,
        "ip_address": info.ip_address,
        "has_custom_certificate": info.has_custom_certificate,
    }
