"""What an intent or a command does. Handlers change the ledger only through the core
services (nested in the worker's transaction) and answer with :class:`Reply` values."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError

from chipin.bot.commands import Command
from chipin.bot.messages import Action, Reply
from chipin.bot.views import entry_view
from chipin.core.entries import Entry
from chipin.core.errors import ChipinError
from chipin.core.money import normalize_currency
from chipin.core.records import Group
from chipin.parsing import intents as it
from chipin.parsing.recurrence import Recurrence
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot import planning
from chipin.bot.buttons import undo_or_restore
from chipin.bot.entries import confirmable, draft, edit_last, record, settle_with, undo_last
from chipin.bot.render import format_amount
from chipin.bot.replies import balances_reply, notice, spending_reply
from chipin.bot.turns import Outcome, Scene


def on_intent(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    scene: Scene,
    intent: it.Intent,
    now: dt.datetime,
    *,
    recurrence: Recurrence | None = None,
) -> Outcome:
    ctx = scene.ctx
    result: dict[str, Any] = (
        {"intent": it.intent_to_json(intent, ctx)}
        if _jsonable(intent, ctx)
        else {"intent": {"intent": intent.kind.value, "parser": intent.parser}}
    )
    match intent:
        case it.AddExpense() | it.RecordPayment():
            try:
                entry: Entry = (
                    it.to_expense(intent, ctx)
                    if isinstance(intent, it.AddExpense)
                    else it.to_payment(intent, ctx)
                )
            except ChipinError as exc:
                return Outcome(
                    replies=[Reply("unclear", {"question": f"I couldn't record that: {exc}."})],
                    result=result | {"outcome": "invalid", "error": str(exc)},
                    needs_review=True,
                )
            if recurrence is not None:  # "… every month on the 1st": always confirmed first
                return planning.propose_recurring(
                    engine.settings.draft_ttl_minutes, uow, scene, entry, recurrence, now, result
                )
            if confirmable(engine, intent):
                return record(uow, scene, entry, now, result)
            return draft(engine, uow, scene, entry, now, result)
        case it.ShowBalances():
            return Outcome(replies=[balances_reply(uow, scene.group)], result=result)
        case it.ShowSpending():
            return Outcome(replies=[spending_reply(engine, uow, scene, intent)], result=result)
        case it.SetBudget():
            return planning.set_budget(
                uow,
                scene,
                intent,
                engine.today(scene.group),
                now,
                result,
                settings=engine.settings,  # phone members hear an alert it sets off
            )
        case it.Undo():
            return undo_last(uow, scene, now, result)
        case it.EditLast():
            return edit_last(uow, scene, intent, now, result)
        case it.Help():
            return Outcome(replies=[Reply("help", {"group": scene.group.name})], result=result)
        case it.Join():
            return Outcome(
                replies=[Reply("welcome", {"group": scene.group.name, "name": scene.sender.name})],
                result=result,
            )
        case it.Unclear():
            return Outcome(
                replies=[Reply("unclear", {"question": intent.question})],
                result=result | {"outcome": "asked"},
                needs_review=True,
            )
        case it.NoIntent():
            replies = (
                []
                if scene.message.is_group
                else [Reply("unclear", {"question": "I only keep track of shared expenses."})]
            )
            return Outcome(replies=replies, result=result | {"outcome": "ignored"})
    return Outcome(result=result)  # pragma: no cover - every kind is matched above


def _jsonable(intent: it.Intent, ctx: it.ParseContext) -> bool:
    try:
        it.intent_to_json(intent, ctx)
    except ChipinError:
        return False
    return True


def on_command(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, command: Command, now: dt.datetime
) -> Outcome:
    result: dict[str, Any] = {"command": command.name, "args": command.args}
    group = scene.group
    match command.name:
        case "help":
            return Outcome(replies=[Reply("help", {"group": group.name})], result=result)
        case "balance":
            return Outcome(replies=[balances_reply(uow, group)], result=result)
        case "settle":
            if not command.args:
                return Outcome(replies=[balances_reply(uow, group)], result=result)
            return settle_with(uow, scene, command.args, now, result)
        case "undo":
            return undo_last(uow, scene, now, result)
        case "history":
            recent = uow.ledger.recent_entries(group.id, 10)
            views = [entry_view(s.entry, s.id) for s in reversed(recent)]
            return Outcome(
                replies=[Reply("history", {"group": group.name, "entries": views})], result=result
            )
        case "spending":
            return Outcome(
                replies=[spending_reply(engine, uow, scene, it.ShowSpending())], result=result
            )
        case "currency":
            try:
                code = normalize_currency(command.args or "?")
            except ChipinError:
                return Outcome(
                    replies=[notice("Which currency? For example: /currency EUR")], result=result
                )
            uow.ledger.update_group(group.id, currency=code)
            return Outcome(
                replies=[
                    notice(
                        f"{group.name} now keeps amounts in {code} unless a message says otherwise."
                    )
                ],
                result=result,
            )
        case "timezone":
            try:
                ZoneInfo(command.args)
            except (ZoneInfoNotFoundError, ValueError):
                return Outcome(
                    replies=[notice("Which timezone? For example: /timezone Europe/Lisbon")],
                    result=result,
                )
            uow.ledger.update_group(group.id, timezone=command.args)
            return Outcome(
                replies=[notice(f"{group.name} now lives in {command.args} time.")], result=result
            )
        case "locale":
            return set_locale(uow, group, command.args, result)
        case "delete":
            number = command.args.lstrip("#")
            if not number:
                return undo_last(uow, scene, now, result)
            if not number.isdigit():
                return Outcome(
                    replies=[notice("Which entry? For example: /delete 12")], result=result
                )
            return undo_or_restore(
                uow, scene, int(number), undo=True, now=now, result=result, edit=False
            )
        case "add":
            return propose_guest(engine, uow, scene, command.args, now, result)
        case "join":
            return Outcome(
                replies=[Reply("welcome", {"group": group.name, "name": scene.sender.name})],
                result=result,
            )
        case "budget":
            removed = planning.remove_budget(uow, scene, f"/budget {command.args}", result)
            if removed is not None:
                return removed
            return planning.list_budgets(uow, scene, engine.today(group), result)
        case "digest":
            return planning.set_digest(uow, scene, command.args, now, result)
        case "reminders":
            return planning.set_reminders(uow, scene, command.args, now, result)
        case "recurring":
            return planning.list_recurring(uow, scene, command.args, result)
        case "category":
            return planning.set_category(uow, scene, command.args, now, result)
    return Outcome(
        replies=[notice(f"I don't know /{command.word}. Try /help.")],
        result=result | {"outcome": "unknown"},
    )


def set_locale(uow: SqlUnitOfWork, group: Group, raw: str, result: dict[str, Any]) -> Outcome:
    """How amounts are written for the group ("pt_BR": 1.250,50)."""
    try:
        locale = str(Locale.parse(raw.strip().replace("-", "_")))
    except (ValueError, UnknownLocaleError):
        return Outcome(
            replies=[notice("Which locale? For example: /locale pt_BR or /locale en_IN")],
            result=result,
        )
    uow.ledger.update_group(group.id, locale=locale)
    return Outcome(
        replies=[
            notice(f"{group.name} now writes amounts like {format_amount(125050, 'EUR', locale)}.")
        ],
        result=result,
    )


def propose_guest(
    engine: ConversationEngine,
    uow: SqlUnitOfWork,
    scene: Scene,
    name: str,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    clean = " ".join(name.split())
    if not clean:
        return Outcome(
            replies=[notice("Whom should I add? For example: /add Priya")], result=result
        )
    if uow.ledger.member_by_name(scene.group.id, clean):
        return Outcome(
            replies=[notice(f"{clean} is already in {scene.group.name}.")], result=result
        )
    draft_id = uow.drafts.create(
        group_id=scene.group.id,
        author_id=scene.sender.id,
        inbox_id=scene.inbox_id,
        kind="member",
        body={"name": clean},
        expires_at=now + dt.timedelta(minutes=engine.settings.draft_ttl_minutes),
        now=now,
    )
    return Outcome(
        replies=[
            Reply(
                "notice",
                {
                    "text": f"Add {clean} to {scene.group.name} as a "
                    "guest (someone without the app)?"
                },
                actions=(Action("Add", f"c:{draft_id}"), Action("Cancel", f"x:{draft_id}")),
            )
        ],
        result=result | {"outcome": "draft", "draft_id": draft_id},
    )
