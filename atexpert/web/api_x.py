"""Admin endpoints connecting the brand's host X accounts (OAuth 2.0 with PKCE).

``POST /api/x/connect`` returns X's authorize URL; X sends the admin's browser back to
``GET /api/x/callback``. That request comes from another site, so the SameSite=Strict
login cookie does not travel with it: the callback is public and trusts only its
``state``, which is unguessable, single use, valid 10 minutes and bound to the admin
who started connecting. It always ends in a redirect to the admin page, which reads
``?x_connected=<handle>`` or ``?x_error=<why>`` (an unusable state, the admin declined
on X, X refused the code).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse

from atexpert.domain.staff import StaffUser
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.x.accounts import OAuthFailed, XAccount, XAccountStore

log = logging.getLogger(__name__)

TAG = "x accounts"
CALLBACK_PATH = "/api/x/callback"
ADMIN_PAGE = "/admin"


class ConnectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    handle: str | None = Field(
        default=None, description="Only accept this account (e.g. @Airbus) at the callback"
    )


class ConnectStarted(BaseModel):
    authorize_url: str = Field(description="Send the admin's browser here (X's consent page)")


class CallbackQuery(BaseModel):
    """What X appends to the redirect URI: ``state`` and ``code``, or ``error``."""

    model_config = ConfigDict(extra="ignore")

    state: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, min_length=1, max_length=2048)
    error: str | None = Field(default=None, max_length=256)
    error_description: str | None = Field(default=None, max_length=1024)


def accounts(call: Call) -> XAccountStore:
    services = call.services
    return XAccountStore(services.redis, services.settings, services.clock)


def require_admin(call: Call) -> StaffUser:
    user = call.principal.user
    if not user.is_admin:
        raise ApiError(403, "forbidden", "only an admin may manage the brand's X accounts")
    return user


def redirect_uri(call: Call) -> str:
    return call.services.settings.public_base_url.rstrip("/") + CALLBACK_PATH


@endpoint(
    "POST",
    "/api/x/connect",
    summary="Start connecting a host X account: the X page where an admin authorizes atexpert",
    tag=TAG,
    body=ConnectBody,
    response=ConnectStarted,
)
async def connect_x_account(call: Call) -> ConnectStarted:
    user = require_admin(call)
    body = call.body(ConnectBody)
    url = await accounts(call).begin(body.handle, redirect_uri(call), user.username)
    return ConnectStarted(authorize_url=url)


@endpoint(
    "GET",
    CALLBACK_PATH,
    summary=(
        "Where X sends the admin back: stores the account, then redirects to the admin page"
        " with ?x_connected=<handle>, or with ?x_error=<why> when it could not be connected"
    ),
    tag=TAG,
    public=True,
    query=CallbackQuery,
    status=303,
)
async def x_callback(call: Call) -> RedirectResponse:
    query = call.query(CallbackQuery)
    try:
        handle = await finish_connecting(accounts(call), query)
    except OAuthFailed as exc:
        # A browser, not a program, follows X's redirect: send the admin back to the page
        # they started from, which shows why.
        log.info("connecting an X account failed: %s", exc.message)
        return back_to_admin(x_error=exc.message)
    return back_to_admin(x_connected=handle)


async def finish_connecting(store: XAccountStore, query: CallbackQuery) -> str:
    """The handle of the account X authorized; :class:`OAuthFailed` when it was not."""
    if query.error is not None:
        await store.cancel(query.state)
        why = query.error_description or query.error
        raise OAuthFailed(f"it was not authorized on X ({why})")
    if query.code is None:
        raise OAuthFailed("X sent no authorization code; start connecting again")
    account = await store.complete(query.state, query.code)
    return account.handle


def back_to_admin(**flag: str) -> RedirectResponse:
    return RedirectResponse(f"{ADMIN_PAGE}?{urlencode(flag)}", status_code=303)


@endpoint(
    "GET",
    "/api/x/accounts",
    summary="The connected host X accounts (never their tokens)",
    tag=TAG,
    response=list[XAccount],
)
async def list_x_accounts(call: Call) -> list[XAccount]:
    require_admin(call)
    return await accounts(call).list_accounts()


@endpoint(
    "DELETE",
    "/api/x/accounts/{handle}",
    summary="Disconnect a host X account (forget its tokens)",
    tag=TAG,
    status=204,
)
async def disconnect_x_account(call: Call) -> None:
    user = require_admin(call)
    await accounts(call).delete(call.path("handle"), user.username)


ENDPOINTS: list[Endpoint] = [
    connect_x_account,
    x_callback,
    list_x_accounts,
    disconnect_x_account,
]
