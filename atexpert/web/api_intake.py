"""Intake and cost endpoints: intake status and mode, spend and budget, X's limits.

Mounted by adding ``*api_intake.ENDPOINTS`` to ``atexpert.web.app.ENDPOINTS``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain.staff import Action
from atexpert.store.intake_state import IntakeMode, IntakeStatus, IntakeStore
from atexpert.web.api_routing import Call, Endpoint, endpoint
from atexpert.x.meter import EndpointLimits, Meter, SpendReport

TAG = "intake"
ONE = "/api/sessions/{session_id}"
Usd = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=6)]


class IntakeModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: IntakeMode = Field(description="mentions (default), stream or search")


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_usd: Usd | None = Field(
        description="Most the session may spend on X reads, in USD; null removes the budget"
    )


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
)
async def set_intake_mode(call: Call) -> IntakeStatus:
    session = await call.session(Action.SESSION_UPDATE)
    state = IntakeStore(call.services.redis)
    mode = call.body(IntakeModeIn).mode
    await state.set_mode(session.id, mode, actor=call.actor, at=call.now())
    return await state.status(session.id)


@endpoint("GET", ONE + "/spend", summary="X spend of the session", tag=TAG, response=SpendReport)
async def session_spend(call: Call) -> SpendReport:
    session = await call.session(Action.SESSION_READ)
    return await Meter(call.services.redis).report(session.id)


@endpoint(
    "PUT",
    ONE + "/budget",
    summary="Set or remove the session's X budget (intake pauses before passing it)",
    tag=TAG,
    body=BudgetIn,
    response=SpendReport,
)
async def set_budget(call: Call) -> SpendReport:
    session = await call.session(Action.SESSION_UPDATE)
    meter = Meter(call.services.redis)
    await meter.set_budget(session.id, call.body(BudgetIn).budget_usd)
    return await meter.report(session.id)


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


ENDPOINTS: list[Endpoint] = [intake_status, set_intake_mode, session_spend, set_budget, x_limits]
