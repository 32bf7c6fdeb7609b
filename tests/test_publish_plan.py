"""The thread plan of an answer (pure): summoned-reply routing, the quote, numbering,
signature; and the announcements in French and English."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from atexpert.domain import announce, twittertext
from atexpert.domain import merged as merged_mod
from atexpert.domain.announce import Moment
from atexpert.domain.answers import Answer, AnswerPart
from atexpert.domain.costs import DEFAULT_RATE_CARD
from atexpert.domain.publish_plan import Route, can_reply, plan, quote
from atexpert.domain.questions import Author, Question, post_link
from atexpert.domain.sessions import HostAccount, Session, SessionOptions, SessionStatus
from atexpert.publish.x_posts import same_text

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def session(**options: object) -> Session:
    return Session(
        id="s_1",
        title="Inside the A350 cabin",
        hashtags=["#AskAirbus"],
        host_account=HostAccount(handle="Airbus"),
        scheduled_start=NOW,
        scheduled_end=NOW + timedelta(hours=1),
        options=SessionOptions(**options),  # type: ignore[arg-type]
        created_by="admin",
        created_at=NOW,
        updated_by="admin",
        updated_at=NOW,
    )


def question(text: str, replyable: bool | None = None) -> Question:
    return Question(
        replyable=replyable,
        id="q_11",
        session_id="s_1",
        tweet_id="11",
        author=Author(id="7", handle="fan_1"),
        text=text,
        received_at=NOW,
        created_at=NOW,
    )


def answer(text: str) -> Answer:
    return Answer(
        id="a_1",
        session_id="s_1",
        question_ids=["q_11"],
        expert_id="e",
        text=text,
        parts=[AnswerPart(text=text)],
        created_at=NOW,
        updated_by="e",
        updated_at=NOW,
    )


def test_mentions_follow_twitter_text() -> None:
    assert twittertext.mentions("hey @AIRBUS, why?", "Airbus")
    assert twittertext.mentions("@airbus", "Airbus")
    assert not twittertext.mentions("mail me at me@airbus.com", "Airbus")
    assert not twittertext.mentions("@Airbus_fans are great", "Airbus")
    assert not twittertext.mentions("#Airbus rocks", "Airbus")


def test_a_question_mentioning_the_host_gets_a_direct_reply() -> None:
    q = question("@Airbus why is the cabin quiet?")
    thread = plan(answer("Better insulation."), q, session(), root_id="99")
    assert (thread.route, thread.reply_to) == (Route.REPLY, "11")
    assert [p.text for p in thread.parts] == ["Better insulation."]  # no "1/1"


def test_intakes_replyable_verdict_wins_over_the_mention_check() -> None:
    # a mention, but reply settings closed to the host: not a reply
    closed = question("@Airbus why is the cabin quiet?", replyable=False)
    route = plan(answer("Insulation."), closed, session(), root_id="99").route
    assert route is Route.SESSION_THREAD
    # intake saw the mention in X's entities (e.g. a long post): a direct reply
    opened = question("why is the cabin quiet?", replyable=True)
    assert plan(answer("Insulation."), opened, session(), root_id="99").route is Route.REPLY
    # unknown: the mention check decides
    assert can_reply(question("@Airbus hi", replyable=None), session())


def test_other_questions_continue_the_session_thread_quoting_the_question() -> None:
    q = question("why is the cabin so quiet " + "really " * 40)
    assert not can_reply(q, session())
    thread = plan(answer("Better insulation."), q, session(signature="— Airbus"), root_id="99")
    assert (thread.route, thread.reply_to) == (Route.SESSION_THREAD, "99")
    first = thread.parts[0].text
    assert first.startswith("«Q @fan_1: why is the cabin so quiet really")
    assert "…»\n\nBetter insulation." in first and first.endswith("\n— Airbus")
    no_root = plan(answer("Better insulation."), q, session(announce=False), root_id=None)
    assert (no_root.route, no_root.reply_to) == (Route.STANDALONE, None)


def test_long_answers_are_numbered_and_signed_on_the_last_part() -> None:
    text = " ".join(f"Sentence number {i} explains one more thing." for i in range(20))
    thread = plan(answer(text), question("@Airbus ?"), session(signature="— Team"), None)
    assert len(thread.parts) > 2
    n = len(thread.parts)
    for i, part in enumerate(thread.parts, 1):
        assert twittertext.is_valid(part.text)
        assert f"{i}/{n}" in part.text
    assert thread.parts[-1].text.endswith("— Team")
    assert not thread.parts[0].text.endswith("— Team")


@given(st.text(min_size=1, max_size=600).filter(lambda s: s.strip()))
def test_the_quote_always_fits_within_part_one(text: str) -> None:
    q = question(text.replace("\ufffe", "").replace("\ufeff", "").replace("\uffff", "") or "x")
    quoted = quote(q)
    assert twittertext.weighted_length(quoted) <= 130
    assert quoted.startswith("«Q @fan_1: ") and quoted.endswith("»")


def test_reconciliation_compares_texts_up_to_link_rewriting() -> None:
    assert same_text("see https://airbus.com/a350 now", "see https://t.co/abc now")
    assert not same_text("part 1/3", "part 2/3")


def test_announcements_in_english_and_french() -> None:
    en = announce.render(session(), Moment.START)
    assert en.startswith("We're live: Inside the A350 cabin\n")
    assert "#AskAirbus" in en and "@Airbus" in en
    fr_session = session().model_copy(update={"language": "fr"})
    fr = announce.render(fr_session, Moment.END, answered=12)
    assert fr.startswith("C'est terminé\u202f: Inside the A350 cabin")
    assert "12 réponses publiées" in fr and fr.endswith("#AskAirbus\u202f!")


def test_announcement_preview_and_a_title_too_long_for_one_post() -> None:
    long = session(announce=False).model_copy(update={"title": "Très long titre " * 30})
    preview = announce.preview(long)
    assert preview.enabled is False
    for item in (preview.start, preview.end):
        assert item.weighted_length <= 280 and twittertext.is_valid(item.text)
        assert "…" in item.text


# -- merged askers -------------------------------------------------------------------------


def asked(n: int, text: str, author: str, status: str = "merged", into: str = "q_11") -> Question:
    return Question(
        id=f"q_{n}",
        session_id="s_1",
        author=Author(id=author, handle=f"fan_{author}", name=f"Fan {author}"),
        text=text,
        received_at=NOW + timedelta(seconds=n),
        created_at=NOW,
        status=status,  # type: ignore[arg-type]
        merged_into=into if status == "merged" else None,
    )


def test_merged_askers_follow_chains_and_get_one_reply_each() -> None:
    main = question("@Airbus why so quiet?")  # asked by author 7
    merged = [
        asked(20, "@Airbus quiet?", "8"),
        asked(21, "and again, quiet?", "8"),  # the same asker twice: one reply
        asked(22, "quiet cabin?", "7"),  # the answer's own asker: none
        asked(23, "silent?", "9", into="q_20"),  # merged into a merged question
        asked(24, "wings?", "10", into="q_99"),  # merged into another question
    ]
    assert [q.id for q in merged_mod.askers([main], merged)] == ["q_20", "q_23"]


def test_askers_merged_late_get_a_reply_unless_they_have_one_and_until_the_closing_post() -> None:
    main = question("@Airbus why so quiet?")
    first = asked(20, "@Airbus quiet?", "8")  # its reply was planned at claim time
    late = [first, asked(21, "quiet again?", "8"), asked(25, "silent?", "9")]
    assert [q.id for q in merged_mod.late_askers([main], late, [first])] == ["q_25"]
    live = session().model_copy(update={"status": SessionStatus.LIVE})
    assert merged_mod.late_refusal(live) is None
    closed = live.model_copy(update={"status": SessionStatus.CLOSED})
    assert merged_mod.late_refusal(closed) is None  # the closing post waits for the reply
    posted = closed.model_copy(update={"closing_tweet_id": "900"})
    assert "closing post is on X" in (merged_mod.late_refusal(posted) or "")
    archived = live.model_copy(update={"status": SessionStatus.ARCHIVED})
    assert "archived" in (merged_mod.late_refusal(archived) or "")


def test_thread_replies_sign_each_post_for_the_asker_and_follow_the_reply_rule() -> None:
    s = session(numbering=True)
    a = answer(" ".join(["The cabin is quiet thanks to the insulation."] * 12))
    main = plan(a, question("@Airbus why so quiet?"), s, "500")
    summoned = merged_mod.plan_reply(a, asked(20, "@Airbus quiet?", "8"), s, "500")
    assert (summoned.route, summoned.reply_to) == (Route.REPLY.value, "20")
    assert all(p.text.endswith("\n@fan_8") for p in summoned.parts)
    assert not {p.text for p in summoned.parts} & {p.text for p in main.parts}  # X: no duplicate
    assert all(twittertext.weighted_length(p.text) <= 280 for p in summoned.parts)
    other = merged_mod.plan_reply(a, asked(23, "silent cabin?", "9"), s, "500")
    assert (other.route, other.reply_to) == (Route.SESSION_THREAD.value, "500")
    assert other.parts[0].text.startswith("«Q @fan_9: silent cabin?»")


def test_a_link_reply_is_written_once_the_answer_is_on_x_and_priced_as_a_link() -> None:
    s = session(merged_replies="link").model_copy(update={"language": "fr"})
    reply = merged_mod.plan_reply(answer("Lift."), asked(20, "@Airbus ?", "8"), s, None)
    assert reply.link and [p.text for p in reply.parts] == [""]
    url = post_link("Airbus", "123")
    text = merged_mod.text_of(reply, 0, s, url)
    assert (
        text == "@fan_8 La réponse à votre question est ici\u202f: https://x.com/Airbus/status/123"
    )
    summary = merged_mod.summarize([reply], s)
    assert (summary.posts, summary.cost) == (1, DEFAULT_RATE_CARD.post_with_url)
    thread = merged_mod.plan_reply(answer("Lift."), asked(20, "@Airbus ?", "8"), session(), None)
    assert merged_mod.summarize([thread], s).cost == DEFAULT_RATE_CARD.summoned_reply
