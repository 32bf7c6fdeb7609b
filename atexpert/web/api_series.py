"""Series endpoints: create, update, list and read series, their occurrences with the
announcements before each (text, time, price, state), and the edit of one announcement."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from atexpert.domain.series import Series, SeriesFields, SeriesUpdate, occurrences
from atexpert.domain.series_announce import AnnouncementEdit
from atexpert.domain.staff import Action
from atexpert.store.series import SeriesStore
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.web.series_commands import SERIES_COMMANDS, Occurrence, occurrence

TAG = "series"
ONE = "/api/series/{series_id}"
#: The next starts shown with a series (the sessions exist for create_ahead of them).
NEXT_STARTS = 12


class SeriesOut(Series):
    #: The next starts by the rule, whether or not their sessions exist yet.
    next_starts: list[AwareDatetime]


class OccurrencesQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Only the sessions not yet started (scheduled or draft).
    upcoming: bool = False


def _out(series: Series, call: Call) -> SeriesOut:
    starts = occurrences(series, call.now(), NEXT_STARTS)
    return SeriesOut(**series.model_dump(), next_starts=starts)


@endpoint("GET", "/api/series", summary="List series (admin)", tag=TAG, response=list[SeriesOut])
async def list_series(call: Call) -> list[SeriesOut]:
    call.require(Action.SESSION_CREATE)
    return [_out(s, call) for s in await SeriesStore(call.services.redis).list()]


@endpoint(
    "POST",
    "/api/series",
    summary="Create a series: a recurring session with its rule and defaults (admin)",
    tag=TAG,
    body=SeriesFields,
    response=SeriesOut,
    status=201,
    command=True,
)
async def create_series(call: Call) -> SeriesOut:
    return _out(await call.run(SERIES_COMMANDS["series_create"]), call)


@endpoint("GET", ONE, summary="Read a series (admin)", tag=TAG, response=SeriesOut)
async def get_series(call: Call) -> SeriesOut:
    call.require(Action.SESSION_CREATE)
    return _out(await SeriesStore(call.services.redis).get(call.path("series_id")), call)


@endpoint(
    "PATCH",
    ONE,
    summary="Change a series (admin); sessions already created keep their own fields",
    tag=TAG,
    body=SeriesUpdate,
    response=SeriesOut,
    command=True,
)
async def update_series(call: Call) -> SeriesOut:
    return _out(await call.run(SERIES_COMMANDS["series_update"], call.path("series_id")), call)


@endpoint(
    "GET",
    ONE + "/occurrences",
    summary="The series' sessions with their announcements: text, time, price, state (admin)",
    tag=TAG,
    query=OccurrencesQuery,
    response=list[Occurrence],
)
async def list_occurrences(call: Call) -> list[Occurrence]:
    call.require(Action.SESSION_CREATE)
    upcoming = call.query(OccurrencesQuery).upcoming
    store = SeriesStore(call.services.redis)
    series = await store.get(call.path("series_id"))
    sessions = await store.sessions(series.id)
    if upcoming:
        sessions = [s for s in sessions if s.started_at is None and s.archived_at is None]
    return [await occurrence(call.services.redis, series, s) for s in sessions]


@endpoint(
    "PUT",
    "/api/sessions/{session_id}/series/announcements",
    summary="Replace the text of one announcement before an occurrence, or skip it",
    tag=TAG,
    body=AnnouncementEdit,
    response=Occurrence,
    command=True,
)
async def edit_announcement(call: Call) -> Occurrence:
    result: Occurrence = await call.run(SERIES_COMMANDS["announcement"])
    return result


ENDPOINTS: list[Endpoint] = [
    list_series,
    create_series,
    get_series,
    update_series,
    list_occurrences,
    edit_announcement,
]
