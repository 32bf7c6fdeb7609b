"""The web app: ``create_app()`` builds the Starlette application and its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from atexpert import __version__
from atexpert.domain.clock import Clock, SystemClock
from atexpert.live.hub import LiveConfig, LiveHub
from atexpert.settings import Settings
from atexpert.store.checkpoint import Checkpointer, Policy
from atexpert.store.metrics import probe_redis
from atexpert.store.redis_conn import RedisClient, RedisRuntime, ping
from atexpert.store.scheduler import Lease, Scheduler
from atexpert.store.staff import StaffStore
from atexpert.store.store import Store
from atexpert.web import (
    api_answers,
    api_automod,
    api_desk,
    api_intake,
    api_invitations,
    api_publish,
    api_questions,
    api_recap,
    api_series,
    api_series_analytics,
    api_series_public,
    api_sessions,
    api_staff,
    api_x,
    pages,
)
from atexpert.web.api_errors import exception_handlers
from atexpert.web.api_recap import recap_routes
from atexpert.web.api_routing import Endpoint, Services, to_route
from atexpert.web.auth import CookieSigner
from atexpert.web.live import LiveMiddleware, live_routes
from atexpert.web.logs import redact_request_lines
from atexpert.web.observe import ObserveMiddleware, metrics_endpoint
from atexpert.web.openapi import openapi_document
from atexpert.web.pages import page_routes
from atexpert.web.series_service import series_jobs
from atexpert.web.serving import CLOSE_TIMEOUT_STATE
from atexpert.web.tasks import stop_task

#: Runs beside the app: entered once the services exist, left on shutdown.
LifespanHook = Callable[[Services], AbstractAsyncContextManager[object]]

ENDPOINTS: list[Endpoint] = [
    *api_staff.ENDPOINTS,
    *api_sessions.ENDPOINTS,
    *api_questions.ENDPOINTS,
    *api_desk.ENDPOINTS,
    *api_answers.ENDPOINTS,
    *api_intake.ENDPOINTS,
    *api_automod.ENDPOINTS,
    *api_publish.ENDPOINTS,
    *api_x.ENDPOINTS,
    *api_invitations.ENDPOINTS,
    *api_series.ENDPOINTS,
    *api_series_analytics.ENDPOINTS,
]
#: Listed in /openapi.json; served as routes of their own modules.
DOCUMENTED_ELSEWHERE: list[Endpoint] = [
    *pages.ENDPOINTS,
    *api_recap.ENDPOINTS,
    *api_series_public.ENDPOINTS,
]


async def index(request: Request) -> Response:
    """Where to go from here: a browser is sent on (:func:`pages.landing`), an API client
    gets this map."""
    if "text/html" in request.headers.get("accept", ""):
        return await pages.landing(request)
    return JSONResponse(
        {
            "name": "atexpert",
            "version": __version__,
            "consoles": {
                "login": "/login",
                "admin": "/admin",
                "sessions": "/sessions",
                "public": "/live",
            },
            "openapi": "/openapi.json",
            "live": "/ws/sessions/{session_id}/{role}",
        }
    )


async def healthz(request: Request) -> Response:
    """The process is alive (no dependency checked)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready to serve: Redis answers PING."""
    services: Services = request.app.state.services
    if await ping(services.redis):
        return JSONResponse({"status": "ok", "redis": "ok"})
    return JSONResponse({"status": "unavailable", "redis": "unreachable"}, status_code=503)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


def create_app(
    settings: Settings | None = None,
    *,
    redis: RedisClient | None = None,
    clock: Clock | None = None,
    password_hasher: PasswordHasher | None = None,
    run_scheduler: bool = True,
    live_config: LiveConfig | None = None,
    lifespan_hooks: Sequence[LifespanHook] = (),
) -> Starlette:
    """The app: JSON API, live websockets, health checks and ``/openapi.json``.

    With ``redis`` given it is used as is (and not closed); otherwise the lifespan opens a
    :class:`RedisRuntime` from ``settings`` (embedded Redis or URL). The lifespan also runs
    the live hub, unless ``run_scheduler`` is false the session scheduler, and then each
    of ``lifespan_hooks`` (background workers such as intake or publishing), left in reverse
    order on shutdown.
    """
    settings = settings or Settings()
    the_clock = clock or SystemClock()
    redact_request_lines()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, float]]:
        async with AsyncExitStack() as stack:
            client = redis
            if client is None:
                runtime = await stack.enter_async_context(RedisRuntime(settings))
                client = runtime.client
            store = Store(client, clock=the_clock)
            app.state.services = Services(
                settings=settings,
                redis=client,
                store=store,
                staff=StaffStore(client, clock=the_clock, hasher=password_hasher),
                signer=CookieSigner(settings),
                clock=the_clock,
            )
            probe_stop = asyncio.Event()
            probe = asyncio.create_task(
                probe_redis(client, probe_stop, settings.redis_ping_seconds), name="redis-ping"
            )
            stack.push_async_callback(stop_task, probe, probe_stop, timeout=5)
            hub = app.state.live_hub = LiveHub(client, live_config)
            await hub.start()
            stack.push_async_callback(hub.stop)
            if run_scheduler:
                lease = Lease(client, ttl=timedelta(seconds=settings.scheduler_lease_seconds))
                interval = timedelta(seconds=settings.scheduler_interval_seconds)
                jobs = series_jobs(client, store, settings, the_clock)
                scheduler = app.state.scheduler = Scheduler(
                    store, lease, the_clock, interval=interval, jobs=jobs
                )
                stop = asyncio.Event()
                task = asyncio.create_task(scheduler.run(stop), name="atexpert-scheduler")
                stack.push_async_callback(stop_task, task, stop, timeout=5)
            checkpoints = Checkpointer(
                client,
                Policy(settings.checkpoint_every_events, settings.checkpoint_keep_events),
                interval=timedelta(seconds=settings.checkpoint_interval_seconds),
            )
            stop_checkpoints = asyncio.Event()
            task = asyncio.create_task(checkpoints.run(stop_checkpoints), name="checkpoints")
            stack.push_async_callback(stop_task, task, stop_checkpoints, timeout=5)
            for hook in lifespan_hooks:
                await stack.enter_async_context(hook(app.state.services))
            # the server's websocket protocol resets dropped clients after this timeout
            yield {CLOSE_TIMEOUT_STATE: hub.config.close_timeout_s}

    routes: list[BaseRoute] = [
        Route("/", index, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        *(to_route(ep) for ep in ENDPOINTS),
        *live_routes(),
        *page_routes(settings),  # the consoles, and their JSON endpoints
        *recap_routes(settings),  # recap page, analytics page, exports and import
        *api_series_public.series_public_routes(settings),  # a series' page and calendar
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=exception_handlers(),
        middleware=[Middleware(ObserveMiddleware), Middleware(LiveMiddleware)],
    )
    app.state.openapi = openapi_document([*ENDPOINTS, *DOCUMENTED_ELSEWHERE], server_url="/")
    return app
