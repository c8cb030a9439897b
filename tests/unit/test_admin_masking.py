"""What the dashboard masks before showing a provider's payload: secrets and phone numbers."""

from __future__ import annotations

import json

import pytest

from chipin.admin.masking import SECRET, mask, mask_phone_digits, mask_text

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SID = "AC" + "0123456789abcdef" * 2


def test_values_under_secret_keys_are_replaced_whatever_their_spelling() -> None:
    masked = mask(
        {
            "Authorization": "Basic dXNlcjpwYXNz",
            "x-telegram-bot-api-secret-token": "s3cret",
            "X-Twilio-Signature": "abc=",
            "AccountSid": "AC123",
            "auth_token": "t",
            "apiKey": "k",
            "GEMINI_API_KEY": "AIza-not-really",
            "password": "hunter2",
            "Cookie": "chipin_admin=x",
            "empty_token": "",
        }
    )
    assert set(masked.values()) == {SECRET, ""}
    assert masked["empty_token"] == ""  # nothing to hide: show that it is empty


def test_ordinary_keys_keep_their_values() -> None:
    data = {"update_id": 10, "conversation_key": "web:room", "text": "I paid 60", "ok": True}
    assert mask(data) == data


def test_secrets_inside_strings_are_found_anywhere() -> None:
    text = (
        f"GET https://api.telegram.org/bot{TOKEN}/getMe "
        f"account {SID} key AIzaSyA1234567890abcdefghijklmnopqrstu "
        "with Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig "
        "at postgresql://chipin:pa55word@db/chipin "
        "and https://example.com/hook?token=abc123&x=1"
    )
    masked = mask_text(text)
    for leak in (TOKEN.split(":")[1], SID, "AIzaSyA1234567890", "eyJhbGci", "pa55word", "abc123"):
        assert leak not in masked, leak
    assert "Bearer [masked]" in masked and "?token=[masked]&x=1" in masked
    assert "postgresql://[masked]@db/chipin" in masked


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+14155550123", "+14•••••••23"),
        ("whatsapp:+14155550123", "whatsapp:+14•••••••23"),
        ("call +44 20 7946 0958 now", "call +44••••••••58 now"),
        ("From=%2B14155550123", "From=%2B14155550123"),  # url-encoded forms are parsed first
    ],
)
def test_phone_numbers_keep_only_their_country_code_and_last_digits(raw: str, shown: str) -> None:
    assert mask_text(raw) == shown


def test_numbers_under_phone_keys_are_masked_even_without_a_plus() -> None:
    masked = mask({"WaId": "14155550123", "From": "whatsapp:+14155550123", "To": "Raj"})
    assert masked == {"WaId": "14•••••••23", "From": "whatsapp:+14•••••••23", "To": "Raj"}
    assert mask({"phone_number": 4155550123})["phone_number"] == "41••••••23"
    assert mask({"from": {"id": 42, "first_name": "Ana"}}) == {
        "from": {"id": 42, "first_name": "Ana"}
    }
    assert mask({"to": "2026-11-29"}) == {"to": "2026-11-29"}  # a date is not a phone


def test_short_numbers_dates_and_amounts_are_left_alone() -> None:
    text = "I paid 60.50 on 2026-11-29 for 3 people, order #12345"
    assert mask_text(text) == text
    assert mask_phone_digits("123") == "•••"


def test_masking_walks_nested_lists_and_dicts_without_changing_the_input() -> None:
    raw = {
        "message": {
            "entities": [{"type": "phone_number", "text": "+4915112345678"}],
            "contact": {"phone_number": "+4915112345678", "user_id": 7},
        },
        "headers": [["Authorization", "Bearer abcdefghijkl"]],
    }
    before = json.dumps(raw)
    masked = mask(raw)
    assert json.dumps(raw) == before
    dumped = json.dumps(masked, ensure_ascii=False)
    assert "15112345678" not in dumped and "abcdefghijkl" not in dumped
    assert masked["message"]["contact"]["user_id"] == 7
