"""Looking ahead: budgets, digests, reminders and recurring expenses, set in chat.

"set a monthly food budget of 300", "budgets", "remove the food budget", "/digest weekly",
"/reminders 7", "rent 1200 every month on the 1st, split equally" (confirmed before it is
set up), "/recurring", "/recurring cancel 2", "/category 12 groceries".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from chipin.bot.alerts import check_budgets
from chipin.bot.commands import REMOVE_BUDGET
from chipin.bot.messages import Action, Reply
from chipin.bot.replies import notice
from chipin.bot.turns import Outcome, Scene
from chipin.bot.views import entry_view
from chipin.core import services
from chipin.core.budgets import PERIODS, Budget, spent, window
from chipin.core.commands import EditEntry
from chipin.core.entries import Entry, Expense
from chipin.core.errors import ChipinError
from chipin.core.ledger_doc import entry_to_json, parse_entry
from chipin.core.recurrence import Rule
from chipin.parsing import intents as it
from chipin.parsing.recurrence import Recurrence
from chipin.settings import Settings
from chipin.store.conversations import conversation_key
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

ADJECTIVE_PERIOD = {"weekly": "week", "monthly": "month", "yearly": "year"}
DIGEST_PERIODS = {
    "weekly": "week",
    "week": "week",
    "monthly": "month",
    "month": "month",
    "yearly": "year",
    "year": "year",
}


def set_budget(
    uow: SqlUnitOfWork,
    scene: Scene,
    intent: it.SetBudget,
    today: dt.date,
    now: dt.datetime,
    result: dict[str, Any],
    *,
    settings: Settings | None = None,
) -> Outcome:
    """Set (or change) a budget. Already past 80% (or 100%)? The group hears it now: after the
    answer in this conversation, in the group's other chats and — with ``settings`` — on the
    phones of its members (WhatsApp first, SMS otherwise; ``alerts.queue_to_group``)."""
    budget = Budget(scene.group.id, intent.amount, intent.currency, intent.period, intent.category)
    budget_id = ScheduleRepository(uow.connection).set_budget(budget, None, now)
    start, end = window(budget, today)
    so_far = spent(
        budget, [s.entry for s in uow.ledger.entries_between(scene.group.id, start, end)]
    )
    reply = Reply(
        "budget_set",
        {
            "label": budget.label(),
            "amount": budget.amount,
            "currency": budget.currency,
            "spent": so_far,
        },
    )
    replies = [reply]
    here = (conversation_key(scene.message.channel, scene.message.chat_id), replies)
    check_budgets(uow, scene.group, today, now, here=here, settings=settings)
    return Outcome(
        replies=replies, result=result | {"outcome": "budget set", "budget_id": budget_id}
    )


def list_budgets(
    uow: SqlUnitOfWork, scene: Scene, today: dt.date, result: dict[str, Any]
) -> Outcome:
    rows = []
    for budget, _ in ScheduleRepository(uow.connection).budgets(scene.group.id):
        start, end = window(budget, today)
        entries = [s.entry for s in uow.ledger.entries_between(scene.group.id, start, end)]
        rows.append(
            {
                "label": budget.label(),
                "amount": budget.amount,
                "currency": budget.currency,
                "spent": spent(budget, entries),
            }
        )
    return Outcome(
        replies=[Reply("budgets", {"group": scene.group.name, "budgets": rows})],
        result=result | {"outcome": "listed"},
    )


def remove_budget(
    uow: SqlUnitOfWork, scene: Scene, text: str, result: dict[str, Any]
) -> Outcome | None:
    """None when the text is not a request to remove a budget."""
    text = text.strip()
    if text.lower().startswith("/budget ") and not text.lower().endswith("budget"):
        text += " budget"  # "/budget remove food" says the same as "remove the food budget"
    match = REMOVE_BUDGET.match(text)
    if match is None:
        return None
    period = ADJECTIVE_PERIOD.get((match.group("period") or "").lower())
    category = match.group("category")
    if category and category.lower() in ("the", "our", "my", "group"):
        category = None
    removed = ScheduleRepository(uow.connection).remove_budget(scene.group.id, period, category)
    what = " ".join(x for x in (match.group("period"), category, "budget") if x)
    text_out = f"Removed the {what}." if removed else f"There is no {what} to remove."
    return Outcome(
        replies=[notice(text_out)], result=result | {"outcome": "removed", "removed": removed}
    )


def set_digest(
    uow: SqlUnitOfWork, scene: Scene, args: str, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    words = args.lower().split()
    schedule = ScheduleRepository(uow.connection)
    if words and words[0] in ("off", "stop", "none"):
        for each in PERIODS:
            schedule.set_digest(scene.group.id, each, False, now)
        return Outcome(replies=[notice("No more digests.")], result=result)
    period = DIGEST_PERIODS.get(words[0]) if words else None
    if period is None:
        return Outcome(
            replies=[
                notice(
                    "Which digest? /digest weekly, /digest monthly, /digest yearly or /digest off"
                )
            ],
            result=result,
        )
    on = not (len(words) > 1 and words[1] in ("off", "stop"))
    schedule.set_digest(scene.group.id, period, on, now)
    adjective = {"week": "weekly", "month": "monthly", "year": "yearly"}[period]
    return Outcome(
        replies=[
            notice(
                f"{'I will send' if on else 'No more'} {adjective} "
                f"digests{' on the first day of each period' if on else ''}."
            )
        ],
        result=result | {"outcome": "digest", "period": period, "on": on},
    )


def set_reminders(
    uow: SqlUnitOfWork, scene: Scene, args: str, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    words = args.lower().split()
    schedule = ScheduleRepository(uow.connection)
    if words and words[0] in ("off", "stop", "none"):
        schedule.set_reminders(scene.group.id, None, 7, now)
        return Outcome(replies=[notice("Reminders are off.")], result=result)
    if not words or not words[0].isdigit() or not 1 <= int(words[0]) <= 365:
        return Outcome(
            replies=[
                notice(
                    "Remind after how many days of owing? For example: "
                    "/reminders 7 (or /reminders off)"
                )
            ],
            result=result,
        )
    days = int(words[0])
    every = int(words[1]) if len(words) > 1 and words[1].isdigit() else 7
    schedule.set_reminders(scene.group.id, days, max(1, every), now)
    return Outcome(
        replies=[
            notice(
                f"I'll remind anyone who has owed money for more than {days} "
                f"days, at most once every {max(1, every)} days."
            )
        ],
        result=result | {"outcome": "reminders", "after_days": days},
    )


def propose_recurring(
    engine_ttl_minutes: int,
    uow: SqlUnitOfWork,
    scene: Scene,
    entry: Entry,
    recurrence: Recurrence,
    now: dt.datetime,
    result: dict[str, Any],
) -> Outcome:
    start = recurrence.first_on_or_after(scene.ctx.today)
    rule = Rule(recurrence.frequency, start, recurrence.interval, recurrence.day)
    kind = "expense" if isinstance(entry, Expense) else "payment"
    body = {
        "kind": kind,
        "entry": entry_to_json(entry, None),
        "rule": {
            "frequency": rule.frequency,
            "interval": rule.interval,
            "day": rule.day,
            "start": start.isoformat(),
        },
    }
    draft_id = uow.drafts.create(
        group_id=scene.group.id,
        author_id=scene.sender.id,
        inbox_id=scene.inbox_id,
        kind="recurring",
        body=body,
        expires_at=now + dt.timedelta(minutes=engine_ttl_minutes),
        now=now,
    )
    reply = Reply(
        "recurring_draft",
        {"entry": entry_view(entry), "rule": rule.describe(), "next": start.isoformat()},
        actions=(Action("Set up", f"c:{draft_id}"), Action("Cancel", f"x:{draft_id}")),
    )
    return Outcome(replies=[reply], result=result | {"outcome": "draft", "draft_id": draft_id})


def confirm_recurring(
    uow: SqlUnitOfWork, scene: Scene, body: dict[str, Any], now: dt.datetime
) -> tuple[int, str] | None:
    """Create the rule a confirmed draft describes; (rule id, description) or None if invalid."""
    names = [m.name for m in uow.ledger.members(scene.group.id)]
    entry, problems = parse_entry(body["kind"], body["entry"], names, scene.group.currency)
    if entry is None or problems:
        return None
    spec = body["rule"]
    rule = Rule(
        spec["frequency"], dt.date.fromisoformat(spec["start"]), spec["interval"], spec["day"]
    )
    rule_id = ScheduleRepository(uow.connection).add_recurring(
        scene.group.id, scene.sender.id, body["kind"], body["entry"], rule, now
    )
    return rule_id, rule.describe()


def list_recurring(uow: SqlUnitOfWork, scene: Scene, args: str, result: dict[str, Any]) -> Outcome:
    schedule = ScheduleRepository(uow.connection)
    words = args.lower().split()
    if words and words[0] in ("cancel", "stop", "delete", "remove"):
        if len(words) < 2 or not words[1].lstrip("#").isdigit():
            return Outcome(
                replies=[notice("Which one? For example: /recurring cancel 2")], result=result
            )
        rule_id = int(words[1].lstrip("#"))
        done = schedule.cancel_recurring(scene.group.id, rule_id)
        return Outcome(
            replies=[
                notice(
                    f"Stopped recurring entry #{rule_id}."
                    if done
                    else f"There is no recurring entry #{rule_id}."
                )
            ],
            result=result | {"outcome": "cancelled" if done else "unknown"},
        )
    rules = [
        {
            "id": r.id,
            "description": r.body.get("description") or r.kind,
            "amount": r.body.get("amount"),
            "currency": r.body.get("currency"),
            "rule": r.rule.describe(),
            "last": r.last_occurrence.isoformat() if r.last_occurrence else None,
        }
        for r in schedule.recurring(scene.group.id)
    ]
    return Outcome(
        replies=[Reply("recurring_list", {"group": scene.group.name, "rules": rules})],
        result=result | {"outcome": "listed"},
    )


def set_category(
    uow: SqlUnitOfWork, scene: Scene, args: str, now: dt.datetime, result: dict[str, Any]
) -> Outcome:
    words = args.split()
    if len(words) < 2 or not words[0].lstrip("#").isdigit():
        return Outcome(replies=[notice("For example: /category 12 groceries")], result=result)
    entry_id, category = int(words[0].lstrip("#")), " ".join(words[1:]).lower()[:64]
    stored = uow.ledger.entry(scene.group.id, entry_id)
    if stored is None or not isinstance(stored.entry, Expense):
        return Outcome(replies=[notice(f"There is no expense #{entry_id}.")], result=result)
    old = stored.entry
    new = Expense(
        old.currency,
        old.amount,
        old.paid_by,
        old.split,
        old.description,
        old.date,
        category,
        old.notes,
        old.author,
    )
    try:
        services.edit_entry(
            EditEntry(scene.group.id, entry_id, new, actor=scene.sender.name),
            uow,
            clock=lambda: now,
        )
    except ChipinError as exc:
        return Outcome(replies=[notice(str(exc))], result=result)
    return Outcome(
        replies=[notice(f"#{entry_id} is now in {category}.")],
        result=result | {"outcome": "categorised", "entry_id": entry_id},
    )
