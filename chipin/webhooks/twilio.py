"""``POST /webhooks/twilio/{whatsapp,sms,status}``: verify Twilio's signature, then store the
message in the inbox under its ``MessageSid`` and answer an empty TwiML response at once, or
record a delivery status.

The signature (``X-Twilio-Signature``) is checked with the twilio library's RequestValidator
over the URL rebuilt from ``PUBLIC_BASE_URL`` (what Twilio called, even behind a TLS-terminating
proxy) and every posted field; a bad or missing one is answered 403 and stores nothing. Without
``TWILIO_AUTH_TOKEN`` or ``PUBLIC_BASE_URL`` nothing can be verified: 503. Replies never go in
the TwiML answer: the worker writes them to the outbox and the dispatcher sends them through the
REST API, so nothing slow happens before Twilio gets its answer. Messages arriving together are
stored in one transaction (group commit, ``chipin.bot.intake``, shared with the Telegram
webhook); each is answered after the commit that holds it.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Awaitable, Callable
from functools import partial
from urllib.parse import unquote_to_bytes

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator, get_signature_algorithm

from chipin.bot.intake import app_writer
from chipin.bot.member_notices import enabled_channels
from chipin.channels.twilio import delivery
from chipin.channels.twilio.normalize import normalize
from chipin.channels.twilio.privacy import mask_text
from chipin.settings import Settings
from chipin.store.phones import STATUS_ORDER
from chipin.store.uow import SqlUnitOfWork
from chipin.webhooks.intake import read_body

log = structlog.get_logger("chipin.webhooks.twilio")

PREFIX = "/webhooks/twilio"
SIGNATURE_HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
MAX_BODY_BYTES = 64 * 1024
"""A message is at most 1,600 characters plus ten media URLs: a few kilobytes."""
MAX_FIELDS = 200
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'
FORM = "application/x-www-form-urlencoded"


class Form(dict[str, str]):
    """The posted fields: the last value per name, and all of them (``getlist``) for the
    signature, which covers repeated fields too."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__(pairs)
        self._all: dict[str, list[str]] = {}
        for name, value in pairs:
            self._all.setdefault(name, []).append(value)

    def getlist(self, name: str) -> list[str]:
        return self._all.get(name, [])

    # RequestValidator asks for ``getall`` first (a MultiDict's); answering it saves an
    # AttributeError raised and caught per field, a third of the signature's cost
    getall = getlist


Handler = Callable[[Request, Settings, Form], Awaitable[Response]]


def _error(status: int, description: str) -> Response:
    return JSONResponse({"error": description}, status_code=status)


def _twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


async def inbound(channel: str, request: Request, settings: Settings, form: Form) -> Response:
    if channel not in enabled_channels(settings):
        return _error(404, f"the {channel} channel is not configured")
    try:
        item = normalize(channel, form)
    except ValueError as exc:
        log.warning("chipin.twilio_bad_message", channel=channel, error=mask_text(str(exc)))
        return _error(400, str(exc))
    stored = await app_writer(request.app.state).store([item], dict(form))
    if stored:
        wake: Callable[[], None] = request.app.state.runtime.wake
        wake()  # an asyncio.Event: set it here, on the loop, not in the thread
    return _twiml()


def _record(
    engine: Engine, sid: str, status: str, error_code: str | None, sms_enabled: bool
) -> delivery.Report:
    with SqlUnitOfWork(engine) as uow:
        report = delivery.record_status(
            uow, sid, status, error_code, dt.datetime.now(dt.UTC), sms_enabled=sms_enabled
        )
        uow.commit()
    return report


async def status(request: Request, settings: Settings, form: Form) -> Response:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    state = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if not sid or not state:
        return _error(400, "a status callback has MessageSid and MessageStatus")
    if state not in STATUS_ORDER:
        log.info("chipin.twilio_status_ignored", status=state)
        return Response(status_code=204)
    report = await run_in_threadpool(
        _record,
        request.app.state.engine,
        sid,
        state,
        form.get("ErrorCode") or None,
        "sms" in enabled_channels(settings),
    )
    if report.fallback_id is not None:
        request.app.state.runtime.wake_dispatcher.set()
    return Response(status_code=204)


EVENT_HANDLERS: dict[str, Handler] = {
    "whatsapp": partial(inbound, "whatsapp"),
    "sms": partial(inbound, "sms"),
    "status": status,
}


def twilio_router(*, max_body: int = MAX_BODY_BYTES) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    validators: dict[str, RequestValidator] = {}

    def validator(token: str) -> RequestValidator:
        if token not in validators:
            validators.clear()
            validators[token] = RequestValidator(token)
        return validators[token]

    async def twilio_webhook(request: Request) -> Response:
        event: str = request.path_params["event"]
        handler = EVENT_HANDLERS.get(event)
        if handler is None:
            return _error(404, f"no Twilio webhook {event}")
        settings: Settings = request.app.state.settings
        token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
        base = (settings.public_base_url or "").rstrip("/")
        if not token or not base:
            return _error(503, "Twilio webhooks need TWILIO_AUTH_TOKEN and PUBLIC_BASE_URL set")
        kind = request.headers.get("content-type", FORM).split(";")[0].strip().lower()
        if kind != FORM:
            return _error(415, f"Twilio posts {FORM}")
        body = await read_body(request, max_body)
        if body is None:
            return _error(413, f"a webhook is at most {max_body} bytes")
        try:
            pairs = parse_form(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, "the body is not a form")
        form = Form(pairs)
        url = base + request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        algorithm = get_signature_algorithm(request.headers.get(SETTINGS_HEADER))
        if not signature or not _valid(validator(token), url, form, signature, algorithm):
            log.warning("chipin.twilio_bad_signature", webhook=event, client=_client(request))
            return _error(403, "the X-Twilio-Signature does not match")
        return await handler(request, settings, form)

    # a plain Starlette route, as the Telegram webhook's (no FastAPI dependency solving)
    router.add_route(PREFIX + "/{event}", twilio_webhook, methods=["POST"], include_in_schema=False)
    return router


def parse_form(text: str, max_fields: int = MAX_FIELDS) -> list[tuple[str, str]]:
    """``urllib.parse.parse_qsl(text, keep_blank_values=True, max_num_fields=max_fields)``, in
    half its time (14 of 27 µs for a WhatsApp message): a %-escaped part is decoded with
    ``unquote_to_bytes`` at once instead of ``unquote``'s split into ASCII runs, which gives the
    same text (tests/unit/channels/test_twilio_form.py compares the two on random bodies)."""
    if max_fields < 1 + text.count("&"):
        raise ValueError("Max number of fields exceeded")
    pairs: list[tuple[str, str]] = []
    for part in text.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_unquote_plus(name), _unquote_plus(value)))
    return pairs


def _unquote_plus(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    if "%" in text:
        text = unquote_to_bytes(text).decode("utf-8", "replace")
    return text


def _valid(
    validator: RequestValidator, url: str, form: Form, signature: str, algorithm: str
) -> bool:
    """The URL as configured first (one HMAC: the usual case); then ``validate``, which also
    tries it with and without the default port, as Twilio may have signed either."""
    try:
        expected = validator.compute_signature(url, form, algorithm)
    except ValueError:  # an algorithm this twilio library does not know
        return False
    if hmac.compare_digest(str(expected).encode(), signature.encode()):
        return True
    return bool(validator.validate(url, form, signature, algorithm))


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None
