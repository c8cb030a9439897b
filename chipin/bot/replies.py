"""Reply builders shared by the handlers: notices, buttons, balances and spending."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from chipin.bot.charts import spending_chart
from chipin.bot.messages import Action, Reply
from chipin.core import services
from chipin.core.entries import Entry
from chipin.core.records import Group
from chipin.core.reports import (
    PERIOD_LABELS,
    SpendingTotal,
    month_range,
    period_range,
    previous_range,
    spending,
)
from chipin.parsing import intents as it
from chipin.parsing.periods import named_month
from chipin.store.uow import SqlUnitOfWork

if TYPE_CHECKING:
    from chipin.bot.conversation import ConversationEngine


from chipin.bot.turns import Scene


def notice(text: str, *, edit: bool = False, private: bool = False) -> Reply:
    return Reply("notice", {"text": text}, edit=edit, private=private)


def undo_button(entry_id: int) -> Action:
    return Action("Undo", f"u:{entry_id}")


def balances_reply(uow: SqlUnitOfWork, group: Group) -> Reply:
    by_currency, plans = services.balances_and_plans(uow, group.id)
    currencies = [
        {
            "currency": c,
            "balances": [
                {"name": m, "amount": a} for m, a in sorted(v.items(), key=lambda kv: -kv[1])
            ],
            "transfers": [
                {"debtor": t.debtor, "creditor": t.creditor, "amount": t.amount}
                for t in plans.get(c, [])
            ],
        }
        for c, v in by_currency.items()
        if any(v.values())
    ]
    return Reply("balances", {"group": group.name, "currencies": currencies})


def totals_view(total: SpendingTotal) -> dict[str, Any]:
    """A currency's spending as the report and digest templates read it, biggest first."""

    def biggest_first(parts: dict[str, int]) -> list[dict[str, Any]]:
        return [{"name": k, "amount": v} for k, v in sorted(parts.items(), key=lambda kv: -kv[1])]

    return {
        "currency": total.currency,
        "amount": total.total,
        "by_category": biggest_first(total.by_category),
        "by_member": biggest_first(total.by_member),
    }


def spending_reply(
    engine: ConversationEngine, uow: SqlUnitOfWork, scene: Scene, intent: it.ShowSpending
) -> Reply:
    """Totals by category and member for the asked period (a named month too), beside the
    period before it; the whole group's report has a chart."""
    today = engine.today(scene.group)
    month = named_month(scene.message.text) if intent.period is None else None
    if month is not None:
        start, end = month_range(month, today)
        label = "in " + start.strftime("%B %Y")
    else:
        period = intent.period or "month"
        start, end = period_range(period, today)
        label = PERIOD_LABELS.get(period, period)

    def entries_between(a: dt.date, b: dt.date) -> list[Entry]:
        return [s.entry for s in uow.ledger.entries_between(scene.group.id, a, b)]

    def totals_of(entries: list[Entry]) -> list[SpendingTotal]:
        return spending(entries, category=intent.category, member=intent.member)

    current = entries_between(start, end)
    before = previous_range(start, end)
    previous = {t.currency: t.total for t in totals_of(entries_between(*before))} if before else {}
    chart = None
    if intent.category is None and intent.member is None:
        chart = spending_chart(
            current, scene.group, start, end, label, settings=engine.settings, now=engine.clock()
        )
    return Reply(
        "spending",
        {
            "group": scene.group.name,
            "period_label": label,
            "category": intent.category,
            "member": intent.member,
            "totals": [
                totals_view(t) | {"previous": previous.get(t.currency, 0) if before else None}
                for t in totals_of(current)
            ],
        },
        chart=chart,
    )
