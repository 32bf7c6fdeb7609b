"""The console pages over HTTP: security headers, static files, the strings tables, the
thread preview and the public session list (real Redis, the app with its lifespan)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from atexpert.domain.clock import ManualClock
from atexpert.domain.costs import DEFAULT_RATE_CARD
from atexpert.domain.publish_plan import plan
from atexpert.domain.sessions import SessionFields
from atexpert.web.app import create_app
from atexpert.web.pages import FRONTEND, PAGES, content_security_policy
from tests.support.api_world import (
    BASE,
    FAST_HASHER,
    T0,
    Api,
    ApiWorld,
    bearer,
    incoming,
    session_body,
    settings,
)
from tests.support.api_world import world as world

HTML_FILES = sorted(FRONTEND.glob("*.html"))
JS_FILES = sorted((FRONTEND / "js").glob("*.js"))
LONG = " ".join(["The cabin air is renewed every two to three minutes."] * 12)


@pytest.fixture
async def api(redis_standalone: aioredis.Redis) -> AsyncIterator[Api]:
    """The app (it mounts the consoles), on real Redis."""
    clock = ManualClock(T0)
    app = create_app(
        settings(),
        redis=redis_standalone,
        clock=clock,
        password_hasher=FAST_HASHER,
        run_scheduler=False,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Api(app, client, clock)


def concrete(path: str) -> str:
    return path.replace("{session_id}", "s_0123456789ab")


@pytest.mark.parametrize("path", list(PAGES))
async def test_every_page_is_html_under_a_strict_csp(api: Api, path: str) -> None:
    r = await api.client.get(concrete(path))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert csp == content_security_policy(settings().public_base_url)
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "same-origin"
    assert '<script type="module" src="/static/js/' in r.text


async def test_static_files_are_served_with_their_type_and_headers(api: Api) -> None:
    r = await api.client.get("/static/js/moderator.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["content-security-policy"] == content_security_policy(
        settings().public_base_url
    )
    assert (
        (await api.client.get("/static/css/app.css")).headers["content-type"].startswith("text/css")
    )
    r = await api.client.get("/static/i18n/fr.json")
    assert r.status_code == 200 and r.json()["login.title"]


@pytest.mark.parametrize(
    ("base", "connect"),
    [
        ("http://127.0.0.1:8000", "connect-src 'self' ws://127.0.0.1:8000"),
        ("https://ama.example.com", "connect-src 'self' wss://ama.example.com"),
        ("not a url", "connect-src 'self'"),
        (None, "connect-src 'self'"),
    ],
)
def test_csp_names_the_websocket_origin_and_nothing_unsafe(base: str | None, connect: str) -> None:
    csp = content_security_policy(base)
    assert f"{connect};" in csp
    assert "unsafe" not in csp and "*" not in csp
    assert csp.startswith("default-src 'self'; script-src 'self'; style-src 'self';")


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/nope.js",
        "/static/js/../../atexpert/web/app.py",
        "/static/js/%2e%2e/%2e%2e/pyproject.toml",
        "/static/../pyproject.toml",
        "/static/pyproject.toml",
        "/static/login.html",
        "/static/js/.hidden.js",
        "/static/js",
        "/static/",
    ],
)
async def test_nothing_outside_the_static_folders_is_served(api: Api, path: str) -> None:
    r = await api.client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")


class _Audit(HTMLParser):
    """Collects what the CSP would block: inline scripts, style attributes, handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_script = False
        self.i18n: set[str] = set()
        self.ids: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self.in_script = True
            if not names.get("src"):
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name == "style" or name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name.startswith("data-i18n") and value:
                self.i18n.add(value)
            if name == "id" and value:
                self.ids.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("inline script body")


def audit(path: Path) -> _Audit:
    parser = _Audit()
    parser.feed(path.read_text())
    return parser


def tables() -> dict[str, dict[str, str | dict[str, str]]]:
    return {
        lang: json.loads((FRONTEND / "i18n" / f"{lang}.json").read_text()) for lang in ("en", "fr")
    }


def forms(value: str | dict[str, str]) -> list[str]:
    """A string's forms: itself, or each plural form of a count string."""
    return [value] if isinstance(value, str) else list(value.values())


@pytest.mark.parametrize("path", HTML_FILES, ids=lambda p: p.name)
def test_pages_have_nothing_the_csp_blocks_and_unique_ids(path: Path) -> None:
    found = audit(path)
    assert found.problems == []
    assert len(found.ids) == len(set(found.ids))


@pytest.mark.parametrize("path", JS_FILES, ids=lambda p: p.name)
def test_scripts_never_parse_html(path: Path) -> None:
    source = path.read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source, f"{path.name} uses {sink}"
    assert "new Function" not in source


def test_french_and_english_have_the_same_strings() -> None:
    en, fr = tables()["en"], tables()["fr"]
    assert set(en) == set(fr)
    for key, value in en.items():
        for text in forms(value) + forms(fr[key]):
            assert text.strip(), key
            assert set(re.findall(r"\{\w+\}", text)) == set(
                re.findall(r"\{\w+\}", forms(value)[0])
            ), key
        for table in (value, fr[key]):
            # Plural forms: CLDR's categories, "other" always there, the count {n} in each.
            if isinstance(table, dict):
                assert "other" in table and set(table) <= {
                    "zero",
                    "one",
                    "two",
                    "few",
                    "many",
                    "other",
                }, key
                assert all("{n}" in text for text in table.values()), key


def test_every_string_the_pages_use_is_translated() -> None:
    en = tables()["en"]
    used: set[str] = set()
    for path in HTML_FILES:
        used |= audit(path).i18n
    for path in JS_FILES:
        used |= set(re.findall(r"\bt\(\s*\"([a-z0-9_.]+)\"", path.read_text()))
    missing = sorted(k for k in used if k not in en)
    assert missing == []
    # Keys built at run time: one per status.
    for prefix in ("status.", "state.", "answer.status.", "part.", "session.status."):
        assert any(k.startswith(prefix) for k in en), prefix


# -- the thread preview -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["thread", "link"])
async def test_preview_names_the_merged_askers_and_prices_their_replies(
    api: Api, world: ApiWorld, mode: str
) -> None:
    """One asker summoned the host (a summoned reply, or a link post), one did not (a post
    of its own; a link post); an asker whose two questions were merged is answered once."""
    store, at = api.services.store, api.clock.now()
    body = session_body(expert_ids=[world.users["expert"].id], options={"merged_replies": mode})
    session = await store.create_session(SessionFields.model_validate(body), actor="a", at=at)
    sid = session.id
    await store.schedule_session(sid, actor="admin", at=at)
    await store.start_session(sid, actor="admin", at=at)
    main, _ = await store.add_question(sid, incoming(2), at=at)
    await store.approve_question(sid, main.id, actor="moderator", at=at)
    twice = incoming(4, "Wings?? #AskAirbus").model_copy(update={"tweet_id": "1000099"})
    for asked in (incoming(3, "@Airbus wings?"), incoming(4, "Wings, how? #AskAirbus"), twice):
        q, _ = await store.add_question(sid, asked, at=at)
        await store.merge_question(sid, q.id, main.id, actor="moderator", at=at)
    r = await api.client.post(
        f"/api/sessions/{sid}/preview",
        json={"question_ids": [main.id], "text": "With lift."},
        headers=bearer(world.tokens["expert"]),
    )
    assert r.status_code == 200, r.text
    merged = r.json()["merged"]
    assert [(m["handle"], m["name"], m["route"], m["posts"]) for m in merged] == [
        ("fan3", "", "reply", 1),
        ("fan4", "", "standalone", 1),  # no start announcement on X yet: no thread
    ]
    card = DEFAULT_RATE_CARD
    prices = {"thread": card.summoned_reply + card.post, "link": 2 * card.post_with_url}
    assert Decimal(r.json()["merged_cost"]) == prices[mode]


async def test_preview_is_the_thread_the_publisher_will_post(api: Api, world: ApiWorld) -> None:
    url = f"/api/sessions/{world.sid}/preview"
    r = await api.client.post(
        url,
        json={"question_ids": [world.approved], "text": LONG},
        headers=bearer(world.tokens["expert"]),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    store = api.services.store
    session = await store.get_session(world.sid)
    question = await store.get_question(world.sid, world.approved)
    answer = await store.get_answer(world.sid, world.answer)
    expected = plan(answer.model_copy(update={"text": LONG}), question, session, None)
    assert [p["text"] for p in body["parts"]] == [p.text for p in expected.parts]
    assert len(body["parts"]) >= 2
    assert body["parts"][0]["text"].endswith(f"1/{len(body['parts'])}")
    assert all(p["weighted_length"] <= 280 for p in body["parts"])
    assert body["weighted_length"] > 280
    assert body["route"] == expected.route.value


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("outsider", 403), ("moderator", 403), ("expert", 200), ("admin", 200)],
)
async def test_preview_is_for_whoever_may_write_answers(
    api: Api, world: ApiWorld, who: str, status: int
) -> None:
    headers = bearer(world.tokens[who]) if who != "anonymous" else {}
    r = await api.client.post(
        f"/api/sessions/{world.sid}/preview",
        json={"question_ids": [world.approved], "text": "Lift."},
        headers=headers,
    )
    assert r.status_code == status, r.text


@pytest.mark.parametrize(
    ("body", "status", "loc"),
    [
        ({"question_ids": [], "text": "x"}, 422, ["body", "question_ids"]),
        ({"question_ids": ["q_1"], "text": ""}, 422, ["body", "text"]),
        ({"question_ids": ["q_1"], "text": "x", "extra": 1}, 422, ["body", "extra"]),
        ({"question_ids": ["q_1"], "text": "x" * 10_001}, 422, ["body", "text"]),
        ({"question_ids": ["q_999"], "text": "x"}, 404, None),
        ({"question_ids": ["q_1"], "text": "   "}, 422, ["body", "text"]),
    ],
)
async def test_preview_refuses_bad_input_with_details(
    api: Api, world: ApiWorld, body: dict[str, object], status: int, loc: list[str] | None
) -> None:
    if body["question_ids"] == ["q_1"]:
        body = {**body, "question_ids": [world.approved]}
    r = await api.client.post(
        f"/api/sessions/{world.sid}/preview", json=body, headers=bearer(world.tokens["expert"])
    )
    assert r.status_code == status, r.text
    if loc is not None:
        assert r.json()["detail"][0]["loc"][:2] == loc


# -- public sessions ----------------------------------------------------------------------


async def test_public_sessions_list_live_and_upcoming_only(api: Api, world: ApiWorld) -> None:
    store, now = api.services.store, api.clock.now()
    draft = await store.create_session(
        SessionFields.model_validate(session_body(title="Secret draft")), actor="a", at=now
    )
    later = await store.create_session(
        SessionFields.model_validate(
            session_body(
                title="Next week",
                scheduled_start=(T0 + timedelta(days=7)).isoformat(),
                scheduled_end=(T0 + timedelta(days=7, hours=1)).isoformat(),
            )
        ),
        actor="a",
        at=now,
    )
    await store.schedule_session(later.id, actor="a", at=now)
    await store.add_question(world.sid, incoming(9), at=now)
    r = await api.client.get("/api/public/sessions")
    assert r.status_code == 200
    found = r.json()
    ids = [s["id"] for s in found]
    assert draft.id not in ids
    assert ids.index(world.sid) < ids.index(later.id)  # live ones first
    assert set(found[0]) == {
        "id", "title", "description", "kind", "hashtags", "scheduled_start",
        "scheduled_end", "time_zone", "language", "status", "host_handle",
    }  # fmt: skip
    assert found[0]["host_handle"] == "Airbus"
