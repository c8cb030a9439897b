"""SMS segments: GSM-7 or UCS-2, and how a long text is cut; the text a phone receives."""

from __future__ import annotations

import pytest

from chipin.channels.twilio import segments
from chipin.channels.twilio.text import options_line, sms_body, sms_plain, whatsapp_body


@pytest.mark.parametrize(
    ("text", "encoding", "units", "count"),
    [
        ("", "GSM-7", 0, 0),
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("€" * 80, "GSM-7", 160, 1),  # the extension table: two septets each
        ("€" * 81, "GSM-7", 162, 2),
        ("Olá João", "UCS-2", 8, 1),  # ã is not GSM-7: the whole message becomes UCS-2
        ("é" * 160, "GSM-7", 160, 1),
        ("✓" * 70, "UCS-2", 70, 1),
        ("✓" * 71, "UCS-2", 71, 2),
        ("😀" * 35, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
        ("😀" * 36, "UCS-2", 72, 2),
    ],
)
def test_segments_are_counted_as_carriers_count_them(
    text: str, encoding: str, units: int, count: int
) -> None:
    assert segments.count(text) == segments.Segments(encoding, units, count)


def test_an_extension_character_is_never_split_across_parts() -> None:
    # 152 septets, then "€" (2) does not fit in the first 153-septet part
    assert segments.count("a" * 152 + "€" + "a" * 10).count == 2
    assert segments.count("a" * 152 + "€" + "a" * 152).count == 3  # 306 septets, yet 3 parts


def test_a_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    cut = segments.truncate("word " * 200, 2)
    assert cut.endswith("word...")
    assert segments.count(cut).count == 2
    assert segments.truncate("short", 1) == "short"


def test_options_are_numbered_in_the_actions_order() -> None:
    actions = [{"label": "Confirm", "data": "c:1"}, {"label": "Cancel", "data": "x:1"}]
    assert options_line(actions) == "Reply 1 to confirm, 2 to drop it."
    assert options_line([]) == ""


def test_sms_text_is_plain_gsm7() -> None:
    text = "✓ Dinner · 60.00 EUR · paid by Ana\n• Raj → Ana 20.00 EUR…"
    assert sms_plain(text) == "OK: Dinner - 60.00 EUR - paid by Ana\n- Raj -> Ana 20.00 EUR..."
    assert segments.is_gsm7(sms_plain(text))


def test_a_long_sms_keeps_its_options_and_stays_within_three_segments() -> None:
    body = sms_body("Lots to say. " * 60, [{"label": "Undo", "data": "u:3"}])
    assert body.endswith("...\nReply UNDO to undo.")
    assert segments.count(body).count <= 3


def test_a_typical_reply_is_one_or_two_segments() -> None:
    reply = "OK: Dinner 60.00 EUR, paid by Ana (Ana 20.00, Raj 20.00, Mia 20.00)"
    body = sms_body(reply, [{"label": "Undo", "data": "u:3"}])
    assert segments.count(body) == segments.Segments("GSM-7", len(body), 1)


def test_whatsapp_text_keeps_its_symbols_and_fits_twilios_limit() -> None:
    assert whatsapp_body("✓ Dinner", [{"label": "Undo"}]) == "✓ Dinner\n\nReply UNDO to undo."
    long = whatsapp_body("x" * 2000, [{"label": "Undo"}])
    assert len(long) <= 1600 and long.endswith("…\n\nReply UNDO to undo.")
