"""The lifecycle the local fakes share: a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 with an
ephemeral port, served from a daemon thread, used as ``with Fake() as fake:`` (or start()/stop()).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out and hung up is expected here; don't spray tracebacks on stderr.
        pass


class LocalServer:
    """Base of the fakes: subclasses name their thread and build their request handler."""

    thread_name = "fake-server"

    def __init__(self) -> None:
        # Set on stop() so a deliberately slow reply ends at once instead of holding a thread.
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _handler(self) -> Callable[..., BaseHTTPRequestHandler]:
        raise NotImplementedError

    def start(self) -> Self:
        server = QuietServer(("127.0.0.1", 0), self._handler())
        self._server = server
        # A short poll interval keeps stop() (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name=self.thread_name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    """Answer ``body`` as JSON; a client that already hung up just closes the connection."""
    data = json.dumps(body).encode()
    try:
        handler.send_response(status, HTTPStatus(status).phrase)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
    except (BrokenPipeError, ConnectionResetError):
        handler.close_connection = True
