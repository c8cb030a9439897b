"""``POST /webhooks/telegram``: verify the secret-token header, store the update in the inbox
under its ``update_id``, answer 200 at once.

Nothing slow happens before the answer (no Bot API call, no parsing beyond normalisation): the
worker picks the message up from the inbox. Updates arriving together are stored in one
transaction (group commit, ``chipin.bot.intake``, shared with the Twilio webhooks); each is
answered after the commit that holds it. A redelivered update, and an update kind Chipin does
not handle, are answered 200 too, so Telegram stops resending them. A wrong or missing secret is
answered 403 and stores nothing; a body that is too large, not JSON, or not an update gets 4xx
and is logged.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable

import orjson
import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from chipin.bot.intake import app_writer
from chipin.channels.telegram.normalize import BotIdentity, normalize
from chipin.settings import Settings
from chipin.webhooks.intake import read_body

log = structlog.get_logger("chipin.webhooks.telegram")

PATH = "/webhooks/telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"  # noqa: S105 - a header name
MAX_BODY_BYTES = 1 << 20
"""Real updates are a few kilobytes; 1 MiB leaves room for long texts with many entities."""
_OK = b'{"ok":true}'


def _error(status: int, description: str) -> Response:
    return JSONResponse({"ok": False, "description": description}, status_code=status)


def telegram_router(*, max_body: int = MAX_BODY_BYTES) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    fallback: dict[str, BotIdentity] = {}

    def identity(request: Request, settings: Settings) -> BotIdentity:
        """Who the bot is: set on ``app.state.telegram_identity`` once getMe answered, else the
        id from the token (commands with "@OtherBot" and mentions need the username)."""
        known: BotIdentity | None = getattr(request.app.state, "telegram_identity", None)
        if known is not None:
            return known
        token = settings.telegram_bot_token
        key = token.get_secret_value() if token else ""
        if key not in fallback:
            fallback[key] = BotIdentity.from_token(key)
        return fallback[key]

    async def telegram_webhook(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        secret = settings.telegram_webhook_secret
        expected = secret.get_secret_value() if secret is not None else ""
        if not expected or settings.telegram_bot_token is None:
            # webhook mode needs both; without them the route is not there
            return _error(404, "the Telegram webhook is not configured")
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            log.warning("chipin.telegram_bad_secret", client=_client(request))
            return _error(403, "wrong secret token")
        body = await read_body(request, max_body)
        if body is None:
            return _error(413, f"an update is at most {max_body} bytes")
        try:
            data = _loads(body)
        except ValueError:
            log.warning("chipin.telegram_bad_json", size=len(body))
            return _error(400, "the body is not JSON")
        if not isinstance(data, dict):
            return _error(400, "an update is a JSON object")
        try:
            items = normalize(data, identity(request, settings))
        except ValueError as exc:
            log.warning("chipin.telegram_bad_update", error=str(exc))
            return _error(400, str(exc))
        if items:
            stored = await app_writer(request.app.state).store(items, data)
            if stored:
                wake: Callable[[], None] = request.app.state.runtime.wake
                wake()  # an asyncio.Event: set it here, on the loop, not in the thread
        return Response(_OK, media_type="application/json")

    # a plain Starlette route: FastAPI's dependency solving and wrappers cost a quarter of the
    # framework's time per request and nothing here uses them (bench/telegram.py)
    router.add_route(PATH, telegram_webhook, methods=["POST"], include_in_schema=False)
    return router


def _loads(body: bytes) -> object:
    """orjson (a third of the stdlib's time); what it refuses and the stdlib reads (NaN, an
    integer past 64 bits, a lone surrogate escape, UTF-16) is still read as before."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None
