"""The settings of a session as commands (see :mod:`atexpert.web.commands`): its
auto-moderation config and raid switch, its intake mode and its X budgets (in total, and
per month of the session's time zone).

None of them is a websocket message: the consoles change them over HTTP.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.errors import Conflict
from atexpert.domain.staff import Action
from atexpert.store.automod import AutomodStore, StoredConfig
from atexpert.store.intake_state import IntakeMode, IntakeStatus, IntakeStore
from atexpert.web.commands import Command, Stores, Target
from atexpert.x.meter import Meter, SpendReport

#: Tries of the raid switch against concurrent config changes.
RAID_RETRIES = 5
Usd = Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=6)]


class RaidIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raid_mode: bool


class IntakeModeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: IntakeMode = Field(description="mentions (default), stream or search")


class BudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    budget_usd: Usd | None = Field(
        description="Most the session may spend on X reads, in USD; null removes the budget"
    )


class MonthlyBudgetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly_budget_usd: Usd | None = Field(
        description="Most the session may spend on X per month of its time zone, in USD; "
        "intake pauses when it is reached and resumes on the 1st; null removes it"
    )


async def _automod(s: Stores, t: Target, config: AutomodConfig) -> StoredConfig:
    """Replace the config (only if still at ``version``, when given)."""
    return await AutomodStore(s.redis).put(
        t.session.id, config, actor=t.actor, at=t.at, expected_version=t.version
    )


async def _raid(s: Stores, t: Target, body: RaidIn) -> StoredConfig:
    """Switch raid mode, keeping the other settings (retried on concurrent changes)."""
    store = AutomodStore(s.redis)
    for _ in range(RAID_RETRIES):
        current = await store.get(t.session.id)
        config = current.config.model_copy(update={"raid_mode": body.raid_mode})
        try:
            return await store.put(
                t.session.id, config, actor=t.actor, at=t.at, expected_version=current.version
            )
        except Conflict:
            continue
    raise Conflict("the automod config keeps changing; try again")


async def _intake_mode(s: Stores, t: Target, body: IntakeModeIn) -> IntakeStatus:
    state = IntakeStore(s.redis)
    await state.set_mode(t.session.id, body.mode, actor=t.actor, at=t.at)
    return await state.status(t.session.id)


async def _budget(s: Stores, t: Target, body: BudgetIn) -> SpendReport:
    meter = Meter(s.redis)
    await meter.set_budget(t.session.id, body.budget_usd)
    return await meter.report(t.session.id, at=t.at)


async def _monthly_budget(s: Stores, t: Target, body: MonthlyBudgetIn) -> SpendReport:
    meter = Meter(s.redis)
    await meter.set_monthly_budget(t.session.id, body.monthly_budget_usd)
    return await meter.report(t.session.id, at=t.at)


_MODERATE, _UPDATE = Action.QUESTION_MODERATE, Action.SESSION_UPDATE

SETTING_COMMANDS: dict[str, Command[Any, Any]] = {
    c.name: c
    for c in (
        Command("automod", AutomodConfig, _MODERATE, _automod, versioned=True),
        Command("raid", RaidIn, _MODERATE, _raid),
        Command("intake_mode", IntakeModeIn, _UPDATE, _intake_mode),
        Command("budget", BudgetIn, _UPDATE, _budget),
        Command("monthly_budget", MonthlyBudgetIn, _UPDATE, _monthly_budget),
    )
}
