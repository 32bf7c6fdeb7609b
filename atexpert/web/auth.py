"""Who is calling: login cookies (signed, with a CSRF synchronizer token) or bearer tokens.

A browser logs in with ``POST /api/login``; the response sets an HttpOnly, SameSite=Strict
cookie holding a signed login-session id, and returns a CSRF token. Every state-changing
request authenticated by that cookie must send the token back in ``X-CSRF-Token``.
Automation uses ``Authorization: Bearer <token>`` instead and needs no CSRF token.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from atexpert.domain.staff import StaffUser
from atexpert.settings import Settings
from atexpert.store.staff import (
    LoginSession,
    StaffStore,
    login_identity,
    token_identity,
    user_identity,
)
from atexpert.web.api_errors import ApiError

COOKIE_NAME = "atexpert_session"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_TTL = timedelta(hours=12)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user: StaffUser
    via: Literal["cookie", "token"]
    login: LoginSession | None = None
    sid: str | None = None
    token_id: str | None = None

    @property
    def csrf_token(self) -> str | None:
        return self.login.csrf if self.login is not None else None

    @property
    def identities(self) -> frozenset[str]:
        """What a revocation may name to end what this caller opened (its websockets)."""
        own = login_identity(self.sid) if self.sid is not None else None
        if self.token_id is not None:
            own = token_identity(self.token_id)
        return frozenset({user_identity(self.user.id), *([own] if own else [])})


class CookieSigner:
    """Signs and checks the login cookie (itsdangerous, keyed by ``settings.secret_key``)."""

    def __init__(self, settings: Settings) -> None:
        self._serializer = URLSafeTimedSerializer(
            settings.secret_key.get_secret_value(), salt="atexpert.login"
        )

    def sign(self, sid: str) -> str:
        return self._serializer.dumps(sid)

    def unsign(self, value: str) -> str | None:
        try:
            sid = self._serializer.loads(value, max_age=int(LOGIN_TTL.total_seconds()))
        except BadSignature:  # also covers an expired signature
            return None
        return sid if isinstance(sid, str) else None


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message)


async def authenticate(
    request: HTTPConnection, staff: StaffStore, signer: CookieSigner
) -> Principal:
    """The caller of ``request`` (an HTTP request or a websocket handshake).

    Raises a 401 :class:`ApiError`, or a 403 for a missing/wrong CSRF token on a
    state-changing request authenticated by cookie.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthorized("invalid_token", "Authorization must be 'Bearer <token>'")
        owned = await staff.token_owner(secret.strip())
        if owned is None:
            raise unauthorized("invalid_token", "the API token is unknown or revoked")
        return Principal(user=owned[1], via="token", token_id=owned[0].id)
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie is None:
        raise unauthorized("not_authenticated", "log in or send an API token")
    sid = signer.unsign(cookie)
    login = await staff.get_login(sid) if sid is not None else None
    owner = await staff.get_user(login.user_id) if login is not None else None
    if sid is None or login is None or owner is None or not owner.active:
        raise unauthorized("invalid_session", "the login session is invalid or expired")
    if request.scope.get("method", "GET") not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), login.csrf.encode()):
            raise ApiError(403, "csrf_failed", f"missing or wrong {CSRF_HEADER} header")
    return Principal(user=owner, via="cookie", login=login, sid=sid)


async def authenticate_optional(
    request: HTTPConnection, staff: StaffStore, signer: CookieSigner
) -> Principal | None:
    """The caller of a public request that also serves logged-in users; None if anonymous.

    A bearer token must be valid (401 otherwise). A login cookie that is no longer valid
    (expired, logged out) counts as no credentials; a valid one is checked like everywhere
    else, CSRF token included.
    """
    if request.headers.get("authorization") is None:
        cookie = request.cookies.get(COOKIE_NAME)
        sid = signer.unsign(cookie) if cookie is not None else None
        if sid is None or await staff.get_login(sid) is None:
            return None
    return await authenticate(request, staff, signer)


def cookie_secure(request: Request, settings: Settings) -> bool:
    """Secure cookies over https: as seen by the app, or as the public URL says (behind a
    TLS-terminating proxy)."""
    return request.url.scheme == "https" or settings.public_base_url.startswith("https:")


async def log_in(
    request: Request,
    response: Response,
    staff: StaffStore,
    signer: CookieSigner,
    user: StaffUser,
    *,
    secure: bool,
) -> LoginSession:
    """Open a login session for ``user`` and set its cookie on ``response``."""
    sid, login = await staff.create_login(user.id, LOGIN_TTL)
    response.set_cookie(
        COOKIE_NAME,
        signer.sign(sid),
        max_age=int(LOGIN_TTL.total_seconds()),
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    return login


async def log_out(response: Response, staff: StaffStore, sid: str, *, secure: bool) -> None:
    await staff.delete_login(sid)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict", secure=secure)
