"""``atexpert demo``: the X emulator, staff users and a live #AskAirbus session.

The questions are posted to the emulator by public accounts, exactly as the public would
on X; the app's intake brings them into the moderator queue within seconds of starting,
and answers are published to the emulator from the brand's account, whose timeline page
shows the threads.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr

from atexpert.domain.clock import SystemClock
from atexpert.domain.errors import AtexpertError
from atexpert.domain.sessions import HostAccount, Session, SessionFields
from atexpert.emulator.control_client import ControlError, EmulatorControl
from atexpert.settings import Settings
from atexpert.store.intake_state import IntakeMode, IntakeStore
from atexpert.store.redis_conn import RedisClient
from atexpert.store.staff import StaffStore, UsernameTaken
from atexpert.store.store import Store
from atexpert.x.accounts import XAccountStore
from atexpert.x.client import USER_SCOPES

HOST = ("Airbus", "Airbus")
#: (handle, name, text, likes on X): the first three mention the host, so they get direct
#: replies; the fourth only carries the hashtag: the mentions timeline (the demo's mode, as
#: a brand's) does not carry it; search or stream mode take it in, and it is answered in
#: the session's own thread. The likes make the moderators' "Most liked" sort visible.
QUESTIONS = [
    ("aviator_ana", "Ana", "@Airbus When will hydrogen aircraft carry passengers? #AskAirbus", 48),
    ("planespotter", "Sam", "@Airbus How do you test a new wing before it flies? #AskAirbus", 7),
    ("eco_flyer", "Léa", "@Airbus Combien de carburant économise l’A321neo ? #AskAirbus", 23),
    ("curious_kid", "Tom", "How heavy is an A380 at take-off? #AskAirbus", 112),
    ("spam_bot_99", "Deals", "@Airbus Cheap flights here!!! https://spam.example #AskAirbus", 0),
]


class DemoError(AtexpertError):
    code = "demo"


def with_secret_key(settings: Settings) -> Settings:
    """``settings`` with a fresh random secret key, unless a fit one is configured."""
    if settings.secret_key_problem() is None:
        return settings
    return settings.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(32))})


@dataclass(frozen=True)
class DemoSeed:
    session: Session
    logins: dict[str, str]
    timeline_url: str


async def seed_demo(settings: Settings, redis: RedisClient, now: datetime) -> DemoSeed:
    """Staff users, the brand's X account (connected), a live session, public questions."""
    staff, store = StaffStore(redis), Store(redis)
    logins = {name: secrets.token_urlsafe(9) for name in ("admin", "moderator", "expert")}
    try:
        admin = await staff.create_user("admin", logins["admin"], is_admin=True)
        moderator = await staff.create_user(
            "moderator", logins["moderator"], display_name="Mia Laurent"
        )
        expert = await staff.create_user("expert", logins["expert"], display_name="Dr. Eva Jet")
    except UsernameTaken:
        raise DemoError("the demo users already exist: run the demo on an empty Redis") from None
    x = EmulatorControl(settings.x_api_base_url)
    try:
        host = await asyncio.to_thread(x.create_account, *HOST)
        await XAccountStore(redis, settings, SystemClock()).put_tokens(
            host.username,
            host.id,
            host.oauth2_access_token,
            host.oauth2_refresh_token,
            scopes=USER_SCOPES,
            actor=admin.username,
            name=host.name,
        )
        fields = SessionFields(
            title="Ask Airbus: the future of flight",
            description="Our engineers answer your questions live.",
            hashtags=["#AskAirbus"],
            host_account=HostAccount(handle=host.username, user_id=host.id),
            moderator_ids=[moderator.id],
            expert_ids=[expert.id],
            scheduled_start=now - timedelta(minutes=1),
            scheduled_end=now + timedelta(hours=2),
            time_zone="Europe/Paris",
        )
        session = await store.create_session(fields, actor=admin.username, at=now)
        await store.schedule_session(session.id, actor=admin.username, at=now)
        session = await store.start_session(session.id, actor=admin.username, at=now)
        # The mode a brand should run (docs/intake.md): cheapest, every question can be
        # replied to, and polled as often as X allows (about 2 s).
        await IntakeStore(redis).set_mode(
            session.id, IntakeMode.MENTIONS, actor=admin.username, at=now
        )
        for handle, name, text, likes in QUESTIONS:
            await asyncio.to_thread(x.create_account, handle, name)
            tweet_id = await asyncio.to_thread(x.post, handle, text)
            if likes:
                await asyncio.to_thread(x.set_likes, tweet_id, likes)
    except ControlError as exc:
        raise DemoError(f"the X emulator refused the demo data ({exc})") from None
    base = settings.x_api_base_url.rstrip("/")
    return DemoSeed(session, logins, f"{base}/_emulator/timeline/{host.username}?refresh=5")


def print_demo(seed: DemoSeed, base_url: str) -> None:
    sid = seed.session.id
    print(f"atexpert demo: session {sid} {' '.join(seed.session.hashtags)} is live")
    print(f"  start here: {base_url}/  (log in: each login lands on its console)")
    print(f"  log in:     {base_url}/login")
    print(f"  admin:      {base_url}/admin")
    print(f"  moderator:  {base_url}/sessions/{sid}/moderate")
    print(f"  expert:     {base_url}/sessions/{sid}/expert")
    print(f"  public:     {base_url}/live/{sid}")
    print(f"  on X:       {seed.timeline_url}  (the emulator's view of @{HOST[0]})")
    print(f"  API docs:   {base_url}/openapi.json")
    print("  logins:")
    for name, password in seed.logins.items():
        print(f"    {name:<10} {password}")
    sys.stdout.flush()
