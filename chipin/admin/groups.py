"""The dashboard's group pages: members, entries (edit, delete, restore — through the same core
services the bot uses, so every change is audited and the balances follow), balances and the
settle-up plan."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import InvalidOperation
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import Engine

from chipin.admin import queries as q
from chipin.admin.auth import ClockDep, SessionDep, read_form
from chipin.admin.deps import EngineDep, redirect
from chipin.admin.pages import Pages
from chipin.bot.entries import rescaled
from chipin.bot.views import entry_view
from chipin.core import services
from chipin.core.budgets import spent, window
from chipin.core.commands import DeleteEntry, EditEntry, RestoreEntry
from chipin.core.entries import Entry, Expense
from chipin.core.errors import ChipinError, EntryNotFound
from chipin.core.money import format_minor, to_minor
from chipin.core.records import AuditRecord, Group, StoredEntry
from chipin.store.schedule import ScheduleRepository
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.admin")

ENTRIES_SHOWN = 100
FormDep = Annotated[dict[str, str], Depends(read_form)]


def edited(entry: Entry, form: dict[str, str]) -> Entry:
    """The entry with the form's changes: a new amount re-splits like the bot's "actually 45"
    (payers and fixed parts scale in proportion); description, category, date, method as typed."""
    amount = form.get("amount", "").strip().replace(",", "")
    if amount:
        minor = to_minor(amount, entry.currency)
        if minor != entry.amount:
            entry = rescaled(entry, minor)
    date = (
        dt.date.fromisoformat(form["date"].strip()) if form.get("date", "").strip() else entry.date
    )
    if isinstance(entry, Expense):
        description = " ".join(form.get("description", entry.description).split())
        return dataclasses.replace(
            entry,
            description=description or entry.description,
            category=" ".join(form.get("category", entry.category or "").split()) or None,
            date=date,
        )
    return dataclasses.replace(
        entry, date=date, method=" ".join(form.get("method", entry.method or "").split()) or None
    )


def entry_row(stored: StoredEntry, audit: list[AuditRecord]) -> dict[str, Any]:
    entry = stored.entry
    view = entry_view(entry, stored.id)
    return view | {
        "external_id": stored.external_id,
        "deleted": stored.deleted,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
        "is_expense": isinstance(entry, Expense),
        "amount_text": format_minor(entry.amount, entry.currency),
        "raw_description": entry.description if isinstance(entry, Expense) else "",
        "category": entry.category if isinstance(entry, Expense) else None,
        "method": None if isinstance(entry, Expense) else entry.method,
        "audit": audit,
    }


def budget_rows(uow: SqlUnitOfWork, group: Group, now: dt.datetime) -> list[dict[str, Any]]:
    """Each budget with what was spent against it in its current period (the group's time)."""
    today = now.astimezone(ZoneInfo(group.timezone)).date()
    rows = []
    for budget, _ in ScheduleRepository(uow.connection).budgets(group.id):
        start, end = window(budget, today)
        entries = uow.ledger.entries_between(group.id, start, end)
        used = spent(budget, (s.entry for s in entries))
        rows.append(
            {
                "label": budget.label(),
                "limit": budget.amount,
                "currency": budget.currency,
                "spent": used,
                "percent": used * 100 // budget.amount,
                "start": start,
                "last": end - dt.timedelta(days=1),
            }
        )
    return rows


def group_page_context(
    engine: Engine, group_id: int, now: dt.datetime, *, show_all: bool = False
) -> dict[str, Any]:
    with SqlUnitOfWork(engine, readonly=True) as uow:
        try:
            group = uow.ledger.group(group_id)
        except LookupError:
            raise HTTPException(404, f"no group {group_id}") from None
        members = uow.ledger.members(group_id)
        stored = list(uow.ledger.entries(group_id, include_deleted=True))
        trail: dict[int | None, list[AuditRecord]] = {}
        for record in uow.ledger.audit(group_id):
            trail.setdefault(record.entry_id, []).append(record)
        balances = uow.ledger.balances(group_id)
        plans = services.settle_up(uow, group_id, remember=False)
        conversations = sorted(uow.conversations.for_group(group_id), key=lambda c: c.id)
        identities = q.member_identities(uow.connection, group_id)
        budgets = budget_rows(uow, group, now)
    stored.reverse()  # newest first
    shown = stored if show_all else stored[:ENTRIES_SHOWN]
    return {
        "group": group,
        "members": members,
        "identities": identities,
        "conversations": conversations,
        "entries": [entry_row(s, trail.get(s.id, [])) for s in shown],
        "hidden": len(stored) - len(shown),
        "balances": balances,
        "plans": plans,
        "budgets": budgets,
    }


def add_group_routes(router: APIRouter, pages: Pages) -> None:
    @router.get("/groups", name="admin_groups")
    def groups(request: Request, session: SessionDep, engine: EngineDep) -> HTMLResponse:
        with engine.connect() as conn:
            rows = q.list_groups(conn)
        return pages.render(request, "groups.html.j2", session, groups=rows)

    @router.get("/groups/{group_id}", name="admin_group")
    def group(
        group_id: int, request: Request, session: SessionDep, engine: EngineDep, clock: ClockDep
    ) -> HTMLResponse:
        show_all = request.query_params.get("all") == "1"
        context = group_page_context(engine, group_id, clock(), show_all=show_all)
        return pages.render(request, "group.html.j2", session, error=None, **context)

    @router.post("/groups/{group_id}/entries/{entry_id}/edit")
    def edit(
        group_id: int,
        entry_id: int,
        request: Request,
        session: SessionDep,
        engine: EngineDep,
        clock: ClockDep,
        form: FormDep,
    ) -> Response:
        now = clock()
        try:
            with SqlUnitOfWork(engine) as uow:
                stored = uow.ledger.entry(group_id, entry_id)
                if stored is None:
                    raise HTTPException(404, f"no entry {entry_id} in group {group_id}")
                entry = edited(stored.entry, form)
                if entry == stored.entry:
                    return _back(group_id, entry_id, "unchanged")
                services.edit_entry(
                    EditEntry(group_id, entry_id, entry, actor=session.actor),
                    uow,
                    clock=lambda: now,
                )
                q.record_action(
                    uow.connection,
                    session.actor,
                    "edit",
                    f"entry {entry_id}",
                    now,
                    {"group": group_id},
                )
                uow.commit()
        except (ChipinError, ValueError, InvalidOperation) as exc:
            context = group_page_context(engine, group_id, now)
            message = f"Entry #{entry_id} was not changed: {exc}"
            return pages.render(
                request, "group.html.j2", session, status_code=422, error=message, **context
            )
        log.info("chipin.admin_edit", entry_id=entry_id, actor=session.actor)
        return _back(group_id, entry_id, "edited")

    def deleting(action: str) -> None:
        @router.post(f"/groups/{{group_id}}/entries/{{entry_id}}/{action}", name=f"admin_{action}")
        def act(
            group_id: int,
            entry_id: int,
            session: SessionDep,
            engine: EngineDep,
            clock: ClockDep,
        ) -> Response:
            now = clock()
            command = (DeleteEntry if action == "delete" else RestoreEntry)(
                group_id, entry_id, actor=session.actor
            )
            run = services.delete_entry if action == "delete" else services.restore_entry
            try:
                with SqlUnitOfWork(engine) as uow:
                    done = run(command, uow, clock=lambda: now)  # type: ignore[arg-type]
                    if done.created:
                        q.record_action(
                            uow.connection,
                            session.actor,
                            action,
                            f"entry {entry_id}",
                            now,
                            {"group": group_id},
                        )
                    uow.commit()
            except EntryNotFound:
                raise HTTPException(404, f"no entry {entry_id} in group {group_id}") from None
            log.info(f"chipin.admin_{action}", entry_id=entry_id, actor=session.actor)
            notice = (
                ("deleted" if action == "delete" else "restored") if done.created else "unchanged"
            )
            return _back(group_id, entry_id, notice)

    deleting("delete")
    deleting("restore")


def _back(group_id: int, entry_id: int, notice: str) -> RedirectResponse:
    return redirect(f"/admin/groups/{group_id}?notice={notice}#entry-{entry_id}")
