"""What a phone reads: the SMS rendering of a reply stays short and GSM-7, and a reply's buttons
become answers that are read back with the same convention (``chipin.bot.phone_choices``)."""

from __future__ import annotations

import datetime as dt

from chipin.bot import phone_choices as pc
from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.channels.twilio import segments
from chipin.channels.twilio.text import sms_body, sms_plain, whatsapp_body

UNDO = [{"label": "Undo", "data": "u:12"}]
DRAFT = [{"label": "Confirm", "data": "c:4"}, {"label": "Cancel", "data": "x:4"}]


def recorded(names: list[str], description: str = "Dinner at the harbour") -> dict[str, object]:
    amount = 1234 * len(names)
    return {
        "id": 12,
        "kind": "expense",
        "description": description,
        "category": None,
        "amount": amount,
        "currency": "EUR",
        "date": "2026-11-21",
        "payers": [{"name": names[0], "amount": amount}],
        "shares": [{"name": n, "amount": 1234} for n in names],
        "date_note": None,
    }


def sms_of(template: str, **context: object) -> str:
    return str(render("sms", Reply(template, context))["text"])


def test_a_typical_recorded_sms_is_one_or_two_gsm7_segments() -> None:
    for names in (["Ana", "Raj"], ["Ana Costa", "Raj Patel", "Mia Jones", "Tom Berg", "Lea Roy"]):
        body = sms_body(sms_of("recorded", entry=recorded(names)), UNDO)
        assert body.endswith("\nReply UNDO to undo.")
        counted = segments.count(body)
        assert counted.encoding == "GSM-7", body
        assert 1 <= counted.count <= 2, body


def test_the_sms_rendering_is_shorter_than_the_whatsapp_one() -> None:
    entry = recorded(["Ana", "Raj", "Mia"])
    sms = sms_body(sms_of("recorded", entry=entry), UNDO)
    whatsapp = str(render("whatsapp", Reply("recorded", {"entry": entry}))["text"])
    assert sms.startswith("OK: Dinner at the harbour 37.02 EUR, paid by Ana (Ana 12.34,")
    assert not segments.is_gsm7(whatsapp) and segments.count(sms).count == 1


def test_accented_names_fold_to_gsm7_instead_of_turning_the_sms_into_ucs2() -> None:
    body = sms_body(sms_of("recorded", entry=recorded(["Zoë", "Łukasz", "Raj"], "Café crème")))
    assert body.startswith("OK: Café crème 37.02 EUR, paid by Zoe (Zoe 12.34, Lukasz 12.34,")
    assert segments.count(body).encoding == "GSM-7"
    assert sms_plain("Müller é ñ") == "Müller é ñ"  # GSM-7 has these: unchanged
    assert segments.count(sms_plain("会計 20")).encoding == "UCS-2"  # nothing to fold to


def test_several_actions_are_numbered_and_a_lone_one_is_its_word() -> None:
    assert pc.offer_line(DRAFT) == "Reply 1 to confirm, 2 to drop it."
    assert pc.offer_line(UNDO) == "Reply UNDO to undo."
    assert pc.offer_line([{"label": "Set up", "data": "c:1"}]) == "Reply 1 to set up."
    assert pc.offer_line([{"label": "Stop", "data": "s:1"}]) == "Reply 1 to stop it."
    assert whatsapp_body("✓ Dinner", DRAFT).endswith("\n\nReply 1 to confirm, 2 to drop it.")


def test_an_answer_is_the_key_the_label_the_verb_or_the_button_id() -> None:
    for said in ("1", "confirm", "Confirm!", "c:4"):
        found = pc.pick(DRAFT, [said])
        assert found is not None and found.data == "c:4", said
    for said in ("2", "cancel", "drop it"):
        found = pc.pick(DRAFT, [said])
        assert found is not None and found.data == "x:4", said
    assert pc.pick(UNDO, ["undo"]) is not None
    assert pc.pick(UNDO, ["1"]) is None  # never shown, never understood
    assert pc.pick(DRAFT, ["3"]) is None and pc.pick(DRAFT, ["I paid 3 for coffee"]) is None


def test_options_are_for_their_group_and_a_day() -> None:
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    offered = pc.offer(5, UNDO, now)
    assert pc.offered_actions(offered, 5, now + dt.timedelta(hours=23)) == UNDO
    assert pc.offered_actions(offered, 6, now) == []
    assert pc.offered_actions(offered, 5, now + dt.timedelta(hours=25)) == []
    assert pc.offered_actions(None, 5, now) == []
