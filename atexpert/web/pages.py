"""The browser consoles: HTML pages and static files under a strict Content-Security-Policy.

Pages (plain HTML + ES modules from ``frontend/``, no build step)::

    /                                where to go: see :func:`landing_path`
    /login                           log in
    /admin                           sessions, roles, intake and spend (admins)
    /sessions                        the logged-in person's sessions and their consoles
    /sessions/{session_id}/moderate  the moderator queue
    /sessions/{session_id}/expert    the expert console
    /live, /live/{session_id}        the public live page (no login)
    /invite/{secret}                 join a session with an invitation link
    /static/{path}                   css/, js/ and i18n/ files

Plus small JSON endpoints the pages need: the public list of upcoming and live sessions,
where the pages link posts to (the configured X), and the thread preview of an answer
exactly as the publisher will post it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from atexpert.domain import merged, twittertext
from atexpert.domain.answers import MAX_QUESTIONS, Answer
from atexpert.domain.publish_plan import Route as ThreadRoute
from atexpert.domain.publish_plan import plan
from atexpert.domain.sessions import Session, SessionStatus
from atexpert.domain.splitter import MAX_TEXT_LENGTH, SplitError
from atexpert.domain.staff import Action, StaffRole, StaffUser, roles_of
from atexpert.domain.views import Audience, project
from atexpert.publish.outbox import Outbox
from atexpert.publish.publisher import merged_replies
from atexpert.settings import Settings
from atexpert.web.api_errors import ApiError, error_response
from atexpert.web.api_routing import Call, Endpoint, Services, endpoint, to_route
from atexpert.web.auth import authenticate_optional


def _frontend() -> Path:
    """The pages: inside the package when installed from a wheel (``atexpert/frontend``),
    at the repository's top in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "frontend"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "frontend"


FRONTEND = _frontend()
STATIC_DIRS = ("css", "js", "i18n")
CONTENT_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
PAGES = {
    "/login": "login.html",
    "/admin": "admin.html",
    "/sessions": "sessions.html",
    "/sessions/{session_id}/moderate": "moderator.html",
    "/sessions/{session_id}/expert": "expert.html",
    "/live": "live.html",
    "/live/{session_id}": "live.html",
    "/invite/{secret}": "invite.html",
}
PUBLIC_STATUSES = (SessionStatus.SCHEDULED, SessionStatus.LIVE, SessionStatus.WRAPPING_UP)


def content_security_policy(public_base_url: str | None = None) -> str:
    """The pages' CSP: only our own scripts, styles and connections.

    ``connect-src 'self'`` covers same-origin websockets in current browsers; the public
    URL's ws:/wss: origin is named too for the ones that do not match it yet.
    """
    connect = "connect-src 'self'"
    if public_base_url:
        parts = urlsplit(public_base_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            scheme = "wss" if parts.scheme == "https" else "ws"
            connect += f" {scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            connect,
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(settings: Settings | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(
            settings.public_base_url if settings is not None else None
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
        "Cache-Control": "no-cache",
    }


def static_file(relative: str) -> Path | None:
    """The file under ``frontend/{css,js,i18n}`` named by ``relative``, or None (never
    outside those folders, never a hidden file, only known types)."""
    parts = relative.split("/")
    if len(parts) < 2 or parts[0] not in STATIC_DIRS:
        return None
    if any(not p or p.startswith(".") or "\\" in p for p in parts):
        return None
    candidate = (FRONTEND / relative).resolve()
    root = (FRONTEND / parts[0]).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    if candidate.suffix not in CONTENT_TYPES:
        return None
    return candidate


def _page_endpoint(
    filename: str, headers: dict[str, str]
) -> Callable[[Request], Awaitable[Response]]:
    path = FRONTEND / filename

    async def serve(request: Request) -> Response:
        return FileResponse(path, media_type=CONTENT_TYPES[".html"], headers=headers)

    return serve


def _static_endpoint(headers: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
    async def static(request: Request) -> Response:
        found = static_file(str(request.path_params["path"]))
        if found is None:
            response: Response = error_response(404, "not_found", "no such file")
            response.headers.update(headers)
            return response
        return FileResponse(found, media_type=CONTENT_TYPES[found.suffix], headers=headers)

    return static


def landing_path(user: StaffUser | None, sessions: Iterable[Session]) -> str:
    """Where ``/`` sends a browser: an anonymous visitor to the public list of live and
    upcoming sessions, an admin to the admin page, anyone else straight to their console
    when exactly one of their sessions is live (the moderator's when they hold both
    roles), else to the list of their sessions."""
    if user is None:
        return "/live"
    if user.is_admin:
        return "/admin"
    live = [s for s in sessions if s.status is SessionStatus.LIVE and roles_of(user, s)]
    if len(live) != 1:
        return "/sessions"
    console = "moderate" if StaffRole.MODERATOR in roles_of(user, live[0]) else "expert"
    return f"/sessions/{live[0].id}/{console}"


async def landing(request: Request) -> Response:
    """``/`` in a browser: a redirect to :func:`landing_path`."""
    services: Services = request.app.state.services
    try:
        principal = await authenticate_optional(request, services.staff, services.signer)
    except ApiError:
        principal = None
    user = principal.user if principal is not None else None
    sessions = await services.store.list_sessions() if user is not None else []
    return RedirectResponse(landing_path(user, sessions), status_code=303)


# -- JSON endpoints the pages use --------------------------------------------------------


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=MAX_QUESTIONS
    )
    text: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH)]

    @field_validator("text")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the answer is empty")
        return v


class PreviewPart(BaseModel):
    index: int
    text: str
    weighted_length: int


class MergedAskerOut(BaseModel):
    handle: str
    name: str
    route: ThreadRoute = Field(description="reply: under their post; else in the session's thread")
    posts: int


class PreviewOut(BaseModel):
    """The thread as the publisher will post it (same split, numbering, signature, quote),
    and the replies to the askers of questions merged into it, with their price."""

    route: ThreadRoute
    reply_to: str | None
    weighted_length: int = Field(description="Weighted length of the answer text alone")
    parts: list[PreviewPart]
    merged: list[MergedAskerOut] = []
    merged_cost: Decimal = Field(default=Decimal(0), description="US dollars, X's rate card")


@endpoint(
    "POST",
    "/api/sessions/{session_id}/preview",
    summary="Preview the thread an answer will be posted as (expert)",
    tag="answers",
    body=PreviewIn,
    response=PreviewOut,
)
async def preview_answer(call: Call) -> PreviewOut:
    session = await call.session(Action.ANSWER_WRITE)
    body = call.body(PreviewIn)
    store = call.services.store
    root = await Outbox(call.services.redis, session.id).announcement_id("start")
    now = call.now()
    answer = Answer(
        id="a_preview",
        session_id=session.id,
        question_ids=body.question_ids,
        expert_id=call.principal.user.id,
        text=body.text,
        parts=[],
        created_at=now,
        updated_by=call.actor,
        updated_at=now,
    )
    try:
        answered, replies = await merged_replies(store, answer, session, root)
        thread = plan(answer, answered[0], session, root)
    except SplitError as exc:
        detail = [{"loc": ["body", "text"], "msg": str(exc), "type": "split"}]
        raise ApiError(422, "invalid_input", str(exc), detail) from exc
    extra = merged.summarize(replies, session)
    return PreviewOut(
        route=thread.route,
        reply_to=thread.reply_to,
        weighted_length=twittertext.weighted_length(body.text),
        parts=[
            PreviewPart(index=i, text=p.text, weighted_length=p.weighted_length)
            for i, p in enumerate(thread.parts, 1)
        ],
        merged=[
            MergedAskerOut(
                handle=r.handle, name=r.name, route=ThreadRoute(r.route), posts=len(r.parts)
            )
            for r in extra.askers
        ],
        merged_cost=extra.cost,
    )


class PublicSession(BaseModel):
    id: str
    title: str
    description: str = ""
    hashtags: list[str]
    kind: str = "event"
    scheduled_start: datetime
    scheduled_end: datetime | None = Field(default=None, description="None for a desk")
    time_zone: str
    language: str
    status: str
    host_handle: str | None = None


@endpoint(
    "GET",
    "/api/public/sessions",
    summary="Live and upcoming sessions (no login)",
    tag="public",
    response=list[PublicSession],
    public=True,
)
async def public_sessions(call: Call) -> list[PublicSession]:
    found = await call.services.store.list_sessions()
    now = call.now()
    out: list[PublicSession] = []
    for session in found:
        if session.status not in PUBLIC_STATUSES:
            continue
        end = session.scheduled_end
        if session.status is SessionStatus.SCHEDULED and end is not None and end < now:
            continue
        seen = project(Audience.PUBLIC, "session", session.model_dump(mode="json"))
        if seen is not None:
            out.append(PublicSession.model_validate(seen))
    out.sort(key=lambda s: (s.status != SessionStatus.LIVE.value, s.scheduled_start))
    return out


class PageLinks(BaseModel):
    x_post_link: str = Field(
        description="Where the configured X shows a post, {handle} and {id} to fill in: "
        "x.com for X itself, the emulator's timeline page for the emulator"
    )


@endpoint(
    "GET",
    "/api/public/links",
    summary="Where the pages link to (no login)",
    tag="public",
    response=PageLinks,
    public=True,
)
async def page_links(call: Call) -> PageLinks:
    return PageLinks(x_post_link=call.services.settings.x_post_link)


ENDPOINTS: list[Endpoint] = [preview_answer, public_sessions, page_links]


def page_routes(settings: Settings | None = None) -> list[BaseRoute]:
    """Routes of the consoles, their static files and the JSON endpoints above.

    ``settings.public_base_url`` names the websocket origin in the CSP.
    """
    headers = security_headers(settings)
    routes: list[BaseRoute] = [
        Route(path, _page_endpoint(filename, headers), methods=["GET", "HEAD"])
        for path, filename in PAGES.items()
    ]
    routes.append(Route("/static/{path:path}", _static_endpoint(headers), methods=["GET", "HEAD"]))
    routes.extend(to_route(ep) for ep in ENDPOINTS)
    return routes
