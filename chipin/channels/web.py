"""The web playground's channel: nothing leaves the server, the page reads the outbox.

Sending marks a row delivered with an id the page uses to edit it later; the playground's
JSON API (``chipin.admin.playground``) serves the conversation from the inbox and the outbox.
"""

from __future__ import annotations

import uuid
from typing import Any

from chipin.bot.messages import SendResult


class WebAdapter:
    channel = "web"

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        if kind == "edit":
            return SendResult(provider_message_id=str(payload.get("message_id")))
        return SendResult(provider_message_id=f"web-{uuid.uuid4().hex[:12]}")
