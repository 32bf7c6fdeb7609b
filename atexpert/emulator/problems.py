"""X's error bodies: problem JSON, the invalid-request shape, and resource errors."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

PROBLEM_HOST = "https://api.twitter.com"
JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_TYPE = "application/problem+json"  # as the spec declares error bodies


class XError(Exception):
    """An error answered as X answers it (status, JSON body, extra headers)."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(body.get("detail", body.get("title", "")))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        return JSONResponse(
            self.body, status_code=self.status, headers=self.headers, media_type=PROBLEM_TYPE
        )


def problem_type(name: str) -> str:
    return f"{PROBLEM_HOST}/2/problems/{name}"


def about_blank(
    status: int, title: str, detail: str | None = None, headers: dict[str, str] | None = None
) -> XError:
    """The generic problem X sends for 401/403/404/429 (``type: about:blank``)."""
    body = {"title": title, "detail": detail or title, "type": "about:blank", "status": status}
    return XError(status, body, headers)


def unauthorized() -> XError:
    return about_blank(401, "Unauthorized")


def forbidden(detail: str) -> XError:
    return about_blank(403, "Forbidden", detail)


def invalid_request(errors: list[tuple[str, list[str], str]]) -> XError:
    """400: ``errors`` are (parameter, its values, message) triples."""
    return XError(
        400,
        {
            "errors": [{"parameters": {p: vals}, "message": msg} for p, vals, msg in errors],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": problem_type("invalid-request"),
        },
    )


def bad_param(param: str, value: str, message: str) -> XError:
    return invalid_request([(param, [value], message)])


def body_problem(message: str) -> XError:
    """400 for a malformed or schema-violating JSON body."""
    return XError(
        400,
        {
            "errors": [{"message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": problem_type("invalid-request"),
        },
    )


def credits_depleted() -> XError:
    return XError(
        402,
        {
            "title": "CreditsDepleted",
            "detail": "Your enrolled account does not have any credits to fulfill this request.",
            "type": problem_type("credits-depleted"),
            "status": 402,
        },
    )


def unsupported_auth(detail: str) -> XError:
    return XError(
        403,
        {
            "title": "Unsupported Authentication",
            "detail": detail,
            "type": problem_type("unsupported-authentication"),
            "status": 403,
        },
    )


def not_found_error(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    """One entry of the ``errors`` array X returns (with 200) for a missing resource."""
    return {
        "value": value,
        "detail": f"Could not find {resource_type} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": problem_type("resource-not-found"),
    }


def too_many_requests(headers: dict[str, str]) -> XError:
    return about_blank(429, "Too Many Requests", headers=headers)


def too_many_connections() -> XError:
    return XError(
        429,
        {
            "title": "ConnectionException",
            "detail": "This stream is currently at the maximum allowed connection limit.",
            "connection_issue": "TooManyConnections",
            "type": problem_type("streaming-connection"),
        },
    )


def server_error() -> XError:
    return XError(
        503,
        {
            "title": "Service Unavailable",
            "detail": "Service Unavailable",
            "type": "about:blank",
            "status": 503,
        },
    )
