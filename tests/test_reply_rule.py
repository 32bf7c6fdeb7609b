"""The reply rule agrees everywhere: intake's ``replyable``, the publisher's pre-flight and
the emulator's X rule, on every @mention case of twitter-text's extract.yml and on retweets
and quotes.

Reads ../shared/conformance/twitter-text/extract.yml at test time; the conformance cases
skip with the reason when it is absent (the retweet and quote cases always run).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from atexpert.domain import twittertext
from atexpert.domain.publish_plan import can_reply
from atexpert.domain.questions import Author, IncomingQuestion, received
from atexpert.domain.sessions import HostAccount, Session
from atexpert.emulator.posting import NOT_SUMMONED, Draft, create, inject
from atexpert.emulator.problems import XError
from atexpert.emulator.state import State
from atexpert.intake.posts import Accepted, Skip, Skipped, Target, classify

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "conformance" / "twitter-text"
EXTRACT_YML = CONFORMANCE / "extract.yml"
MENTION_SECTIONS = ("mentions", "mentions_with_indices", "mentions_or_lists_with_indices")
NOW = datetime.now(UTC).replace(microsecond=0)
USERS = {"20": {"id": "20", "username": "fan", "name": "A Fan"}}
#: X's own entities say the post has the session's hashtag, whatever its text.
AMA = {"entities": {"hashtags": [{"start": 0, "end": 4, "tag": "AMA"}]}}


def _handles(text: str) -> list[str]:
    """Every name an at sign starts in ``text``: each one may or may not be a mention."""
    runs = [text[s + 1 : e] for s, e in twittertext.sigil_spans(text) if text[s] in "@＠"]
    return sorted({run for run in runs if run})


def _expected_names(section: str, expected: Any) -> set[str] | None:
    """The names twitter-text says are mentioned (None: the section does not say)."""
    if section == "mentions":
        return {name.casefold() for name in expected}
    if section in MENTION_SECTIONS:
        return {e["screen_name"].casefold() for e in expected}
    return None


def _mention_cases() -> list[Any]:
    if not EXTRACT_YML.is_file():
        reason = "twitter-text conformance suite absent: ../shared/conformance/twitter-text/"
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason=reason))]
    tests = yaml.safe_load(EXTRACT_YML.read_text(encoding="utf-8"))["tests"]
    return [
        pytest.param(
            case["text"],
            handle,
            _expected_names(section, case["expected"]),
            id=f"{section}: {case['description'][:50]} @{handle}",
        )
        for section in (*MENTION_SECTIONS, "replies")
        for case in tests[section]
        for handle in _handles(case["text"])
    ]


def session(handle: str) -> Session:
    start = NOW + timedelta(hours=1)
    return Session(
        id="s_1",
        title="AMA",
        hashtags=["#AMA"],
        host_account=HostAccount(handle=handle),
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=1),
        created_by="admin",
        created_at=NOW,
        updated_by="admin",
        updated_at=NOW,
    )


def intake(text: str, handle: str, **post: Any) -> Accepted | Skipped:
    """What intake makes of a post by @fan with ``text`` for @handle's session."""
    body = {"id": "1860000000000000000", "author_id": "20", "text": text, **AMA, **post}
    return classify(body, USERS, Target.of("s_1", ["#AMA"], "10", handle), NOW)


def preflight(text: str, handle: str, replyable: bool | None) -> bool:
    """The publisher's reply pre-flight for a question with ``text`` (``replyable`` as
    intake stored it; None: unknown, e.g. a question stored before intake said)."""
    incoming = IncomingQuestion(
        tweet_id="1860000000000000000",
        author=Author(id="20", handle="fan"),
        text=text,
        created_at=NOW,
        replyable=replyable,
    )
    return can_reply(received(incoming, session_id="s_1", at=NOW), session(handle))


def emulator_lets_reply(text: str, handle: str, **draft: Any) -> bool:
    """Whether the X emulator accepts @handle's API reply to @fan's post ``text``."""
    state = State()
    host = state.add_account(handle, "Host")
    post = inject(state, state.add_account("fan", "A Fan"), Draft(text=text, **draft))
    try:
        create(state, host, Draft(text="Thanks!", reply_to=post.id))
    except XError as refused:
        assert refused.body["detail"] == NOT_SUMMONED
        return False
    return True


@pytest.mark.parametrize(("text", "handle", "mentioned"), _mention_cases())
def test_intake_publisher_and_emulator_agree_on_mentions(
    text: str, handle: str, mentioned: set[str] | None
) -> None:
    out = intake(text, handle)
    assert isinstance(out, Accepted) and out.incoming.replyable is not None
    replyable = out.incoming.replyable
    if mentioned is not None:
        assert replyable == (handle.casefold() in mentioned)
    assert preflight(text, handle, replyable) is replyable
    assert preflight(text, handle, None) is replyable  # an unknown verdict: the same rule
    assert emulator_lets_reply(text, handle) is replyable


@pytest.mark.parametrize(
    ("text", "refs"),
    [
        ("RT @Airbus: why is the cabin so quiet? #AMA", [{"type": "retweeted", "id": "5"}]),
        ("RT @Airbus: why is the cabin so quiet? #AMA", None),  # old style: no references
        ("RT @fan2: @Airbus why is the cabin so quiet? #AMA", None),
    ],
)
def test_a_retweet_summons_nobody(text: str, refs: list[dict[str, str]] | None) -> None:
    extra = {} if refs is None else {"referenced_tweets": refs}
    out = intake(text, "Airbus", **extra)
    assert isinstance(out, Skipped) and out.reason is Skip.RETWEET
    types = None if refs is None else [r["type"] for r in refs]
    assert not twittertext.may_reply(text, "Airbus", reference_types=types)
    assert not preflight(text, "Airbus", None)
    assert not emulator_lets_reply(text, "Airbus", retweet_of="5")


@pytest.mark.parametrize(
    ("text", "replyable"),
    [
        ("@Airbus is this right? #AMA https://x.com/fan2/status/5", True),
        ("is this right? #AMA https://x.com/fan2/status/5", False),  # the quoted post may
    ],
)
def test_a_quote_summons_whom_its_own_text_mentions(text: str, replyable: bool) -> None:
    out = intake(text, "Airbus", referenced_tweets=[{"type": "quoted", "id": "5"}])
    assert isinstance(out, Accepted) and out.incoming.replyable is replyable
    assert preflight(text, "Airbus", replyable) is replyable
    assert preflight(text, "Airbus", None) is replyable
    assert emulator_lets_reply(text, "Airbus", quote_of="5") is replyable
