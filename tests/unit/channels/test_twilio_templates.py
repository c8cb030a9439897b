"""The phone templates, rendered as the worker renders them: exact text, SMS kept to GSM-7."""

from __future__ import annotations

from chipin.bot.messages import Reply
from chipin.bot.render import render
from chipin.channels.twilio import segments

DINNER = {
    "id": 7,
    "kind": "expense",
    "description": "Dinner",
    "category": None,
    "amount": 6000,
    "currency": "EUR",
    "date": "2026-11-21",
    "payers": [{"name": "Ana", "amount": 6000}],
    "shares": [{"name": "Ana", "amount": 3000}, {"name": "Raj", "amount": 3000}],
    "date_note": None,
}


def notice(channel: str, **context: object) -> str:
    base = {
        "group": "Lisbon trip",
        "actor": "Ana",
        "change": "recorded",
        "entry": DINNER,
        "name": "Raj",
        "share": 3000,
        "net": -3000,
        "hint": "BALANCES",
    }
    return str(render(channel, Reply("entry_notice", base | context))["text"])


def test_an_entry_notice_by_sms_is_one_gsm7_segment() -> None:
    text = notice("sms")
    assert text == (
        "Lisbon trip: Ana added Dinner (60.00 EUR, paid by Ana). Your part: 30.00 EUR. "
        "You owe 30.00 EUR in all. Reply BALANCES for details."
    )
    assert segments.count(text) == segments.Segments("GSM-7", len(text), 1)


def test_an_undone_entry_notice_says_what_is_left() -> None:
    assert notice("sms", change="undone", net=0) == (
        "Lisbon trip: Ana removed Dinner (60.00 EUR, paid by Ana). You're settled up. "
        "Reply BALANCES for details."
    )


def test_an_entry_notice_on_whatsapp() -> None:
    assert notice("whatsapp", net=2500, hint="Lisbon trip: balances") == (
        "*Lisbon trip* · Ana added:\n"
        "Dinner · 60.00 EUR · paid by Ana · Ana 30.00, Raj 30.00\n"
        "Your part: 30.00 EUR · you're owed 25.00 EUR in all.\n"
        "Reply Lisbon trip: balances for details."
    )


def test_an_invitation_fits_one_sms() -> None:
    reply = Reply(
        "invitation", {"group": "Lisbon trip", "by": "Ana", "name": "Raj", "code": "4F7K"}
    )
    text = str(render("sms", reply)["text"])
    assert text == (
        "Ana added you to Lisbon trip on Chipin, to share costs. Reply JOIN 4F7K to take part "
        "(within 7 days). STOP to opt out."
    )
    assert segments.count(text).count == 1


def test_sms_replies_are_gsm7_and_short() -> None:
    cases = [
        Reply("recorded", {"entry": DINNER}),
        Reply("draft", {"entry": DINNER, "author": "Ana"}),
        Reply("undone", {"entry": DINNER}),
        Reply("help", {"group": "Lisbon trip"}),
        Reply("help", {"group": None}),
        Reply("no_group", {"invitations": [], "name": None}),
        Reply("groups", {"groups": [{"n": 1, "name": "Lisbon trip", "active": True}]}),
        Reply(
            "balances",
            {
                "group": "Lisbon trip",
                "currencies": [
                    {
                        "currency": "EUR",
                        "balances": [
                            {"name": "Ana", "amount": 3000},
                            {"name": "Raj", "amount": -3000},
                        ],
                        "transfers": [{"debtor": "Raj", "creditor": "Ana", "amount": 3000}],
                    }
                ],
            },
        ),
    ]
    for reply in cases:
        text = str(render("sms", reply)["text"])
        assert segments.is_gsm7(text), (reply.template, text)
        assert segments.count(text).count <= 2, (reply.template, text)
    balances = str(render("sms", cases[-1])["text"])
    assert balances == "Lisbon trip: Ana +30.00, Raj -30.00 EUR\nTo settle: Raj pays Ana 30.00 EUR"
