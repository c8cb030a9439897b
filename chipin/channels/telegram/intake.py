"""The Telegram webhook's group commit now lives in :mod:`chipin.bot.intake`, shared with the
Twilio webhooks; this name stays for the code and tests that import it from here."""

from __future__ import annotations

from chipin.bot.intake import InboxWriter

__all__ = ["InboxWriter"]
