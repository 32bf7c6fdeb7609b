"""Fixtures of the browser tests: real headless Chromium (Debian's ``chromium``, driven by
Playwright's sync API; never a downloaded browser), the app with its pages under uvicorn in
a thread, the X emulator, a publisher for the session, and a seeded world.

Everything talks over real sockets: the browser to the app (HTTP and websockets), the app
and the publisher to Redis, the publisher to the emulator.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
import redis
import redis.asyncio as aioredis
import uvicorn
from argon2 import PasswordHasher
from pydantic import SecretStr

from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.publish.publisher import PublishConfig, SessionPublisher
from atexpert.publish.x_posts import TweepyPoster
from atexpert.settings import Settings
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web.app import create_app
from atexpert.x.client import async_client
from tests.support.app_server import wait_started
from tests.support.processes import free_port

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

#: Assertions wait this long (ms): the machine may be busy with other test runs.
expect.set_options(timeout=10_000)

__all__ = [
    "BrowserWorld",
    "browser",
    "emulator_server",
    "expect",
    "settled",
    "wait_until",
    "world",
]

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
T = TypeVar("T")
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
PASSWORD = "browser-pass-123"
FAST_PUBLISH = PublishConfig(
    lease_ttl=timedelta(seconds=2),
    idle_wait=timedelta(milliseconds=100),
    backoff_first=0.05,
    backoff_max=0.5,
)


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    return found


class ThreadServer:
    """An ASGI app under uvicorn in a daemon thread, on a given port."""

    def __init__(self, app: Any, port: int, name: str) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.port = port

    def start(self) -> None:
        self.thread.start()
        wait_started(self.server, self.thread)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def app_with_pages(settings: Settings) -> Any:
    """The app as served in production (API, websockets and the consoles)."""
    return create_app(settings, password_hasher=FAST_HASHER, run_scheduler=False)


@contextmanager
def pages_app(redis_url: str, name: str) -> Iterator[str]:
    """The app with its pages (no scheduler, no X) under uvicorn in a thread; its base URL."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        redis_url=redis_url,
        secret_key=SecretStr(f"{name}-" + "x" * 32),
        public_base_url=base_url,
    )
    server = ThreadServer(app_with_pages(settings), port, name)
    server.start()
    try:
        yield base_url
    finally:
        server.stop()


class PublisherThread:
    """The session's publisher (real tweepy client to the emulator), in its own loop."""

    def __init__(
        self, redis_url: str, settings: Settings, session_id: str, brand: AccountTokens
    ) -> None:
        self.redis_url = redis_url
        self.settings = settings
        self.session_id = session_id
        self.brand = brand
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop_event: asyncio.Event | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._main, name="publisher", daemon=True)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
        token = self.brand.oauth2_access_token
        try:
            async with async_client(self.settings, user_access_token=token) as x:
                poster = TweepyPoster(x, user_auth=False, host_user_id=self.brand.id)
                publisher = SessionPublisher(
                    Store(client), client, poster, self.session_id, config=FAST_PUBLISH
                )
                self.started.set()
                await publisher.run(self.stop_event)
        finally:
            await client.aclose()

    def start(self) -> None:
        self.thread.start()
        assert self.started.wait(10), "the publisher did not start"

    def stop(self) -> None:
        if self.loop is not None and self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(timeout=10)


@dataclass
class Watched:
    """A page plus what it must never do: raise, log an error (CSP violations are logged as
    errors), or open a dialog (alert/confirm/prompt)."""

    page: Page
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def allow(self, fragment: str) -> None:
        """Forget the console errors containing ``fragment`` (an expected 4xx, say)."""
        self.errors = [e for e in self.errors if fragment not in e]

    def assert_clean(self) -> None:
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.errors == [], f"console errors: {self.errors}"


@dataclass
class BrowserWorld:
    base_url: str
    settings: Settings
    server: ThreadServer
    redis_url: str
    emulator: EmulatorControl
    brand: AccountTokens
    http: httpx.Client
    browser: Browser
    session_id: str
    users: dict[str, str]
    watched: list[Watched] = field(default_factory=list)
    publishers: list[PublisherThread] = field(default_factory=list)
    others: list[ThreadServer] = field(default_factory=list)
    fans: int = 0

    def second_app(self) -> str:
        """Another app process-alike (own loop, live hub and Redis connections) on the same
        Redis; its base URL."""
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        settings = self.settings.model_copy(update={"public_base_url": base_url})
        server = ThreadServer(app_with_pages(settings), port, "atexpert-app-b")
        server.start()
        self.others.append(server)
        return base_url

    def new_session(self, **options: Any) -> str:
        """Another live session (``options``: language, time_zone, SessionOptions fields)
        with its publisher; it becomes :attr:`session_id`."""
        self.session_id = create_session(self.http, self.users, self.brand, **options)
        publisher = PublisherThread(self.redis_url, self.settings, self.session_id, self.brand)
        publisher.start()
        self.publishers.append(publisher)
        return self.session_id

    def ask(self, text: str, handle: str | None = None, name: str | None = None) -> str:
        """A fan tweets ``text`` (in the emulator); intake stores it. Its question id."""
        if handle is None:
            self.fans += 1
            handle = f"fan_{self.fans}"
        name = name if name is not None else handle.title()
        account = self.emulator.create_account(handle, name)
        tweet_id = self.emulator.post(handle, text)
        body = {
            "tweet_id": tweet_id,
            "author": {"id": account.id, "handle": handle, "name": name},
            "text": text,
            "created_at": datetime.now(UTC).isoformat(),
        }
        r = self.http.post(f"/api/sessions/{self.session_id}/questions", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["question"]["id"])

    def question(self, qid: str) -> dict[str, Any]:
        r = self.http.get(f"/api/sessions/{self.session_id}/questions/{qid}")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()
        return data

    def page(
        self,
        username: str | None,
        path: str,
        *,
        locale: str = "en-GB",
        base_url: str | None = None,
        timezone_id: str | None = None,
    ) -> Watched:
        """A new browser context (its own cookies), logged in as ``username`` when given,
        at ``path`` (of ``base_url``, by default the first app); ``timezone_id``: the
        browser's zone (by default the machine's)."""
        context = self.browser.new_context(
            base_url=base_url or self.base_url,
            locale=locale,
            timezone_id=timezone_id,
            viewport={"width": 1280, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        watched = Watched(page)

        def on_console(msg: ConsoleMessage) -> None:
            if msg.type == "error":
                watched.errors.append(f"{msg.text} ({msg.location.get('url', '')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: watched.errors.append(str(exc)))

        def on_dialog(dialog: Any) -> None:
            watched.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        self.watched.append(watched)
        if username is None:
            page.goto(path)
            return watched
        page.goto(f"/login?next={path}")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"**{path}", wait_until="commit")
        return watched

    def stop_app(self) -> None:
        self.server.stop()

    def start_app(self) -> None:
        """A new app process-alike on the same port (fresh live hub, same Redis)."""
        self.server = ThreadServer(app_with_pages(self.settings), self.server.port, "atexpert-app")
        self.server.start()

    def flood(self, count: int) -> None:
        """``count`` questions stored at once through the Store (a flooded hashtag)."""
        start = datetime.now(UTC) - timedelta(hours=1)

        async def add() -> None:
            client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
            store = Store(client)
            try:
                for n in range(count):
                    incoming = IncomingQuestion(
                        tweet_id=str(9_000_000 + n),
                        author=Author(id=str(5_000 + n), handle=f"crowd{n}", followers=n),
                        text=f"@Airbus crowd question {n} about the A350 #AskAirbus",
                        created_at=start + timedelta(seconds=n),
                    )
                    await store.add_question(self.session_id, incoming)
            finally:
                await client.aclose()

        in_thread(add)

    def ask_while_down(self, text: str, handle: str) -> str:
        """A question stored straight through the Store (the app is down)."""
        account = self.emulator.create_account(handle, handle.title())
        tweet_id = self.emulator.post(handle, text)
        incoming = IncomingQuestion(
            tweet_id=tweet_id,
            author=Author(id=account.id, handle=handle),
            text=text,
            created_at=datetime.now(UTC),
        )

        async def add() -> str:
            client = aioredis.Redis.from_url(self.redis_url, decode_responses=True)
            try:
                question, _ = await Store(client).add_question(self.session_id, incoming)
                return question.id
            finally:
                await client.aclose()

        return in_thread(add)

    def host_timeline(self) -> list[dict[str, Any]]:
        """The brand's posts, oldest first, as the X API shows them."""
        r = httpx.get(
            f"{self.emulator.base_url}/2/users/{self.brand.id}/tweets",
            params={"max_results": 100, "tweet.fields": "referenced_tweets"},
            headers={"Authorization": f"Bearer {self.brand.oauth2_access_token}"},
        )
        assert r.status_code == 200, r.text
        return list(reversed(r.json().get("data") or []))


def seed_staff(redis_url: str) -> dict[str, str]:
    """Flush Redis, create root (admin), alice and bob (moderators), erin (expert).
    Returns username -> user id, plus ``token`` -> root's API token."""

    async def run() -> dict[str, str]:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        try:
            await client.flushall()
            staff = StaffStore(client, hasher=FAST_HASHER)
            out: dict[str, str] = {}
            for name in ("root", "alice", "bob", "erin"):
                user = await staff.create_user(
                    name, PASSWORD, display_name=name.title(), is_admin=name == "root"
                )
                out[name] = user.id
            _, out["token"] = await staff.create_token(out["root"], "browser-tests")
            return out
        finally:
            await client.aclose()

    return in_thread(run)


def in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion in a fresh loop on another thread (Playwright's sync
    API owns this thread's loop)."""
    out: list[T] = []
    worker = threading.Thread(target=lambda: out.append(asyncio.run(make())))
    worker.start()
    worker.join(timeout=30)
    assert out, "the coroutine did not finish"
    return out[0]


def create_session(
    http: httpx.Client, users: dict[str, str], brand: AccountTokens, **options: Any
) -> str:
    now = datetime.now(UTC)
    body = {
        "title": "Inside the A350 cabin",
        "description": "Ask our cabin engineers anything.",
        "hashtags": ["#AskAirbus"],
        "host_account": {"handle": brand.username, "user_id": brand.id},
        "moderator_ids": [users["alice"], users["bob"]],
        "expert_ids": [users["erin"]],
        "scheduled_start": (now + timedelta(minutes=5)).isoformat(),
        "scheduled_end": (now + timedelta(hours=1)).isoformat(),
        "language": options.pop("language", "en"),
        "time_zone": options.pop("time_zone", "UTC"),
        "options": {"announce": False, **options},
    }
    r = http.post("/api/sessions", json=body)
    assert r.status_code == 201, r.text
    sid = str(r.json()["id"])
    for step in ("schedule", "start"):
        r = http.post(f"/api/sessions/{sid}/{step}")
        assert r.status_code == 200, r.text
    return sid


@pytest.fixture(scope="module")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(heartbeat_seconds=0.2) as emu:
        yield emu


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def world(
    redis_url: str, emulator_server: EmulatorServer, browser: Browser
) -> Iterator[BrowserWorld]:
    control = EmulatorControl(emulator_server.base_url)
    control.reset()
    control.clear_faults()
    brand = control.create_account("Airbus", "Airbus")
    users = seed_staff(redis_url)
    with redis.Redis.from_url(redis_url) as sync:
        assert sync.ping()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    x_app = control.app()
    settings = Settings(
        redis_url=redis_url,
        secret_key=SecretStr("browser-test-secret-" + "x" * 32),
        public_base_url=base_url,
        x_api_base_url=emulator_server.base_url,
        x_bearer_token=SecretStr(x_app["bearer_token"]),
        # The emulator's OAuth 2.0 client: admins connect host accounts on its consent page.
        x_client_id=x_app["client_id"],
        x_client_secret=SecretStr(x_app["client_secret"]),
    )
    server = ThreadServer(app_with_pages(settings), port, "atexpert-app")
    server.start()
    http = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {users['token']}"}, timeout=10
    )
    world = BrowserWorld(
        base_url, settings, server, redis_url, control, brand, http, browser, "", users
    )
    try:
        world.new_session()
        yield world
    finally:
        for watched in world.watched:
            watched.page.context.close()
        for publisher in world.publishers:
            publisher.stop()
        for other in world.others:
            other.stop()
        http.close()
        world.server.stop()


def settled(page: Page) -> None:
    """Wait until the console's keys act again: a question that became selected is held
    from key presses for a moment (``SETTLE_MS`` in frontend/js/keyguard.js)."""
    expect(page.locator("[role=listbox][data-settling]")).to_have_count(0)


def wait_until(condition: Callable[[], Any], timeout: float = 15) -> Any:
    """Poll ``condition`` (HTTP state outside the browser) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
