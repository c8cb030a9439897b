"""A local fake of the Telegram Bot API (``POST /bot<token>/<method>``).

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, so tests point the real
python-telegram-bot client at it (``base_url=f"{fake.base_url}/bot"``). It implements getMe,
sendMessage, sendPhoto (a multipart upload: the file is recorded as :class:`Upload`),
editMessageText, answerCallbackQuery, setWebhook, deleteWebhook, getWebhookInfo and
getUpdates (serving queued updates by offset), records every call, and answers in the real
envelope: ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code", "description",
"parameters"?}``. Failures are scripted per method: 429 with ``retry_after``, 500, 403 "bot was
blocked by the user", 400 with a description, or a slow answer.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.server import LocalServer, send_json

BOT_ID = 7000000001
BOT_USERNAME = "ChipinBot"
TOKEN = f"{BOT_ID}:AAH-fake-token-for-chipin-tests"
DESCRIPTIONS = {
    400: "Bad Request: message text is empty",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


@dataclass(frozen=True)
class Call:
    """One request the client made: the method and its parameters (JSON values decoded)."""

    method: str
    params: dict[str, Any]
    at: float
    """time.monotonic() when it arrived."""
    status: int = 200

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)

    @property
    def chat_id(self) -> str:
        return str(self.params.get("chat_id"))

    @property
    def buttons(self) -> list[dict[str, str]]:
        markup = self.params.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart request (sendPhoto's ``photo``)."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Failure:
    """A scripted answer for the next ``times`` calls of a method (optionally one chat's)."""

    status: int
    description: str
    times: int = 1
    parameters: dict[str, Any] | None = None
    """ResponseParameters: ``retry_after`` (429), ``migrate_to_chat_id`` (a group upgraded)."""
    delay: float = 0.0
    chat_id: str | None = None


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] = field(default_factory=dict)
    message_ids: dict[str, itertools.count[int]] = field(default_factory=dict)


class _BadRequest(Exception):
    """A method's own refusal of its parameters (answered 400 with this description)."""


def _multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body: fields decoded as PTB posts them, files as Uploads (a field
    that says ``attach://name`` gets the file of that name)."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.message_from_bytes(head + raw, policy=email.policy.HTTP)
    params: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = Upload(filename, part.get_content_type(), data)
        else:
            params[name] = _decode(data.decode())
    for key, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            params[key] = files.pop(value.removeprefix("attach://"), value)
    return params | files


def _decode(value: str) -> Any:
    """PTB posts form fields; objects and lists arrive JSON-encoded, scalars as plain text."""
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def chat_type(chat_id: str) -> str:
    if chat_id.startswith("-100"):
        return "supergroup"
    return "group" if chat_id.startswith("-") else "private"


class FakeTelegram(LocalServer):
    """The fake server: ``with FakeTelegram() as fake:`` (or start()/stop())."""

    thread_name = "fake-telegram"

    def __init__(self, *, token: str = TOKEN, username: str = BOT_USERNAME) -> None:
        super().__init__()
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.username = username
        self._state = _State()
        self._lock = threading.Lock()
        self._updates_ready = threading.Condition(self._lock)

    # -- lifecycle ---------------------------------------------------------------------------

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        return _make_handler(self)

    def stop(self) -> None:
        self._stopping.set()
        with self._updates_ready:
            self._updates_ready.notify_all()
        super().stop()

    @property
    def me(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Chipin",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    # -- scripting ---------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        status: int,
        *,
        times: int = 1,
        description: str | None = None,
        retry_after: int | None = None,
        parameters: dict[str, Any] | None = None,
        delay: float = 0.0,
        chat_id: str | None = None,
    ) -> FakeTelegram:
        """The next ``times`` calls of ``method`` (to ``chat_id``, if given) fail this way."""
        text = description or DESCRIPTIONS.get(status, HTTPStatus(status).phrase)
        if retry_after is not None:
            parameters = (parameters or {}) | {"retry_after": retry_after}
        failure = Failure(
            status, text.format(retry_after=retry_after), times, parameters, delay, chat_id
        )
        with self._lock:
            self._state.failures.setdefault(method, []).append(failure)
        return self

    def throttle(self, method: str, *, times: int, retry_after: int = 1) -> FakeTelegram:
        return self.fail(method, 429, times=times, retry_after=retry_after)

    def slow(self, method: str, seconds: float, *, times: int = 1) -> FakeTelegram:
        """Answer normally, after ``seconds``."""
        return self.fail(method, 200, times=times, delay=seconds, description="ok")

    def queue_update(self, update: dict[str, Any]) -> None:
        """Serve ``update`` to the next getUpdates."""
        with self._updates_ready:
            self._state.updates.append(update)
            self._updates_ready.notify_all()

    # -- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[Call]:
        return [
            c for c in self.calls if c.method == method and (ok is None or (c.status == 200) == ok)
        ]

    def sent(self) -> list[Call]:
        """The sendMessage calls that succeeded, in order."""
        return self.calls_to("sendMessage", ok=True)

    def photos(self) -> list[Call]:
        """The sendPhoto calls that succeeded, in order; ``call["photo"]`` is an Upload."""
        return self.calls_to("sendPhoto", ok=True)

    @property
    def webhook(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.webhook)

    # -- serving (called from the server threads) --------------------------------------------

    def _answer(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        with self._lock:
            failure = self._scripted(method, params)
        if failure is not None and failure.status != 200:
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.parameters:
                body["parameters"] = failure.parameters
            self._record(method, params, failure.status)
            return failure.status, body, failure.delay
        handler = METHODS.get(method)
        if handler is None:
            self._record(method, params, 404)
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, 0.0
        if method == "getUpdates":
            result = self._get_updates(params)
        else:
            try:
                with self._lock:
                    result = handler(self, params)
            except _BadRequest as exc:
                self._record(method, params, 400)
                return 400, {"ok": False, "error_code": 400, "description": str(exc)}, 0.0
        self._record(method, params, 200)
        return 200, {"ok": True, "result": result}, failure.delay if failure else 0.0

    def _scripted(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self._state.failures.get(method, []):
            if failure.times > 0 and failure.chat_id in (None, str(params.get("chat_id"))):
                failure.times -= 1
                return failure
        return None

    def _record(self, method: str, params: dict[str, Any], status: int) -> None:
        with self._lock:
            self._state.calls.append(Call(method, params, time.monotonic(), status))

    def _message(self, chat_id: str, text: str, params: dict[str, Any]) -> dict[str, Any]:
        ids = self._state.message_ids.setdefault(chat_id, itertools.count(1000))
        message: dict[str, Any] = {
            "message_id": next(ids),
            "from": {k: v for k, v in self.me.items() if k in ("id", "is_bot", "first_name")}
            | {"username": self.username},
            "chat": {"id": int(chat_id), "type": chat_type(chat_id)},
            "date": int(time.time()),
            "text": text,
        }
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), 5.0)
        deadline = time.monotonic() + wait
        with self._updates_ready:
            # a later offset confirms (forgets) every earlier update, as Telegram does
            self._state.updates = [u for u in self._state.updates if u["update_id"] >= offset]
            while not self._state.updates and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._updates_ready.wait(left)
            return list(self._state.updates[: int(params.get("limit") or 100)])

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


# -- methods (called with the lock held) -----------------------------------------------------------


def _get_me(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    return fake.me


def _send_message(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    return fake._message(str(params["chat_id"]), str(params.get("text", "")), params)


def _send_photo(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    photo = params.get("photo")
    if not isinstance(photo, Upload) or not photo.data:
        raise _BadRequest("Bad Request: there is no photo in the request")
    message = fake._message(str(params["chat_id"]), "", params)
    del message["text"]
    unique = hashlib.sha256(photo.data).hexdigest()[:16]
    message["photo"] = [
        {"file_id": f"photo-{unique}", "file_unique_id": unique, "width": 800, "height": 600}
    ]
    if params.get("caption"):
        message["caption"] = str(params["caption"])
    return message


def _edit_message_text(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    message = fake._message(str(params["chat_id"]), str(params.get("text", "")), params)
    message["message_id"] = int(params["message_id"])
    message["edit_date"] = message["date"]
    return message


def _true(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    return True


def _set_webhook(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    fake._state.webhook = {
        "url": params.get("url", ""),
        "secret_token": params.get("secret_token"),
        "allowed_updates": params.get("allowed_updates"),
        "max_connections": int(params.get("max_connections") or 40),
    }
    if params.get("drop_pending_updates") == "true":
        fake._state.updates.clear()
    return True


def _delete_webhook(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    fake._state.webhook = {}
    return True


def _get_webhook_info(fake: FakeTelegram, params: dict[str, Any]) -> Any:
    hook = fake._state.webhook
    info: dict[str, Any] = {
        "url": hook.get("url", ""),
        "has_custom_certificate": False,
        "pending_update_count": len(fake._state.updates),
    }
    if hook:
        info["max_connections"] = hook["max_connections"]
        info["ip_address"] = "127.0.0.1"
        if hook.get("allowed_updates") is not None:
            info["allowed_updates"] = hook["allowed_updates"]
    return info


METHODS: dict[str, Callable[[FakeTelegram, dict[str, Any]], Any]] = {
    "getMe": _get_me,
    "sendMessage": _send_message,
    "sendPhoto": _send_photo,
    "editMessageText": _edit_message_text,
    "answerCallbackQuery": _true,
    "setWebhook": _set_webhook,
    "deleteWebhook": _delete_webhook,
    "getWebhookInfo": _get_webhook_info,
    "getUpdates": lambda fake, params: [],  # served by FakeTelegram._get_updates
}


def _make_handler(fake: FakeTelegram) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            token, _, method = self.path.split("?", 1)[0].removeprefix("/bot").partition("/")
            if token != fake.token:
                self._send(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            self._send(*self._dispatch(method, raw))

        do_GET = do_POST

        def _dispatch(self, method: str, raw: bytes) -> tuple[int, dict[str, Any]]:
            kind = self.headers.get("Content-Type", "")
            params: dict[str, Any]
            if "json" in kind:
                params = json.loads(raw or b"{}")
            elif kind.startswith("multipart/form-data"):
                params = _multipart(kind, raw)
            else:
                params = {k: _decode(v[-1]) for k, v in parse_qs(raw.decode()).items()}
            status, body, delay = fake._answer(method, params)
            if delay:
                fake._wait(delay)
            return status, body

        def _send(self, status: int, body: dict[str, Any]) -> None:
            send_json(self, status, body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
