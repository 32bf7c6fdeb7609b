"""Reading X posts into questions (pure): what is kept, what is skipped and why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from atexpert.intake.poll import opening_cursor, search_query
from atexpert.intake.posts import (
    Accepted,
    Skip,
    Skipped,
    Target,
    classify,
    id_key,
    newer,
    read_page,
)

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
TARGET = Target.of("s_1", ["#AskAirbus", "#AirbusLive"], "10", "Airbus")
USERS: dict[str, Any] = {
    "20": {
        "id": "20",
        "username": "fan",
        "name": "A Fan",
        "verified": True,
        "created_at": "2019-05-01T00:00:00.000Z",
        "public_metrics": {"followers_count": 12},
    }
}


def post(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "1860000000000000000",
        "text": text,
        "author_id": "20",
        "created_at": "2026-11-26T09:59:00.000Z",
        **extra,
    }


def test_a_mention_with_the_hashtag_is_a_replyable_question() -> None:
    out = classify(post("@Airbus #AskAirbus why?"), USERS, TARGET, NOW)
    assert isinstance(out, Accepted) and out.incoming.replyable
    assert out.incoming.author.handle == "fan" and out.incoming.author.followers == 12
    assert out.incoming.author.verified
    assert out.incoming.created_at == datetime(2026, 11, 26, 9, 59, tzinfo=UTC)


def test_hashtags_match_like_x_does() -> None:
    for text in ("#askairbus?", "(#AIRBUSLIVE)", "x #AskAirbus_"[:-1], "＃AskAirbus"):
        assert isinstance(classify(post(text), USERS, TARGET, NOW), Accepted), text
    for text in ("#AskAirbusNow", "AskAirbus", "https://x.com/#AskAirbus", "a#AskAirbus"):
        out = classify(post(text), USERS, TARGET, NOW)
        assert isinstance(out, Skipped) and out.reason is Skip.NO_HASHTAG, text


def test_replyable_needs_the_mention_and_open_reply_settings() -> None:
    def replyable(text: str, **extra: Any) -> bool:
        out = classify(post(text, **extra), USERS, TARGET, NOW)
        assert isinstance(out, Accepted)
        assert out.incoming.replyable is not None
        return out.incoming.replyable

    assert not replyable("#AskAirbus no mention")
    assert not replyable("#AskAirbus email@Airbus.com is not a mention")
    assert replyable("#AskAirbus @AIRBUS shouting", reply_settings="mentionedUsers")
    assert not replyable("#AskAirbus @Airbus", reply_settings="verified")


def test_retweets_own_posts_and_bad_posts_are_skipped() -> None:
    retweet = post("RT @fan: #AskAirbus", referenced_tweets=[{"type": "retweeted", "id": "1"}])
    quote = post("#AskAirbus quoting", referenced_tweets=[{"type": "quoted", "id": "1"}])
    cases: list[tuple[Any, Skip]] = [
        (retweet, Skip.RETWEET),
        (post("#AskAirbus ours", author_id="10"), Skip.OWN_POST),
        ({"id": "1", "text": "#AskAirbus"}, Skip.MALFORMED),
        (post("   "), Skip.MALFORMED),
        (["not", "a", "post"], Skip.MALFORMED),
    ]
    for item, reason in cases:
        out = classify(item, USERS, TARGET, NOW)
        assert isinstance(out, Skipped) and out.reason is reason, item
    assert isinstance(classify(quote, USERS, TARGET, NOW), Accepted)


def test_long_posts_are_read_in_full() -> None:
    full = "@Airbus #AskAirbus " + "long " * 200
    out = classify(post(full[:275] + "…", note_tweet={"text": full}), USERS, TARGET, NOW)
    assert isinstance(out, Accepted) and out.incoming.text == full


def test_pages_and_ids() -> None:
    page = read_page(
        {
            "data": [post("#AskAirbus")],
            "includes": {"users": [USERS["20"], 7]},
            "meta": {"newest_id": "99", "next_token": "abc"},
            "matching_rules": [{"id": "1", "tag": "s_1"}, {"tag": 3}],
        }
    )
    assert len(page.posts) == 1 and set(page.users) == {"20"}
    assert (page.newest_id, page.next_token, page.tags) == ("99", "abc", ["s_1"])
    assert read_page("junk").posts == [] and read_page({"meta": []}).newest_id is None
    assert newer("99", "100") == "100" and newer(None, "5") == "5"
    assert sorted(["100", "99", "1000"], key=id_key) == ["99", "100", "1000"]
    assert search_query(TARGET) == "(#airbuslive OR #askairbus) -is:retweet -from:Airbus"
    assert int(opening_cursor(NOW)) >> 22 == int(NOW.timestamp() * 1000) - 1288834974657 - 1


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
POSTISH = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=22), st.from_regex(r"[0-9]{1,20}", fullmatch=True)),
        "author_id": st.one_of(JSON, st.just("20"), st.just("10")),
        "text": st.text(max_size=300),
        "note_tweet": JSON,
        "created_at": st.one_of(JSON, st.just("2026-11-26T09:00:00Z")),
        "referenced_tweets": JSON,
        "reply_settings": JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON, POSTISH), st.dictionaries(st.text(max_size=5), JSON, max_size=3))
def test_classify_never_raises(item: Any, users: dict[str, Any]) -> None:
    out = classify(item, users, TARGET, NOW)
    assert isinstance(out, Accepted | Skipped)
    read_page({"data": item, "includes": {"users": [users]}})


def test_x_entities_are_trusted_when_well_formed() -> None:
    tagged = {"hashtags": [{"start": 0, "end": 10, "tag": "AskAirbus"}]}
    out = classify(post("text X tagged", entities=tagged), USERS, TARGET, NOW)
    assert isinstance(out, Accepted)
    untagged = classify(post("#AskAirbus", entities={"mentions": []}), USERS, TARGET, NOW)
    assert isinstance(untagged, Skipped) and untagged.reason is Skip.NO_HASHTAG
    for broken in ({"hashtags": "AskAirbus"}, {"hashtags": [{"tag": 5}]}, "junk"):
        out = classify(post("#AskAirbus", entities=broken), USERS, TARGET, NOW)
        assert isinstance(out, Accepted), broken  # extracted from the text instead
    note = {"text": "@Airbus " + "x " * 200 + "#AskAirbus", "entities": tagged}
    out = classify(post("preview…", note_tweet=note), USERS, TARGET, NOW)
    assert isinstance(out, Accepted) and out.incoming.text == note["text"]
