"""``chipin telegram set-webhook / status / delete-webhook`` against the fake Bot API."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from chipin.cli_telegram import telegram_app
from tests.fakes.telegram import TOKEN, FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


def run(fake: FakeTelegram, *args: str, **env: str) -> tuple[int, str]:
    base = {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_WEBHOOK_SECRET": "a-long-random-webhook-secret",
        "PUBLIC_BASE_URL": "https://chipin.example.org/",
    }
    result = CliRunner().invoke(telegram_app, list(args), env=base | env)
    return result.exit_code, result.output


def test_set_webhook_registers_the_route_the_secret_and_the_handled_updates(
    fake: FakeTelegram,
) -> None:
    code, output = run(fake, "set-webhook", "--drop-pending-updates")
    assert code == 0, output
    assert "https://chipin.example.org/webhooks/telegram" in output
    [call] = fake.calls_to("setWebhook")
    assert call.params == {
        "url": "https://chipin.example.org/webhooks/telegram",
        "secret_token": "a-long-random-webhook-secret",
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
        "drop_pending_updates": "true",
        "max_connections": "40",
    }


def test_status_prints_the_webhook_info_with_stable_json_keys(fake: FakeTelegram) -> None:
    run(fake, "set-webhook")
    code, output = run(fake, "status", "--json")
    assert code == 0, output
    assert json.loads(output) == {
        "url": "https://chipin.example.org/webhooks/telegram",
        "pending_update_count": 0,
        "last_error_date": None,
        "last_error_message": None,
        "max_connections": 40,
        "allowed_updates": ["message", "edited_message", "callback_query", "my_chat_member"],
        "ip_address": "127.0.0.1",
        "has_custom_certificate": False,
    }
    code, output = run(fake, "status")
    assert "url: https://chipin.example.org/webhooks/telegram" in output


def test_delete_webhook_goes_back_to_no_webhook(fake: FakeTelegram) -> None:
    run(fake, "set-webhook")
    assert run(fake, "delete-webhook")[0] == 0
    assert "url: (none" in run(fake, "status")[1]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_WEBHOOK_SECRET is not set"),
        ("PUBLIC_BASE_URL", "PUBLIC_BASE_URL is not set"),
        ("TELEGRAM_BOT_TOKEN", "TELEGRAM_BOT_TOKEN is not set"),
    ],
)
def test_set_webhook_says_what_is_missing(fake: FakeTelegram, missing: str, message: str) -> None:
    code, output = run(fake, "set-webhook", **{missing: ""})
    assert code == 1
    assert message in output
    assert fake.calls_to("setWebhook") == []


def test_a_refusal_from_telegram_is_reported(fake: FakeTelegram) -> None:
    fake.fail("setWebhook", 400, description="Bad Request: bad webhook: HTTPS url must be provided")
    code, output = run(fake, "set-webhook")
    assert code == 1
    assert "https url must be provided" in output.lower()
