"""The public recap page and the staff analytics page over HTTP (app on real Redis), plus
the export/import API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from atexpert.domain import announce, twittertext
from atexpert.domain.announce import Moment
from atexpert.domain.sessions import HostAccount, SessionFields, new_session
from atexpert.recap import summary as recap
from atexpert.settings import Settings
from atexpert.store.store import Store
from tests.support.api_world import session_body
from tests.support.recap_web import Links, recap_app
from tests.support.seeded_session import T0, TEXT_101, seed_session


@dataclass
class Web:
    client: httpx.AsyncClient
    tokens: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture
async def web(redis_standalone: aioredis.Redis) -> AsyncIterator[Web]:
    settings = Settings(secret_key=SecretStr("recap-test-secret-" + "x" * 32))
    app = recap_app(settings, redis_standalone)
    async with app.router.lifespan_context(app):
        staff = app.state.services.staff
        tokens: dict[str, str] = {}
        for name in ("root", "alice", "erin", "mallory"):
            user = await staff.create_user(name, "password-123", is_admin=name == "root")
            _, tokens[name] = await staff.create_token(user.id, "tests")
            tokens[name + "_id"] = user.id
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield Web(c, tokens)


async def _seed(web: Web, redis: aioredis.Redis, language: str = "fr", close: bool = True) -> str:
    """The seeded session, with alice as a moderator and erin as an expert."""
    ids = web.tokens["alice_id"], web.tokens["erin_id"]
    seeded = await seed_session(
        redis, language, moderator_ids=(ids[0],), expert_ids=(ids[1],), close=close
    )
    return seeded.session_id


async def test_recap_page_is_public_french_escaped_and_linked(
    web: Web, redis_standalone: aioredis.Redis
) -> None:
    sid = await _seed(web, redis_standalone)
    r = await web.client.get(f"/recap/{sid}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    html = r.text
    assert '<html lang="fr">' in html
    assert "Récapitulatif" in html and "Réponses" in html
    # shareable: canonical address and link-preview tags
    assert f'<link rel="canonical" href="http://127.0.0.1:8000/recap/{sid}">' in html
    assert '<meta property="og:title" content="Récapitulatif: L&#x27;A350' in html
    # escaped text: the quotes and « » of the question are shown, not interpreted
    assert "l&#x27;A350 est-il « si » silencieux, même au décollage ?" in html
    assert TEXT_101.splitlines()[0] not in html  # never raw
    parser = Links()
    parser.feed(html)
    assert parser.scripts == 0 and parser.inline_styles == 0
    assert "https://x.com/ana/status/101" in parser.hrefs  # the question's post
    for tweet in ("9001", "9002", "9003"):  # each reply posted by the host
        assert f"https://x.com/Airbus/status/{tweet}" in parser.hrefs
    assert "https://x.com/ana/status/106" in parser.hrefs  # merged asker under q_101
    assert html.index("status/9001") < html.index("status/9002") < html.index("status/9003")
    # the approved question left unanswered, with its note; hidden on request
    assert "Questions sans réponse" in html and "Quelle altitude de croisière ?" in html
    assert "Approuvées par la modération mais restées sans réponse" in html
    hidden = (await web.client.get(f"/recap/{sid}?unanswered=0")).text
    assert "Quelle altitude" not in hidden
    # rejected and pending questions never appear
    assert "zut alors" not in html and "POURQUOI AUTANT" not in html


async def test_recap_in_english_and_only_once_closed(
    web: Web, redis_standalone: aioredis.Redis
) -> None:
    sid = await _seed(web, redis_standalone, "en")
    html = (await web.client.get(f"/recap/{sid}")).text
    assert '<html lang="en">' in html and "Unanswered questions" in html
    assert (await web.client.get("/recap/s_nope")).status_code == 404
    assert (await web.client.get("/recap/bad%20id")).status_code == 404
    live = await _seed(web, redis_standalone, "en", close=False)
    r = await web.client.get(f"/recap/{live}")
    assert r.status_code == 404 and "when the session closes" in r.text


async def test_a_draft_recap_is_the_page_of_an_unknown_session(
    web: Web, redis_standalone: aioredis.Redis
) -> None:
    secrets = {
        "title": "Secret launch of the A390",
        "description": "Not announced yet",
        "hashtags": ["#A390Reveal"],
        "host_account": {"handle": "AirbusSecret"},
    }
    fields = SessionFields.model_validate(session_body(**secrets))
    draft = await Store(redis_standalone).create_session(fields, actor="root")
    unknown = await web.client.get("/recap/s_nope")
    r = await web.client.get(f"/recap/{draft.id}")
    assert r.status_code == unknown.status_code == 404
    assert r.content == unknown.content
    same = {k: v for k, v in r.headers.items() if k != "x-request-id"}
    assert same == {k: v for k, v in unknown.headers.items() if k != "x-request-id"}
    for secret in ("A390", "Secret", "Not announced", "AirbusSecret"):
        assert secret not in r.text


async def test_merged_chains_end_under_the_surviving_question(
    redis_standalone: aioredis.Redis,
) -> None:
    seeded = await seed_session(redis_standalone)
    store = Store(redis_standalone)
    view = recap.build(await store.snapshot(seeded.session_id))
    first = view.items[0].questions[0]
    assert (first.id, [m.handle for m in first.merged]) == ("q_101", ["ana"])
    assert [p.url for p in view.items[0].posts] == ["https://x.com/Airbus/status/9001"]
    assert [q.id for q in view.unanswered] == ["q_109"]


async def test_analytics_page_for_the_session_staff_only(
    web: Web, redis_standalone: aioredis.Redis
) -> None:
    sid = await _seed(web, redis_standalone)
    for who in ("root", "alice", "erin"):
        r = await web.client.get(f"/sessions/{sid}/analytics", headers=web.auth(who))
        assert r.status_code == 200, who
        # Experts read no free-text reject reason: no chart of them.
        assert r.text.count("<svg") == (8 if who == "erin" else 9)
        assert ("Reject reasons" in r.text) is (who != "erin")
        assert "<title" in r.text and "<desc" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert ("export?format=csv" in r.text) is (who == "root")  # exports: admins only
    r = await web.client.get(f"/sessions/{sid}/analytics", headers=web.auth("mallory"))
    assert r.status_code == 403
    assert (await web.client.get(f"/sessions/{sid}/analytics")).status_code == 401
    r = await web.client.get(f"/api/sessions/{sid}/analytics", headers=web.auth("alice"))
    assert r.status_code == 200 and r.json()["counts"]["received"] == 9
    r = await web.client.get(f"/api/sessions/{sid}/analytics", headers=web.auth("mallory"))
    assert r.status_code == 403


async def test_export_and_import_api(web: Web, redis_standalone: aioredis.Redis) -> None:
    sid = await _seed(web, redis_standalone)
    url = f"/api/sessions/{sid}/export"
    assert (await web.client.get(url, headers=web.auth("alice"))).status_code == 403
    assert (await web.client.get(url)).status_code == 401
    r = await web.client.get(url + "?format=xml", headers=web.auth("root"))
    assert r.status_code == 422 and "format" in r.text
    r = await web.client.get(url + "?format=csv", headers=web.auth("root"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    # named after the session: its hashtag and its start date in its time zone (Paris)
    day = T0.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert r.headers["content-disposition"] == f'attachment; filename="askairbus-{day}.csv"'
    r = await web.client.get(url + "?format=md", headers=web.auth("root"))
    assert r.status_code == 200 and r.text.startswith("# ")
    exported = (await web.client.get(url, headers=web.auth("root"))).text
    body = json.loads(exported)
    assert body["analytics"]["counts"]["answered"] == 3

    imp = "/api/import"
    headers = {**web.auth("root"), "content-type": "application/json"}
    r = await web.client.post(imp, content=exported, headers=web.auth("alice"))
    assert r.status_code == 403
    r = await web.client.post(imp, content=exported, headers=headers)
    assert r.status_code == 409  # already here
    r = await web.client.post(imp, content='{"format": "x"}', headers=headers)
    assert r.status_code == 422 and r.json()["detail"]
    r = await web.client.post(imp, content="{", headers=headers)
    assert r.status_code == 422
    r = await web.client.post(imp, content=exported, headers=web.auth("root"))
    assert r.status_code == 415
    # into another atexpert: a fresh Redis
    await redis_standalone.delete(*[k async for k in redis_standalone.scan_iter(f"ama:{{{sid}}}*")])
    r = await web.client.post(imp, content=exported, headers=headers)
    assert r.status_code == 201 and r.json()["id"] == sid
    again = (await web.client.get(url, headers=web.auth("root"))).text
    assert again == exported


def test_the_end_announcement_links_to_the_recap() -> None:
    fields = SessionFields(
        title="Pourquoi l'A350 est si calme " * 6,
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=T0,
        scheduled_end=T0 + timedelta(hours=1),
        language="fr",
    )
    session = new_session(fields, session_id="s_recap", actor="root", at=T0)
    url = recap.recap_url("https://ama.example.org/", session.id)
    assert url == "https://ama.example.org/recap/s_recap"
    text = announce.render(session, Moment.END, answered=3, recap_url=url)
    assert text.endswith(f"Toutes les réponses\u202f: {url}")
    assert twittertext.is_valid(text)  # the long title was shortened, the link kept
    assert url not in announce.render(session, Moment.END, answered=3)
    assert url not in announce.render(session, Moment.START, recap_url=url)
    assert announce.preview(session, recap_url=url).end.text == announce.render(
        session, Moment.END, recap_url=url
    )
