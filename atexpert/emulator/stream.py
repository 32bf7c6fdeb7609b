"""Filtered stream: GET /2/tweets/search/stream and its rules (app bearer only)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from atexpert.emulator import meter
from atexpert.emulator.core import APP, Call, endpoint, json_body, x_json
from atexpert.emulator.hub import Connection, StreamHub
from atexpert.emulator.params import POST_VIEW_PARAMS, Params
from atexpert.emulator.problems import JSON_TYPE, XError, problem_type, too_many_connections
from atexpert.emulator.query import QueryError, parse
from atexpert.emulator.state import Rule, iso
from atexpert.emulator.tweets import schema_errors


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddRule(_Strict):
    value: str
    tag: str | None = None


class DeleteRules(_Strict):
    ids: list[str] | None = Field(default=None)
    values: list[str] | None = None


class RulesIn(_Strict):
    add: list[AddRule] | None = None
    delete: DeleteRules | None = None


def _flag(p: Params, name: str) -> bool:
    raw = p.text(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        p.fail(name, raw, f"The `{name}` query parameter value [{raw}] is not one of [true,false]")
    return raw == "true"


async def _chunks(hub: StreamHub, conn: Connection) -> AsyncIterator[bytes]:
    yield b"\r\n"
    while True:
        chunk = await conn.next_chunk(hub.heartbeat)
        if chunk is None:
            yield b"\r\n"
        elif not chunk:
            return
        else:
            yield chunk


class _StreamResponse(StreamingResponse):
    """Frees the app's single stream slot however the response ends (even unstarted)."""

    def __init__(self, hub: StreamHub, conn: Connection) -> None:
        super().__init__(_chunks(hub, conn), media_type=JSON_TYPE)
        self.hub = hub
        self.conn = conn

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.release(self.conn)


@endpoint("stream", APP)
async def stream(call: Call) -> Response:
    p = Params(call.request, ("backfill_minutes", "start_time", "end_time", *POST_VIEW_PARAMS))
    view = p.view()
    if p.text("backfill_minutes") is not None:
        p.fail(
            "backfill_minutes",
            p.text("backfill_minutes") or "",
            "The `backfill_minutes` query parameter is not available for your product",
        )
    p.done()
    meter.require_credit(call.state, "search_read")
    conn = call.emu.hub.open(view)
    if conn is None:
        raise too_many_connections()
    return _StreamResponse(call.emu.hub, conn)


def _rule_json(rule: Rule) -> dict[str, str]:
    out = {"id": rule.id, "value": rule.value}
    if rule.tag:
        out["tag"] = rule.tag
    return out


@endpoint("stream_rules_get", APP)
async def get_rules(call: Call) -> Response:
    p = Params(call.request, ("ids", "max_results", "pagination_token"))
    raw = p.text("ids")
    p.integer("max_results", 1, 1000, 1000)
    p.done()
    rules = list(call.state.rules.values())
    if raw:
        wanted = set(raw.split(","))
        rules = [r for r in rules if r.id in wanted]
    body: dict[str, Any] = {}
    if rules:
        body["data"] = [_rule_json(r) for r in rules]
    body["meta"] = {"sent": iso(call.state.clock.now()), "result_count": len(rules)}
    return x_json(body)


def _add(call: Call, adds: list[AddRule], dry_run: bool) -> Response:
    state = call.state
    data: list[dict[str, str]] = []
    errors: list[dict[str, Any]] = []
    invalid = 0
    existing = {r.value: r for r in state.rules.values()}
    fresh: list[Rule] = []
    for add in adds:
        try:
            node = parse(add.value, state.policy.max_rule_length)
        except QueryError as exc:
            invalid += 1
            errors.append(
                {
                    "value": add.value,
                    "details": [str(exc)],
                    "title": "UnprocessableEntity",
                    "type": problem_type("invalid-rules"),
                }
            )
            continue
        if add.value in existing:
            dup = existing[add.value]
            errors.append(
                {
                    "value": add.value,
                    "id": dup.id,
                    "title": "DuplicateRule",
                    "type": problem_type("duplicate-rules"),
                }
            )
            continue
        rule = Rule(state.new_id(), add.value, add.tag or "", node)
        existing[add.value] = rule
        fresh.append(rule)
    if len(state.rules) + len(fresh) > state.policy.max_rules:
        raise XError(
            403,
            {
                "title": "RuleCapExceeded",
                "type": problem_type("rule-cap"),
                "detail": f"You cannot create a new rule because you've reached the "
                f"limit of {state.policy.max_rules} rules.",
            },
        )
    created = 0 if invalid or dry_run else len(fresh)
    if created:
        for rule in fresh:
            state.rules[rule.id] = rule
        state.dirty = True
    if not invalid:
        data = [_rule_json(r) for r in fresh]
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    body["meta"] = {
        "sent": iso(state.clock.now()),
        "summary": {
            "created": created,
            "not_created": len(adds) - created,
            "valid": len(adds) - invalid,
            "invalid": invalid,
        },
    }
    if errors:
        body["errors"] = errors
    return x_json(body, status=400 if invalid else 200)


def _delete(call: Call, ids: list[str], values: list[str], dry_run: bool) -> Response:
    state = call.state
    by_value = {r.value: r.id for r in state.rules.values()}
    targets = [*ids, *(by_value.get(v, v) for v in values)]
    found = [t for t in targets if t in state.rules]
    errors = [
        {
            "value": t,
            "detail": "Rule does not exist",
            "title": "Not Found Error",
            "resource_type": "rule",
            "type": problem_type("resource-not-found"),
        }
        for t in targets
        if t not in state.rules
    ]
    if not dry_run:
        for t in found:
            state.rules.pop(t, None)
        state.dirty = True
    body: dict[str, Any] = {
        "meta": {
            "sent": iso(state.clock.now()),
            "summary": {"deleted": len(found), "not_deleted": len(targets) - len(found)},
        }
    }
    if errors:
        body["errors"] = errors
    return x_json(body)


@endpoint("stream_rules_post", APP)
async def post_rules(call: Call) -> Response:
    p = Params(call.request, ("dry_run", "delete_all"))
    dry_run = _flag(p, "dry_run")
    delete_all = _flag(p, "delete_all")
    p.done()
    if delete_all:
        return _delete(call, list(call.state.rules), [], dry_run)
    raw = await json_body(call.request)
    try:
        body = RulesIn.model_validate(raw)
    except ValidationError as exc:
        raise schema_errors(exc) from None
    if (body.add is None) == (body.delete is None):
        raise schema_errors(
            ValidationError.from_exception_data(
                "RulesIn", [{"type": "missing", "loc": ("add",), "input": raw}]
            )
        )
    if body.add is not None:
        return _add(call, body.add, dry_run)
    assert body.delete is not None
    return _delete(call, body.delete.ids or [], body.delete.values or [], dry_run)


routes = [
    Route("/2/tweets/search/stream", stream),
    Route("/2/tweets/search/stream/rules", get_rules, methods=["GET"]),
    Route("/2/tweets/search/stream/rules", post_rules, methods=["POST"]),
]
