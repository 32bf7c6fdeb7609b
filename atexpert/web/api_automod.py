"""Auto-moderation endpoints: read and replace a session's config, raid switch, dry run.

Admins and the session's moderators only. Mounted by adding ``*api_automod.ENDPOINTS``
to ``atexpert.web.app.ENDPOINTS``.
"""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from atexpert.domain.automod import Context, Decision, evaluate
from atexpert.domain.automod_config import AutomodConfig
from atexpert.domain.questions import MAX_TEXT, Author, Question
from atexpert.domain.staff import Action
from atexpert.store.automod import AutomodStore, StoredConfig
from atexpert.web.api_routing import Call, Endpoint, IfVersion, endpoint
from atexpert.web.setting_commands import SETTING_COMMANDS, RaidIn

TAG = "automod"
ONE = "/api/sessions/{session_id}/automod"


class VersionQuery(IfVersion):
    version: int | None = Field(
        default=None, ge=0, description="Replace only if still at this version (0: never set)"
    )


class CheckIn(BaseModel):
    """A made-up question to try the rules on (nothing is stored)."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)
    author: Author = Field(default_factory=lambda: Author(id="0", handle="someone"))
    created_at: AwareDatetime | None = None
    config: AutomodConfig | None = Field(
        default=None, description="Rules to try instead of the session's"
    )


@endpoint(
    "GET", ONE, summary="The session's auto-moderation config", tag=TAG, response=StoredConfig
)
async def get_automod(call: Call) -> StoredConfig:
    session = await call.session(Action.QUESTION_MODERATE)
    return await AutomodStore(call.services.redis).get(session.id)


@endpoint(
    "PUT",
    ONE,
    summary="Replace the session's auto-moderation config",
    tag=TAG,
    body=AutomodConfig,
    query=VersionQuery,
    response=StoredConfig,
    command=True,
)
async def put_automod(call: Call) -> StoredConfig:
    return await call.run(SETTING_COMMANDS["automod"], guard=VersionQuery)


@endpoint(
    "PUT",
    ONE + "/raid",
    summary="Switch raid mode on or off (other settings kept)",
    tag=TAG,
    body=RaidIn,
    response=StoredConfig,
    command=True,
)
async def set_raid_mode(call: Call) -> StoredConfig:
    return await call.run(SETTING_COMMANDS["raid"])


@endpoint(
    "POST",
    ONE + "/check",
    summary="Dry run: what auto-moderation would decide on a question",
    tag=TAG,
    body=CheckIn,
    response=Decision,
)
async def check_automod(call: Call) -> Decision:
    session = await call.session(Action.QUESTION_MODERATE)
    body = call.body(CheckIn)
    config = body.config or (await AutomodStore(call.services.redis).get(session.id)).config
    now = body.created_at or call.now()
    question = Question(
        id="q_0",
        session_id=session.id,
        author=body.author,
        text=body.text,
        received_at=now,
        created_at=now,
    )
    return evaluate(question, config, Context(now=now))


ENDPOINTS: list[Endpoint] = [get_automod, put_automod, set_raid_mode, check_automod]
