"""The world of the emulator conformance tests: an emulator seeded with the brand, a fan
with a summoning question, and posts, for the cases checked against X's OpenAPI spec.

``reply`` is the fan's follow-up under the question: it mentions the fan, replies to the
fan and references the question, so every post expansion has something to expand."""

from __future__ import annotations

from dataclasses import dataclass

from atexpert.emulator.control_client import AccountTokens, EmulatorControl


@dataclass
class ConformanceWorld:
    """A seeded emulator: the brand, a fan with a summoning question, and posts."""

    control: EmulatorControl
    bearer: str
    brand: AccountTokens
    fan: AccountTokens
    question: str
    unsummoned: str
    brand_post: str
    reply: str


def seed_conformance_world(control: EmulatorControl) -> ConformanceWorld:
    brand = control.create_account("Airbus", "Airbus", description="Planes")
    fan = control.create_account("fan_1", "A Fan")
    question = control.post("fan_1", "@Airbus how are wings made? #AskAirbus", lang="en")
    unsummoned = control.post("fan_1", "wings? #AskAirbus https://example.com/x")
    reply = control.post(
        "fan_1", "@fan_1 " + "a long follow-up question " * 15, in_reply_to_tweet_id=question
    )
    brand_post = control.post("Airbus", "Welcome to #AskAirbus")
    return ConformanceWorld(
        control,
        control.app()["bearer_token"],
        brand,
        fan,
        question,
        unsummoned,
        brand_post,
        reply,
    )
