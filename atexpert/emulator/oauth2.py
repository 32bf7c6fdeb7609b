"""OAuth 2.0 authorization code flow with PKCE, as X runs it.

``/i/oauth2/authorize`` shows a consent page (choose the account, approve or deny),
``/2/oauth2/token`` exchanges a code (S256 or plain verifier) or a refresh token for
an access token valid two hours (``Policy.oauth2_token_lifetime``: tests make it a few
seconds); refresh tokens rotate on use: a used refresh token is refused afterwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from html import escape
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from atexpert.emulator.core import Emulator
from atexpert.emulator.state import AuthCode

_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)
_KNOWN_SCOPES = frozenset(
    {
        "tweet.read",
        "tweet.write",
        "users.read",
        "offline.access",
        "tweet.moderate.write",
        "follows.read",
        "like.read",
        "like.write",
    }
)


def _emu(request: Request) -> Emulator:
    emu: Emulator = request.app.state.emulator
    return emu


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        # An empty icon: browsers ask for /favicon.ico otherwise, and get a 404.
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"<title>{escape(title)}"
        f"</title></head><body><h1>{escape(title)}</h1>{body}</body></html>",
        status_code=status,
    )


def _check(emu: Emulator, params: dict[str, str]) -> str | None:
    """Why the authorize request is invalid, or None."""
    if params.get("response_type") != "code":
        return "response_type must be code."
    if params.get("client_id") != emu.state.app.client_id:
        return "Unknown client_id."
    if not params.get("redirect_uri", "").startswith(("http://", "https://")):
        return "redirect_uri must be an absolute http(s) URL."
    if not params.get("code_challenge"):
        return "code_challenge is required (PKCE)."
    if params.get("code_challenge_method", "plain") not in ("S256", "plain"):
        return "code_challenge_method must be S256 or plain."
    scopes = params.get("scope", "").split()
    if not scopes or not set(scopes) <= _KNOWN_SCOPES:
        return "scope must list known scopes."
    if not params.get("state"):
        return "state is required."
    return None


async def authorize(request: Request) -> Response:
    emu = _emu(request)
    if request.method == "GET":
        params = {k: request.query_params.get(k, "") for k in _FIELDS}
    else:
        form: FormData = await request.form()
        params = {k: str(form.get(k, "")) for k in _FIELDS}
    problem = _check(emu, params)
    if problem:
        return _page("Something went wrong", f"<p>{escape(problem)}</p>", 400)
    if request.method == "GET":
        hidden = "".join(
            f"<input type='hidden' name='{k}' value='{escape(v)}'>" for k, v in params.items()
        )
        options = "".join(
            f"<option value='{escape(a.username)}'>@{escape(a.username)}</option>"
            for a in emu.state.accounts.values()
        )
        return _page(
            "Authorize app",
            (
                f"<p>The app wants: {escape(params['scope'])}</p>"
                f"<form method='post'>{hidden}<label>Account <select name='username'>{options}"
                "</select></label> <button name='decision' value='allow'>Authorize app</button> "
                "<button name='decision' value='deny'>Cancel</button></form>"
            ),
        )
    sep = "&" if "?" in params["redirect_uri"] else "?"
    if str(form.get("decision", "allow")) == "deny":
        query = urlencode({"error": "access_denied", "state": params["state"]})
        return RedirectResponse(params["redirect_uri"] + sep + query, status_code=302)
    account = emu.state.account_by_username(str(form.get("username", "")))
    if account is None:
        return _page("Something went wrong", "<p>Choose an existing account.</p>", 400)
    code = secrets.token_urlsafe(48)
    emu.state.codes[code] = AuthCode(
        account.id,
        params["client_id"],
        params["redirect_uri"],
        params["code_challenge"],
        params["code_challenge_method"] or "plain",
        tuple(params["scope"].split()),
        emu.state.clock.now() + 30,
    )
    query = urlencode({"state": params["state"], "code": code})
    return RedirectResponse(params["redirect_uri"] + sep + query, status_code=302)


def _error(description: str, error: str = "invalid_request", status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _client_ok(emu: Emulator, request: Request, form: FormData) -> bool:
    header = request.headers.get("authorization", "")
    app = emu.state.app
    if header.startswith("Basic "):
        try:
            cid, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return cid == app.client_id and hmac.compare_digest(secret, app.client_secret)
    return str(form.get("client_id", "")) == app.client_id


def _verifier_ok(code: AuthCode, verifier: str) -> bool:
    if code.method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    return bool(verifier) and hmac.compare_digest(computed, code.challenge)


def _tokens(emu: Emulator, user_id: str, scopes: tuple[str, ...]) -> JSONResponse:
    access, refresh = emu.state.issue_oauth2(user_id, scopes)
    body = {
        "token_type": "bearer",
        "expires_in": emu.state.policy.oauth2_token_lifetime,
        "access_token": access,
        "scope": " ".join(scopes),
    }
    if "offline.access" in scopes:
        body["refresh_token"] = refresh
    else:
        emu.state.refresh.pop(refresh, None)
    return JSONResponse(body)


async def token(request: Request) -> Response:
    emu = _emu(request)
    form = await request.form()
    if not _client_ok(emu, request, form):
        return _error("Missing valid authorization header", "unauthorized_client", 401)
    grant = str(form.get("grant_type", ""))
    if grant == "authorization_code":
        code = emu.state.codes.pop(str(form.get("code", "")), None)
        if (
            code is None
            or code.expires_at < emu.state.clock.now()
            or code.redirect_uri != str(form.get("redirect_uri", ""))
            or not _verifier_ok(code, str(form.get("code_verifier", "")))
        ):
            return _error("Value passed for the authorization code was invalid.")
        return _tokens(emu, code.user_id, code.scopes)
    if grant == "refresh_token":
        entry = emu.state.refresh.pop(str(form.get("refresh_token", "")), None)
        if entry is None:
            emu.state.auth_counts["refresh_refused"] += 1
            return _error("Value passed for the token was invalid.")
        emu.state.auth_counts["refreshed"] += 1
        return _tokens(emu, entry[0], entry[1])
    return _error("Missing required parameter [grant_type].")


async def revoke(request: Request) -> Response:
    emu = _emu(request)
    form = await request.form()
    value = str(form.get("token", ""))
    emu.state.oauth2.pop(value, None)
    emu.state.refresh.pop(value, None)
    return JSONResponse({"revoked": True})


routes = [
    Route("/i/oauth2/authorize", authorize, methods=["GET", "POST"]),
    Route("/2/oauth2/authorize", authorize, methods=["GET", "POST"]),
    Route("/2/oauth2/token", token, methods=["POST"]),
    Route("/2/oauth2/revoke", revoke, methods=["POST"]),
]
