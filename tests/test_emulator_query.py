"""The emulator's search-query language."""

from __future__ import annotations

import pytest

from atexpert.emulator.query import QueryError, matches, parse
from atexpert.emulator.state import Post


def _post(
    text: str, *, author: str = "alice", lang: str = "en", refs: list[tuple[str, str]] | None = None
) -> Post:
    post = Post(
        id="1",
        author_id="9",
        author_username=author,
        text=text,
        created_at=0.0,
        lang=lang,
        conversation_id="1",
        referenced=refs or [],
    )
    post.analyze()
    return post


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        ("#AskAirbus", "Why do wings flex? #askairbus", True),
        ("#AskAirbus", "Why do wings flex? #AskAirbusNow", False),
        ("#AskAirbus", "see https://example.com/#AskAirbus", False),
        ("#münchen", "Oktoberfest #München", True),
        ("@AirbusExpert", "hey @airbusexpert how?", True),
        ("wings", "Why do WINGS flex?", True),
        ("wing", "Why do wings flex?", False),
        ('"wings flex"', "Why do wings flex?", True),
        ('"flex wings"', "Why do wings flex?", False),
        ("#a OR #b", "only #b here", True),
        ("#a #b", "only #b here", False),
        ("#a (#b OR #c)", "#a and #c", True),
        ("#a -#c", "#a and #c", False),
        ("#a -(#b OR #c)", "#a and #d", True),
        ("apple OR iphone ipad", "apple pie", True),
        ("apple OR iphone ipad", "iphone only", False),
        ("#a lang:fr", "#a bonjour", False),
    ],
)
def test_query_matching(query: str, text: str, expected: bool) -> None:
    assert matches(parse(query), _post(text)) is expected


def test_operators_on_post_attributes() -> None:
    reply = _post("#a thanks", author="bob", lang="fr", refs=[("replied_to", "5")])
    retweet = _post("RT #a", refs=[("retweeted", "5")])
    assert matches(parse("#a from:bob lang:fr is:reply"), reply)
    assert not matches(parse("#a -is:reply"), reply)
    assert matches(parse("#a -is:retweet"), reply)
    assert not matches(parse("#a -is:retweet"), retweet)
    assert matches(parse("#a from:@Bob"), reply)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        "(#a",
        "#a)",
        "#a OR",
        "OR #a",
        "-is:retweet",
        "is:reply",
        "-#a",
        "foo:bar #a",
        "#a is:nonsense",
        "x" * 513,
    ],
)
def test_invalid_queries_are_refused_with_x_wording(query: str) -> None:
    with pytest.raises(QueryError, match=r"^There were errors processing your request: "):
        parse(query)
