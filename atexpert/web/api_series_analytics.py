"""Figures across a series' sessions, for its admins and moderators.

::

    GET /api/series/{series_id}/analytics       JSON (:class:`SeriesAnalytics`)
    GET /api/series/{series_id}/analytics.csv   the same table for a spreadsheet
    GET /series/{series_id}/analytics           the page (frontend/series-analytics.html)

Who may read them: :attr:`~atexpert.domain.staff.Action.SERIES_ANALYTICS`, on the series
(admins, and the moderators the series names); the figures are
:mod:`atexpert.recap.series_analytics`'s.
"""

from __future__ import annotations

from starlette.responses import Response

from atexpert.domain.series import Series
from atexpert.domain.staff import Action
from atexpert.recap import exports
from atexpert.recap.series_analytics import SeriesAnalytics, SessionInput, compute, to_csv
from atexpert.store.series import SeriesStore
from atexpert.web.api_routing import Call, Endpoint, Services, endpoint
from atexpert.x.meter import Meter


async def _input(services: Services, session_id: str) -> SessionInput:
    return SessionInput(
        await services.store.snapshot(session_id),
        await exports.read_all_events(services.store, session_id),
        await Meter(services.redis).spend(session_id),
    )


async def _figures(call: Call) -> tuple[Series, SeriesAnalytics]:
    """The series of the path, if the caller may read its figures, and the figures."""
    store = SeriesStore(call.services.redis, call.services.clock)
    series = await store.get(call.path("series_id"))
    call.require(Action.SERIES_ANALYTICS, series)
    sessions = await store.sessions(series.id)
    return series, compute(series.id, [await _input(call.services, s.id) for s in sessions])


@endpoint(
    "GET",
    "/api/series/{series_id}/analytics",
    summary="Questions, share answered, response times and X spend per session of a series, "
    "and totals (admins, the series' moderators)",
    tag="recap",
    response=SeriesAnalytics,
)
async def series_analytics(call: Call) -> SeriesAnalytics:
    return (await _figures(call))[1]


@endpoint(
    "GET",
    "/api/series/{series_id}/analytics.csv",
    summary="A series' figures as CSV, a row per session and a total (admins, the series' "
    "moderators)",
    tag="recap",
    status=200,
    media=("text/csv",),
)
async def series_analytics_csv(call: Call) -> Response:
    series, figures = await _figures(call)
    return Response(
        to_csv(figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{series.slug}-analytics.csv"'},
    )


ENDPOINTS: list[Endpoint] = [series_analytics, series_analytics_csv]
