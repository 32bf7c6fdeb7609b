"""The deploy on real processes: Debian's nginx running ``deploy/nginx.conf`` in front of
two ``atexpert serve`` processes sharing one redis-server (AOF on), the X emulator as X.

Through nginx: log in, moderate, answer, publish a 3-part thread, follow the public page.
Then the fault matrix, each case ending with counts that show nothing lost and nothing
doubled (printed: ``pytest -s tests/test_deploy.py``): an app process SIGKILLed while it
publishes, redis-server SIGKILLed and restarted from its AOF, an app process stopped with
SIGTERM, ``nginx -s reload``. The processes are shared by the module's tests, which run in
file order. Without an nginx binary the module is skipped (in CI it fails: ``.ci/run``
installs Debian's nginx).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from atexpert.cli.demo import HOST, QUESTIONS, seed_demo
from atexpert.domain.clock import SystemClock
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.settings import Settings
from atexpert.store import keys
from atexpert.store.redis_conn import RedisRuntime
from tests.support.deploy_clients import (
    Console,
    Follower,
    assert_no_gap,
    caught_up,
    figures,
)
from tests.support.deploy_world import (
    HEADER_TIMEOUT_S,
    App,
    Nginx,
    RedisServer,
    main_config,
    nginx_binary,
    replies_with,
    site_with_own_certificate,
    wait_until,
)
from tests.support.processes import free_port
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.deploy, pytest.mark.timeout(180)]


@dataclass
class Deploy:
    emulator: EmulatorServer
    redis: RedisServer
    apps: list[App]
    nginx: Nginx
    sid: str
    logins: dict[str, str]
    #: Which app holds the session's publish lease (the first started, then the survivor).
    publisher: int = 0
    used: set[str] = field(default_factory=set)

    @property
    def control(self) -> EmulatorControl:
        return EmulatorControl(self.emulator.base_url)

    def tails(self) -> str:
        return "\n".join(p.tail() for p in [*self.apps, self.redis, self.nginx])


@pytest.fixture(scope="module")
def deploy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deploy]:
    binary = nginx_binary()
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("no nginx binary in CI: .ci/run installs Debian's nginx")
        pytest.skip("no nginx binary: install Debian's nginx (apt-get install nginx)")
    directory = tmp_path_factory.mktemp("deploy")
    with contextlib.ExitStack() as stack, EmulatorServer() as emulator:
        store = RedisServer(directory / "redis")
        store.start()
        stack.callback(store.stop)
        app = emulator.emulator.state.app
        nginx_port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATEXPERT_")} | {
            "ATEXPERT_REDIS_URL": store.url,
            "ATEXPERT_SECRET_KEY": secrets.token_urlsafe(32),
            "ATEXPERT_PUBLIC_BASE_URL": f"http://127.0.0.1:{nginx_port}",
            "ATEXPERT_TRUSTED_PROXIES": "127.0.0.1",
            "ATEXPERT_DATA_DIR": str(directory / "data"),
            "ATEXPERT_X_API_BASE_URL": emulator.base_url,
            "ATEXPERT_X_CONSUMER_KEY": app.consumer_key,
            "ATEXPERT_X_CONSUMER_SECRET": app.consumer_secret,
            "ATEXPERT_X_BEARER_TOKEN": app.bearer_token,
            "ATEXPERT_X_CLIENT_ID": app.client_id,
            "ATEXPERT_X_CLIENT_SECRET": app.client_secret,
        }
        settings = Settings(
            redis_url=store.url,
            secret_key=env["ATEXPERT_SECRET_KEY"],
            x_api_base_url=emulator.base_url,
        )

        async def seed() -> Any:
            async with RedisRuntime(settings) as runtime:
                return await seed_demo(settings, runtime.client, SystemClock().now())

        started = time.monotonic()
        demo = asyncio.run(seed())
        seeded = time.monotonic()
        apps = [App("app-a", directory, env), App("app-b", directory, env)]
        for one in apps:
            stack.callback(one.stop)
        # A first, alone until it holds the session's publish lease: the publisher is known.
        apps[0].start()
        lease = keys.lease(f"publish:{demo.session.id}", "holder")
        with redis.Redis.from_url(store.url) as plain:
            wait_until(lambda: bool(plain.exists(lease)), 20, "app-a publishes")
        apps[1].start()
        nginx = Nginx(binary, directory / "nginx", (apps[0].port, apps[1].port), nginx_port)
        nginx.start()
        stack.callback(nginx.stop)
        report(
            "processes",
            f"seed {seeded - started:.1f} s, both apps and nginx up "
            f"{time.monotonic() - seeded:.1f} s later",
        )
        yield Deploy(emulator, store, apps, nginx, demo.session.id, demo.logins)


@contextlib.asynccontextmanager
async def diagnosed(deploy: Deploy) -> AsyncIterator[None]:
    """Show the processes' last log lines if the test fails."""
    try:
        yield
    except BaseException:
        print(deploy.tails())
        raise


@contextlib.asynccontextmanager
async def staff(deploy: Deploy) -> AsyncIterator[tuple[Console, Console]]:
    mod = await Console(deploy.nginx.url).login("moderator", deploy.logins["moderator"])
    exp = await Console(deploy.nginx.url).login("expert", deploy.logins["expert"])
    try:
        yield mod, exp
    finally:
        await mod.aclose()
        await exp.aclose()


@contextlib.asynccontextmanager
async def followers(deploy: Deploy, mod: Console, exp: Console) -> AsyncIterator[list[Follower]]:
    """Two websocket clients per role (moderator, expert, public) through nginx: round
    robin spreads them over both processes."""
    ws = deploy.nginx.url.replace("http:", "ws:")
    base = f"/ws/sessions/{deploy.sid}"
    made = []
    for n in range(2):
        for role, console in (("moderator", mod), ("expert", exp), ("public", None)):
            headers = {"Cookie": console.cookie} if console is not None else {}
            made.append(Follower(f"{role}-{n}", ws, f"{base}/{role}", headers, deploy.nginx.url))
    for f in made:
        f.start()
    try:
        async with asyncio.timeout(20):
            for f in made:
                await f.connected.wait()
        yield made
    finally:
        for f in made:
            await f.stop()


async def open_question(deploy: Deploy, mod: Console, needle: str = "@Airbus") -> str:
    """A question mentioning the host (answered by a direct reply), approved now."""
    q = f"/api/sessions/{deploy.sid}/questions"
    for question in await mod.get(q):
        if needle in question["text"] and question["id"] not in deploy.used:
            if question["status"] == "pending":
                await mod.post(f"{q}/{question['id']}/approve")
            deploy.used.add(question["id"])
            return str(question["id"])
    raise AssertionError(f"no open question with {needle!r}")


FILLER = "the wing is bent far beyond any load it meets in service, then the data goes back to the"
FILLER += " engineers who compare it with the models, part by part and load by load, for weeks"


async def answer_thread(deploy: Deploy, exp: Console, qid: str, tag: str) -> tuple[str, list[str]]:
    """A queued answer long enough for a 3-part thread; the unique token of each part."""
    tokens = [f"{tag}-{n}-{secrets.token_hex(3)}" for n in (1, 2, 3)]
    text = " ".join(f"Part {t}: {FILLER}." for t in tokens)
    a = f"/api/sessions/{deploy.sid}/answers"
    draft = await exp.post(a, {"question_ids": [qid], "text": text}, status=201)
    submitted = await exp.post(f"{a}/{draft['id']}/submit")
    assert submitted["status"] == "queued", submitted
    return str(draft["id"]), tokens


def on_x(deploy: Deploy, token: str) -> int:
    """How many posts on X carry ``token``."""
    return sum(1 for p in list(deploy.emulator.emulator.state.posts.values()) if token in p.text)


async def published(deploy: Deploy, exp: Console, aid: str, timeout: float = 60) -> Any:
    """The answer once published; its parts are on X exactly once each, chained in order."""
    path = f"/api/sessions/{deploy.sid}/answers/{aid}"

    async def done() -> Any:
        answer = await exp.get(path)
        assert answer["status"] != "failed", answer
        return answer if answer["status"] == "published" else None

    await wait_for(done, timeout)
    answer = await exp.get(path)
    posts = {p.id: p for p in list(deploy.emulator.emulator.state.posts.values())}
    assert len(answer["parts"]) == 3, answer
    parent = None
    for part in answer["parts"]:
        post = posts[part["tweet_id"]]
        assert post.text == part["text"] and on_x(deploy, part["text"]) == 1
        if parent is not None:
            assert ("replied_to", parent) in post.referenced, post
        parent = part["tweet_id"]
    return answer


def report(case: str, *lines: str) -> None:
    print(f"\n[deploy] {case}\n  " + "\n  ".join(lines))


async def test_a_session_through_nginx(deploy: Deploy) -> None:
    async with diagnosed(deploy), staff(deploy) as (mod, exp):
        q = f"/api/sessions/{deploy.sid}/questions"
        # intake (mentions mode): the demo's questions that mention the host, read from X by
        # one of the processes
        mentioning = sum(f"@{HOST[0]}" in text for _, _, text, _ in QUESTIONS)
        await wait_for(lambda: _count(mod, q, mentioning), timeout=60)
        qid = await open_question(deploy, mod, "hydrogen")
        page = await mod.client.get(f"/live/{deploy.sid}")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "content-security-policy" in page.headers
        async with followers(deploy, mod, exp) as clients:
            aid, parts = await answer_thread(deploy, exp, qid, "flow")
            answer = await published(deploy, exp, aid)
            public = clients[2]
            await wait_for(lambda: len(public.records.get(aid, {}).get("parts", [])) == 3, 20)
            assert public.records[aid]["parts"] == [
                {"text": p["text"], "tweet_id": p["tweet_id"]} for p in answer["parts"]
            ]
            assert [on_x(deploy, t) for t in parts] == [1, 1, 1]
        report("session through nginx", f"parts posted {len(answer['parts'])}")


async def _count(console: Console, path: str, n: int) -> bool:
    return len(await console.get(path)) >= n


async def test_sigkill_an_app_while_it_publishes(deploy: Deploy) -> None:
    victim = deploy.apps[deploy.publisher]
    async with diagnosed(deploy), staff(deploy) as (mod, exp), followers(deploy, mod, exp) as fs:
        marks = [f.mark() for f in fs]
        qid = await open_question(deploy, mod)
        deploy.control.faults(latency_ms=1500, endpoints=["create_tweet"])
        try:
            aid, parts = await answer_thread(deploy, exp, qid, "kill")
            await wait_for(lambda: on_x(deploy, parts[0]) == 1, 30)
            victim.signal(signal.SIGKILL)
            victim.wait()
            answer = await published(deploy, exp, aid)
        finally:
            deploy.control.clear_faults()
        assert sum(f.connects > 1 for f in fs) >= 1  # those on the killed process came back
        await wait_for(lambda: all(f.connected.is_set() for f in fs), 20)
        await assert_no_gap(fs, marks)
        report(
            f"SIGKILL {victim.name} while publishing",
            f"parts posted {len(answer['parts'])}, each on X "
            f"{[on_x(deploy, t) for t in parts]} time(s), in order",
            *figures(fs, marks),
        )
    deploy.publisher = 1 - deploy.publisher
    victim.start()


async def test_redis_killed_and_restarted_from_its_aof(deploy: Deploy) -> None:
    control = deploy.control
    pids = [app.pid for app in deploy.apps]
    texts = [f"@Airbus Redis question {n}, is it kept? #AskAirbus" for n in range(8)]
    async with diagnosed(deploy), staff(deploy) as (mod, exp), followers(deploy, mod, exp) as fs:
        marks = [f.mark() for f in fs]
        ids = []
        for n, text in enumerate(texts[:4]):
            control.create_account(f"redis_fan{n}")
            ids.append(control.post(f"redis_fan{n}", text))
        qid = await open_question(deploy, mod)
        control.faults(latency_ms=1000, endpoints=["create_tweet"])
        try:
            aid, parts = await answer_thread(deploy, exp, qid, "redis")
            await wait_for(lambda: on_x(deploy, parts[0]) == 1, 30)
            deploy.redis.signal(signal.SIGKILL)
            deploy.redis.wait()
            ready = [replies_with(url + "/readyz", 503) for url in _urls(deploy)]
            for n, text in enumerate(texts[4:], start=4):
                control.create_account(f"redis_fan{n}")
                ids.append(control.post(f"redis_fan{n}", text))
            deploy.redis.start()
            wait_until(lambda: all(replies_with(u + "/readyz") for u in _urls(deploy)), 30, "ready")
            answer = await published(deploy, exp, aid, timeout=90)
        finally:
            control.clear_faults()
        stored: Counter[str] = Counter()

        async def all_stored() -> bool:
            questions = await mod.get(f"/api/sessions/{deploy.sid}/questions")
            stored.clear()
            stored.update(q["tweet_id"] for q in questions if q["tweet_id"] in ids)
            return len(stored) == len(ids)

        await wait_for(all_stored, 90)
        assert set(stored.values()) == {1}
        assert ready == [True, True, True]  # /readyz through nginx and on each process
        assert [app.pid for app in deploy.apps] == pids and all(a.alive() for a in deploy.apps)
        await wait_for(lambda: all(f.connected.is_set() for f in fs), 30)
        await assert_no_gap(fs, marks)
        report(
            "SIGKILL redis-server, restart from its AOF",
            f"questions in {len(ids)}, stored {len(stored)}, stored twice "
            f"{sum(c > 1 for c in stored.values())}",
            f"parts posted {len(answer['parts'])}, on X {[on_x(deploy, t) for t in parts]}",
            "readyz while down: 503 (nginx, app-a, app-b); apps not restarted",
            *figures(fs, marks),
        )


def _urls(deploy: Deploy) -> list[str]:
    return [deploy.nginx.url, *(app.url for app in deploy.apps)]


async def test_sigterm_closes_websockets_with_1012(deploy: Deploy) -> None:
    victim = deploy.apps[1 - deploy.publisher]
    statuses: Counter[int] = Counter()
    async with diagnosed(deploy), staff(deploy) as (mod, exp), followers(deploy, mod, exp) as fs:
        marks = [f.mark() for f in fs]
        closes = [len(f.closes) for f in fs]
        stop = asyncio.Event()

        async def load() -> None:
            while not stop.is_set():
                r = await mod.client.get(f"/api/sessions/{deploy.sid}/questions")
                statuses[r.status_code] += 1

        workers = [asyncio.create_task(load()) for _ in range(8)]
        await wait_for(lambda: statuses.total() >= 20, 20)
        victim.signal(signal.SIGTERM)
        code = await asyncio.to_thread(victim.wait, 30)
        await wait_for(lambda: all(f.connected.is_set() for f in fs), 20)
        stop.set()
        await asyncio.gather(*workers)
        qid = await open_question(deploy, mod)  # an event after the move
        await wait_for(lambda: caught_up(fs, marks, 1, "moderator"), 20)
        await wait_for(lambda: caught_up(fs, marks, 1, "expert"), 20)
        new = [code for f, n in zip(fs, closes, strict=True) for code in f.closes[n:]]
        # uvicorn stops gracefully, then ends by the signal it caught
        assert code == -signal.SIGTERM and "Finished server process" in victim.tail()
        assert new and set(new) == {1012}, new
        assert set(statuses) == {200}, statuses
        await assert_no_gap(fs, marks)
        report(
            f"SIGTERM {victim.name}",
            f"exit status {code}; requests during the stop {statuses.total()}, "
            f"all 200: {dict(statuses)}; websockets closed {len(new)}, codes {set(new)}",
            f"question approved after: {qid}",
            *figures(fs, marks),
        )
    victim.start()


async def test_nginx_reload_loses_no_event(deploy: Deploy) -> None:
    async with diagnosed(deploy), staff(deploy) as (mod, exp), followers(deploy, mod, exp) as fs:
        marks = [f.mark() for f in fs]
        qid = await open_question(deploy, mod)
        star = f"/api/sessions/{deploy.sid}/questions/{qid}/star"
        for n in range(20):
            if n == 10:
                await asyncio.to_thread(deploy.nginx.reload)
            await mod.post(star, {"starred": n % 2 == 0})
        await wait_for(lambda: caught_up(fs, marks, 21, "moderator"), 20)
        await assert_no_gap(fs, marks)
        report(
            "nginx -s reload",
            "20 actions, reload after the 10th",
            *figures(fs, marks),
        )


async def test_slow_headers_are_cut_by_nginx(deploy: Deploy) -> None:
    """uvicorn has no header timeout; nginx's client_header_timeout cuts such a client."""

    def trickle() -> float:
        start = time.monotonic()
        with socket.create_connection(("127.0.0.1", deploy.nginx.port), timeout=30) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            with contextlib.suppress(OSError):
                while time.monotonic() - start < 20:
                    sock.sendall(b"X")
                    sock.settimeout(0.5)
                    with contextlib.suppress(TimeoutError):
                        if sock.recv(4096) == b"":
                            break
        return time.monotonic() - start

    elapsed = await asyncio.to_thread(trickle)
    assert HEADER_TIMEOUT_S - 0.5 <= elapsed <= HEADER_TIMEOUT_S + 2, elapsed
    report(
        "slow headers", f"cut after {elapsed:.1f} s (client_header_timeout {HEADER_TIMEOUT_S} s)"
    )


async def test_oversized_headers_are_refused(deploy: Deploy) -> None:
    """nginx takes header lines of 8 KiB; an app process refuses headers still incomplete
    after 16 KiB (uvicorn reads up to 64 KiB at once: a whole request that large passes)."""
    async with httpx.AsyncClient(timeout=10) as client:
        via_nginx = await client.get(deploy.nginx.url + "/healthz", headers={"X-Big": "a" * 9000})

    def direct() -> bytes:
        with socket.create_connection(("127.0.0.1", deploy.apps[0].port), timeout=10) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
            with contextlib.suppress(OSError):
                for _ in range(20):  # 20 KiB in pieces, never the end of the headers
                    sock.sendall(b"a" * 1024)
            return sock.recv(4096)

    reply = await asyncio.to_thread(direct)
    assert via_nginx.status_code == 400
    assert reply.split(b" ")[1] in (b"400", b"431"), reply
    report("oversized headers", f"nginx {via_nginx.status_code}, app {reply.splitlines()[0]!r}")


def test_the_site_as_shipped_passes_nginx_t(deploy: Deploy, tmp_path: Path) -> None:
    """The whole site, TLS and port-80 redirect included, as nginx on Debian reads it."""
    conf = tmp_path / "nginx.conf"
    conf.write_text(main_config(tmp_path, site_with_own_certificate(tmp_path)))
    binary = deploy.nginx.base[0]
    checked = subprocess.run(
        [binary, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(conf)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr


async def test_logins_are_rate_limited_by_nginx(deploy: Deploy) -> None:
    """The last test: it spends the login allowance of 127.0.0.1 (10 a minute, burst 10)."""
    statuses: Counter[int] = Counter()
    async with httpx.AsyncClient(base_url=deploy.nginx.url, timeout=10) as client:
        for _ in range(25):
            r = await client.post("/api/login", json={"username": "nobody", "password": "x"})
            statuses[r.status_code] += 1
    assert statuses[429] >= 10 and set(statuses) <= {401, 429}, statuses
    report("login rate limit", f"25 attempts: {dict(statuses)}")
