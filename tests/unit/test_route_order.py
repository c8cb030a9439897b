"""The webhook routes come first in the app (routes are tried in order; providers post most)
and no other route could answer their paths, so the order changes nothing else."""

from __future__ import annotations

from typing import Any

from starlette.routing import Match

from chipin.app import create_app
from chipin.settings import Settings

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WEBHOOK_PATHS = [
    "/webhooks/telegram",
    "/webhooks/twilio/whatsapp",
    "/webhooks/twilio/sms",
    "/webhooks/twilio/status",
]


def paths(route: Any) -> list[str]:
    """A route's path, or the paths of an included router's routes (FastAPI keeps an included
    router as one entry)."""
    router = getattr(route, "original_router", None)
    if router is not None:
        return [p for r in router.routes for p in paths(r)]
    return [route.path] if hasattr(route, "path") else []


def test_webhooks_are_the_first_routes_and_only_they_match_their_paths() -> None:
    app = create_app(Settings(chipin_env="development"), background=False)
    entries = [r for r in app.router.routes if not DOCS & set(paths(r))]
    assert paths(entries[0]) == ["/webhooks/telegram"]
    assert paths(entries[1]) == ["/webhooks/twilio/{event}"]
    for path in WEBHOOK_PATHS:
        for method in ("POST", "GET"):
            scope = {"type": "http", "path": path, "method": method, "root_path": ""}
            matching = [
                n for n, r in enumerate(app.router.routes) if r.matches(scope)[0] != Match.NONE
            ]
            expected = app.router.routes.index(entries[0 if "telegram" in path else 1])
            assert matching == [expected], (path, method)
