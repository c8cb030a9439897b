"""What the inbox-storing webhooks share: the app's group-commit writer and the body read."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from chipin.bot.intake import InboxWriter


def inbox_writer(request: Request) -> InboxWriter:
    """The app's writer: one per app (so one per database and process), shared by the Telegram
    and Twilio webhooks so deliveries of both channels arriving together share a commit."""
    state: Any = request.app.state
    found: InboxWriter | None = getattr(state, "inbox_writer", None)
    if found is None or found.engine is not state.engine:
        found = state.inbox_writer = InboxWriter(state.engine)
    return found


async def read_body(request: Request, max_body: int) -> bytes | None:
    """The whole body, or None when it is larger than ``max_body`` (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit() or int(declared) > max_body:
            return None
        body = await request.body()  # the server never passes more than Content-Length
        return body if len(body) <= max_body else None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > max_body:
            return None
    return bytes(chunks)
