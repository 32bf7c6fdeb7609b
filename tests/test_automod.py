"""The pure rules engine: every rule in French and English, precedence, raid mode, config."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from atexpert.domain.automod import Context, Decision, PastQuestion, comparable, evaluate
from atexpert.domain.automod_config import AutomodConfig, Outcome, Rule
from atexpert.domain.questions import MAX_REASON, Author, Question

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
DEFAULTS = AutomodConfig()


def question(text: str, **author: Any) -> Question:
    fields: dict[str, Any] = {"id": "42", "handle": "Alice", "followers": 120} | author
    return Question(
        id="q_1001",
        session_id="s_test",
        author=Author(**fields),
        text=text,
        received_at=NOW,
        created_at=NOW,
    )


def decide(
    text: str, config: AutomodConfig = DEFAULTS, context: Context | None = None, **author: Any
) -> Decision:
    return evaluate(question(text, **author), config, context or Context(now=NOW))


def config(**fields: Any) -> AutomodConfig:
    return AutomodConfig.model_validate(fields)


def rules(decision: Decision) -> list[Rule]:
    return [hit.rule for hit in decision.hits]


# -- defaults and the content rules ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Comment fonctionne le pilote automatique ? #AskAirbus",
        "How does the autopilot work? #AskAirbus",
        "Scunthorpe : un vol direct un jour ? #AskAirbus",
        "Is business classe really quieter? #AskAirbus",
    ],
)
def test_clean_questions_get_no_decision(text: str) -> None:
    assert decide(text) == Decision(outcome=Outcome.NONE)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("Quelle merde ce vol ? #AskAirbus", Rule.PROFANITY_FR),
        ("Vos sièges sont de la m3rde #AskAirbus", Rule.PROFANITY_FR),
        ("What the f*ck #AskAirbus", Rule.PROFANITY_EN),
        ("Why is the food so SHIIIT? #AskAirbus", Rule.PROFANITY_EN),
    ],
)
def test_profanity_rejects_with_a_reason_in_both_languages(text: str, rule: Rule) -> None:
    decision = decide(text)
    assert decision.outcome is Outcome.REJECT and decision.rule is rule
    hit = decision.hits[0]
    assert "grossièreté" in hit.reason_fr and "profanity" in hit.reason_en
    assert decision.reason("fr").startswith(f"automod [{rule}]: grossièreté")
    assert decision.reason("en").startswith(f"automod [{rule}]: profanity")


def test_profanity_reasons_quote_the_word_as_listed() -> None:
    assert decide("Vous êtes des c0nnards").hits[0].reason_fr == "grossièreté « connard »"
    assert decide("total bullsh1t").hits[0].reason_en == "profanity 'bullshit'"


def test_profanity_lists_can_be_chosen_or_turned_off() -> None:
    only_en = config(profanity=["en"])
    assert decide("Quelle merde ce vol ?", only_en).outcome is Outcome.NONE
    assert decide("What the f*ck", only_en).rule is Rule.PROFANITY_EN
    off = config(profanity=[])
    assert decide("Quelle merde ! What the f*ck", off).outcome is Outcome.NONE


@pytest.mark.parametrize(
    ("text", "blocked"),
    [
        ("Et Boeing, ils font mieux ? #AskAirbus", "Boeing"),
        ("Is B0EING better? #AskAirbus", "Boeing"),
        ("Parlons du prix du billet svp", "prix du billet"),
        ("What about the ticket  PRICE? #AskAirbus", "ticket price"),
    ],
)
def test_blocklist_rejects_words_and_phrases_normalized(text: str, blocked: str) -> None:
    cfg = config(blocklist=["Boeing", "prix du billet", "ticket price"])
    decision = decide(text, cfg)
    assert decision.rule is Rule.BLOCKLIST and decision.outcome is Outcome.REJECT
    assert blocked in decision.hits[0].reason_en and blocked in decision.hits[0].reason_fr


def test_blocklist_matches_whole_words_only() -> None:
    cfg = config(blocklist=["vol", "ass"])
    assert decide("Le volant de l'A320 ? #AskAirbus", cfg).outcome is Outcome.NONE
    assert decide("Is the class assessment done? #AskAirbus", cfg).outcome is Outcome.NONE
    assert decide("Mon vol est annulé", cfg).rule is Rule.BLOCKLIST


@pytest.mark.parametrize(
    "text",
    [
        "https://t.co/abc123",
        "#AskAirbus https://t.co/abc123 @Airbus",
        "  https://spam.example/x  https://t.co/y !! #AskAirbus",
        "www.spam.example/promo",
    ],
)
def test_link_only_rejects(text: str) -> None:
    decision = decide(text)
    assert decision.rule is Rule.LINK_ONLY and decision.outcome is Outcome.REJECT
    assert decision.hits[0].reason_fr == "seulement un lien"


@pytest.mark.parametrize(
    "text",
    [
        "Vu cet article ? https://t.co/abc #AskAirbus",
        "Is this true? https://t.co/abc #AskAirbus",
        "#AskAirbus @Airbus",  # no link: nothing to say, but not link-only
    ],
)
def test_link_with_words_is_not_link_only(text: str) -> None:
    assert Rule.LINK_ONLY not in rules(decide(text))
    assert decide("https://t.co/abc", config(link_only=False)).outcome is Outcome.NONE


# -- spam heuristics -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["POURQUOI VOS AVIONS SONT EN RETARD ??? #AskAirbus", "WHY ARE YOUR PLANES LATE??? #AskAirbus"],
)
def test_shouting_is_held(text: str) -> None:
    assert decide(text).outcome is Outcome.NONE  # off by default
    decision = decide(text, config(shouting=True))
    assert decision.outcome is Outcome.HOLD and decision.rule is Rule.SHOUTING


@pytest.mark.parametrize(
    "text", ["Et l'A380 de la NASA ? #ASKAIRBUS", "Is the A350 NASA-approved? #ASKAIRBUS", "OK GO"]
)
def test_acronyms_and_capital_hashtags_are_not_shouting(text: str) -> None:
    assert decide(text, config(shouting=True)).outcome is Outcome.NONE


@pytest.mark.parametrize(
    "text", ["Pourquoiiiiiii ??? #AskAirbus", "Whyyyyyy is it late #AskAirbus", "Hello!!!!!!"]
)
def test_repeated_characters_are_held(text: str) -> None:
    decision = decide(text, config(repeated_chars=True))
    assert decision.rule is Rule.REPEATED and decision.outcome is Outcome.HOLD


def test_numbers_and_five_repeats_are_fine() -> None:
    cfg = config(repeated_chars=True)
    assert decide("1000000 rivets par avion ?", cfg).outcome is Outcome.NONE
    assert decide("Whyyyyy? (five y)", cfg).outcome is Outcome.NONE


@pytest.mark.parametrize(
    ("text", "rule", "count"),
    [
        ("Une question #AskAirbus #A380 #avion #vol", Rule.HASHTAGS, 4),
        ("A question #AskAirbus #A380 #plane #flight", Rule.HASHTAGS, 4),
        ("@a @b @c Vous en pensez quoi ?", Rule.MENTIONS, 3),
        ("@a @b @c what do you think?", Rule.MENTIONS, 3),
    ],
)
def test_too_many_hashtags_or_mentions(text: str, rule: Rule, count: int) -> None:
    decision = decide(text, config(max_hashtags=3, max_mentions=2))
    assert decision.rule is rule and decision.outcome is Outcome.HOLD
    assert decision.hits[0].reason_en.startswith(f"{count} ")
    assert decide(text, config(max_hashtags=4, max_mentions=3)).outcome is Outcome.NONE


@pytest.mark.parametrize(
    ("earlier", "now"),
    [
        ("Quand sort l'A390 ? #AskAirbus", "quand SORT l'A390 ?? #AskAirbus #avion"),
        ("When is the A390 out? #AskAirbus", "WHEN is the A390 out?? @Airbus #AskAirbus"),
    ],
)
def test_same_text_as_a_recent_question_of_the_author(earlier: str, now: str) -> None:
    cfg = config(duplicate_window_minutes=30)
    recent = [PastQuestion(at=NOW - timedelta(minutes=29), text=earlier)]
    decision = decide(now, cfg, Context(now=NOW, recent=recent))
    assert decision.rule is Rule.DUPLICATE and decision.outcome is Outcome.REJECT
    older = [PastQuestion(at=NOW - timedelta(minutes=30), text=earlier)]
    assert decide(now, cfg, Context(now=NOW, recent=older)).outcome is Outcome.NONE
    other = [PastQuestion(at=NOW - timedelta(minutes=1), text="Autre chose / something else")]
    assert decide(now, cfg, Context(now=NOW, recent=other)).outcome is Outcome.NONE


# -- author rules ----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["Une question ? #AskAirbus", "A question? #AskAirbus"])
def test_minimum_account_age_in_days(text: str) -> None:
    cfg = config(min_account_age_days=7)
    young = decide(text, cfg, account_created_at=NOW - timedelta(days=6, hours=23))
    assert young.rule is Rule.ACCOUNT_AGE and young.outcome is Outcome.HOLD
    assert young.hits[0].reason_fr == "compte créé il y a 6 jour(s), minimum 7"
    assert young.hits[0].reason_en == "account created 6 day(s) ago, minimum 7"
    assert decide(text, cfg, account_created_at=NOW - timedelta(days=7)).outcome is Outcome.NONE
    assert decide(text, cfg).outcome is Outcome.NONE  # age unknown: not held


@pytest.mark.parametrize("text", ["Une question ? #AskAirbus", "A question? #AskAirbus"])
def test_minimum_followers(text: str) -> None:
    cfg = config(min_followers=10)
    few = decide(text, cfg, followers=9)
    assert few.rule is Rule.FOLLOWERS and few.hits[0].reason_en == "9 follower(s), minimum 10"
    assert few.hits[0].reason_fr == "9 abonné(s), minimum 10"
    assert decide(text, cfg, followers=10).outcome is Outcome.NONE


def past(*minutes_ago: float) -> list[PastQuestion]:
    return [PastQuestion(at=NOW - timedelta(minutes=m), text=f"q{m}") for m in minutes_ago]


@pytest.mark.parametrize("text", ["Encore une question ? #AskAirbus", "One more? #AskAirbus"])
def test_questions_per_hour_at_the_boundary(text: str) -> None:
    cfg = config(max_per_hour=3)
    two = decide(text, cfg, Context(now=NOW, recent=past(1, 20, 59.99)))
    assert two.rule is Rule.RATE and two.outcome is Outcome.REJECT
    assert two.hits[0].reason_en.startswith("already 3 question(s)")
    assert two.hits[0].reason_fr.startswith("déjà 3 question(s)")
    # One of them exactly an hour old no longer counts: 2 in the window, the 3rd is fine.
    assert decide(text, cfg, Context(now=NOW, recent=past(1, 20, 60))).outcome is Outcome.NONE
    assert decide(text, cfg, Context(now=NOW, recent=past(1, 20))).outcome is Outcome.NONE
    # Questions "from the future" (clock skew) are not counted either.
    assert decide(text, cfg, Context(now=NOW, recent=past(1, 2, -1))).outcome is Outcome.NONE


@pytest.mark.parametrize("ref", ["42", "@alice", "ALICE", "@Alice"])
def test_banned_authors_are_rejected_by_id_or_handle(ref: str) -> None:
    decision = decide("Une question tout à fait normale ?", config(banned=[ref]))
    assert decision.outcome is Outcome.REJECT and decision.rule is Rule.BANNED
    assert decision.hits[0].reason_fr == "auteur banni de la session"
    assert decision.hits[0].reason_en == "author banned from the session"


def test_banned_from_the_context_too() -> None:
    ctx = Context(now=NOW, banned=frozenset({"@alice"}))
    assert decide("A perfectly normal question?", context=ctx).rule is Rule.BANNED


@pytest.mark.parametrize("ref", ["42", "@alice"])
def test_trusted_authors_are_approved(ref: str) -> None:
    decision = decide("A perfectly normal question?", config(trusted=[ref]))
    assert decision.outcome is Outcome.APPROVE and decision.rule is Rule.TRUSTED
    assert decide("Bonjour ?", config(trusted=["@bob", "43"])).outcome is Outcome.NONE


# -- precedence and raid mode ----------------------------------------------------------


def test_banned_beats_trusted_from_the_context() -> None:
    ctx = Context(now=NOW, banned=frozenset({"42"}))
    decision = decide("Hello?", config(trusted=["@alice"]), ctx)
    assert decision.outcome is Outcome.REJECT
    assert rules(decision) == [Rule.BANNED, Rule.TRUSTED]


def test_trusted_beats_raid_and_content_rules_which_are_still_listed() -> None:
    cfg = config(trusted=["42"], raid_mode=True, shouting=True)
    decision = decide("WHAT THE F*CK IS THIS PLANE", cfg)
    assert decision.outcome is Outcome.APPROVE
    assert rules(decision) == [Rule.TRUSTED, Rule.PROFANITY_EN, Rule.SHOUTING]
    assert decision.reason("en") == "automod [trusted-author]: trusted author (+2 more rule(s))"
    assert decision.reason("fr").endswith("(+2 autre(s) règle(s))")


def test_raid_hold_beats_rejections() -> None:
    decision = decide("Quelle merde https://t.co/x", config(raid_mode=True))
    assert decision.outcome is Outcome.HOLD and decision.rule is Rule.RAID
    assert rules(decision) == [Rule.RAID, Rule.PROFANITY_FR]


def test_rejections_beat_holds_whatever_their_order() -> None:
    cfg = config(shouting=True, min_followers=1000, blocklist=["boeing"])
    decision = decide("WHY IS BOEING BETTER THAN YOU?", cfg, followers=3)
    assert decision.outcome is Outcome.REJECT and decision.rule is Rule.BLOCKLIST
    assert set(rules(decision)) == {Rule.BLOCKLIST, Rule.SHOUTING, Rule.FOLLOWERS}
    assert rules(decision)[0] is Rule.BLOCKLIST


def test_an_action_override_turns_a_rejection_into_a_hold() -> None:
    cfg = config(actions={"profanity-fr": "hold", "spam-shouting": "reject"})
    assert decide("Quelle merde", cfg).outcome is Outcome.HOLD
    shout = decide("POURQUOI TANT DE RETARD", cfg.model_copy(update={"shouting": True}))
    assert shout.outcome is Outcome.REJECT


@pytest.mark.parametrize(
    "text", ["Première question ici #AskAirbus", "My very first question #AskAirbus"]
)
def test_raid_mode_holds_unknown_authors_only(text: str) -> None:
    raid = config(raid_mode=True)
    unknown = decide(text, raid)
    assert unknown.outcome is Outcome.HOLD and unknown.rule is Rule.RAID
    assert "raid" in unknown.hits[0].reason_fr and "raid" in unknown.hits[0].reason_en
    known = Context(now=NOW, approved_authors=frozenset({"42"}))
    assert decide(text, raid, known).outcome is Outcome.NONE
    assert decide(text, config(raid_mode=True, trusted=["@alice"])).outcome is Outcome.APPROVE
    assert decide(text).outcome is Outcome.NONE  # raid off: same question passes


def test_known_author_in_raid_mode_still_meets_the_other_rules() -> None:
    known = Context(now=NOW, approved_authors=frozenset({"42"}))
    assert decide("What the f*ck", config(raid_mode=True), known).rule is Rule.PROFANITY_EN


def test_disabled_config_decides_nothing() -> None:
    cfg = config(enabled=False, banned=["42"], raid_mode=True)
    assert decide("Quelle merde https://t.co/x", cfg) == Decision(outcome=Outcome.NONE)


def test_the_reason_fits_a_reject_reason() -> None:
    cfg = config(blocklist=["x" * 100])
    decision = decide("x" * 100, cfg)
    assert decision.rule is Rule.BLOCKLIST and len(decision.reason("fr")) <= MAX_REASON


# -- configuration ---------------------------------------------------------------------


def test_defaults() -> None:
    assert DEFAULTS.profanity == ["fr", "en"] and DEFAULTS.link_only and DEFAULTS.enabled
    assert not (DEFAULTS.shouting or DEFAULTS.repeated_chars or DEFAULTS.raid_mode)
    assert DEFAULTS.max_per_hour is None and DEFAULTS.min_followers is None
    assert DEFAULTS.blocklist == DEFAULTS.trusted == DEFAULTS.banned == []


def test_lists_are_normalized_and_deduplicated() -> None:
    cfg = config(
        blocklist=["Boeing", "  Prix   du BILLET ", "BOEING"],
        trusted=["@Alice", "alice", "12345"],
        profanity=["en", "en"],
    )
    assert cfg.blocklist == ["Boeing", "Prix du BILLET"]
    assert cfg.trusted == ["@alice", "12345"]
    assert cfg.profanity == ["en"]


def error_locs(**fields: Any) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as info:
        AutomodConfig.model_validate(fields)
    return [tuple(e["loc"]) for e in info.value.errors()]


@pytest.mark.parametrize(
    ("fields", "loc"),
    [
        ({"max_per_hour": -1}, ("max_per_hour",)),
        ({"max_per_hour": 0}, ("max_per_hour",)),
        ({"min_followers": -5}, ("min_followers",)),
        ({"min_account_age_days": -1}, ("min_account_age_days",)),
        ({"max_hashtags": 0}, ("max_hashtags",)),
        ({"duplicate_window_minutes": 0}, ("duplicate_window_minutes",)),
        ({"profanity": ["de"]}, ("profanity", 0)),
        ({"blocklist": ["!!!"]}, ("blocklist", 0)),
        ({"blocklist": ["ok", "x" * 101]}, ("blocklist", 1)),
        ({"trusted": ["not a handle"]}, ("trusted", 0)),
        ({"banned": ["@way_too_long_handle"]}, ("banned", 0)),
        ({"actions": {"trusted-author": "reject"}}, ("actions",)),
        ({"actions": {"profanity-fr": "approve"}}, ("actions", "profanity-fr")),
        ({"actions": {"no-such-rule": "hold"}}, ("actions", "no-such-rule", "[key]")),
        ({"raid": True}, ("raid",)),
        ({"max_per_hour": "lots"}, ("max_per_hour",)),
    ],
)
def test_bad_config_is_refused_with_the_field(fields: dict[str, Any], loc: tuple[Any, ...]) -> None:
    assert loc in error_locs(**fields)


def test_an_author_cannot_be_trusted_and_banned() -> None:
    with pytest.raises(ValidationError, match="trusted and banned at once: @alice"):
        config(trusted=["@Alice"], banned=["alice"])


def test_a_hostile_long_text_is_evaluated_quickly() -> None:
    cfg = config(
        blocklist=[f"mot{n} interdit" for n in range(300)],
        shouting=True,
        repeated_chars=True,
        duplicate_window_minutes=60,
        max_hashtags=5,
        max_mentions=5,
        max_per_hour=1000,
    )
    text = " ".join(f"a*b*c*d{n} f*{n}k #{n} @{n}" for n in range(2500))[:25_000]
    recent = [PastQuestion(at=NOW - timedelta(minutes=m % 60), text=text) for m in range(200)]
    started = time.perf_counter()
    decision = decide(text, cfg, Context(now=NOW, recent=recent))
    assert time.perf_counter() - started < 2
    assert decision.rule is Rule.DUPLICATE


@given(st.text(alphabet="ab1 #@*.:/-", max_size=2500))
def test_what_the_history_keeps_compares_like_the_full_text(text: str) -> None:
    assert comparable(comparable(text)) == comparable(text)
