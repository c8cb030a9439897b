"""A local fake of the Gemini REST API (``POST /{v1beta|v1}/models/{model}:generateContent``).

It runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an ephemeral port, so tests can point
the real google-genai SDK at it through ``HttpOptions(base_url=fake.base_url)``. Every request is
recorded (headers, JSON body) and answered from a per-test script of replies: a JSON proposal, an
API error (429, 500, ...), a slow answer, malformed text. Responses have the real shape
(``candidates[0].content.parts[0].text``, ``finishReason``, ``usageMetadata``, ``modelVersion``).
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.server import LocalServer

_PATH = re.compile(r"^/(?P<version>v1beta|v1)/models/(?P<model>[^/:]+):generateContent$")

# The canonical google.rpc status names the real API puts in error bodies.
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status, a body, and how long to wait before sending it."""

    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    content_type: str = "application/json; charset=UTF-8"


@dataclass(frozen=True)
class RecordedRequest:
    """What the SDK sent, for assertions (temperature, schema, system instruction, key header)."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased."""
    raw: bytes
    json: Any
    """The decoded body, or None when it was not JSON."""
    model: str | None = None

    @property
    def api_key(self) -> str | None:
        return self.headers.get("x-goog-api-key")

    @property
    def generation_config(self) -> dict[str, Any]:
        config: dict[str, Any] = (self.json or {}).get("generationConfig", {})
        return config

    @property
    def system_instruction_text(self) -> str:
        instruction = (self.json or {}).get("systemInstruction") or {}
        return "".join(part.get("text", "") for part in instruction.get("parts", []))

    @property
    def user_texts(self) -> list[str]:
        """The text of every part of every ``user`` turn, in order."""
        return [
            part.get("text", "")
            for content in (self.json or {}).get("contents", [])
            if content.get("role", "user") == "user"
            for part in content.get("parts", [])
        ]


def generate_content_body(
    text: str,
    *,
    finish_reason: str = "STOP",
    model_version: str = "gemini-2.5-flash-fake-001",
) -> dict[str, Any]:
    """A real-shaped ``GenerateContentResponse`` whose single candidate answers ``text``."""
    return {
        "candidates": [
            {
                "content": {"parts": [{"text": text}], "role": "model"},
                "finishReason": finish_reason,
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 412,
            "candidatesTokenCount": max(1, len(text) // 4),
            "totalTokenCount": 412 + max(1, len(text) // 4),
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 412}],
        },
        "modelVersion": model_version,
        "responseId": uuid.uuid4().hex[:22],
    }


def error_body(code: int, message: str, status: str | None = None) -> dict[str, Any]:
    """The error envelope Google APIs answer with: ``{"error": {code, message, status}}``."""
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status or _STATUS_NAMES.get(code, "UNKNOWN"),
        }
    }


def _json_reply(status: int, payload: Any, delay: float = 0.0) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), delay=delay)


class FakeGemini(LocalServer):
    """The fake server. Use as a context manager (``with FakeGemini() as fake:``) or start()/stop().

    Script replies with the ``answer_*`` methods; they are consumed in order, one per request.
    When the script runs out, the fake answers 500 so an unexpected call fails loudly.
    """

    thread_name = "fake-gemini"

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__()
        self.expected_api_key = api_key
        """When set, a request without this ``x-goog-api-key`` gets the real 400 answer."""
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()

    # -- lifecycle ---------------------------------------------------------------------------

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        return _make_handler(self)

    # -- scripting ---------------------------------------------------------------------------

    def answer(self, reply: Reply) -> FakeGemini:
        with self._lock:
            self._script.append(reply)
        return self

    def answer_json(
        self, payload: Any, *, delay: float = 0.0, finish_reason: str = "STOP"
    ) -> FakeGemini:
        """The model answers ``payload`` as JSON text (what structured output returns)."""
        body = generate_content_body(json.dumps(payload), finish_reason=finish_reason)
        return self.answer(_json_reply(200, body, delay))

    def answer_text(
        self, text: str, *, delay: float = 0.0, finish_reason: str = "STOP"
    ) -> FakeGemini:
        """The model answers raw text, e.g. truncated or otherwise malformed JSON."""
        return self.answer(
            _json_reply(200, generate_content_body(text, finish_reason=finish_reason), delay)
        )

    def answer_error(
        self, code: int, message: str | None = None, *, status: str | None = None
    ) -> FakeGemini:
        message = message or {
            429: "Resource has been exhausted (e.g. check quota).",
            500: "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
            503: "The model is overloaded. Please try again later.",
        }.get(code, "Request failed.")
        return self.answer(_json_reply(code, error_body(code, message, status)))

    def answer_raw(self, status: int, body: bytes, content_type: str = "text/html") -> FakeGemini:
        """A non-JSON HTTP answer (a proxy's HTML error page, a truncated body)."""
        return self.answer(Reply(status=status, body=body, content_type=content_type))

    # -- inspection --------------------------------------------------------------------------

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.requests)

    def last(self) -> RecordedRequest:
        with self._lock:
            assert self.requests, "the fake received no request"
            return self.requests[-1]

    def __iter__(self) -> Iterator[RecordedRequest]:
        with self._lock:
            return iter(list(self.requests))

    # -- serving (called from the server threads) --------------------------------------------

    def _handle(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self.requests.append(request)
            scripted = self._script.popleft() if self._script else None
        if request.model is None:
            return _json_reply(404, error_body(404, f"Method not found: {request.path}"))
        if self.expected_api_key is not None and request.api_key != self.expected_api_key:
            return _json_reply(
                400, error_body(400, "API key not valid. Please pass a valid API key.")
            )
        if request.json is None:
            return _json_reply(400, error_body(400, "Invalid JSON payload received."))
        if scripted is None:
            return _json_reply(500, error_body(500, "fake gemini: no scripted reply left"))
        return scripted

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _make_handler(fake: FakeGemini) -> Callable[..., BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = None
            path = self.path.split("?", 1)[0]
            match = _PATH.match(path)
            request = RecordedRequest(
                method="POST",
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                raw=raw,
                json=body,
                model=match["model"] if match else None,
            )
            reply = fake._handle(request)
            if reply.delay:
                fake._wait(reply.delay)
            self._send(reply)

        def do_GET(self) -> None:
            self._send(_json_reply(404, error_body(404, f"Method not found: {self.path}")))

        def _send(self, reply: Reply) -> None:
            try:
                self.send_response(reply.status, HTTPStatus(reply.status).phrase)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (a timeout test): nothing to answer to.
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean; requests are recorded instead

    return Handler
