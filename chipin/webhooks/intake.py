"""What the inbox-storing webhooks share: the bounded body read (they store through
:func:`chipin.bot.intake.app_writer`)."""

from __future__ import annotations

from fastapi import Request


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
