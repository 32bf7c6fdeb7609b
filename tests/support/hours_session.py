"""A desk: a session with business hours, created through the API of a browser world."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.browser_fixtures import BrowserWorld


def create_desk(world: BrowserWorld, options: dict[str, Any]) -> str:
    """A draft "Customer desk" (Paris time, from tomorrow for 30 days) with ``options``
    (business hours, after-hours behaviour...; no announcements); its id."""
    now = datetime.now(UTC)
    body = {
        "title": "Customer desk",
        "hashtags": ["#AskAirbusDesk"],
        "host_account": {"handle": world.brand.username, "user_id": world.brand.id},
        "scheduled_start": (now + timedelta(days=1)).isoformat(),
        "scheduled_end": (now + timedelta(days=30)).isoformat(),
        "time_zone": "Europe/Paris",
        "options": {"announce": False, **options},
    }
    r = world.http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])
