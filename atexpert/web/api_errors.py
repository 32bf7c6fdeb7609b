"""JSON error responses: every failure of the API is ``{"error": code, "message": ..., ...}``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from atexpert.domain import errors as core_errors

log = logging.getLogger("atexpert.api")


class ApiError(Exception):
    """An error with an HTTP status, raised anywhere under a request."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        detail: Sequence[dict[str, Any]] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        #: Extra response headers (``Retry-After`` of a 429).
        self.headers = headers or {}


class ErrorDetail(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx response."""

    model_config = ConfigDict(title="Error")

    error: str
    message: str
    detail: list[ErrorDetail] | None = None


def validation_details(exc: ValidationError, where: str) -> list[dict[str, Any]]:
    """Pydantic errors as ``[{"loc": [where, ...], "msg": ..., "type": ...}]``."""
    return [
        {"loc": [where, *err["loc"]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_context=False, include_input=False)
    ]


def invalid_input(exc: ValidationError, where: str) -> ApiError:
    details = validation_details(exc, where)
    if any(d["type"] == "json_invalid" for d in details):
        return ApiError(400, "malformed_json", "the request body is not valid JSON", details)
    return ApiError(422, "invalid_input", "the request did not validate", details)


def error_response(
    status: int, code: str, message: str, detail: Sequence[dict[str, Any]] | None = None
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if detail is not None:
        body["detail"] = list(detail)
    headers = {"WWW-Authenticate": 'Bearer realm="atexpert"'} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


_CORE_STATUS: dict[type[core_errors.AtexpertError], int] = {
    core_errors.NotFound: 404,
    core_errors.Conflict: 409,  # IllegalTransition too
    core_errors.Forbidden: 403,
    core_errors.InvalidInput: 422,
}


async def handle_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    response = error_response(exc.status, exc.code, exc.message, exc.detail)
    response.headers.update(exc.headers)
    return response


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    code = codes.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


async def handle_core_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, core_errors.AtexpertError)
    status = next((st for cls, st in _CORE_STATUS.items() if isinstance(exc, cls)), 400)
    detail = None
    if isinstance(exc, core_errors.InvalidInput):
        detail = [{"loc": ["body", *e.loc], "msg": e.msg, "type": e.type} for e in exc.errors]
    return error_response(status, exc.code, exc.message, detail)


async def handle_redis_down(request: Request, exc: Exception) -> Response:
    log.warning("Redis unavailable on %s %s: %s", request.method, request.url.path, exc)
    response = error_response(503, "unavailable", "the database is unavailable; retry shortly")
    response.headers["Retry-After"] = "5"
    return response


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    """Only genuine bugs end here: log them and answer a bare 500."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


def exception_handlers() -> dict[Any, Any]:
    """The handlers to give to ``Starlette(exception_handlers=...)``."""
    handlers: dict[Any, Any] = {core_errors.AtexpertError: handle_core_error}
    handlers[ApiError] = handle_api_error
    handlers[HTTPException] = handle_http_exception
    handlers[RedisConnectionError] = handle_redis_down
    handlers[RedisTimeoutError] = handle_redis_down
    handlers[Exception] = handle_unexpected
    return handlers
