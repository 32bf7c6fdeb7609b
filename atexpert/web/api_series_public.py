"""A series in public (no login): its page, the page's JSON and its calendar feed.

::

    GET /series/{slug}              the page (frontend/series.html; 404 for an unknown slug)
    GET /series/{slug}.ics          the iCalendar feed of its sessions (ETag, short cache)
    GET /api/public/series/{slug}   what the page shows (:class:`PublicSeries`)

What the public sees of a series and its sessions is :mod:`atexpert.recap.series_public`'s
(through :mod:`atexpert.domain.views`): never a draft, no staff id, no budget.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from atexpert.domain.errors import NotFound
from atexpert.domain.series import SLUG, Series
from atexpert.domain.sessions import Session
from atexpert.recap.series_public import PublicSeries, calendar, public_series, series_path
from atexpert.recap.summary import SeriesLink
from atexpert.settings import Settings
from atexpert.store.series import SeriesStore
from atexpert.web.api_routing import Call, Endpoint, Services, endpoint, to_route
from atexpert.web.pages import CONTENT_TYPES, FRONTEND, security_headers

TAG = "public"
CALENDAR_TYPE = "text/calendar; charset=utf-8"
#: Calendar apps poll the feed; it may be this old (seconds).
CALENDAR_MAX_AGE = 300


async def _find(store: SeriesStore, slug: str) -> Series:
    """The series named ``slug``; :class:`NotFound` (404) if none."""
    if SLUG.fullmatch(slug) is None:
        raise NotFound("series", slug[:64])
    return await store.by_slug(slug)


async def _series(services: Services, slug: str) -> tuple[Series, list[Session]]:
    """The series named ``slug`` and every session of it."""
    store = SeriesStore(services.redis, services.clock)
    series = await _find(store, slug)
    return series, await store.sessions(series.id)


async def series_link(services: Services, session: Session) -> SeriesLink | None:
    """The public page of the series ``session`` is an occurrence of (None: not one), for
    its recap to link back to."""
    if session.series_id is None:
        return None
    series = await SeriesStore(services.redis, services.clock).get(session.series_id)
    return SeriesLink(title=series.title, path=series_path(series.slug))


@endpoint(
    "GET",
    "/api/public/series/{slug}",
    summary="A series' page: next date, upcoming sessions, past ones and their recaps (no login)",
    tag=TAG,
    response=PublicSeries,
    public=True,
)
async def series_page(call: Call) -> PublicSeries:
    series, sessions = await _series(call.services, call.path("slug"))
    return public_series(series, sessions, call.now())


async def series_calendar(request: Request) -> Response:
    """The feed: not in the OpenAPI document (a calendar app's URL, not the JSON API)."""
    services: Services = request.app.state.services
    series, sessions = await _series(services, str(request.path_params["slug"]))
    base = services.settings.public_base_url
    body = calendar(series, sessions, services.clock.now(), base)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={CALENDAR_MAX_AGE}",
        "Content-Disposition": f'inline; filename="{series.slug}.ics"',
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=CALENDAR_TYPE, headers=headers)


ENDPOINTS: list[Endpoint] = [series_page]


def _page(headers: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            store = SeriesStore(services.redis, services.clock)
            await _find(store, str(request.path_params["slug"]))
            status = 200
        except NotFound:
            status = 404  # the page says so
        path = FRONTEND / "series.html"
        return FileResponse(path, status, headers, media_type=CONTENT_TYPES[".html"])

    return page


def series_public_routes(settings: Settings | None = None) -> list[BaseRoute]:
    """The feed before the page: ``/series/{slug}`` would take ``x.ics`` for a slug."""
    headers = security_headers(settings)
    return [
        *(to_route(ep) for ep in ENDPOINTS),
        Route("/series/{slug}.ics", series_calendar, methods=["GET", "HEAD"]),
        Route("/series/{slug}", _page(headers), methods=["GET", "HEAD"]),
    ]
