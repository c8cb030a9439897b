"""Sending outbox rows through Twilio's REST API (the twilio library's async client, pointed at
``TWILIO_API_BASE_URL``), and the error mapping the dispatcher relies on.

One adapter per channel: "whatsapp" sends from ``whatsapp:`` + ``TWILIO_WHATSAPP_FROM`` to
``whatsapp:`` + the number, free-form or as the approved template (``content_sid``); "sms" sends
plain, short text from ``TWILIO_SMS_FROM`` with ``SmartEncoded`` (its segments counted and logged).
A WhatsApp payload's ``media_urls`` (absolute URLs, e.g. a chart) go as ``MediaUrl``: one per
message, as WhatsApp shows only the first; SMS gets the text alone. Status callbacks come back to
``PUBLIC_BASE_URL`` + ``/webhooks/twilio/status``. Failures become :class:`TwilioSendError`:
429 and 5xx and network errors → retryable; 21610 (replied STOP) and 21211/21614 (not a mobile
number) → ``recipient_gone``; 63016 (outside WhatsApp's 24-hour window) and any other 4xx → not
retryable, so the row is dead at once and WhatsApp falls back to SMS (:meth:`after_send`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import httpx
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import AsyncHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from chipin.bot.member_notices import enabled_channels
from chipin.bot.messages import ChannelAdapter, SendError, SendResult
from chipin.channels.twilio import delivery, segments
from chipin.channels.twilio.privacy import mask_phone, mask_text
from chipin.channels.twilio.text import sms_body, whatsapp_body
from chipin.settings import Settings
from chipin.store.outbox import OutboxItem
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.twilio")
log_http = logging.getLogger("chipin.twilio.http")

STATUS_PATH = "/webhooks/twilio/status"
TIMEOUT_SECONDS = 15.0
RECIPIENT_GONE = frozenset({"21610", "21211", "21614"})
NOT_RETRYABLE = frozenset({"63016", "63003", "63024", "21408", "21612"})


WHATSAPP_MEDIA = 1
"""Twilio: a WhatsApp media message carries one attachment; more are ignored."""


def media_urls(payload: dict[str, Any]) -> list[str]:
    """The payload's ``media_urls`` that Twilio can fetch (absolute http(s) URLs), in order."""
    found = payload.get("media_urls") or []
    if not isinstance(found, list):
        return []
    urls = [str(u) for u in found if str(u).startswith(("https://", "http://"))]
    if len(urls) < len(found):
        log.warning("chipin.twilio_bad_media_url", count=len(found) - len(urls))
    return urls


class TwilioSendError(SendError):
    """A send Twilio refused, with its error code ("63016") when it gave one."""

    def __init__(self, message: str, *, code: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.code = code


def send_error(exc: TwilioRestException) -> TwilioSendError:
    code = str(exc.code) if exc.code else None
    text = f"Twilio {exc.status}" + (f" error {code}" if code else "") + f": {mask_text(exc.msg)}"
    if code in RECIPIENT_GONE:
        return TwilioSendError(text, code=code, recipient_gone=True)
    if exc.status == 429 or exc.status >= 500:
        return TwilioSendError(text, code=code, retryable=True)
    return TwilioSendError(text, code=code, retryable=False)


class HttpxTwilioClient(AsyncHttpClient):  # type: ignore[misc]  # twilio is untyped
    """The twilio library's async HTTP interface on httpx.

    The library's own ``AsyncTwilioHttpClient`` builds ``aiohttp.BasicAuth``, deprecated since
    aiohttp 3.12 (a warning on every request), and ignores its timeout. One httpx client per
    request: it is never tied to an event loop that has gone, and never left open; a message
    is one request, so a kept-alive pool would save little.
    """

    def __init__(self, timeout: float = TIMEOUT_SECONDS) -> None:
        super().__init__(log_http, True, timeout)

    async def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        async with httpx.AsyncClient(timeout=timeout or self.timeout) as client:
            answer = await client.request(
                method,
                uri,
                params=params,  # type: ignore[arg-type]
                data=data,
                headers=headers,
                auth=auth,
                follow_redirects=allow_redirects,
            )
        return Response(answer.status_code, answer.text, answer.headers)


def make_client(settings: Settings) -> Client:
    """The REST client on ``TWILIO_API_BASE_URL``."""
    sid = settings.twilio_account_sid or ""
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    client = Client(
        sid,
        token,
        http_client=HttpxTwilioClient(),
        # not os.environ: TWILIO_EDGE / TWILIO_REGION there would rewrite the host name
        environment={"TWILIO_ACCOUNT_SID": sid},
    )
    client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


class TwilioAdapter:
    def __init__(self, settings: Settings, channel: str, *, client: Client | None = None) -> None:
        if channel not in ("whatsapp", "sms"):
            raise ValueError(f"Twilio sends whatsapp or sms, not {channel}")
        self.channel = channel
        self.settings = settings
        number = (
            settings.twilio_whatsapp_from if channel == "whatsapp" else settings.twilio_sms_from
        )
        if not number:
            raise ValueError(f"no sender number for {channel}")
        self.sender = f"whatsapp:{number}" if channel == "whatsapp" else number
        self.client = client or make_client(settings)
        base = (settings.public_base_url or "").rstrip("/")
        self.status_callback = f"{base}{STATUS_PATH}" if base else None

    def params(self, recipient: str, payload: dict[str, Any]) -> dict[str, Any]:
        """The Messages.create arguments for one outbox payload."""
        whatsapp = self.channel == "whatsapp"
        params: dict[str, Any] = {
            "to": f"whatsapp:{recipient}" if whatsapp else recipient,
            "from_": self.sender,
        }
        if self.status_callback:
            params["status_callback"] = self.status_callback
        actions = payload.get("actions") or ()
        text = str(payload.get("text", ""))
        if whatsapp and payload.get("content_sid"):
            params["content_sid"] = payload["content_sid"]
            params["content_variables"] = json.dumps(payload.get("content_variables") or {})
        elif whatsapp:
            params["body"] = whatsapp_body(text, actions)
        else:
            params["body"] = sms_body(text, actions)
            params["smart_encoded"] = True
        media = media_urls(payload) if whatsapp else []
        if media:  # a template (content_sid) carries its own media, if any
            if "content_sid" in params:
                log.warning("chipin.twilio_media_dropped", reason="template", count=len(media))
            else:
                params["media_url"] = media[:WHATSAPP_MEDIA]
                if not params.get("body"):
                    params.pop("body", None)  # a picture alone is a message too
                if len(media) > WHATSAPP_MEDIA:
                    log.warning(
                        "chipin.twilio_media_dropped",
                        reason="WhatsApp shows one",
                        count=len(media) - WHATSAPP_MEDIA,
                    )
        return params

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        if kind == "answer":  # phones have no buttons to acknowledge
            return SendResult(None, "skipped")
        params = self.params(recipient, payload)
        try:
            message = await self.client.messages.create_async(**params)
        except TwilioRestException as exc:
            raise send_error(exc) from None
        except (httpx.HTTPError, TwilioException) as exc:
            raise TwilioSendError(f"Twilio unreachable: {type(exc).__name__}: {exc}") from None
        status = str(message.status) if message.status is not None else None
        measure: dict[str, object] = {}
        if "body" in params and self.channel == "sms":  # what the message costs
            counted = segments.count(str(params["body"]))
            measure = {"segments": counted.count, "encoding": counted.encoding}
        elif "media_url" in params:
            measure = {"media": len(params["media_url"])}
        log.info(
            "chipin.twilio_sent",
            channel=self.channel,
            to=mask_phone(recipient),
            sid=message.sid,
            status=status,
            template=payload.get("template"),
            **measure,
        )
        return SendResult(message.sid, status)

    def after_send(
        self,
        uow: SqlUnitOfWork,
        item: OutboxItem,
        status: str,
        result: SendResult | None,
        error: SendError | None,
        now: dt.datetime,
    ) -> None:
        """The dispatcher's hook, in the transaction that records the outcome: link the
        MessageSid to the row; after a final failure, learn from it and fall back to SMS."""
        sms = "sms" in enabled_channels(self.settings)
        if result is not None and result.provider_message_id:
            delivery.sent(
                uow, item, result.provider_message_id, result.provider_status, now, sms_enabled=sms
            )
        elif status == "dead":
            code = error.code if isinstance(error, TwilioSendError) else None
            delivery.failed(uow, item, code, now, sms_enabled=sms)


def twilio_adapters(settings: Settings) -> dict[str, ChannelAdapter]:
    """The configured phone channels' adapters, sharing one client."""
    channels = sorted(enabled_channels(settings))
    if not channels:
        return {}
    client = make_client(settings)
    return {c: TwilioAdapter(settings, c, client=client) for c in channels}
