"""The live websocket protocol, end to end: real uvicorn processes, real Redis, real clients.

Two app processes (uvicorn running ``atexpert.web.app:create_app``, separate OS processes) share
the standalone test Redis; tests produce events through the Store and watch what websocket
clients of each role receive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from atexpert.domain.answers import AnswerDraft
from atexpert.domain.errors import Conflict
from atexpert.domain.sessions import HostAccount, Role, SessionFields, SessionUpdate
from atexpert.settings import Settings
from atexpert.store import checkpoint
from atexpert.store.checkpoint import Policy
from atexpert.web.auth import COOKIE_NAME, CookieSigner
from tests.support.live_world import LiveWorld
from tests.support.live_world import world as world
from tests.support.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "http://console.example"
SECRET = "live-test-secret"
SERVER_ENV = {
    "ATEXPERT_PUBLIC_BASE_URL": ORIGIN,
    "ATEXPERT_SECRET_KEY": SECRET,
    "ATEXPERT_LIVE_HEARTBEAT_S": "0.5",
    "ATEXPERT_LIVE_HEARTBEAT_TIMEOUT_S": "6",
    "ATEXPERT_LIVE_SEND_QUEUE": "200",
    "ATEXPERT_LIVE_RATE_PER_S": "5",
    "ATEXPERT_LIVE_BURST": "10",
    "ATEXPERT_LIVE_MAX_STRIKES": "5",
    "ATEXPERT_LIVE_MAX_MESSAGE_BYTES": "4096",
    "ATEXPERT_LIVE_IDLE_S": "0.3",
    # a dropped client's connection is reset after this: the slow reader below reads only
    # once the others have had their 1000 events
    "ATEXPERT_LIVE_CLOSE_TIMEOUT_S": "120",
}


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int

    def url(self, session_id: str, role: str, after: str | None = None) -> str:
        query = f"?after={after}" if after is not None else ""
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{session_id}/{role}{query}"


def start_server(redis_url: str) -> Server:
    port = free_port()
    env = {**os.environ, **SERVER_ENV, "ATEXPERT_REDIS_URL": redis_url}
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "atexpert.web.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--ws-per-message-deflate", "false", "--timeout-graceful-shutdown", "5",
        "--ws", "atexpert.web.serving:WebSocketProtocol",  # as `atexpert serve` does
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"live server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return Server(proc, port)
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("live server did not start listening")


@pytest.fixture(scope="module")
def servers(redis_url: str) -> Iterator[tuple[Server, Server]]:
    """Two live app processes on one Redis."""
    a, b = start_server(redis_url), start_server(redis_url)
    try:
        yield a, b
    finally:
        for server in (a, b):
            server.proc.terminate()
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()
                raise


@dataclass
class Client:
    """A websocket client that answers pings and remembers the last event id it saw."""

    ws: ClientConnection
    last_id: str | None = None
    presence: list[dict[str, Any]] = field(default_factory=list)

    async def recv(self, timeout: float = 10) -> dict[str, Any]:
        """The next frame other than ping and presence."""
        while True:
            message: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if message["type"] == "ping":
                await self.ws.send('{"type":"pong"}')
            elif message["type"] == "presence":
                self.presence.append(message)
            else:
                if message["type"] == "event":
                    self.last_id = message["id"]
                elif message["type"] == "snapshot":
                    self.last_id = message["last_event_id"]
                return message

    async def until(self, pred: Any, timeout: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.recv()
                if pred(message):
                    return message

    async def send(self, body: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(body))


async def open_client(
    server: Server,
    world: LiveWorld,
    role: str,
    user: str | None = None,
    *,
    after: str | None = None,
    origin: str | None = ORIGIN,
    **kw: Any,
) -> Client:
    protocols = ["atexpert.v1"] + ([f"bearer.{world.tokens[user]}"] if user else [])
    ws = await connect(
        server.url(world.session_id, role, after),
        subprotocols=protocols,  # type: ignore[arg-type]
        origin=origin,  # type: ignore[arg-type]
        **({"max_size": None, "max_queue": None, "open_timeout": 10} | kw),
    )
    world.clients.append(ws)
    return Client(ws)


def is_event(kind: str, entity_id: str | None = None) -> Any:
    return lambda m: (
        m["type"] == "event"
        and m["kind"] == kind
        and (entity_id is None or m["entity_id"] == entity_id)
    )


async def refused_with(server: Server, world: LiveWorld, role: str, **kw: Any) -> tuple[int, str]:
    """Close code and reason of a connection the server closes at once."""
    client = await open_client(server, world, role, **kw)
    with pytest.raises(ConnectionClosed) as closed:
        await client.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def denied_status(server: Server, world: LiveWorld, role: str, **kw: Any) -> int:
    with pytest.raises(InvalidStatus) as caught:
        await open_client(server, world, role, **kw)
    return caught.value.response.status_code


# -- resume ------------------------------------------------------------------------------


async def random_step(world: LiveWorld, rng: random.Random, qids: list[str]) -> None:
    store, sid = world.store, world.session_id
    if not qids or rng.random() < 0.3:
        qids.append(await world.ask(f"question {len(qids)} " + "x" * rng.randrange(200)))
        return
    qid = rng.choice(qids)
    action = rng.choice(["approve", "reject", "star", "note", "priority", "tags", "restore"])
    try:
        if action == "approve":
            await store.approve_question(sid, qid, actor="mia")
        elif action == "reject":
            await store.reject_question(sid, qid, "off topic", actor="mia")
        elif action == "star":
            await store.star_question(sid, qid, rng.random() < 0.5, actor="mia")
        elif action == "note":
            await store.set_question_note(sid, qid, f"note {rng.random()}", actor="mia")
        elif action == "priority":
            await store.set_question_priority(sid, qid, rng.randrange(100), actor="mia")
        elif action == "tags":
            await store.set_question_tags(sid, qid, [rng.choice("abc")], actor="mia")
        else:
            await store.restore_question(sid, qid, actor="mia")
    except Conflict:  # illegal from the question's current status: no event
        await world.ask("filler")


async def stream_ids(world: LiveWorld, after: str) -> list[str]:
    entries = await world.redis.xrange(f"ama:{{{world.session_id}}}:events", min="(" + after)
    return [str(e[0]) for e in entries]


async def test_resume_across_1000_random_events_has_no_gap_and_no_duplicate(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    rng = random.Random(5)
    client = await open_client(servers[0], world, "moderator", "mia")
    snapshot = await client.recv()
    assert snapshot["type"] == "snapshot"
    start = snapshot["last_event_id"]
    state = {("question", q["id"]): q for q in snapshot["questions"]}
    qids: list[str] = []

    async def produce() -> None:
        for _ in range(1000):
            await random_step(world, rng, qids)

    producer = asyncio.create_task(produce())
    received: list[str] = []
    reconnects = 0
    while not (
        producer.done() and client.last_id == (await world.store.last_event_id(world.session_id))
    ):
        try:
            message = await client.recv(timeout=0.5)
        except TimeoutError:
            continue
        assert message["type"] == "event", message
        received.append(message["id"])
        state[(message["entity"], message["entity_id"])] = message["record"]
        if rng.random() < 0.03:  # drop the connection, let events pile up, come back elsewhere
            await client.ws.close()
            target = len(qids) + rng.randrange(1, 6)  # questions asked while away
            async with asyncio.timeout(10):
                while len(qids) < target and not producer.done():
                    await asyncio.sleep(0.005)
            server = servers[reconnects % 2 == 0]
            last = client.last_id
            client = await open_client(server, world, "moderator", "mia", after=last)
            client.last_id = last
            reconnects += 1
    await producer
    assert reconnects >= 10
    assert received == await stream_ids(world, start)
    assert len(received) >= 1000
    stored = await world.store.snapshot(world.session_id)
    for qid, question in stored.questions.items():
        assert state[("question", qid)] == question.model_dump(mode="json")


async def test_resync_when_the_events_are_gone(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    client = await open_client(servers[0], world, "moderator", "mia", after="1-0")
    assert (await client.recv())["type"] == "resync"
    snapshot = await client.recv()
    assert snapshot["type"] == "snapshot"
    early = snapshot["last_event_id"]
    await client.ws.close()
    for i in range(5):
        await world.ask(f"q{i}")
    assert await checkpoint.write(world.redis, world.session_id, Policy(every=1, keep=2)) > 0
    # B never followed this session: it loads the checkpoint and the 2 events after it, and
    # cannot resume from early
    client = await open_client(servers[1], world, "moderator", "mia", after=early)
    assert (await client.recv())["type"] == "resync"
    snapshot = await client.recv()
    assert snapshot["type"] == "snapshot"
    assert len(snapshot["questions"]) == 5
    assert snapshot["last_event_id"] == await world.store.last_event_id(world.session_id)


async def test_bad_after_is_refused_with_4400(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    code, reason = await refused_with(servers[0], world, "moderator", user="mia", after="x")
    assert code == 4400 and "1732612345678-0" in reason


# -- several processes -----------------------------------------------------------------


async def test_an_action_on_process_a_reaches_clients_on_process_b(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a, b = servers
    qid = await world.ask("Will the A321XLR fly to Montreal?")
    mia = await open_client(a, world, "moderator", "mia")
    eve = await open_client(b, world, "expert", "eve")
    max_ = await open_client(b, world, "moderator", "max")
    for c in (mia, eve, max_):
        assert (await c.recv())["type"] == "snapshot"
    await mia.send(
        {"type": "question", "request_id": "r1", "action": "approve", "question_id": qid}
    )
    ack = await mia.until(lambda m: m["type"] == "ack")
    assert ack["request_id"] == "r1" and ack["record"]["status"] == "approved"
    seen = await eve.until(is_event("question.approved", qid))
    assert seen["record"]["text"] == "Will the A321XLR fly to Montreal?"
    assert seen["actor"] == "mia"
    await max_.until(is_event("question.approved", qid))

    # presence and soft claims cross processes too
    async with asyncio.timeout(10):
        while not max_.presence or {m["username"] for m in max_.presence[-1]["moderators"]} != {
            "mia",
            "max",
        }:
            await _drain(max_)
    await mia.send({"type": "claim", "request_id": "c1", "question_id": qid})
    assert (await mia.until(lambda m: m["type"] == "ack"))["claimed"] == qid
    await max_.send({"type": "claim", "request_id": "c2", "question_id": qid})
    refused = await max_.until(lambda m: m["type"] == "error")
    assert refused["code"] == "claimed" and "mia" in refused["detail"]
    async with asyncio.timeout(10):
        while not (max_.presence and max_.presence[-1]["claims"]):
            await _drain(max_)
    assert max_.presence[-1]["claims"][0]["username"] == "mia"


async def test_the_admin_endpoint_sees_presence_without_being_listed(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    """The admin page follows a session on it: that is no moderator at the console."""
    root = await open_client(servers[0], world, "admin", "root")
    assert (await root.recv())["type"] == "snapshot"
    mia = await open_client(servers[1], world, "moderator", "mia")
    assert (await mia.recv())["type"] == "snapshot"
    async with asyncio.timeout(10):
        while not (root.presence and root.presence[-1]["moderators"]):
            await _drain(root)
    assert [m["username"] for m in root.presence[-1]["moderators"]] == ["mia"]


async def _drain(client: Client) -> None:
    """Read whatever arrives within a short while (pings answered, presence recorded)."""
    with contextlib.suppress(TimeoutError):
        await client.recv(timeout=0.1)


# -- who may connect, what each role sees and may do -------------------------------------


async def cookie_for(world: LiveWorld, user: str) -> str:
    sid, _ = await world.staff.create_login(world.users[user].id, timedelta(hours=1))
    signer = CookieSigner(Settings(secret_key=SECRET))  # type: ignore[arg-type]
    return f"{COOKIE_NAME}={signer.sign(sid)}"


async def test_origin_is_checked_for_cookie_logins(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a = servers[0]
    cookie = {"Cookie": await cookie_for(world, "mia")}
    foreign = await denied_status(
        a, world, "moderator", origin="https://evil.example", additional_headers=cookie
    )
    missing = await denied_status(a, world, "moderator", origin=None, additional_headers=cookie)
    assert foreign == missing == 403
    ok = await open_client(a, world, "moderator", additional_headers=cookie)
    assert (await ok.recv())["type"] == "snapshot"
    # a token is no ambient credential: tools without an Origin header may use it
    tool = await open_client(a, world, "moderator", "mia", origin=None)
    assert (await tool.recv())["type"] == "snapshot"
    assert (
        await denied_status(a, world, "moderator", user="mia", origin="https://evil.example") == 403
    )


async def test_who_may_open_which_console(servers: tuple[Server, Server], world: LiveWorld) -> None:
    a = servers[0]
    assert (await refused_with(a, world, "moderator"))[0] == 4401
    assert await refused_with(a, world, "moderator", user="out") == (
        4403,
        "you may not open the moderator console",
    )
    for role, user in [("moderator", "eve"), ("admin", "mia"), ("expert", "mia")]:
        assert (await refused_with(a, world, role, user=user))[0] == 4403
    assert (await refused_with(a, world, "owner", user="root"))[0] == 4404
    for role, user in [("admin", "root"), ("expert", "eve"), ("moderator", "root")]:
        client = await open_client(a, world, role, user)
        assert (await client.recv())["type"] == "snapshot"
    draft = await world.draft()
    hidden = await connect(f"ws://127.0.0.1:{a.port}/ws/sessions/{draft}/public")
    with pytest.raises(ConnectionClosed) as closed:
        await hidden.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4404


async def test_public_and_expert_never_see_what_is_not_for_them(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a, b = servers
    store, sid = world.store, world.session_id
    public = await open_client(b, world, "public")
    expert = await open_client(a, world, "expert", "eve")
    moderator = await open_client(a, world, "moderator", "mia")
    for c in (public, expert, moderator):
        assert (await c.recv())["type"] == "snapshot"
    secret_note = "author is a known troll"
    kept = await world.ask("Is the A350 quieter?", followers=12)
    dropped = await world.ask("Buy cheap followers at spam.example")
    await store.set_question_note(sid, kept, secret_note, actor="mia")
    await store.reject_question(sid, dropped, "spam", actor="mia")
    # the expert may not moderate, over the socket either
    await expert.send(
        {"type": "question", "request_id": "x1", "action": "approve", "question_id": kept}
    )
    refused = await expert.until(lambda m: m["type"] == "error")
    assert refused["code"] == "forbidden" and refused["request_id"] == "x1"
    assert (await store.get_question(sid, kept)).status == "pending"
    await public.send({"type": "claim", "request_id": "p1", "question_id": kept})
    assert (await public.until(lambda m: m["type"] == "error"))["code"] == "forbidden"

    await store.approve_question(sid, kept, actor="mia")
    answer = await store.create_answer(
        sid,
        AnswerDraft(question_ids=[kept], text="Yes. Much.", parts=["Yes.", "Much."]),
        expert_id="eve",
    )
    await store.submit_answer(sid, answer.id, actor="eve")
    await store.start_publishing(sid, answer.id, actor="publisher")
    await store.record_part_posted(sid, answer.id, 0, "9001", actor="publisher")
    await store.record_part_posted(sid, answer.id, 1, "9002", actor="publisher")
    await store.mark_published(sid, answer.id, actor="publisher")

    last = await moderator.until(is_event("question.answered", kept))
    to_expert = [await expert.recv()]
    while to_expert[-1].get("id") != last["id"]:
        to_expert.append(await expert.recv())
    to_public = [await public.recv()]
    while to_public[-1].get("id") != last["id"]:
        to_public.append(await public.recv())

    for frame in to_expert + to_public:
        text = json.dumps(frame)
        assert secret_note not in text and "spam.example" not in text and dropped not in text
    assert {m["entity_id"] for m in to_expert if m["entity"] == "question"} == {kept}
    assert to_expert[0]["kind"] == "question.approved"  # nothing while it was pending

    questions = [m for m in to_public if m["entity"] == "question"]
    assert [m["kind"] for m in questions] == ["question.answered"]
    shown = questions[0]["record"]
    assert shown["text"] == "Is the A350 quieter?" and shown["status"] == "answered"
    assert set(shown["author"]) == {"handle", "name"}
    assert "moderator_note" not in shown and "actor" not in questions[0]
    parts = [m["record"]["parts"] for m in to_public if m["entity"] == "answer"]
    assert parts[0] == [] and parts[-1] == [
        {"text": "Yes.", "tweet_id": "9001"},
        {"text": "Much.", "tweet_id": "9002"},
    ]
    assert all(m["record"]["status"] != "draft" for m in to_public if m["entity"] == "answer")


# -- limits -----------------------------------------------------------------------------


async def test_oversized_and_too_many_messages_get_error_frames_then_a_close(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    client = await open_client(servers[0], world, "moderator", "mia")
    assert (await client.recv())["type"] == "snapshot"
    await client.ws.send("x" * 5000)
    assert (await client.recv())["code"] == "message_too_large"
    await client.ws.send("{not json")
    assert (await client.recv())["code"] == "malformed_json"
    await client.send({"type": "question", "request_id": "r", "action": "fly", "question_id": "q"})
    invalid = await client.recv()
    assert invalid["code"] == "invalid_message" and invalid["request_id"] == "r"
    assert invalid["fields"][0]["loc"][:2] == ["question", "action"]
    for _ in range(12):
        await client.send({"type": "pong"})
    errors = []
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            errors.append(await client.recv())
    assert {e["code"] for e in errors} == {"rate_limited"}
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429


async def test_a_client_that_never_answers_pings_is_closed(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    client = await open_client(servers[1], world, "public")
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(20):
            while True:
                await client.ws.recv()  # reads, never pongs
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_a_slow_reader_is_cut_off_while_the_others_keep_their_latency(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a = servers[0]
    n_events = 1000  # x 24 KB: more than the socket buffers and the 200-frame send queue hold
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", a.port))
    slow = await open_client(a, world, "moderator", "mia", sock=sock, max_queue=1)
    fast = [await open_client(a, world, "moderator", "max") for _ in range(3)]
    for c in fast:
        assert (await c.recv())["type"] == "snapshot"
    sent: dict[str, float] = {}
    latencies: list[float] = []

    async def read(client: Client, count: int) -> None:
        got = 0
        while got < count:
            message = await client.recv()
            if message["type"] == "event":
                latencies.append(time.monotonic() - sent[message["entity_id"]])
                got += 1

    readers = [asyncio.create_task(read(c, n_events)) for c in fast]
    for i in range(n_events):
        qid = f"q_{world.tweet + 1}"
        sent[qid] = time.monotonic()
        await world.ask(f"{i} " + "a long question " * 1500)
    await asyncio.gather(*readers)
    latencies.sort()
    assert latencies[int(len(latencies) * 0.99)] < 1.0
    received = 0
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(30):
            while True:  # now read what the server had queued before it gave up
                if (await slow.recv())["type"] == "event":
                    received += 1
    assert received < n_events
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008


async def test_a_moderator_whose_role_is_revoked_is_disconnected(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    mia = await open_client(servers[1], world, "moderator", "mia")
    max_ = await open_client(servers[1], world, "moderator", "max")
    for c in (mia, max_):
        assert (await c.recv())["type"] == "snapshot"
    await world.store.revoke_role(
        world.session_id, world.users["max"].id, Role.MODERATOR, actor="root"
    )
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                await max_.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    changed = await mia.until(is_event("session.roles_changed"))
    assert world.users["max"].id not in changed["record"]["moderator_ids"]


async def test_moderators_hear_of_a_config_change_live_experts_and_public_do_not(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    """Max switches raid mode through process B; Mia and the admin page hear it (A)."""
    w = world
    a, b = servers
    mia = await open_client(a, w, "moderator", "mia")
    root = await open_client(a, w, "admin", "root")
    eve = await open_client(b, w, "expert", "eve")
    public = await open_client(b, w, "public")
    for client in (mia, root, eve, public):
        assert (await client.recv())["type"] == "snapshot"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{b.port}") as http:
        r = await http.put(
            f"/api/sessions/{w.session_id}/automod/raid",
            json={"raid_mode": True},
            headers={"Authorization": f"Bearer {w.tokens['max']}"},
        )
        assert r.status_code == 200, r.text
        r = await http.put(
            f"/api/sessions/{w.session_id}/intake/mode",
            json={"mode": "search"},
            headers={"Authorization": f"Bearer {w.tokens['root']}"},
        )
        assert r.status_code == 200, r.text
    for staff in (mia, root):
        seen = await staff.until(is_event("automod.changed"))
        assert (seen["entity"], seen["entity_id"], seen["actor"]) == (
            "automod",
            w.session_id,
            "max",
        )
        assert seen["record"]["config"]["raid_mode"] is True and seen["record"]["version"] == 1
        assert seen["record"]["updated_by"] == "max"
        mode = await staff.recv()
        assert (mode["kind"], mode["actor"]) == ("intake.mode_changed", "root")
        assert mode["record"]["mode"] == "search"
    # The next thing the expert and the public hear of is the session closing.
    await w.store.close_session(w.session_id, actor="root")
    for outside in (eve, public):
        assert (await outside.recv())["kind"] == "session.closed"


# -- revoked credentials -------------------------------------------------------------------

#: How soon a revocation must close the sockets opened with what it revokes.
CLOSE_WITHIN_S = 1.0


async def closed_with(client: Client, within: float = CLOSE_WITHIN_S) -> tuple[int, str]:
    """Close code and reason of ``client``, closed by the server within ``within`` s."""
    with pytest.raises(ConnectionClosed) as closed:
        async with asyncio.timeout(within):
            while True:
                await client.recv()
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def log_in(http: httpx.AsyncClient, user: str) -> tuple[str, str]:
    """A login over HTTP: the Cookie header and the CSRF token."""
    r = await http.post("/api/login", json={"username": user, "password": "password-1"})
    assert r.status_code == 200, r.text
    return f"{COOKIE_NAME}={r.cookies[COOKIE_NAME]}", r.json()["csrf_token"]


async def still_open(world: LiveWorld, *clients: Client) -> None:
    """Each of ``clients`` hears of the next question approval."""
    qid = await world.ask()
    await world.store.approve_question(world.session_id, qid, actor="root")
    for client in clients:
        await client.until(is_event("question.approved", qid))


async def test_logout_and_token_revocation_close_those_sockets_only(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    """Revoked through process B, closed on process A within a second, with 4401."""
    a, b = servers
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{b.port}") as http:
        cookie, csrf = await log_in(http, "mia")
        by_cookie = await open_client(a, world, "moderator", additional_headers={"Cookie": cookie})
        by_token = await open_client(a, world, "moderator", "mia")
        max_ = await open_client(a, world, "moderator", "max")
        eve = await open_client(a, world, "expert", "eve")
        for c in (by_cookie, by_token, max_, eve):
            assert (await c.recv())["type"] == "snapshot"

        r = await http.post("/api/logout", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        assert r.status_code == 204
        code, reason = await closed_with(by_cookie)
        assert code == 4401 and "revoked" in reason
        await still_open(world, by_token, max_, eve)  # the same user's token stays good

        [token] = await world.staff.list_tokens(world.users["max"].id)
        max_auth = {"Authorization": f"Bearer {world.tokens['max']}"}
        r = await http.delete(f"/api/me/tokens/{token.id}", headers=max_auth)
        assert r.status_code == 204
        assert (await closed_with(max_))[0] == 4401
        await still_open(world, by_token, eve)


async def test_a_password_change_or_a_disabled_user_closes_their_sockets(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a, b = servers
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{b.port}") as http:
        here, csrf = await log_in(http, "mia")
        elsewhere, _ = await log_in(http, "mia")
        kept = await open_client(a, world, "moderator", additional_headers={"Cookie": here})
        ended = await open_client(b, world, "moderator", additional_headers={"Cookie": elsewhere})
        by_token = await open_client(b, world, "moderator", "mia")
        max_ = await open_client(a, world, "moderator", "max")
        for c in (kept, ended, by_token, max_):
            assert (await c.recv())["type"] == "snapshot"

        change = {"current_password": "password-1", "new_password": "a brand new passphrase"}
        r = await http.post(
            "/api/me/password", json=change, headers={"Cookie": here, "X-CSRF-Token": csrf}
        )
        assert r.status_code == 204, r.text
        assert (await closed_with(ended))[0] == 4401
        await still_open(world, kept, by_token, max_)

        root = {"Authorization": f"Bearer {world.tokens['root']}"}
        r = await http.post(f"/api/users/{world.users['mia'].id}/disable", headers=root)
        assert r.status_code == 200, r.text
        for client in (kept, by_token):
            assert (await closed_with(client))[0] == 4401
        assert await refused_with(a, world, "moderator", user="mia") == (
            4401,
            "the API token is unknown or revoked",
        )
        await still_open(world, max_)


async def test_a_role_removed_closes_that_users_socket_on_that_session_only(
    servers: tuple[Server, Server], world: LiveWorld
) -> None:
    a = servers[0]
    other = await world.store.create_session(
        SessionFields(
            title="Ask Airbus again",
            hashtags=["AskAirbus"],
            host_account=HostAccount(handle="Airbus"),
            moderator_ids=[world.users["max"].id],
            scheduled_start=datetime.now(UTC) + timedelta(days=30),
            scheduled_end=datetime.now(UTC) + timedelta(days=31),
        ),
        actor="root",
    )
    here = await open_client(a, world, "moderator", "max")
    there_ws = await connect(
        a.url(other.id, "moderator"),
        subprotocols=["atexpert.v1", f"bearer.{world.tokens['max']}"],  # type: ignore[list-item]
        origin=ORIGIN,  # type: ignore[arg-type]
    )
    world.clients.append(there_ws)
    there, mia = Client(there_ws), await open_client(a, world, "moderator", "mia")
    for c in (here, there, mia):
        assert (await c.recv())["type"] == "snapshot"
    await world.store.revoke_role(
        world.session_id, world.users["max"].id, Role.MODERATOR, actor="root"
    )
    assert (await closed_with(here))[0] == 4403
    await still_open(world, mia)
    await world.store.update_session(other.id, SessionUpdate(title="Still here"), actor="root")
    assert (await there.until(is_event("session.updated")))["record"]["title"] == "Still here"
