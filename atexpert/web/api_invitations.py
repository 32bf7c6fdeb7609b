"""Invitations by link: admins create, list and revoke them; whoever holds a link joins the
session with it, logged in or by creating a staff account on the spot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from atexpert.domain.invitations import (
    Invitation,
    InvitationStatus,
    console_path,
    invitation_url,
    takes_staff,
)
from atexpert.domain.passwords import check_new_password
from atexpert.domain.sessions import Role, Session
from atexpert.domain.staff import Action, DisplayName, Password, StaffUser, StaffUserOut, Username
from atexpert.store.invitations import ClaimResult, InvitationStore
from atexpert.store.staff import UsernameTaken
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import Call, Endpoint, command_endpoint, endpoint
from atexpert.web.auth import Principal, cookie_secure, log_in
from atexpert.web.commands import INVITATION_COMMANDS, InvitationCreate

TAG = "invitations"
ONE_SESSION = "/api/sessions/{session_id}/invitations"
ONE_LINK = "/api/invitations/{secret}"
GONE = ((410, "The invitation was used, revoked or has expired"),)


class InvitationCreated(BaseModel):
    invitation: Invitation
    #: The link to hand to the invitee; its secret is not stored and is shown only here.
    url: str


class InvitationPreview(BaseModel):
    """What the holder of a link is invited to."""

    session_id: str
    session_title: str
    language: str
    role: Role
    note: str | None
    expires_at: datetime


class AcceptIn(BaseModel):
    """Empty when the caller is logged in; otherwise the staff account to create."""

    model_config = ConfigDict(extra="forbid")

    username: Username | None = None
    display_name: DisplayName | None = None
    password: Password | None = None


class AcceptOut(BaseModel):
    session_id: str
    role: Role
    user: StaffUserOut
    #: Where the new moderator or expert works.
    console: str
    #: Set when this call created the account and logged it in (the cookie is set too).
    csrf_token: str | None = None


def _store(call: Call) -> InvitationStore:
    return InvitationStore(call.services.redis, clock=call.services.clock)


def _check_takes_staff(session: Session) -> None:
    if not takes_staff(session.status):
        raise ApiError(
            409,
            "session_closed",
            f"session {session.id} is {session.status.value}: it takes no new staff",
        )


#: Why a link no longer works: error code and message.
_GONE = {
    "accepted": ("invitation_used", "this invitation link has already been used"),
    "revoked": ("invitation_revoked", "this invitation link was revoked by an administrator"),
    "expired": ("invitation_expired", "this invitation link has expired: ask for a new one"),
}


def _gone(status: InvitationStatus | ClaimResult) -> ApiError:
    if status == "unknown":
        return ApiError(404, "not_found", "no such invitation: check the link")
    code, message = _GONE.get(status, ("invitation_gone", "this invitation link is unusable"))
    return ApiError(410, code, message)


@endpoint(
    "POST",
    ONE_SESSION,
    summary="Create an invitation link to join as moderator or expert (admin)",
    tag=TAG,
    body=InvitationCreate,
    response=InvitationCreated,
    status=201,
    command=True,
)
async def create_invitation(call: Call) -> InvitationCreated:
    invitation, secret = await call.run(INVITATION_COMMANDS["invite"])
    url = invitation_url(call.services.settings.public_base_url, secret)
    return InvitationCreated(invitation=invitation, url=url)


@endpoint(
    "GET",
    ONE_SESSION,
    summary="The session's pending invitations, oldest first (admin)",
    tag=TAG,
    response=list[Invitation],
)
async def list_invitations(call: Call) -> list[Invitation]:
    session = await call.session(Action.SESSION_ASSIGN)
    return await _store(call).pending(session.id)


revoke_invitation = command_endpoint(
    INVITATION_COMMANDS["uninvite"],
    ONE_SESSION + "/{invitation_id}",
    method="DELETE",
    name="revoke_invitation",
    summary="Revoke a pending invitation (admin)",
    tag=TAG,
    response=None,
    id_param="invitation_id",
)


@endpoint(
    "GET",
    ONE_LINK,
    summary="What an invitation link invites to (no login)",
    tag=TAG,
    response=InvitationPreview,
    public=True,
    errors=GONE,
)
async def show_invitation(call: Call) -> InvitationPreview:
    invitation = _pending(await _store(call).find(call.path("secret")))
    session = await call.services.store.get_session(invitation.session_id)
    return InvitationPreview(
        session_id=session.id,
        session_title=session.title,
        language=session.language,
        role=invitation.role,
        note=invitation.note,
        expires_at=invitation.expires_at,
    )


@endpoint(
    "POST",
    ONE_LINK + "/accept",
    summary="Join the session with an invitation link, logged in or as a new account",
    tag=TAG,
    body=AcceptIn,
    response=AcceptOut,
    public=True,
    errors=(
        *GONE,
        (401, "A bearer token was sent but is unknown or revoked"),
        (403, "Logged in by cookie without the CSRF token"),
        (409, "The username is taken"),
    ),
)
async def accept_invitation(call: Call) -> AcceptOut:
    principal = await call.optional_principal()
    store, secret = _store(call), call.path("secret")
    found = await store.find(secret)
    if found is not None and principal is not None and found.accepted_by == principal.user.id:
        return _accepted(found, principal.user)  # a second click of the same user
    invitation = _pending(found)
    session = await call.services.store.get_session(invitation.session_id)
    _check_takes_staff(session)
    account = await _new_account(call, principal)
    claimed = await store.claim(secret)
    if claimed != "claimed":
        raise _gone(claimed)
    try:
        if principal is not None:
            user = principal.user
        else:
            assert account is not None  # required by _new_account when anonymous
            user = await _create_user(call, account)
        await call.services.store.assign_role(
            session.id, user.id, invitation.role, actor=user.username, at=call.now()
        )
    except Exception:
        await store.release(secret)
        raise
    await store.finish(secret, invitation, user.id)
    if principal is not None:
        return _accepted(invitation, user)
    services = call.services
    login = await log_in(
        call.request,
        call.response,
        services.staff,
        services.signer,
        user,
        secure=cookie_secure(call.request, services.settings),
    )
    return _accepted(invitation, user, csrf=login.csrf)


def _pending(invitation: Invitation | None) -> Invitation:
    """``invitation`` if it can still be accepted; 404 or 410 otherwise."""
    if invitation is None:
        raise _gone("unknown")
    if invitation.status is not InvitationStatus.PENDING:
        raise _gone(invitation.status)
    return invitation


async def _new_account(call: Call, principal: Principal | None) -> AcceptIn | None:
    """The account to create (checked before the link is spent), or None when logged in."""
    body = call.body(AcceptIn)
    given = body.model_fields_set
    if principal is not None:
        if given:
            field = sorted(given)[0]
            who = principal.user.username
            raise _field_error(
                422, field, f"you are logged in as {who}: join as yourself or log out first"
            )
        return None
    missing = [f for f in ("username", "password") if getattr(body, f) is None]
    if missing:
        detail = [{"loc": ["body", f], "msg": "Field required", "type": "missing"} for f in missing]
        raise ApiError(422, "invalid_input", "log in, or choose a username and a password", detail)
    assert body.username is not None and body.password is not None
    check_new_password(body.password, body.username)
    if await call.services.staff.get_by_username(body.username) is not None:
        raise _taken(body.username)
    return body


async def _create_user(call: Call, account: AcceptIn) -> StaffUser:
    assert account.username is not None and account.password is not None
    try:
        return await call.services.staff.create_user(
            account.username, account.password, display_name=account.display_name
        )
    except UsernameTaken:
        raise _taken(account.username) from None


def _taken(username: str) -> ApiError:
    return _field_error(409, "username", f"the username {username!r} is already taken", "taken")


def _field_error(status: int, field: str, message: str, kind: str = "value_error") -> ApiError:
    detail: list[dict[str, Any]] = [{"loc": ["body", field], "msg": message, "type": kind}]
    return ApiError(status, "conflict" if status == 409 else "invalid_input", message, detail)


def _accepted(invitation: Invitation, user: StaffUser, *, csrf: str | None = None) -> AcceptOut:
    return AcceptOut(
        session_id=invitation.session_id,
        role=invitation.role,
        user=StaffUserOut.of(user),
        console=console_path(invitation.session_id, invitation.role),
        csrf_token=csrf,
    )


ENDPOINTS: list[Endpoint] = [
    create_invitation,
    list_invitations,
    revoke_invitation,
    show_invitation,
    accept_invitation,
]
