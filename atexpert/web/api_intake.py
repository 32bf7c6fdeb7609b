"""Intake and cost endpoints: intake status and mode, spend and budget, X's limits.

Mounted by adding ``*api_intake.ENDPOINTS`` to ``atexpert.web.app.ENDPOINTS``.
"""

from __future__ import annotations

from atexpert.domain.staff import Action
from atexpert.store.intake_state import IntakeStatus, IntakeStore
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.web.setting_commands import (
    SETTING_COMMANDS,
    BudgetIn,
    IntakeModeIn,
    MonthlyBudgetIn,
)
from atexpert.x.meter import EndpointLimits, Meter, SpendReport

TAG = "intake"
ONE = "/api/sessions/{session_id}"


@endpoint("GET", ONE + "/intake", summary="Intake status", tag=TAG, response=IntakeStatus)
async def intake_status(call: Call) -> IntakeStatus:
    """Mode, state (running, backoff, rate limited, paused by the budget...), lag, last
    error and counters of the session's intake."""
    session = await call.session(Action.SESSION_READ)
    return await IntakeStore(call.services.redis).status(session.id)


@endpoint(
    "PUT",
    ONE + "/intake/mode",
    summary="Choose how questions are read from X",
    tag=TAG,
    body=IntakeModeIn,
    response=IntakeStatus,
    command=True,
)
async def set_intake_mode(call: Call) -> IntakeStatus:
    return await call.run(SETTING_COMMANDS["intake_mode"])


@endpoint("GET", ONE + "/spend", summary="X spend of the session", tag=TAG, response=SpendReport)
async def session_spend(call: Call) -> SpendReport:
    session = await call.session(Action.SESSION_READ)
    return await Meter(call.services.redis, clock=call.services.clock).report(session.id)


@endpoint(
    "PUT",
    ONE + "/budget",
    summary="Set or remove the session's X budget (intake pauses before passing it)",
    tag=TAG,
    body=BudgetIn,
    response=SpendReport,
    command=True,
)
async def set_budget(call: Call) -> SpendReport:
    return await call.run(SETTING_COMMANDS["budget"])


@endpoint(
    "PUT",
    ONE + "/monthly-budget",
    summary="Set or remove the session's X budget per month of its time zone (intake "
    "pauses when the month's spend reaches it, and resumes the next month)",
    tag=TAG,
    body=MonthlyBudgetIn,
    response=SpendReport,
    command=True,
)
async def set_monthly_budget(call: Call) -> SpendReport:
    return await call.run(SETTING_COMMANDS["monthly_budget"])


@endpoint(
    "GET",
    "/api/x/limits",
    summary="X rate limits and daily post limits, as X last reported them",
    tag=TAG,
    response=list[EndpointLimits],
)
async def x_limits(call: Call) -> list[EndpointLimits]:
    call.require(Action.SESSION_CREATE)
    return await Meter(call.services.redis, clock=call.services.clock).limits()


ENDPOINTS: list[Endpoint] = [
    intake_status,
    set_intake_mode,
    session_spend,
    set_budget,
    set_monthly_budget,
    x_limits,
]
