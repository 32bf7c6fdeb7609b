"""The OpenAPI 3.1 document, generated from the :class:`Endpoint` declarations.

Schemas come from the pydantic models (validation mode for request bodies and query
parameters, serialization mode for responses) and land in ``components.schemas``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter

import atexpert
from atexpert.web.api_errors import ErrorBody
from atexpert.web.api_routing import BODY_ERRORS, Endpoint
from atexpert.web.auth import COOKIE_NAME, CSRF_HEADER, SAFE_METHODS

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]

_AUTH_ERRORS = {
    401: "Not authenticated (no, bad, expired or revoked credentials)",
    403: "Not allowed for this user, or missing/wrong CSRF token",
}
_NOT_FOUND = "No such resource"
_CONFLICT = "Conflict, illegal state transition, or the record is no longer at ?version="
_INVALID = "Invalid input (see detail)"
_UNAVAILABLE = "Redis is unavailable; retry shortly"


def error_statuses(ep: Endpoint) -> dict[int, str]:
    """The error statuses ``ep`` can answer, from what it declares: a body can be malformed,
    too large or not JSON; a non-public endpoint refuses callers; a path parameter can name
    nothing; a staff action can meet a conflicting state; and every request reads Redis."""
    errors: dict[int, str] = {}
    if ep.body is not None:
        errors |= dict(BODY_ERRORS)
    if not ep.public:
        errors |= _AUTH_ERRORS
    if "{" in ep.path:
        errors[404] = _NOT_FOUND
    if not ep.public and ep.method != "GET":
        errors[409] = _CONFLICT
    if ep.body is not None or ep.query is not None or not ep.public:
        errors[422] = _INVALID  # also stored data a staff read can't use (a thread's split)
    errors[503] = _UNAVAILABLE
    errors |= dict(ep.errors)
    return dict(sorted(errors.items()))


class _Schemas:
    """Collects component schemas and hands out ``$ref``s to them."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}

    def ref(self, tp: Any, mode: Mode) -> dict[str, Any]:
        schema = TypeAdapter(tp).json_schema(mode=mode, ref_template=REF)
        self.add(schema.pop("$defs", {}))
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            name = str(schema.get("title", tp.__name__))
            self.add({name: schema})
            return {"$ref": REF.format(model=name)}
        return schema

    def add(self, schemas: dict[str, Any]) -> None:
        """Add named schemas; two different ones under one name is a bug (raise)."""
        for name, schema in schemas.items():
            if self.components.setdefault(name, schema) != schema:
                raise ValueError(f"two different schemas are named {name!r} in the OpenAPI")


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _query_parameters(model: type[BaseModel], schemas: _Schemas) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    schemas.add(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(ep: Endpoint, schemas: _Schemas) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": ep.name, "summary": ep.summary, "tags": [ep.tag]}
    params = _path_parameters(ep.path)
    if ep.query is not None:
        params += _query_parameters(ep.query, schemas)
    if params:
        op["parameters"] = params
    if ep.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": schemas.ref(ep.body, "validation")}},
        }
    ok: dict[str, Any] = {"description": "Success"}
    if ep.response is not None:
        content = {"schema": schemas.ref(ep.response, "serialization")}
        ok["content"] = {"application/json": content}
    elif ep.media:
        ok["content"] = {media: {} for media in ep.media}
    responses: dict[str, Any] = {str(ep.ok_status): ok}
    error = {"application/json": {"schema": schemas.ref(ErrorBody, "serialization")}}
    for status, description in error_statuses(ep).items():
        responses[str(status)] = {"description": description, "content": error}
    op["responses"] = responses
    cookie: dict[str, list[str]] = {"cookieAuth": []}
    if ep.method not in SAFE_METHODS:
        cookie["csrfToken"] = []  # state changes by cookie also need the CSRF header
    op["security"] = [] if ep.public else [cookie, {"bearerAuth": []}]
    return op


def openapi_document(endpoints: Iterable[Endpoint], *, server_url: str = "/") -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        paths.setdefault(ep.path, {})[ep.method.lower()] = _operation(ep, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "atexpert API",
            "version": atexpert.__version__,
            "description": (
                "Staff API of atexpert. Browsers log in with POST /api/login (cookie) and send "
                f"the returned CSRF token in {CSRF_HEADER} on state-changing requests; "
                "automation sends 'Authorization: Bearer <token>'."
            ),
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
                "csrfToken": {"type": "apiKey", "in": "header", "name": CSRF_HEADER},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            },
        },
    }
