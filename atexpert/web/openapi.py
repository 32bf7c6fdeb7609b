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
from atexpert.web.api_routing import Endpoint
from atexpert.web.auth import COOKIE_NAME, CSRF_HEADER, SAFE_METHODS

REF = "#/components/schemas/{model}"
Mode = Literal["validation", "serialization"]

_ERRORS = {
    "400": "Malformed JSON",
    "401": "Not authenticated (no, bad, expired or revoked credentials)",
    "403": "Not allowed for this user, or missing/wrong CSRF token",
    "404": "No such resource",
    "409": "Conflict or illegal state transition",
    "413": "Body too large",
    "415": "Body is not application/json",
    "422": "Invalid input (see detail)",
    "503": "Redis is unavailable; retry shortly",
}
_PUBLIC_ERRORS = {"429": "Too many failed attempts; retry later"}


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
    responses: dict[str, Any] = {str(ep.status if ep.response is not None else 204): ok}
    error = {"application/json": {"schema": schemas.ref(ErrorBody, "serialization")}}
    errors = {**_ERRORS, **(_PUBLIC_ERRORS if ep.public else {})}
    for status, description in errors.items():
        if status in {"401", "403"} and ep.public:
            continue
        responses[status] = {"description": description, "content": error}
    for code, description in ep.errors:
        responses[str(code)] = {"description": description, "content": error}
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
