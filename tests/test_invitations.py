"""Invitations by link: the store on a real Redis (standalone and cluster: single use under
concurrency, expiry by the app's clock, revocation) and the API (admins create, list and
revoke; the holder of a link joins logged in or with a new account)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from atexpert.domain.clock import ManualClock
from atexpert.domain.errors import Conflict, NotFound
from atexpert.domain.invitations import MAX_HOURS, InvitationStatus, new_invitation
from atexpert.domain.sessions import Role
from atexpert.store.invitations import InvitationStore
from atexpert.web.auth import COOKIE_NAME, CSRF_HEADER
from tests.support.api_world import PASSWORD, Api, ApiWorld, bearer
from tests.support.redis_fixtures import RedisClient, RedisFactory

pytest_plugins = ("tests.support.api_world",)

SID = "s_0123456789ab"

# -- the store ---------------------------------------------------------------------------


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def invites(redis: RedisClient, clock: ManualClock) -> InvitationStore:
    return InvitationStore(redis, clock=clock)


async def _all_keys(redis: RedisClient) -> list[str]:
    return [str(k) async for k in redis.scan_iter(match="*")]


async def test_created_invitation_is_pending_and_its_secret_is_not_stored(
    redis: RedisClient, invites: InvitationStore, clock: ManualClock
) -> None:
    invitation, secret = await invites.create(
        SID, Role.EXPERT, note="Dr. Ada", hours=48, actor="root"
    )
    assert len(secret) >= 43 and invitation.id.startswith("inv_")
    assert invitation.expires_at == clock.now() + timedelta(hours=48)
    found = await invites.find(secret)
    assert found == invitation and found.status is InvitationStatus.PENDING
    assert await invites.pending(SID) == [invitation]
    keys = await _all_keys(redis)
    assert keys and all(k.startswith("ama:{invites}:") for k in keys)
    for key in keys:
        stored = await redis.dump(key)
        assert stored is not None and secret.encode() not in stored and secret not in key


async def test_unknown_and_malformed_secrets_find_nothing(invites: InvitationStore) -> None:
    await invites.create(SID, Role.EXPERT, note=None, hours=1, actor="root")
    for secret in ("x" * 43, "short", "../../etc", "é" * 43):
        assert await invites.find(secret) is None
        assert await invites.claim(secret) == "unknown"


async def test_accepting_spends_the_link(invites: InvitationStore, clock: ManualClock) -> None:
    invitation, secret = await invites.create(SID, Role.MODERATOR, note=None, hours=1, actor="r")
    assert await invites.claim(secret) == "claimed"
    assert await invites.claim(secret) == "accepted"
    await invites.finish(secret, invitation, "u_42")
    found = await invites.find(secret)
    assert found is not None and found.status is InvitationStatus.ACCEPTED
    assert found.accepted_by == "u_42" and found.accepted_at == clock.now()
    assert await invites.pending(SID) == []
    assert await invites.claim(secret) == "accepted"


async def test_a_released_claim_makes_the_link_usable_again(invites: InvitationStore) -> None:
    invitation, secret = await invites.create(SID, Role.EXPERT, note=None, hours=1, actor="r")
    assert await invites.claim(secret) == "claimed"
    await invites.release(secret)
    assert await invites.pending(SID) == [invitation]
    assert await invites.claim(secret) == "claimed"


async def test_links_expire_by_the_clock(invites: InvitationStore, clock: ManualClock) -> None:
    _, secret = await invites.create(SID, Role.EXPERT, note=None, hours=2, actor="root")
    clock.advance(timedelta(hours=1, minutes=59))
    assert len(await invites.pending(SID)) == 1
    clock.advance(timedelta(minutes=1))
    found = await invites.find(secret)
    assert found is not None and found.status is InvitationStatus.EXPIRED
    assert await invites.claim(secret) == "expired"
    assert await invites.pending(SID) == []


async def test_links_outlive_their_expiry_in_redis_for_a_while(
    redis: RedisClient, invites: InvitationStore
) -> None:
    """Kept 30 days past the expiry so a late visitor learns what happened to the link."""
    await invites.create(SID, Role.EXPERT, note=None, hours=MAX_HOURS, actor="root")
    ttls = [await redis.pttl(k) for k in await _all_keys(redis)]
    assert all(timedelta(days=59) < timedelta(milliseconds=t) <= timedelta(days=60) for t in ttls)


async def test_revoked_links_cannot_be_used(invites: InvitationStore, clock: ManualClock) -> None:
    invitation, secret = await invites.create(SID, Role.EXPERT, note=None, hours=1, actor="root")
    other, _ = await invites.create(SID, Role.MODERATOR, note=None, hours=1, actor="root")
    await invites.revoke(SID, invitation.id, actor="root")
    found = await invites.find(secret)
    assert found is not None and found.status is InvitationStatus.REVOKED
    assert found.revoked_by == "root" and found.revoked_at == clock.now()
    assert await invites.claim(secret) == "revoked"
    assert await invites.pending(SID) == [other]
    with pytest.raises(NotFound):
        await invites.revoke(SID, invitation.id, actor="root")
    with pytest.raises(NotFound):
        await invites.revoke("s_another", other.id, actor="root")  # not that session's


async def test_an_invitation_being_accepted_cannot_be_revoked(invites: InvitationStore) -> None:
    invitation, secret = await invites.create(SID, Role.EXPERT, note=None, hours=1, actor="root")
    assert await invites.claim(secret) == "claimed"
    with pytest.raises(Conflict, match="accepted"):
        await invites.revoke(SID, invitation.id, actor="root")


async def test_concurrent_accepts_have_exactly_one_winner(
    redis: RedisClient, redis_factory: RedisFactory, clock: ManualClock
) -> None:
    """Many app processes (own connections) accept the same link at the same moment."""
    _, secret = await InvitationStore(redis, clock=clock).create(
        SID, Role.EXPERT, note=None, hours=1, actor="root"
    )
    stores = [InvitationStore(await redis_factory(), clock=clock) for _ in range(12)]
    results = await asyncio.gather(*(s.claim(secret) for s in stores))
    assert sorted(results) == ["accepted"] * 11 + ["claimed"]


def test_validity_is_bounded() -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    for hours in (0, MAX_HOURS + 1):
        with pytest.raises(ValueError, match="valid"):
            new_invitation("i", SID, Role.EXPERT, note=None, hours=hours, actor="r", now=now)


# -- the API -----------------------------------------------------------------------------

NEW_ACCOUNT = {"username": "ada", "display_name": "Ada Lovelace", "password": "analytical-1"}


async def _invite(w: ApiWorld, role: str = "expert", **over: Any) -> tuple[str, dict[str, Any]]:
    """An invitation to the world's session, made by its admin: (secret, response body)."""
    r = await w.api.client.post(
        f"/api/sessions/{w.sid}/invitations",
        json={"role": role, **over},
        headers=bearer(w.tokens["admin"]),
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body["url"].rsplit("/", 1)[1], body


async def _roles_events(api: Api, sid: str) -> list[Any]:
    events = await api.services.store.read_events(sid, count=1000)
    return [e for e in events if e.kind == "session.roles_changed"]


async def test_admin_creates_lists_and_revokes_invitations(api: Api, world: ApiWorld) -> None:
    secret, body = await _invite(world, "moderator", note="  Bob from ops ")
    assert body["url"] == f"{api.services.settings.public_base_url}/invite/{secret}"
    invitation = body["invitation"]
    assert invitation["role"] == "moderator" and invitation["note"] == "Bob from ops"
    assert invitation["status"] == "pending" and invitation["created_by"] == "admin"
    expires = datetime.fromisoformat(invitation["expires_at"])
    assert expires == api.clock.now() + timedelta(days=7)  # the default validity
    url = f"/api/sessions/{world.sid}/invitations"
    admin = bearer(world.tokens["admin"])
    listed = (await api.client.get(url, headers=admin)).json()
    assert [i["id"] for i in listed] == [invitation["id"]]
    assert secret not in str(listed)  # the secret is shown once, at creation
    r = await api.client.delete(f"{url}/{invitation['id']}", headers=admin)
    assert r.status_code == 204
    assert (await api.client.get(url, headers=admin)).json() == []
    r = await api.client.get(f"/api/invitations/{secret}")
    assert r.status_code == 410 and r.json()["error"] == "invitation_revoked"
    r = await api.client.delete(f"{url}/{invitation['id']}", headers=admin)
    assert r.status_code == 404


async def test_the_link_shows_what_it_invites_to(api: Api, world: ApiWorld) -> None:
    secret, body = await _invite(world, note="For Ada", expires_in_hours=24)
    r = await api.client.get(f"/api/invitations/{secret}")  # no credentials
    assert r.status_code == 200, r.text
    assert r.json() == {
        "session_id": world.sid,
        "session_title": "Ask Airbus",
        "language": "en",
        "role": "expert",
        "note": "For Ada",
        "expires_at": body["invitation"]["expires_at"],
    }


async def test_a_newcomer_creates_an_account_and_is_logged_in(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world)
    newcomer = api.new_client()
    r = await newcomer.post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["console"] == f"/sessions/{world.sid}/expert" and out["role"] == "expert"
    assert out["user"]["username"] == "ada" and out["user"]["display_name"] == "Ada Lovelace"
    assert not out["user"]["is_admin"] and "password" not in r.text
    assert r.headers["set-cookie"].startswith(COOKIE_NAME + "=")
    me = await newcomer.get("/api/me")
    assert me.status_code == 200 and me.json()["csrf_token"] == out["csrf_token"]
    session = (await newcomer.get(f"/api/sessions/{world.sid}")).json()
    assert out["user"]["id"] in session["expert_ids"]
    grants = (await newcomer.get(f"/api/sessions/{world.sid}/grants")).json()
    assert grants["roles"] == ["expert"]
    events = await _roles_events(api, world.sid)
    assert events[-1].actor == "ada" and out["user"]["id"] in events[-1].data["expert_ids"]
    # The new account logs in with its password, like any staff account.
    r = await api.new_client().post(
        "/api/login", json={"username": "ada", "password": "analytical-1"}
    )
    assert r.status_code == 200
    # The link is spent.
    r = await api.new_client().post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    assert r.status_code == 410 and r.json()["error"] == "invitation_used"
    r = await api.client.get(f"/api/invitations/{secret}")
    assert r.status_code == 410 and "already been used" in r.json()["message"]


async def test_a_logged_in_user_joins_as_themselves(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world, "moderator")
    outsider = world.users["outsider"]
    client, csrf = await api.login("outsider")
    url = f"/api/invitations/{secret}/accept"
    r = await client.post(url, json={})
    assert r.status_code == 403 and r.json()["error"] == "csrf_failed"
    r = await client.post(url, json=NEW_ACCOUNT, headers={CSRF_HEADER: csrf})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][0] == "body"
    r = await client.post(url, json={}, headers={CSRF_HEADER: csrf})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["user"]["id"] == outsider.id and out["csrf_token"] is None
    assert out["console"] == f"/sessions/{world.sid}/moderate"
    assert "set-cookie" not in r.headers
    session = await api.services.store.get_session(world.sid)
    assert outsider.id in session.moderator_ids
    events = await _roles_events(api, world.sid)
    # A second click by the same user is harmless: same answer, nothing changes.
    r = await client.post(url, json={}, headers={CSRF_HEADER: csrf})
    assert r.status_code == 200 and r.json()["user"]["id"] == outsider.id
    assert await _roles_events(api, world.sid) == events
    # Anyone else finds the link spent.
    r = await api.client.post(url, json={}, headers=bearer(world.tokens["expert"]))
    assert r.status_code == 410


async def test_an_api_token_joins_too_and_a_bad_one_is_refused(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world, "moderator")
    url = f"/api/invitations/{secret}/accept"
    r = await api.client.post(url, json={}, headers=bearer("atx_not-a-token"))
    assert r.status_code == 401
    r = await api.client.post(url, json={}, headers=bearer(world.tokens["outsider"]))
    assert r.status_code == 200 and r.json()["user"]["username"] == "outsider"


async def test_a_stale_login_cookie_counts_as_anonymous(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world)
    client = api.new_client(cookies={COOKIE_NAME: "expired-or-forged"})
    r = await client.post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    assert r.status_code == 200 and r.json()["user"]["username"] == "ada"


async def test_a_taken_username_is_a_409_and_does_not_spend_the_link(
    api: Api, world: ApiWorld
) -> None:
    secret, _ = await _invite(world)
    url = f"/api/invitations/{secret}/accept"
    r = await api.new_client().post(url, json={**NEW_ACCOUNT, "username": "Expert"})
    assert r.status_code == 409, r.text
    assert r.json()["detail"] == [
        {
            "loc": ["body", "username"],
            "msg": "the username 'expert' is already taken",
            "type": "taken",
        }
    ]
    r = await api.new_client().post(url, json=NEW_ACCOUNT)
    assert r.status_code == 200


async def test_two_newcomers_racing_on_one_link(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world)
    url = f"/api/invitations/{secret}/accept"
    bodies = [{**NEW_ACCOUNT, "username": f"racer{n}"} for n in range(4)]
    replies = await asyncio.gather(*(api.new_client().post(url, json=b) for b in bodies))
    assert sorted(r.status_code for r in replies) == [200, 410, 410, 410]
    users = {u.username for u in await api.services.staff.list_users()}
    assert len({b["username"] for b in bodies} & users) == 1  # no orphan account


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"role": "boss"}, ["body", "role"]),
        ({}, ["body", "role"]),
        ({"role": "expert", "expires_in_hours": 0}, ["body", "expires_in_hours"]),
        ({"role": "expert", "expires_in_hours": MAX_HOURS + 1}, ["body", "expires_in_hours"]),
        ({"role": "expert", "expires_in_hours": "soon"}, ["body", "expires_in_hours"]),
        ({"role": "expert", "note": "x" * 201}, ["body", "note"]),
        ({"role": "expert", "secret": "mine"}, ["body", "secret"]),
    ],
)
async def test_bad_invitation_input_is_a_422_with_the_field(
    api: Api, world: ApiWorld, body: dict[str, Any], loc: list[str]
) -> None:
    r = await api.client.post(
        f"/api/sessions/{world.sid}/invitations", json=body, headers=bearer(world.tokens["admin"])
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("body", "locs"),
    [
        ({}, [["body", "username"], ["body", "password"]]),
        ({"username": "ada"}, [["body", "password"]]),
        ({**NEW_ACCOUNT, "username": "a b"}, [["body", "username"]]),
        ({**NEW_ACCOUNT, "password": "short"}, [["body", "password"]]),
        ({**NEW_ACCOUNT, "password": "QWERTY123456"}, [["body", "password"]]),  # common
        ({**NEW_ACCOUNT, "password": "ada-analytical"}, [["body", "password"]]),  # username
        ({**NEW_ACCOUNT, "display_name": " "}, [["body", "display_name"]]),
        ({**NEW_ACCOUNT, "is_admin": True}, [["body", "is_admin"]]),
    ],
)
async def test_bad_account_input_is_a_422_and_keeps_the_link(
    api: Api, world: ApiWorld, body: dict[str, Any], locs: list[list[str]]
) -> None:
    secret, _ = await _invite(world)
    r = await api.client.post(f"/api/invitations/{secret}/accept", json=body)
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["detail"]] == locs
    assert (await api.client.get(f"/api/invitations/{secret}")).status_code == 200


async def test_accept_wants_a_json_body(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world)
    url = f"/api/invitations/{secret}/accept"
    assert (await api.client.post(url, content=b"username=ada")).status_code == 415
    r = await api.client.post(url, content=b"{", headers={"content-type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("secret", ["x" * 43, "short", "has.a.dot" * 5])
async def test_unknown_links_are_404(api: Api, world: ApiWorld, secret: str) -> None:
    r = await api.client.get(f"/api/invitations/{secret}")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = await api.client.post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    assert r.status_code == 404


async def test_expired_links_are_gone(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world, expires_in_hours=1)
    api.clock.advance(timedelta(hours=1))
    r = await api.client.get(f"/api/invitations/{secret}")
    assert r.status_code == 410 and r.json()["error"] == "invitation_expired"
    r = await api.new_client().post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    assert r.status_code == 410
    assert await api.services.staff.get_by_username("ada") is None
    listed = await api.client.get(
        f"/api/sessions/{world.sid}/invitations", headers=bearer(world.tokens["admin"])
    )
    assert listed.json() == []


async def test_closed_and_archived_sessions_take_no_invitations(api: Api, world: ApiWorld) -> None:
    secret, _ = await _invite(world)
    admin = bearer(world.tokens["admin"])
    for step, status in (("close", "closed"), ("archive", "archived")):
        r = await api.client.post(f"/api/sessions/{world.sid}/{step}", headers=admin)
        assert r.status_code == 200, r.text
        r = await api.client.post(
            f"/api/sessions/{world.sid}/invitations", json={"role": "expert"}, headers=admin
        )
        assert r.status_code == 409 and r.json()["error"] == "session_closed"
        r = await api.new_client().post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
        assert r.status_code == 409 and f"is {status}" in r.json()["message"]
    assert await api.services.staff.get_by_username("ada") is None
    assert (await api.client.get(f"/api/invitations/{secret}")).status_code == 200


async def test_the_openapi_document_lists_the_410(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    accept = doc["paths"]["/api/invitations/{secret}/accept"]["post"]
    assert "410" in accept["responses"] and accept["security"] == []


async def test_a_newcomer_keeps_their_password_private(api: Api, world: ApiWorld) -> None:
    """The password is hashed like any account's, and the login works with it only."""
    secret, _ = await _invite(world)
    client = api.new_client()
    await client.post(f"/api/invitations/{secret}/accept", json=NEW_ACCOUNT)
    user = await api.services.staff.get_by_username("ada")
    assert user is not None and NEW_ACCOUNT["password"] not in user.password_hash
    r = await api.new_client().post("/api/login", json={"username": "ada", "password": PASSWORD})
    assert r.status_code == 401
