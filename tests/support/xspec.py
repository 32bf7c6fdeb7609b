"""Validate X API responses against the official OpenAPI spec in ``../shared``.

``validate(method, path, status, body, content_type=...)`` finds the operation by
path template and method, picks the response for ``status`` (or ``default``) and the
content type, and validates ``body`` with jsonschema, resolving ``$ref`` through a
``referencing`` registry. OpenAPI 3.0's ``nullable`` is translated to JSON Schema.

Two things the spec does not say, handled on purpose:

- X names its problem types on two hosts (``api.twitter.com`` and ``api.x.com``); the
  spec enumerates ``api.x.com``. Types are matched on their path, never their host.
- X also answers problems the spec's ``Problem`` union does not enumerate
  (``about:blank`` for 401/403/429, ``credits-depleted`` for 402, ``invalid-rules``,
  ``streaming-connection``). Wherever the spec expects a ``Problem``, a known type is
  checked strictly and any other against RFC 9457's shape (``type`` and ``title``
  strings; ``detail`` a string and ``status`` an integer when present). A top-level
  problem's ``status`` must equal the HTTP status.
- X answers an invalid stream rule with 400 and the rules response body (``meta`` and
  ``errors``); the spec only documents it under 200: pass ``schema_status=200``.

Unknown keys are allowed, as in the spec (real X still sends ``edit_history_tweet_ids``,
which 2.167 no longer declares); key-level fidelity is checked against the recordings.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
SPEC_PATH = SHARED / "conformance" / "x-api" / "openapi.json"
RECORDINGS = SHARED / "conformance" / "x-api" / "recordings"
SPEC_URI = "urn:x-api-openapi"
PROBLEM_PREFIX = "/2/problems/"

GENERIC_PROBLEM: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "detail": {"type": "string"},
        "status": {"type": "integer"},
    },
}


def require_spec() -> None:
    """Skip the calling test when the shared conformance data is absent."""
    if not SPEC_PATH.is_file():
        pytest.skip(f"X API OpenAPI spec not found ({SPEC_PATH.name} under ../shared)")


def _openapi_to_jsonschema(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi_to_jsonschema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _openapi_to_jsonschema(value) for key, value in node.items()}
    if out.pop("nullable", False):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@cache
def _spec() -> dict[str, Any]:
    raw: dict[str, Any] = json.loads(SPEC_PATH.read_text(encoding="utf-8"))
    components: dict[str, Any] = _openapi_to_jsonschema(raw["components"])
    schemas = components["schemas"]
    known = sorted(schemas["Problem"]["discriminator"]["mapping"])
    schemas["Problem"] = {
        "if": {"required": ["type"], "properties": {"type": {"enum": known}}},
        "then": {key: value for key, value in schemas["Problem"].items() if key != "discriminator"},
        "else": GENERIC_PROBLEM,
    }
    return {"paths": raw["paths"], "components": components}


@cache
def _registry() -> Registry:
    resource = Resource.from_contents(_spec(), default_specification=DRAFT202012)
    registry: Registry = Registry().with_resource(SPEC_URI, resource)
    return registry


def _template_regex(template: str) -> re.Pattern[str]:
    parts = (re.escape(p) if not p.startswith("{") else "[^/]+" for p in template.split("/"))
    return re.compile("/".join(parts) + "$")


def find_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The spec's (path template, operation) for a concrete request path."""
    require_spec()
    paths: dict[str, Any] = _spec()["paths"]
    candidates = [
        template
        for template, ops in paths.items()
        if method.lower() in ops and _template_regex(template).match(path)
    ]
    if not candidates:
        raise LookupError(f"no operation {method} {path} in the X API spec")
    template = min(candidates, key=lambda t: t.count("{"))
    return template, paths[template][method.lower()]


def type_path(uri: str) -> str:
    """The path of a problem type: the same on ``api.twitter.com`` and ``api.x.com``."""
    match = re.match(r"https?://[^/]+(/.*)$", uri)
    return match.group(1) if match else uri


def _normalize_problem_hosts(node: Any) -> Any:
    """Rewrite known problem types to the host the spec enumerates (api.x.com)."""
    if isinstance(node, list):
        return [_normalize_problem_hosts(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _normalize_problem_hosts(value) for key, value in node.items()}
    kind = out.get("type")
    if isinstance(kind, str) and type_path(kind).startswith(PROBLEM_PREFIX):
        out["type"] = "https://api.x.com" + type_path(kind)
    return out


def _validate(schema: dict[str, Any], instance: Any, what: str) -> None:
    validator = Draft202012Validator(schema, registry=_registry())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors]
        raise AssertionError(f"{what} does not match the X API spec:\n" + "\n".join(lines[:20]))


def validate(
    method: str,
    path: str,
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    schema_status: int | None = None,
) -> str:
    """Validate one response body; returns the schema reference it was checked against."""
    template, operation = find_operation(method, path)
    responses: dict[str, Any] = operation["responses"]
    response = responses.get(str(schema_status or status)) or responses.get("default")
    what = f"{method} {path} -> {status}"
    if response is None:
        raise AssertionError(f"{what}: the spec defines no {status} response for {template}")
    media = content_type.split(";")[0].strip().lower()
    content: dict[str, Any] = response.get("content", {})
    if media not in content:
        raise AssertionError(f"{what}: content type {media!r} not in {sorted(content)}")
    ref: str = content[media]["schema"]["$ref"]
    _validate({"$ref": SPEC_URI + ref}, _normalize_problem_hosts(body), what)
    if ref.endswith("/Problem") and body.get("status", status) != status:
        raise AssertionError(f"{what}: problem status {body['status']} != HTTP {status}")
    return ref


def validate_stream_line(body: Any) -> None:
    """Validate one JSON line of the filtered stream."""
    validate("GET", "/2/tweets/search/stream", 200, body)
