"""The terminal's channel for ``chipin chat``: replies are printed, buttons listed by number."""

from __future__ import annotations

import itertools
from typing import Any, TextIO

from chipin.bot.messages import SendResult


class TerminalAdapter:
    channel = "cli"

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.ids = itertools.count(1)
        self.buttons: list[tuple[str, str]] = []
        """(action data, provider message id) of the buttons printed last, for /press N."""

    async def send(self, recipient: str, kind: str, payload: dict[str, Any]) -> SendResult:
        if kind == "answer":
            if payload.get("text"):
                print(f"  ({payload['text']})", file=self.out)
            return SendResult(None)
        message_id = str(payload.get("message_id")) if kind == "edit" else f"cli-{next(self.ids)}"
        prefix = "chipin (edited)> " if kind == "edit" else "chipin> "
        print(prefix + str(payload.get("text", "")).replace("\n", "\n        "), file=self.out)
        actions = payload.get("actions") or []
        if actions:
            self.buttons = [(a["data"], message_id) for a in actions]
            listed = "  ".join(f"[/press {n}] {a['label']}" for n, a in enumerate(actions, 1))
            print(f"        {listed}", file=self.out)
        self.out.flush()
        return SendResult(message_id)
