"""``chipin telegram …``: register the webhook with Telegram and show its state.

``set-webhook`` points Telegram at ``PUBLIC_BASE_URL/webhooks/telegram`` with the secret token
and the update kinds Chipin handles; ``status`` prints getWebhookInfo; ``delete-webhook`` goes
back to no webhook (needed before ``chipin serve --telegram-polling``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from telegram import Bot
from telegram.error import TelegramError

from chipin.channels.telegram.adapter import make_bot
from chipin.channels.telegram.adapter import webhook_info_json as info_json
from chipin.channels.telegram.normalize import ALLOWED_UPDATES
from chipin.settings import Settings

telegram_app = typer.Typer(no_args_is_help=True, help="The Telegram bot's webhook.")
T = TypeVar("T")
WEBHOOK_PATH = "/webhooks/telegram"


def _fail(message: str) -> NoReturn:
    typer.echo(f"chipin: {message}", err=True)
    raise typer.Exit(1)


def _bot(settings: Settings) -> Bot:
    if settings.telegram_bot_token is None or not settings.telegram_bot_token.get_secret_value():
        _fail("TELEGRAM_BOT_TOKEN is not set")
    return make_bot(settings.telegram_bot_token.get_secret_value(), settings.telegram_api_base_url)


def _call(settings: Settings, action: Callable[[Bot], Awaitable[T]]) -> T:
    async def run() -> T:
        async with _bot(settings) as bot:  # initialize (getMe) and shutdown around the call
            return await action(bot)

    try:
        return asyncio.run(run())
    except TelegramError as exc:
        _fail(f"Telegram refused: {exc.message}")


def webhook_url(settings: Settings) -> str:
    if not settings.public_base_url:
        _fail("PUBLIC_BASE_URL is not set (the public https root Telegram should call)")
    return settings.public_base_url.rstrip("/") + WEBHOOK_PATH


@telegram_app.command("set-webhook")
def set_webhook(
    drop_pending_updates: Annotated[
        bool, typer.Option(help="Forget the updates Telegram queued while no webhook was set.")
    ] = False,
    max_connections: Annotated[
        int, typer.Option(min=1, max=100, help="Parallel deliveries Telegram may make.")
    ] = 40,
) -> None:
    """Point Telegram at PUBLIC_BASE_URL/webhooks/telegram with TELEGRAM_WEBHOOK_SECRET."""
    settings = Settings()
    secret = settings.telegram_webhook_secret
    if secret is None or not secret.get_secret_value():
        _fail("TELEGRAM_WEBHOOK_SECRET is not set; the webhook refuses updates without it")
    url, token = webhook_url(settings), secret.get_secret_value()
    _call(
        settings,
        lambda bot: bot.set_webhook(
            url,
            secret_token=token,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop_pending_updates,
            max_connections=max_connections,
        ),
    )
    typer.echo(f"webhook set: {url} ({', '.join(ALLOWED_UPDATES)})")


@telegram_app.command("delete-webhook")
def delete_webhook(
    drop_pending_updates: Annotated[bool, typer.Option(help="Forget queued updates.")] = False,
) -> None:
    """Remove the webhook (long polling needs that)."""
    settings = Settings()
    _call(settings, lambda bot: bot.delete_webhook(drop_pending_updates=drop_pending_updates))
    typer.echo("webhook removed")


@telegram_app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with stable keys.")] = False,
) -> None:
    """Show Telegram's view of the webhook (getWebhookInfo)."""
    settings = Settings()
    info = info_json(_call(settings, lambda bot: bot.get_webhook_info()))
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    typer.echo(f"url: {info['url'] or '(none: long polling or not set)'}")
    typer.echo(f"pending updates: {info['pending_update_count']}")
    if info["allowed_updates"]:
        typer.echo(f"allowed updates: {', '.join(info['allowed_updates'])}")
    if info["last_error_message"]:
        typer.echo(f"last error: {info['last_error_message']} at {info['last_error_date']}")
