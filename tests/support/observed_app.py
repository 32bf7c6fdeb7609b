"""The app as `atexpert serve` runs it (uvicorn, intake and publishing beside it) against the
X emulator and the test Redis, for the metrics and log tests; and reading ``/metrics``.

Publishing posts with the brand's emulator token directly (no OAuth connect needed).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr
from starlette.applications import Starlette

from atexpert.domain.sessions import Session
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import AccountTokens, EmulatorControl
from atexpert.settings import Settings
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web.api_routing import Services
from atexpert.web.app import LifespanHook, create_app
from atexpert.web.intake_service import intake_hook
from atexpert.web.publish_service import PublishService, tweepy_posters
from atexpert.web.tasks import stop_task
from atexpert.x.meter import Meter
from tests.support.api_world import FAST_HASHER, PASSWORD
from tests.support.intake_world import FAST as FAST_INTAKE
from tests.support.publish_world import FAST as FAST_PUBLISH
from tests.support.publish_world import live_session


def app_settings(server: EmulatorServer, control: EmulatorControl, redis_url: str) -> Settings:
    return Settings(
        redis_url=redis_url,
        secret_key=SecretStr("observed-app-" + "k" * 32),
        x_api_base_url=server.base_url,
        x_bearer_token=SecretStr(control.app()["bearer_token"]),
        redis_ping_seconds=0.05,
    )


def brand_publishing(settings: Settings, brand: AccountTokens) -> LifespanHook:
    """Publishing as the app runs it, with the brand's token from the emulator."""

    async def token(session: Session, refused: str | None) -> str:
        return brand.oauth2_access_token

    @asynccontextmanager
    async def hook(services: Services) -> AsyncIterator[None]:
        service = PublishService(
            services.store,
            services.redis,
            tweepy_posters(settings, token),
            config=FAST_PUBLISH,
            meter=Meter(services.redis),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop, interval=0.05))
        try:
            yield
        finally:
            await stop_task(task, stop, timeout=10)

    return hook


@dataclass
class Observed:
    app: Starlette
    store: Store
    staff: StaffStore
    brand: AccountTokens
    session_id: str
    token: str  # root's API token


async def observed_app(
    server: EmulatorServer, control: EmulatorControl, redis_url: str, redis: RedisClient
) -> Observed:
    """A live #AskAirbus session hosted by @Airbus (intake by mentions), an admin ``root``,
    and the app to serve (intake and publishing beside it)."""
    brand = control.create_account("Airbus", "Airbus")
    control.create_account("fan_1", "A Fan")
    store = Store(redis)
    staff = StaffStore(redis, hasher=FAST_HASHER)
    root = await staff.create_user("root", PASSWORD, is_admin=True)
    _, token = await staff.create_token(root.id, "tests")
    session = await live_session(store, brand.id)
    settings = app_settings(server, control, redis_url)
    hooks = [intake_hook(FAST_INTAKE), brand_publishing(settings, brand)]
    app = create_app(
        settings, run_scheduler=False, password_hasher=FAST_HASHER, lifespan_hooks=hooks
    )
    return Observed(app, store, staff, brand, session.id, token)


async def scrape(client: httpx.AsyncClient) -> dict[str, list[Sample]]:
    """``GET /metrics`` parsed by prometheus_client's own parser: family name -> samples."""
    r = await client.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return {f.name: f.samples for f in text_string_to_metric_families(r.text)}


def value(families: dict[str, list[Sample]], sample: str, **labels: str) -> float:
    """The sum of the samples named ``sample`` of a family that carry ``labels`` (0: none)."""
    family = sample.removesuffix("_total").removesuffix("_count").removesuffix("_sum")
    return sum(
        s.value
        for s in families.get(family, [])
        if s.name == sample and labels.items() <= s.labels.items()
    )


def label_values(samples: Iterable[Sample], name: str) -> set[str]:
    return {s.labels[name] for s in samples if name in s.labels}
