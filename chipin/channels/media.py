"""Media that providers fetch from us by URL: ``GET /media/charts/{token}.png``, the spending
chart a WhatsApp message carries (Twilio downloads it from its ``MediaUrl``).

The token is the whole authorisation: signed with ``CHIPIN_SECRET_KEY`` and expiring (see
:class:`chipin.bot.charts.ChartLinks`). The picture is drawn from the ledger on request; nothing
is written to disk. A forged or altered token is answered 403, an expired one (or one whose
group or spending is gone) 404 — never a 500, and the token itself is never logged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlalchemy import Engine

from chipin.bot.charts import BadLink, ChartLinks, ExpiredLink, chart_png
from chipin.settings import Settings
from chipin.store.uow import SqlUnitOfWork

log = structlog.get_logger("chipin.media")

Clock = Callable[[], dt.datetime]


def media_clock() -> Clock:
    """The clock links expire by; tests replace it with ``app.dependency_overrides``."""
    return lambda: dt.datetime.now(dt.UTC)


ClockDep = Annotated[Clock, Depends(media_clock)]


def media_router() -> APIRouter:
    router = APIRouter()

    @router.api_route("/media/charts/{token}.png", methods=["GET", "HEAD"], include_in_schema=False)
    def chart(token: str, request: Request, clock: ClockDep) -> Response:
        settings: Settings = request.app.state.settings
        links = ChartLinks.from_settings(settings)
        if links is None:  # no key: no link was ever signed here
            raise HTTPException(404)
        try:
            link = links.read(token, clock())
        except ExpiredLink:
            log.info("chipin.media_expired")
            raise HTTPException(404) from None
        except BadLink as exc:
            log.warning("chipin.media_refused", reason=str(exc))
            raise HTTPException(403) from None
        engine: Engine = request.app.state.engine
        with SqlUnitOfWork(engine, readonly=True) as uow:
            png = chart_png(uow, link)
        if png is None:
            raise HTTPException(404)
        log.info("chipin.media_chart", group_id=link.group_id, size=len(png))
        return Response(
            png,
            media_type="image/png",
            headers={
                # the link is the credential: keep shared caches from keeping the picture
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router
