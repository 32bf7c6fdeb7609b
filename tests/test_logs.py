"""The JSON log format and its context, and what redaction blanks."""

from __future__ import annotations

import asyncio
import io
import json
import logging

from atexpert.web.logs import REQUEST_ID, in_session, log_handler, note, redact


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


async def test_json_lines_carry_the_context_of_requests_and_session_tasks() -> None:
    stream = io.StringIO()
    handler = log_handler("json", stream)
    log = logging.getLogger("atexpert.test_logs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("outside any request")

        async def request() -> None:
            REQUEST_ID.set("req-1")
            note(session_id="s_abc", actor="mia")
            log.info("moderated %s", "q_1")

        async def publisher() -> None:
            try:
                raise ValueError("X said no")
            except ValueError:
                log.exception("publishing failed")

        await asyncio.create_task(request())
        await asyncio.create_task(publisher(), context=in_session("s_pub"))
    finally:
        log.removeHandler(handler)
    first, moderated, failed = _lines(stream)
    assert first["message"] == "outside any request" and first["request_id"] is None
    assert {"time", "level", "logger"} <= first.keys() and first["level"] == "INFO"
    assert moderated["message"] == "moderated q_1"
    assert (moderated["request_id"], moderated["session_id"], moderated["actor"]) == (
        "req-1",
        "s_abc",
        "mia",
    )
    assert failed["session_id"] == "s_pub" and failed["level"] == "ERROR"
    assert "ValueError: X said no" in str(failed["exception"])


def test_redaction_blanks_link_secrets_oauth_parameters_and_credential_headers() -> None:
    assert redact('"GET /invite/AbC123_x HTTP/1.1" 200') == '"GET /invite/[redacted] HTTP/1.1" 200'
    assert redact("POST /api/invitations/AbC/accept") == "POST /api/invitations/[redacted]/accept"
    assert (
        redact("GET /api/x/callback?state=s1&code=c2&x=1")
        == "GET /api/x/callback?state=[redacted]&code=[redacted]&x=1"
    )
    assert redact("< Cookie: atexpert_session=abc") == "< Cookie: [redacted]"
    assert (
        redact("< sec-websocket-protocol: bearer.atx_1") == "< sec-websocket-protocol: [redacted]"
    )
    assert redact("GET /api/sessions/s_1/questions?after=1-0") == (
        "GET /api/sessions/s_1/questions?after=1-0"
    )
