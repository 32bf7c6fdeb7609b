"""Where ``/`` sends people, where the pages link posts to, and how staff are named to
people (analytics, exports, the consoles' name list): over HTTP, on real Redis."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.sessions import HostAccount, Session, SessionFields, SessionStatus
from atexpert.domain.staff import StaffUser
from atexpert.settings import Settings
from atexpert.web.pages import landing_path
from tests.support.api_world import (
    PASSWORD,
    T0,
    Api,
    ApiWorld,
    bearer,
    incoming,
    session_body,
)
from tests.support.api_world import api as api
from tests.support.api_world import world as world

HTML = {"Accept": "text/html,application/xhtml+xml"}


def person(uid: str, *, admin: bool = False) -> StaffUser:
    return StaffUser(
        id=uid,
        username=uid,
        display_name=uid.title(),
        password_hash="x",
        is_admin=admin,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def session(sid: str, status: SessionStatus, mods: list[str], experts: list[str]) -> Session:
    start = datetime(2026, 1, 2, tzinfo=UTC)
    return Session(
        id=sid,
        title=sid,
        hashtags=["#Ask"],
        host_account=HostAccount(handle="Airbus"),
        moderator_ids=mods,
        expert_ids=experts,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        status=status,
        created_by="root",
        created_at=start,
        updated_by="root",
        updated_at=start,
    )


def test_landing_rules() -> None:
    mia, eve = person("mia"), person("eve")
    live = session("s_live", SessionStatus.LIVE, ["mia"], ["mia", "eve"])
    later = session("s_later", SessionStatus.SCHEDULED, ["mia"], ["eve"])
    assert landing_path(None, [live]) == "/live"
    assert landing_path(person("root", admin=True), [live]) == "/admin"
    # the one live session's console; the moderator's when both roles are held
    assert landing_path(mia, [live, later]) == "/sessions/s_live/moderate"
    assert landing_path(eve, [live, later]) == "/sessions/s_live/expert"
    # none live, or several: the list of one's sessions
    assert landing_path(eve, [later]) == "/sessions"
    again = session("s_again", SessionStatus.LIVE, ["mia"], [])
    assert landing_path(mia, [live, again]) == "/sessions"
    assert landing_path(person("out"), [live]) == "/sessions"


async def test_root_sends_browsers_on_and_answers_api_clients(api: Api, world: ApiWorld) -> None:
    r = await api.new_client().get("/", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/live"
    for name, where in (
        ("admin", "/admin"),
        ("moderator", f"/sessions/{world.sid}/moderate"),
        ("expert", f"/sessions/{world.sid}/expert"),
        ("outsider", f"/sessions/{world.sid2}/expert"),
    ):
        client, _ = await api.login(name)
        r = await client.get("/", headers=HTML)
        assert (r.status_code, r.headers["location"]) == (303, where), name
    # a stale cookie is a visitor
    stale = api.new_client(cookies={"atexpert_session": "forged"})
    assert (await stale.get("/", headers=HTML)).headers["location"] == "/live"
    r = await api.client.get("/")
    assert r.status_code == 200 and r.json()["consoles"]["sessions"] == "/sessions"
    page = await api.client.get("/sessions")
    assert page.status_code == 200 and "/static/js/sessions.js" in page.text


@pytest.mark.parametrize(
    ("x_api", "link"),
    [
        ("https://api.twitter.com", "https://x.com/{handle}/status/{id}"),
        ("https://api.x.com/", "https://x.com/{handle}/status/{id}"),
        ("http://127.0.0.1:8100/", "http://127.0.0.1:8100/_emulator/timeline/{handle}#p{id}"),
    ],
)
def test_posts_are_linked_to_the_configured_x(x_api: str, link: str) -> None:
    settings = Settings(x_api_base_url=x_api, secret_key=SecretStr("k" * 32))
    assert settings.x_post_link == link


async def test_the_pages_learn_where_posts_are_linked(api: Api) -> None:
    r = await api.client.get("/api/public/links")
    assert r.status_code == 200 and r.json() == {
        "x_post_link": "https://x.com/{handle}/status/{id}"
    }


async def named_world(api: Api, world: ApiWorld) -> tuple[str, StaffUser, StaffUser]:
    """A session staffed by people with display names; Mia approved, Eva answered."""
    staff = api.services.staff
    mia = await staff.create_user("mia", PASSWORD, display_name="Mia Laurent")
    eva = await staff.create_user("eva", PASSWORD, display_name="Dr. Eva Jet")
    store, now = api.services.store, api.clock.now()
    fields = SessionFields.model_validate(
        session_body(
            title="L'A350 : vos questions",
            hashtags=["#AskAirbus"],
            moderator_ids=[mia.id],
            expert_ids=[eva.id],
        )
    )
    s = await store.create_session(fields, actor="admin", at=now)
    await store.schedule_session(s.id, actor="admin", at=now)
    await store.start_session(s.id, actor="admin", at=now)
    q, _ = await store.add_question(s.id, incoming(7), at=now)
    await store.approve_question(s.id, q.id, actor="mia", at=now)
    draft = AnswerDraft(question_ids=[q.id], text="Quiet engines.")
    answer = await store.create_answer(s.id, draft, expert_id=eva.id, at=now)
    await store.submit_answer(s.id, answer.id, actor="eva", at=now)
    return s.id, mia, eva


async def test_staff_are_named_by_display_name_in_exports_and_analytics(
    api: Api, world: ApiWorld
) -> None:
    sid, mia, eva = await named_world(api, world)
    admin = bearer(world.tokens["admin"])
    r = await api.client.get(f"/api/sessions/{sid}/export?format=csv", headers=admin)
    day = (T0 + timedelta(hours=1)).astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    assert r.headers["content-disposition"] == f'attachment; filename="askairbus-{day}.csv"'
    row = next(csv.DictReader(io.StringIO(r.text.removeprefix("\ufeff"), newline="")))
    assert row["decided_by"] == "Mia Laurent"  # (not answered yet: no expert on the row)
    md = await api.client.get(f"/api/sessions/{sid}/export?format=md", headers=admin)
    assert md.headers["content-disposition"] == f'attachment; filename="askairbus-{day}.md"'
    assert "Dr. Eva Jet" in md.text and "Mia Laurent" in md.text and eva.id not in md.text
    assert "| eva |" not in md.text  # the audit trail names the actor too
    figures = (await api.client.get(f"/api/sessions/{sid}/analytics", headers=admin)).json()
    assert [(m["actor"], m["name"]) for m in figures["moderators"]] == [("mia", "Mia Laurent")]
    # one row per expert, whether the events name them by username or the answer by id
    assert [(e["expert"], e["name"], e["drafted"]) for e in figures["experts"]] == [
        (eva.id, "Dr. Eva Jet", 1)
    ]
    page = await api.client.get(f"/sessions/{sid}/analytics", headers=admin)
    assert "Dr. Eva Jet" in page.text and "Mia Laurent" in page.text and eva.id not in page.text
    # the JSON export stays the importable record: ids, not names
    doc = (await api.client.get(f"/api/sessions/{sid}/export", headers=admin)).json()
    assert doc["answers"][0]["expert_id"] == eva.id
    assert mia.id in doc["session"]["moderator_ids"]


async def test_the_consoles_learn_the_names_of_a_sessions_staff(api: Api, world: ApiWorld) -> None:
    sid, _, _ = await named_world(api, world)
    r = await api.client.get(f"/api/sessions/{sid}/staff", headers=bearer(world.tokens["admin"]))
    assert r.status_code == 200
    names = {p["username"]: p["name"] for p in r.json()}
    # its moderator and expert, and the admins (who may act on any session); no one else
    assert names == {"mia": "Mia Laurent", "eva": "Dr. Eva Jet", "admin": "admin"}
    other = await api.client.get(
        f"/api/sessions/{sid}/staff", headers=bearer(world.tokens["moderator"])
    )
    assert other.status_code == 403
