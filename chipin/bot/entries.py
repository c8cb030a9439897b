"""Turns that write the ledger: record now, draft for confirmation, undo, correct, settle."""

from __future__ import annotations

import datetime as dt
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any

from chipin.bot.commands import read_settle_args
from chipin.bot.messages import Action, Reply
from chipin.bot.views import entry_view
from chipin.core import services
from chipin.core.commands import AddExpense, DeleteEntry, EditEntry, RecordPayment
from chipin.core.entries import Entry, Expense, Payment
from chipin.core.errors import ChipinError
from chipin.core.ledger_doc import entry_to_json
from chipin.core.money import allocate, normalize_currency, to_minor
from chipin.core.splits import AdjustmentSplit, EqualSplit, ExactSplit, PercentSplit, SharesSplit
from chipin.parsing import intents as it
from chipin.parsing.amounts import parse_number
from chipin.parsing.roster import roster_for
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot.replies import notice, undo_button
from chipin.bot.turns import Outcome, Scene


def confirmable(engine: ConversationEngine, intent: it.Intent) -> bool:
    """Record at once, or ask first? Gemini answers need the configured confidence."""
    if intent.parser == "gemini":
        return intent.confidence >= engine.settings.gemini_min_confidence
    return intent.confidence >= 0.9


def record(
    uow: SqlUnitOfWork,
    scene: Scene,
    entry: Entry,
    now: dt.datetime,
    result: dict[str, Any],
    *,
    external_id: str | None = None,
) -> Outcome:
    ext = external_id or f"inbox-{scene.inbox_id}"
    try:
        if isinstance(entry, Expense):
            done = services.add_expense(
                AddExpense(scene.group.id, entry, actor=scene.sender.name, external_id=ext),
                uow,
                clock=lambda: now,
            )
        else:
            done = services.record_payment(
                RecordPayment(scene.group.id, entry, actor=scene.sender.name, external_id=ext),
                uow,
                clock=lambda: now,
            )
    except ChipinError as exc:
        return Outcome(
            replies=[Reply("unclear", {"question": f"I couldn't record that: {exc}."})],
            result=result | {"outcome": "invalid", "error": str(exc)},
            needs_review=True,
        )
    return Outcome(
        replies=[
            Reply(
                "recorded",
                {"entry": entry_view(entry, done.entry_id)},
                actions=(undo_button(done.entry_id),),
            )
        ],
        result=result | {"outcome": "recorded", "entry_id": done.entry_id},
        entry_id=done.entry_id,
    )


def draft(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    scene: Scene,
    entry: Entry,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    kind = "expense" if isinstance(entry, Expense) else "payment"
    draft_id = uow.drafts.create(
        group_id=scene.group.id,
        author_id=scene.sender.id,
        inbox_id=scene.inbox_id,
        kind=kind,
        body=entry_to_json(entry, None),
        expires_at=now + dt.timedelta(minutes=engine.settings.draft_ttl_minutes),
        now=now,
    )
    return Outcome(
        replies=[
            Reply(
                "draft",
                {"entry": entry_view(entry), "author": scene.sender.name},
                actions=(Action("Confirm", f"c:{draft_id}"), Action("Cancel", f"x:{draft_id}")),
            )
        ],
        result=result | {"outcome": "draft", "draft_id": draft_id},
    )


def undo_last(
    uow: SqlUnitOfWork, scene: Scene, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    last = uow.ledger.last_entry(scene.group.id, author=scene.sender.name)
    if last is None:
        return Outcome(
            replies=[notice("You have nothing recorded that I could undo.")],
            result=result | {"outcome": "nothing"},
        )
    services.delete_entry(
        DeleteEntry(scene.group.id, last.id, actor=scene.sender.name), uow, clock=lambda: now
    )
    return Outcome(
        replies=[
            Reply(
                "undone",
                {"entry": entry_view(last.entry, last.id)},
                actions=(Action("Restore", f"r:{last.id}"),),
            )
        ],
        result=result | {"outcome": "undone", "entry_id": last.id},
        entry_id=last.id,
    )


def rescaled(entry: Entry, amount: int) -> Entry:
    """The same entry for a corrected total: payers and fixed parts scale in proportion."""
    if isinstance(entry, Payment):
        return Payment(
            entry.currency,
            amount,
            entry.debtor,
            entry.creditor,
            entry.date,
            entry.notes,
            entry.method,
            entry.author,
        )
    payers = [m for m, _ in entry.paid_by]
    paid = allocate(amount, [abs(a) for _, a in entry.paid_by])
    split = entry.split
    if not isinstance(split, EqualSplit | PercentSplit | SharesSplit | AdjustmentSplit):
        names = [m for m, _ in entry.shares]
        split = ExactSplit(
            tuple(zip(names, allocate(amount, [abs(s) for _, s in entry.shares]), strict=True))
        )
    return Expense(
        entry.currency,
        amount,
        tuple(zip(payers, paid, strict=True)),
        split,
        entry.description,
        entry.date,
        entry.category,
        entry.notes,
        entry.author,
    )


def edit_last(
    uow: SqlUnitOfWork, scene: Scene, intent: it.EditLast, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    last = uow.ledger.last_entry(scene.group.id, author=scene.sender.name)
    if last is None:
        return Outcome(
            replies=[notice("You have nothing recorded that I could change.")],
            result=result | {"outcome": "nothing"},
        )
    entry = last.entry
    try:
        if intent.amount is not None:
            currency = normalize_currency(intent.currency) if intent.currency else entry.currency
            if currency != entry.currency:
                raise ChipinError(
                    "I can change the amount, not the currency; undo it and "
                    "send it again in the right currency"
                )
            entry = rescaled(entry, to_minor(intent.amount, currency))
        if intent.description and isinstance(entry, Expense):
            entry = Expense(
                entry.currency,
                entry.amount,
                entry.paid_by,
                entry.split,
                intent.description,
                entry.date,
                entry.category,
                entry.notes,
                entry.author,
            )
        services.edit_entry(
            EditEntry(scene.group.id, last.id, entry, actor=scene.sender.name),
            uow,
            clock=lambda: now,
        )
    except ChipinError as exc:
        return Outcome(
            replies=[Reply("unclear", {"question": f"I couldn't change it: {exc}."})],
            result=result | {"outcome": "invalid", "error": str(exc)},
            needs_review=True,
        )
    return Outcome(
        replies=[
            Reply("edited", {"entry": entry_view(entry, last.id)}, actions=(undo_button(last.id),))
        ],
        result=result | {"outcome": "edited", "entry_id": last.id},
        entry_id=last.id,
    )


def settle_with(
    uow: SqlUnitOfWork, scene: Scene, args: str, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    parsed = read_settle_args(args)
    if parsed is None:
        return Outcome(
            replies=[notice("Tell me whom you paid and how much: /settle Raj 20")], result=result
        )
    resolution = roster_for(scene.ctx.members).resolve(parsed.name)
    if not resolution.found or resolution.member is None:
        return Outcome(
            replies=[notice(f"I don't know {parsed.name} in {scene.group.name}.")],
            result=result | {"outcome": "unknown member"},
            needs_review=True,
        )
    try:
        currency = normalize_currency(parsed.currency or scene.group.currency)
        number = parse_number(parsed.amount, currency)
        if number is None:
            raise InvalidOperation(f"{parsed.amount!r} is not an amount")
        amount = to_minor(number, currency)
        payment = Payment(
            currency,
            amount,
            scene.sender.name,
            resolution.member,
            scene.ctx.today,
            author=scene.sender.name,
        )
    except (ChipinError, InvalidOperation) as exc:
        return Outcome(replies=[notice(f"I couldn't read that amount: {exc}")], result=result)
    return record(uow, scene, payment, now, result)
