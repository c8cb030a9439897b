"""Phone numbers: E.164 from what people type, the country behind a number, and masking."""

from __future__ import annotations

import pytest

from chipin.channels.twilio.privacy import mask_payload, mask_phone, mask_text
from chipin.store.phones import InvalidNumber, region_of, to_e164


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("+351 912 345 678", None, "+351912345678"),
        ("whatsapp:+351912345678", None, "+351912345678"),
        ("912 345 678", "PT", "+351912345678"),
        ("(415) 555-0100", "US", "+14155550100"),
        ("+44 7700 900123", None, "+447700900123"),  # the UK's drama range: possible, not valid
        ("+44 7700 900123", "PT", "+447700900123"),  # a country code beats the region
    ],
)
def test_numbers_are_normalised_to_e164(typed: str, region: str | None, expected: str) -> None:
    assert to_e164(typed, region) == expected


@pytest.mark.parametrize(
    ("typed", "region", "reason"),
    [
        ("+351 12", None, "+351 12 does not look like a complete phone number"),
        ("912 345 678", None, "I need the country code for 912 345 678"),
        ("call me", "PT", "call me is not a phone number"),
        ("", None, "that is not a phone number"),
    ],
)
def test_an_invalid_number_says_why(typed: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber, match="^" + reason.replace("+", r"\+")):
        to_e164(typed, region)


def test_the_country_of_a_number_is_known_even_for_unallocated_ranges() -> None:
    assert region_of("+351912345678") == "PT"
    assert region_of("+447700900123") == "GB"
    assert region_of("not a number") is None


def test_a_masked_number_keeps_its_country_and_last_three_digits() -> None:
    assert mask_phone("+351912345678") == "+351 ••• ••• 678"
    assert mask_phone("whatsapp:+447700900123") == "whatsapp:+44 ••• ••• 123"
    assert mask_phone("912345678") == "••• ••• 678"
    assert mask_phone("12") == "••"


def test_numbers_in_text_are_masked_but_amounts_and_dates_are_not() -> None:
    assert mask_text("add Ana +351 912 345 678 on 2026-11-21, 1,250.50 EUR") == (
        "add Ana +351 ••• ••• 678 on 2026-11-21, 1,250.50 EUR"
    )


def test_a_twilio_payload_is_masked_for_the_dashboard() -> None:
    payload = {
        "From": "whatsapp:+351912345678",
        "To": "whatsapp:+14155238886",
        "WaId": "351912345678",
        "Body": "add Raj +44 7700 900123",
        "ProfileName": "Ana Costa",
        "NumMedia": "0",
    }
    assert mask_payload(payload) == {
        "From": "whatsapp:+351 ••• ••• 678",
        "To": "whatsapp:+1 ••• ••• 886",
        "WaId": "+351 ••• ••• 678",
        "Body": "add Raj +44 ••• ••• 123",
        "ProfileName": "Ana Costa",
        "NumMedia": "0",
    }
    assert payload["From"] == "whatsapp:+351912345678"  # the stored payload is untouched
