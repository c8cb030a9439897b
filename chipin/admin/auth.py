"""Who may use the dashboard: the password login, the signed session cookie, CSRF tokens, the
login rate limit, and the guard every ``/admin`` page depends on.

The session is a cookie signed with HMAC-SHA256 (``itsdangerous`` is not a dependency of
Chipin and a signed JSON payload is twenty lines of the standard library). Its key is derived
from ``CHIPIN_ADMIN_PASSWORD`` and ``CHIPIN_SECRET_KEY`` — or, without a secret key, a random key
of this process (sessions then end on restart and do not carry across replicas). Changing the
password ends every session. Expiry (absolute and idle) is checked here from the signed
payload, never trusted to the browser. Failed logins are counted per client address in the
database, so the limit holds across replicas and restarts.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import json
import secrets
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlsplit

import structlog
from fastapi import Depends, HTTPException, Request, Response
from fastapi.routing import APIRoute
from sqlalchemy import Engine

from chipin.admin import queries as q
from chipin.settings import Settings

log = structlog.get_logger("chipin.admin")

Clock = Callable[[], dt.datetime]
COOKIE = "chipin_admin"
LOGIN_COOKIE = "chipin_admin_login"
"""The login form's own CSRF token (double submit: the cookie and the hidden field agree)."""
MAX_FORM_BYTES = 64 * 1024
REFRESH_AFTER = dt.timedelta(seconds=60)
"""The idle clock restarts at most once a minute (a new cookie on every request is noise)."""
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def admin_clock() -> Clock:
    """The dashboard's clock; tests replace it with ``app.dependency_overrides[admin_clock]``."""
    return utcnow


ClockDep = Annotated[Clock, Depends(admin_clock)]


# -- policy --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdminPolicy:
    """The dashboard's settings, read once per request from the app's settings."""

    password: str | None
    """``CHIPIN_ADMIN_PASSWORD``; None means: development only, this machine only."""
    env: str
    secret_key: str | None = None
    session_max_age: dt.timedelta = dt.timedelta(hours=8)
    idle_timeout: dt.timedelta = dt.timedelta(minutes=30)
    max_failures: int = 5
    failure_window: dt.timedelta = dt.timedelta(minutes=5)

    @classmethod
    def from_settings(cls, settings: Settings) -> AdminPolicy:
        password, key = settings.admin_password, settings.secret_key
        return cls(
            password=(password.get_secret_value() if password else None) or None,
            env=settings.env,
            secret_key=(key.get_secret_value() if key else None) or None,
            session_max_age=dt.timedelta(hours=settings.admin_session_hours),
            idle_timeout=dt.timedelta(minutes=settings.admin_idle_minutes),
            max_failures=settings.admin_login_max_failures,
            failure_window=dt.timedelta(minutes=settings.admin_login_window_minutes),
        )

    @property
    def passwordless(self) -> bool:
        return self.password is None

    @property
    def enabled(self) -> bool:
        """Without a password the dashboard exists in development only."""
        return self.password is not None or self.env == "development"


class DashboardMisconfigured(RuntimeError):
    """Raised at app creation: a server outside development needs an admin password."""


def check_dashboard_settings(settings: Settings) -> None:
    """Refuse to build an app whose dashboard would have no password outside development."""
    if not AdminPolicy.from_settings(settings).enabled:
        raise DashboardMisconfigured(
            "CHIPIN_ADMIN_PASSWORD is not set: the admin dashboard refuses to start outside "
            "development mode (set it, or CHIPIN_ENV=development on a private machine)"
        )


# -- signing -------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """``base64(json).base64(hmac)``: tamper-evident, not secret (the payload holds no secret)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def mac(self, message: bytes) -> bytes:
        return hmac.new(self.key, message, hashlib.sha256).digest()

    def sign(self, data: Mapping[str, Any]) -> str:
        body = _b64(json.dumps(data, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{_b64(self.mac(body.encode()))}"

    def unsign(self, token: str) -> dict[str, Any] | None:
        body, dot, mac = token.partition(".")
        if not dot or len(token) > 1024:
            return None
        try:
            if not hmac.compare_digest(_unb64(mac), self.mac(body.encode())):
                return None
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class AdminSession:
    sid: str
    issued: int
    """When the operator logged in (epoch seconds): the absolute expiry counts from here."""
    seen: int
    """Last activity (epoch seconds, refreshed at most once a minute): the idle expiry."""
    csrf: str

    @property
    def actor(self) -> str:
        """Who did it, in audit rows: one password, so the session tells operators apart."""
        return f"admin:{self.sid[:8]}"


# -- the guard -----------------------------------------------------------------------------------


def client_address(request: Request) -> str:
    """The peer address (uvicorn rewrites it from X-Forwarded-For only for trusted proxies)."""
    return (request.client.host if request.client else "") or "unknown"


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_https(request: Request) -> bool:
    """Secure cookies on https. Behind a proxy uvicorn takes the scheme from X-Forwarded-Proto
    when the proxy is in ``--forwarded-allow-ips`` (127.0.0.1 by default)."""
    return request.url.scheme == "https"


async def read_form(request: Request) -> dict[str, str]:
    """A plain HTML form's fields (urlencoded), parsed once per request.

    Parsed here because FastAPI's ``Form`` needs python-multipart, which Chipin does not ship."""
    cached: dict[str, str] | None = getattr(request.state, "admin_form", None)
    if cached is not None:
        return cached
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise HTTPException(413, "form too large")
    if body and kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "the dashboard accepts plain HTML forms only")
    try:
        pairs = parse_qsl(body.decode(), keep_blank_values=True, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "unreadable form") from None
    form = dict(pairs)
    request.state.admin_form = form
    return form


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard: never an open redirect to another site."""
    if not target:
        return "/admin"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or "\\" in target:
        return "/admin"
    return target


class AdminAuth:
    """The keys and checks of one app's dashboard (built by the router factory: no globals)."""

    def __init__(self) -> None:
        self._process_key = secrets.token_bytes(32)

    def signer(self, policy: AdminPolicy) -> Signer:
        base = policy.secret_key.encode() if policy.secret_key else self._process_key
        message = b"chipin-admin-session\x00" + (policy.password or "").encode()
        return Signer(hmac.new(base, message, hashlib.sha256).digest())

    def csrf_for(self, policy: AdminPolicy, sid: str) -> str:
        return _b64(self.signer(policy).mac(b"csrf\x00" + sid.encode()))[:32]

    def open_session(self, policy: AdminPolicy, now: dt.datetime) -> tuple[AdminSession, str]:
        sid = secrets.token_urlsafe(18)
        stamp = int(now.timestamp())
        session = AdminSession(sid, stamp, stamp, self.csrf_for(policy, sid))
        return session, self.signer(policy).sign({"v": 1, "sid": sid, "iat": stamp, "seen": stamp})

    def read_session(
        self, policy: AdminPolicy, token: str | None, now: dt.datetime
    ) -> AdminSession | None:
        """The session a cookie carries, if its signature holds and it has not expired."""
        if not token:
            return None
        data = self.signer(policy).unsign(token)
        if data is None or data.get("v") != 1:
            return None
        sid, issued, seen = data.get("sid"), data.get("iat"), data.get("seen")
        if not isinstance(sid, str) or not isinstance(issued, int) or not isinstance(seen, int):
            return None
        stamp = now.timestamp()
        if stamp - issued > policy.session_max_age.total_seconds() or stamp < issued - 60:
            return None
        if stamp - seen > policy.idle_timeout.total_seconds():
            return None
        return AdminSession(sid, issued, seen, self.csrf_for(policy, sid))

    def refreshed(self, policy: AdminPolicy, session: AdminSession, now: dt.datetime) -> str:
        stamp = int(now.timestamp())
        return self.signer(policy).sign(
            {"v": 1, "sid": session.sid, "iat": session.issued, "seen": stamp}
        )

    async def require(self, request: Request, clock: ClockDep) -> AdminSession:
        """The dependency of every dashboard route but the login: a live session, and on a
        state-changing request a matching CSRF token and a same-origin ``Origin``."""
        policy = get_policy(request)
        if not policy.enabled:
            raise HTTPException(503, "the dashboard is disabled: CHIPIN_ADMIN_PASSWORD is not set")
        now = clock()
        session = self.read_session(policy, request.cookies.get(COOKIE), now)
        unsafe = request.method not in ("GET", "HEAD", "OPTIONS")
        if session is None:
            if unsafe:
                raise HTTPException(401, "log in first")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            login = f"/admin/login?next={quote(target, safe='')}"
            raise HTTPException(303, "log in first", headers={"Location": login})
        if unsafe:
            check_origin(request)
            form = await read_form(request)
            if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
                log.warning("chipin.admin_csrf_refused", path=request.url.path)
                raise HTTPException(403, "the form's CSRF token is missing or wrong; reload")
        if now.timestamp() - session.seen >= REFRESH_AFTER.total_seconds():
            request.state.admin_cookie = self.refreshed(policy, session, now)
        request.state.admin_session = session
        return session


def current_session(request: Request) -> AdminSession:
    """The session the router's guard admitted. Fails closed: a route mounted without the
    guard has no session here and answers 401."""
    session: AdminSession | None = getattr(request.state, "admin_session", None)
    if session is None:
        raise HTTPException(401, "log in first")
    return session


SessionDep = Annotated[AdminSession, Depends(current_session)]


def check_origin(request: Request) -> None:
    """Browsers send ``Origin`` on POST; one from another site is refused outright (the CSRF
    token is the real check, this is the second lock). Behind a proxy that rewrites ``Host``
    the public origin is known from ``PUBLIC_BASE_URL``."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return
    settings: Settings = request.app.state.settings
    allowed = {request.headers.get("host", "")}
    if settings.public_base_url:
        allowed.add(urlsplit(settings.public_base_url).netloc)
    if urlsplit(origin).netloc not in allowed:
        raise HTTPException(403, "cross-site request refused")


def get_policy(request: Request) -> AdminPolicy:
    cached: AdminPolicy | None = getattr(request.state, "admin_policy", None)
    if cached is None:
        cached = AdminPolicy.from_settings(request.app.state.settings)
        request.state.admin_policy = cached
    return cached


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    policy = get_policy(request)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(policy.session_max_age.total_seconds()),
        path="/admin",
        secure=is_https(request),
        httponly=True,
        samesite="lax",
    )


class AdminRoute(APIRoute):
    """Every dashboard response gets the security headers and, when the guard restarted the
    idle clock, the refreshed session cookie (a dependency cannot add a header to a response
    the endpoint builds itself)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def with_headers(request: Request) -> Response:
            response = await handler(request)
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            token: str | None = getattr(request.state, "admin_cookie", None)
            if token is not None:
                set_session_cookie(request, response, token)
            return response

        return with_headers


# -- the login -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    ok: bool
    status: int
    message: str | None = None
    retry_after: int | None = None


def password_matches(given: str, expected: str) -> bool:
    """Constant time, and no length leak: both sides are hashed to the same size first."""
    a = hashlib.sha256(given.encode()).digest()
    b = hashlib.sha256(expected.encode()).digest()
    return hmac.compare_digest(a, b)


def check_login(
    engine: Engine, policy: AdminPolicy, client: str, password: str, now: dt.datetime
) -> LoginOutcome:
    """Rate limit first (a right guess after the limit is refused too), then the password."""
    since = now - policy.failure_window
    failures = q.login_failures(engine, client, since)
    if len(failures) >= policy.max_failures:
        wait = failures[0] + policy.failure_window - now
        seconds = max(1, int(wait.total_seconds()) + 1)
        log.warning("chipin.admin_login_limited", client=client)
        return LoginOutcome(
            False, 429, f"Too many failed logins; try again in {seconds} seconds.", seconds
        )
    if policy.password is None:
        ok = is_loopback(client)  # development without a password: this machine only
        message = "Without CHIPIN_ADMIN_PASSWORD only this machine may enter."
    else:
        ok = password_matches(password, policy.password)
        message = "Wrong password."
    if not ok:
        q.record_login_failure(engine, client, now, prune_before=since)
        log.warning("chipin.admin_login_failed", client=client)
        return LoginOutcome(False, 401, message)
    q.clear_login_failures(engine, client)
    return LoginOutcome(True, 303)
