"""A local fake of Twilio's Programmable Messaging REST API.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, so tests point the real
twilio library at it (``TWILIO_API_BASE_URL=fake.base_url``). It implements Messages create
(``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``) and fetch
(``GET …/Messages/{Sid}.json``),
checks HTTP basic auth (account SID, auth token), records every request (auth, From, To, Body,
ContentSid, ContentVariables, StatusCallback, every MediaUrl …), and answers in Twilio's shapes: a
Message resource (201, ``num_media`` counting its MediaUrl), or the error body ``{"code",
"message", "more_info", "status"}``. A message needs a Body, a MediaUrl or a ContentSid.
Failures are scripted per recipient or for any: 63016 (outside the WhatsApp window), 21610
(unsubscribed), 21614 (not a mobile number), 429, 500.
"""

from __future__ import annotations

import base64
import email.utils
import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from tests.fakes.server import LocalServer, send_json

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-twilio-auth-token-0123456789ab"
API_VERSION = "2010-04-01"
MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/Messages(?:/(?P<sid>\w+))?\.json$")

ERRORS = {
    20404: (404, "The requested resource was not found"),
    21602: (400, "Message body is required."),
    21211: (400, "The 'To' number {to} is not a valid phone number."),
    21408: (400, "Permission to send an SMS has not been enabled for the region of {to}."),
    21610: (400, "Attempt to send to unsubscribed recipient"),
    21614: (400, "'To' number is not a valid mobile number"),
    63016: (
        400,
        "Failed to send freeform message because you are outside the allowed window. "
        "If you are using WhatsApp, please use a Message Template.",
    ),
    20429: (429, "Too Many Requests"),
    20500: (500, "Internal Server Error"),
}


@dataclass(frozen=True)
class Request:
    """One request the client made."""

    method: str
    path: str
    params: dict[str, str]
    """The last value of each field."""
    auth: tuple[str, str] | None
    status: int
    media_urls: tuple[str, ...] = ()
    """Every ``MediaUrl`` (a repeated field), in order."""

    def __getitem__(self, key: str) -> str:
        return self.params[key]

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.params.get(key, default)

    @property
    def to(self) -> str:
        return self.params.get("To", "")

    @property
    def channel(self) -> str:
        return "whatsapp" if self.to.startswith("whatsapp:") else "sms"

    @property
    def number(self) -> str:
        return self.to.removeprefix("whatsapp:")


@dataclass
class Failure:
    code: int
    times: int
    to: str | None
    """Only requests to this address ("whatsapp:+351…" or "+351…"); None for any."""
    channel: str | None


@dataclass
class _State:
    requests: list[Request] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)


def error_body(code: int, to: str = "") -> tuple[int, dict[str, Any]]:
    """Twilio's error answer for ``code``."""
    status, message = ERRORS.get(code, (400, f"Error {code}"))
    return status, {
        "code": code,
        "message": message.format(to=to or "given"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(LocalServer):
    """The fake server: ``with FakeTwilio() as fake:`` (or start()/stop())."""

    thread_name = "fake-twilio"

    def __init__(self, *, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._state = _State()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        return _make_handler(self)

    # -- scripting ---------------------------------------------------------------------------

    def fail(
        self, code: int, *, times: int = 1, to: str | None = None, channel: str | None = None
    ) -> FakeTwilio:
        """The next ``times`` creates (to ``to`` / on ``channel``, if given) fail with ``code``
        (a Twilio error code: 63016, 21610, 21614, 20429 for a 429, 20500 for a 500)."""
        with self._lock:
            self._state.failures.append(Failure(code, times, to, channel))
        return self

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        with self._lock:
            message = self._state.messages[sid]
            message["status"] = status
            message["error_code"] = error_code

    # -- inspection --------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        with self._lock:
            return list(self._state.requests)

    def sent(self, *, channel: str | None = None, to: str | None = None) -> list[Request]:
        """Creates that succeeded, in order (``to`` is a bare E.164 number)."""
        return [
            r
            for r in self.requests
            if r.method == "POST"
            and r.status == 201
            and (channel is None or r.channel == channel)
            and (to is None or r.number == to)
        ]

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._state.messages[sid])

    # -- serving -----------------------------------------------------------------------------

    def _scripted(self, to: str) -> Failure | None:
        channel = "whatsapp" if to.startswith("whatsapp:") else "sms"
        for failure in self._state.failures:
            if (
                failure.times > 0
                and failure.to in (None, to)
                and failure.channel in (None, channel)
            ):
                failure.times -= 1
                return failure
        return None

    def _answer(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        auth: tuple[str, str] | None,
        media: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        match = MESSAGES.match(path)
        if match is None:
            return self._record(method, path, params, auth, *error_body(20404))
        if auth != (self.account_sid, self.auth_token) or match["account"] != self.account_sid:
            status, body = (
                401,
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
            )
            return self._record(method, path, params, auth, status, body)
        if method == "GET" and match["sid"]:
            with self._lock:
                found = self._state.messages.get(match["sid"])
            if found is None:
                return self._record(method, path, params, auth, *error_body(20404))
            return self._record(method, path, params, auth, 200, dict(found))
        if method != "POST" or match["sid"]:
            return self._record(method, path, params, auth, *error_body(20404))
        to = params.get("To", "")
        if not to or not (params.get("Body") or params.get("ContentSid") or media):
            return self._record(method, path, params, auth, *error_body(21602), media)
        with self._lock:
            failure = self._scripted(to)
        if failure is not None:
            return self._record(method, path, params, auth, *error_body(failure.code, to=to), media)
        message = self._message(params, media)
        with self._lock:
            self._state.messages[message["sid"]] = message
        return self._record(method, path, params, auth, 201, dict(message), media)

    def _message(self, params: dict[str, str], media: tuple[str, ...]) -> dict[str, Any]:
        sid = f"{'MM' if media else 'SM'}{next(self._ids):032x}"
        now = email.utils.formatdate(usegmt=True)
        body = params.get("Body", "")
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": params.get("From"),
            "messaging_service_sid": None,
            "num_media": str(len(media)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": params.get("To"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _record(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        auth: tuple[str, str] | None,
        status: int,
        body: dict[str, Any],
        media: tuple[str, ...] = (),
    ) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self._state.requests.append(Request(method, path, params, auth, status, media))
        return status, body


def _auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def _make_handler(fake: FakeTwilio) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            path, _, query = self.path.partition("?")
            source = raw if self.command == "POST" else query
            fields = parse_qs(source, keep_blank_values=True)
            params = {k: v[-1] for k, v in fields.items()}
            status, body = fake._answer(
                self.command,
                path,
                params,
                _auth(self.headers.get("Authorization")),
                tuple(fields.get("MediaUrl", ())),
            )
            send_json(self, status, body)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
