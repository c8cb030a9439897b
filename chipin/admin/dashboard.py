"""The admin dashboard (``/admin/…``): log in, watch what the channels send and what Chipin
answered, and repair what failed — reprocess a failed message, retry or cancel an outbound one,
edit, delete or restore entries through the same services the bot uses.

Every route depends on the session guard except the login page and the two static files (they
hold no data). Forms are plain HTML posts answered with a redirect; every post carries the
session's CSRF token. This module holds the login, the overview and the router; the message
and group pages live in ``messages`` and ``groups``.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from chipin.admin import queries as q
from chipin.admin import stats
from chipin.admin.auth import (
    COOKIE,
    LOGIN_COOKIE,
    AdminAuth,
    AdminRoute,
    ClockDep,
    SessionDep,
    check_login,
    client_address,
    get_policy,
    is_https,
    read_form,
    safe_next,
    set_session_cookie,
)
from chipin.admin.deps import EngineDep, SettingsDep, redirect
from chipin.admin.groups import add_group_routes
from chipin.admin.messages import add_message_routes
from chipin.admin.pages import HERE, Pages
from chipin.settings import Settings

log = structlog.get_logger("chipin.admin")

STATIC = {
    "admin.js": "text/javascript; charset=utf-8",
    "admin.css": "text/css; charset=utf-8",
}
TELEGRAM_STATUS_TIMEOUT = 3.0
TelegramStatus = Callable[[], Awaitable[dict[str, Any]]]
"""The optional hook ``app.state.telegram_webhook_status``: getWebhookInfo as a dict."""


def configured_channels(settings: Settings) -> list[dict[str, Any]]:
    """Which channels this deployment has, from the settings (no secret is shown)."""
    telegram = settings.telegram_bot_token is not None
    webhook = bool(settings.telegram_webhook_secret and settings.public_base_url)
    twilio = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    return [
        {
            "name": "web playground",
            "on": settings.env == "development",
            "note": "development only",
        },
        {
            "name": "telegram",
            "on": telegram,
            "note": ("webhook" if webhook else "long polling")
            if telegram
            else "TELEGRAM_BOT_TOKEN is not set",
        },
        {
            "name": "whatsapp",
            "on": twilio and bool(settings.twilio_whatsapp_from),
            "note": "Twilio" if twilio else "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set",
        },
        {
            "name": "sms",
            "on": twilio and bool(settings.twilio_sms_from),
            "note": "Twilio" if twilio else "TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN are not set",
        },
        {
            "name": "gemini parser",
            "on": settings.gemini_enabled,
            "note": settings.gemini_model
            if settings.gemini_enabled
            else f"parser {settings.parser}",
        },
    ]


async def telegram_status(request: Request, settings: Settings) -> dict[str, Any]:
    """The Telegram webhook as Telegram sees it, when the Telegram module offers the hook."""
    if settings.telegram_bot_token is None:
        return {"state": "not configured"}
    hook: TelegramStatus | None = getattr(request.app.state, "telegram_webhook_status", None)
    if hook is None:
        return {"state": "configured (status not available)"}
    try:
        info = await asyncio.wait_for(hook(), TELEGRAM_STATUS_TIMEOUT)
    except Exception as exc:  # the dashboard still renders; the error is the status
        log.warning("chipin.admin_telegram_status_failed", error=type(exc).__name__)
        return {"state": "unreachable", "error": type(exc).__name__}
    return {"state": "ok", **info}


def admin_router() -> APIRouter:
    """The whole dashboard under ``/admin``; its keys belong to this router (one per app)."""
    auth = AdminAuth()
    pages = Pages()
    public = APIRouter(prefix="/admin", route_class=AdminRoute)
    guarded = APIRouter(
        prefix="/admin", route_class=AdminRoute, dependencies=[Depends(auth.require)]
    )

    # -- public: the login and the static files ------------------------------------------------

    @public.get("/static/{name}", name="admin_static")
    def static(name: str) -> Response:
        media_type = STATIC.get(name)
        if media_type is None:
            raise HTTPException(status_code=404, detail="Not Found")
        return Response(
            (HERE / "static" / name).read_bytes(),
            media_type=media_type,
            headers={"Cache-Control": "no-cache"},
        )

    def login_page(
        request: Request, *, error: str | None = None, status_code: int = 200
    ) -> HTMLResponse:
        token = secrets.token_urlsafe(24)
        response = pages.render(
            request,
            "login.html.j2",
            None,
            status_code=status_code,
            login_token=token,
            error=error,
            next=safe_next(request.query_params.get("next")),
        )
        response.set_cookie(
            LOGIN_COOKIE,
            token,
            max_age=3600,
            path="/admin/login",
            secure=is_https(request),
            httponly=True,
            samesite="strict",
        )
        return response

    @public.get("/login", name="admin_login")
    def login_form(request: Request, clock: ClockDep) -> Response:
        policy = get_policy(request)
        if not policy.enabled:
            raise HTTPException(503, "the dashboard is disabled: CHIPIN_ADMIN_PASSWORD is not set")
        if auth.read_session(policy, request.cookies.get(COOKIE), clock()) is not None:
            return redirect(safe_next(request.query_params.get("next")))
        return login_page(request)

    @public.post("/login")
    async def login(request: Request, clock: ClockDep, engine: EngineDep) -> Response:
        policy = get_policy(request)
        if not policy.enabled:
            raise HTTPException(503, "the dashboard is disabled: CHIPIN_ADMIN_PASSWORD is not set")
        form = await read_form(request)
        expected = request.cookies.get(LOGIN_COOKIE, "")
        if not expected or not secrets.compare_digest(form.get("csrf", ""), expected):
            return login_page(request, error="The form expired; try again.", status_code=403)
        client, now = client_address(request), clock()
        outcome = await run_in_threadpool(
            check_login, engine, policy, client, form.get("password", ""), now
        )
        if not outcome.ok:
            response = login_page(request, error=outcome.message, status_code=outcome.status)
            if outcome.retry_after is not None:
                response.headers["Retry-After"] = str(outcome.retry_after)
            return response
        session, token = auth.open_session(policy, now)

        def audit() -> None:
            with engine.begin() as conn:
                q.record_action(conn, session.actor, "login", None, now, {"client": client})

        await run_in_threadpool(audit)
        log.info("chipin.admin_login", actor=session.actor, client=client)
        entered = redirect(safe_next(form.get("next")))
        set_session_cookie(request, entered, token)
        entered.delete_cookie(LOGIN_COOKIE, path="/admin/login")
        return entered

    # -- guarded ---------------------------------------------------------------------------------

    @guarded.post("/logout")
    def logout(request: Request) -> Response:
        request.state.admin_cookie = None  # no refresh of a session that is ending
        response = redirect("/admin/login")
        response.delete_cookie(COOKIE, path="/admin")
        return response

    @guarded.get("", name="admin_overview")
    async def overview(
        request: Request,
        session: SessionDep,
        engine: EngineDep,
        settings: SettingsDep,
        clock: ClockDep,
    ) -> HTMLResponse:
        now = clock()

        def read() -> dict[str, Any]:
            with engine.connect() as conn:
                return {
                    "channels": stats.channel_stats(conn, now),
                    "depths": stats.queue_depths(conn),
                    "latency": stats.latency(conn, now),
                    "actions": q.recent_actions(conn, 10),
                }

        figures = await run_in_threadpool(read)
        return pages.render(
            request,
            "overview.html.j2",
            session,
            configured=configured_channels(settings),
            telegram=await telegram_status(request, settings),
            now=now,
            **figures,
        )

    add_message_routes(guarded, pages)
    add_group_routes(guarded, pages)

    router = APIRouter(include_in_schema=False)
    router.include_router(public)
    router.include_router(guarded)
    return router
