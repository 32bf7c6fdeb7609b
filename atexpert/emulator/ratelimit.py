"""Per-endpoint rate limits (15-minute windows) and 24-hour caps, with X's headers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Limit:
    user: int  # requests per window with user context
    app: int  # requests per window with the app bearer
    window: int = 900
    user_24h: int = 0  # 0: no 24-hour cap
    app_24h: int = 0


DEFAULT_LIMITS: dict[str, Limit] = {
    "users_me": Limit(75, 75),
    "user_lookup": Limit(900, 300),
    "tweet_lookup": Limit(900, 300),
    "user_tweets": Limit(900, 1500),
    "user_mentions": Limit(300, 450),
    "search_recent": Limit(300, 450),
    "search_all": Limit(300, 300),
    "hide_reply": Limit(50, 50),
    "create_tweet": Limit(200, 200, user_24h=2400, app_24h=10000),
    "delete_tweet": Limit(50, 50),
    "like": Limit(50, 50, user_24h=1000),
    "unlike": Limit(50, 50, user_24h=1000),
    "stream": Limit(50, 50),
    "stream_rules_get": Limit(450, 450),
    "stream_rules_post": Limit(450, 450),
}


@dataclass
class _Window:
    start: int
    used: int


class RateLimiter:
    """Fixed windows per (endpoint, principal); ``hit`` says whether a request may pass."""

    def __init__(self) -> None:
        self.limits = {k: Limit(**vars(v)) for k, v in DEFAULT_LIMITS.items()}
        self._windows: dict[tuple[str, str, int], _Window] = {}

    def _take(self, key: tuple[str, str, int], limit: int, now: int) -> tuple[bool, int, int]:
        window = key[2]
        w = self._windows.get(key)
        if w is None or now >= w.start + window:
            w = self._windows[key] = _Window(now, 0)
        ok = w.used < limit
        if ok:
            w.used += 1
        return ok, max(limit - w.used, 0), w.start + window

    def hit(
        self, endpoint: str, principal: str, is_user: bool, now: float
    ) -> tuple[bool, dict[str, str]]:
        """Count one request; return (allowed, the x-rate-limit-* / 24-hour headers)."""
        lim = self.limits[endpoint]
        t = int(now)
        cap = lim.user if is_user else lim.app
        ok, remaining, reset = self._take((endpoint, principal, lim.window), cap, t)
        headers = {
            "x-rate-limit-limit": str(cap),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(reset),
        }
        for scope, cap24, who in (("user", lim.user_24h, principal), ("app", lim.app_24h, "app")):
            if not cap24 or (scope == "user" and not is_user):
                continue
            ok24, rem24, reset24 = self._take((endpoint + ":24h", who, 86400), cap24, t)
            headers[f"x-{scope}-limit-24hour-limit"] = str(cap24)
            headers[f"x-{scope}-limit-24hour-remaining"] = str(rem24)
            headers[f"x-{scope}-limit-24hour-reset"] = str(reset24)
            if not ok24:
                ok = False
                headers["x-rate-limit-reset"] = str(reset24)
        return ok, headers

    def reset(self) -> None:
        self._windows.clear()
