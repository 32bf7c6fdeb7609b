"""Log context and the JSON log format (``ATEXPERT_LOG_FORMAT=json``).

The web layer notes, per request or websocket, its request id, and once known the session
and the actor (:func:`note`); every log line written meanwhile, by any logger, carries
them in the JSON format: one object per line with ``time``, ``level``, ``logger``,
``message``, ``request_id``, ``session_id``, ``actor`` (and ``exception``).

No secret reaches a log line: request lines and handshake headers have the secrets of
invitation links, of X's OAuth redirect and of credential headers blanked (:func:`redact`:
on uvicorn's loggers whatever their handlers, and on every record of :func:`log_handler`),
and libraries that write request headers or bodies at DEBUG (tweepy's ``Authorization``
among them) are kept at INFO (:data:`HEADER_LOGGERS`).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import Context, ContextVar, copy_context
from datetime import UTC, datetime
from typing import Any, TextIO

REQUEST_ID: ContextVar[str | None] = ContextVar("atexpert_request_id", default=None)
SESSION_ID: ContextVar[str | None] = ContextVar("atexpert_session_id", default=None)
ACTOR: ContextVar[str | None] = ContextVar("atexpert_actor", default=None)

#: Paths whose last segment is a secret (an invitation link), and query parameters that are.
_SECRET_PATH = re.compile(r"(/invite/|/api/invitations/)[^/?#\s\"]+")
_SECRET_QUERY = re.compile(
    r"([?&](?:code|state|token|secret|password|access_token|refresh_token)=)[^&#\s\"]*"
)
#: A header line of a websocket handshake (the server logs them at DEBUG) holding credentials.
_SECRET_HEADER = re.compile(
    r"^([<>] (?:cookie|set-cookie|authorization|sec-websocket-protocol|x-csrf-token): ).*",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
#: Loggers that print request headers or bodies (credentials among them) at DEBUG.
HEADER_LOGGERS = (
    "tweepy",
    "websockets",
    "httpcore",
    "hpack",
    "oauthlib",
    "requests_oauthlib",
    "urllib3",
)
REQUEST_LINE_LOGGERS = ("uvicorn.access", "uvicorn.error")
SERVER_LOGGERS = ("uvicorn", *REQUEST_LINE_LOGGERS)


def note(*, session_id: str | None = None, actor: str | None = None) -> None:
    """Remember the session and the actor of the current request (or task) for its logs."""
    if session_id is not None:
        SESSION_ID.set(session_id)
    if actor is not None:
        ACTOR.set(actor)


def in_session(session_id: str) -> Context:
    """A copy of the current context with ``session_id`` noted: for a session's background
    task (``asyncio.create_task(..., context=in_session(sid))``), whose logs then carry it."""
    context = copy_context()
    context.run(SESSION_ID.set, session_id)
    return context


def redact(text: str) -> str:
    """``text`` with the secrets of invitation paths, OAuth query strings and credential
    headers blanked."""
    text = _SECRET_HEADER.sub(r"\1" + REDACTED, text)
    return _SECRET_QUERY.sub(r"\1" + REDACTED, _SECRET_PATH.sub(r"\1" + REDACTED, text))


class RedactFilter(logging.Filter):
    """Blanks the secrets of the request lines a record carries (see :func:`redact`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def redact_request_lines() -> None:
    """Install :class:`RedactFilter` on the server's request-line loggers (once)."""
    for name in REQUEST_LINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactFilter) for f in logger.filters):
            logger.addFilter(RedactFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the current log context."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
            "session_id": SESSION_ID.get(),
            "actor": ACTOR.get(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def log_handler(log_format: str, stream: TextIO | None = None) -> logging.Handler:
    """A handler writing ``json`` or ``text`` lines to ``stream`` (stderr), secrets blanked."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter())
    return handler


def configure_logging(
    log_format: str, *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Send every logger's records at ``level`` and above (uvicorn's too) to one
    :func:`log_handler`, which replaces the root logger's handlers; that handler."""
    handler = log_handler(log_format, stream)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in SERVER_LOGGERS:  # a logging config of uvicorn's may have given them their own
        server = logging.getLogger(name)
        server.handlers.clear()
        server.propagate = True
    for name in HEADER_LOGGERS:
        logging.getLogger(name).setLevel(max(level, logging.INFO))
    return handler
