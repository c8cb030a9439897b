"""The dashboard's message pages: the webhook log (the inbox) with a message's parse, replies
and raw payload; the outbox with retry and cancel; the parse review.

Only a *failed* message can be reprocessed: a done one would be applied a second time (its
entry, its replies), so its text is replayed in the playground instead. Retrying an outbound
message resets its count of tries; the dispatcher is woken at once.
"""

from __future__ import annotations

import datetime as dt

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from chipin.admin import queries as q
from chipin.admin.auth import ClockDep, SessionDep, safe_next
from chipin.admin.deps import EngineDep, SettingsDep, redirect
from chipin.admin.pages import Pages
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.admin")


def wake_worker(request: Request) -> None:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.wake()


def wake_dispatcher(request: Request) -> None:
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.wake_dispatcher.set()


def parse_time(raw: str | None) -> dt.datetime | None:
    """A ``datetime-local`` value (read as UTC) or an ISO timestamp; ValueError when neither."""
    if not raw:
        return None
    value = dt.datetime.fromisoformat(raw)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def parse_int(raw: str | None) -> int | None:
    if not raw:
        return None
    value = int(raw)
    if not 0 < value < 2**62:
        raise ValueError(raw)
    return value


def add_message_routes(router: APIRouter, pages: Pages) -> None:
    @router.get("/inbox", name="admin_inbox")
    def inbox(request: Request, session: SessionDep, engine: EngineDep) -> HTMLResponse:
        params = {k: v for k, v in request.query_params.items() if k not in ("before", "notice")}
        bad = False
        try:
            since, until = parse_time(params.get("from")), parse_time(params.get("to"))
            group_id, before = (
                parse_int(params.get("group")),
                parse_int(request.query_params.get("before")),
            )
        except ValueError:
            since = until = None
            group_id = before = None
            bad = True
        status = params.get("status") if params.get("status") in q.INBOX_STATUSES else None
        filters = q.InboxFilter(
            channel=params.get("channel") or None,
            status=status,
            group_id=group_id,
            since=since,
            until=until,
            review=params.get("review") == "1",
            before=before,
        )
        with engine.connect() as conn:
            rows = q.list_inbox(conn, filters)
            channels, groups = q.inbox_channels(conn), q.group_names(conn)
        response = pages.render(
            request,
            "inbox.html.j2",
            session,
            rows=rows,
            params=params,
            channels=channels,
            groups=groups,
            statuses=q.INBOX_STATUSES,
            older=rows[-1].id if len(rows) == filters.limit else None,
            bad_filter=bad,
        )
        return response

    @router.get("/inbox/{inbox_id}", name="admin_inbox_detail")
    def inbox_detail(
        inbox_id: int,
        request: Request,
        session: SessionDep,
        engine: EngineDep,
        settings: SettingsDep,
    ) -> HTMLResponse:
        with engine.connect() as conn:
            row = q.inbox_row(conn, inbox_id)
            if row is None:
                raise HTTPException(404, f"no inbox message {inbox_id}")
            replies = q.replies_to(conn, inbox_id)
            group = q.group_of_key(conn, row.conversation_key)
        return pages.render(
            request,
            "inbox_detail.html.j2",
            session,
            row=row,
            replies=replies,
            group=group,
            playground=settings.env == "development",
        )

    @router.post("/inbox/{inbox_id}/reprocess")
    async def reprocess(
        inbox_id: int, request: Request, session: SessionDep, engine: EngineDep, clock: ClockDep
    ) -> Response:
        now = clock()

        def apply() -> bool:
            with SqlUnitOfWork(engine) as uow:
                done = uow.inbox.reprocess(inbox_id)
                if done:
                    q.record_action(
                        uow.connection, session.actor, "reprocess", f"inbox {inbox_id}", now
                    )
                uow.commit()
            return done

        done = await run_in_threadpool(apply)
        if done:
            wake_worker(request)
            log.info("chipin.admin_reprocess", inbox_id=inbox_id, actor=session.actor)
        return redirect(f"/admin/inbox/{inbox_id}", "reprocessed" if done else "not-reprocessed")

    @router.post("/inbox/{inbox_id}/dismiss")
    async def dismiss(
        inbox_id: int, request: Request, session: SessionDep, engine: EngineDep, clock: ClockDep
    ) -> Response:
        now = clock()

        def apply() -> bool:
            with engine.begin() as conn:
                done = q.dismiss_review(conn, inbox_id)
                if done:
                    q.record_action(conn, session.actor, "dismiss", f"inbox {inbox_id}", now)
                return done

        done = await run_in_threadpool(apply)
        return redirect("/admin/review", "dismissed" if done else "not-dismissed")

    @router.get("/outbox", name="admin_outbox")
    def outbox(request: Request, session: SessionDep, engine: EngineDep) -> HTMLResponse:
        params = {k: v for k, v in request.query_params.items() if k not in ("before", "notice")}
        status = params.get("status", "")
        statuses = (status,) if status in q.OUTBOX_STATUSES else q.OUTBOX_PROBLEMS
        try:
            before = parse_int(request.query_params.get("before"))
        except ValueError:
            before = None
        with engine.connect() as conn:
            rows = q.list_outbox(
                conn, statuses, channel=params.get("channel") or None, before=before
            )
        return pages.render(
            request,
            "outbox.html.j2",
            session,
            rows=rows,
            params=params,
            statuses=q.OUTBOX_STATUSES,
            older=rows[-1].id if len(rows) == q.PAGE else None,
        )

    def outbox_action(name: str, notice: str) -> None:
        @router.post(f"/outbox/{{outbox_id}}/{name}", name=f"admin_outbox_{name}")
        async def act(
            outbox_id: int,
            request: Request,
            session: SessionDep,
            engine: EngineDep,
            clock: ClockDep,
        ) -> Response:
            now = clock()

            def apply() -> bool:
                with SqlUnitOfWork(engine) as uow:
                    queue = uow.outbox
                    done = (
                        queue.retry(outbox_id, now)
                        if name == "retry"
                        else queue.cancel(outbox_id, now)
                    )
                    if done:
                        q.record_action(
                            uow.connection, session.actor, name, f"outbox {outbox_id}", now
                        )
                    uow.commit()
                return done

            done = await run_in_threadpool(apply)
            if done and name == "retry":
                wake_dispatcher(request)
            if done:
                log.info(f"chipin.admin_{name}", outbox_id=outbox_id, actor=session.actor)
            back = safe_next(request.query_params.get("back") or "/admin/outbox")
            return redirect(back, notice if done else f"not-{notice}")

    outbox_action("retry", "retried")
    outbox_action("cancel", "cancelled")

    @router.get("/review", name="admin_review")
    def review(
        request: Request, session: SessionDep, engine: EngineDep, settings: SettingsDep
    ) -> HTMLResponse:
        try:
            before = parse_int(request.query_params.get("before"))
        except ValueError:
            before = None
        with engine.connect() as conn:
            rows = q.list_inbox(conn, q.InboxFilter(review=True, before=before))
        return pages.render(
            request,
            "review.html.j2",
            session,
            rows=rows,
            older=rows[-1].id if len(rows) == q.PAGE else None,
            playground=settings.env == "development",
        )
