"""What the inbox-storing webhooks share: the app's group-commit writer and the body read."""

from __future__ import annotations

from fastapi import Request

from chipin.bot.intake import InboxWriter, app_writer


def inbox_writer(request: Request) -> InboxWriter:
    """The app's group-commit writer (:func:`chipin.bot.intake.app_writer`)."""
    return app_writer(request.app.state)


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
