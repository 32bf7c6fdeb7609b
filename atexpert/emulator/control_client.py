"""A small synchronous client of the control surface (stdlib only): demo and tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


class ControlError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"emulator control answered {status}: {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class AccountTokens:
    id: str
    username: str
    name: str
    access_token: str
    access_token_secret: str
    oauth2_access_token: str
    oauth2_refresh_token: str


class EmulatorControl:
    """``EmulatorControl(base_url).create_account("alice", "Alice")`` and friends."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            self.base_url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            raise ControlError(err.code, json.loads(err.read() or b"null")) from None

    def create_account(self, username: str, name: str | None = None, **extra: Any) -> AccountTokens:
        out = self.call(
            "POST", "/_emulator/accounts", {"username": username, "name": name or username, **extra}
        )
        return AccountTokens(**out)

    def post(self, username: str, text: str, **extra: Any) -> str:
        """Inject a public post as ``username``; returns its id."""
        out = self.call("POST", "/_emulator/tweets", {"username": username, "text": text, **extra})
        return str(out["id"])

    def post_many(self, posts: list[dict[str, Any]]) -> list[str]:
        """Inject up to 1000 posts (``{"username", "text", ...}`` each); returns their ids."""
        out = self.call("POST", "/_emulator/tweets/batch", {"posts": posts})
        return [str(p["id"]) for p in out["data"]]

    def set_metrics(self, post_id: str, **metrics: int) -> dict[str, int]:
        """Set counters of a post (``like_count``, ``bookmark_count``, ``impression_count``);
        returns its ``public_metrics``."""
        out = self.call("POST", f"/_emulator/tweets/{post_id}/metrics", metrics)
        return dict(out["public_metrics"])

    def set_likes(self, post_id: str, count: int) -> None:
        """Set how many likes the post has (as if that many people liked it on X)."""
        self.set_metrics(post_id, like_count=count)

    def app(self) -> dict[str, str]:
        out: dict[str, str] = self.call("GET", "/_emulator/app")
        return out

    def faults(self, **faults: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.call("POST", "/_emulator/faults", faults)
        return out

    def clear_faults(self) -> None:
        self.call("DELETE", "/_emulator/faults")

    def policy(self, **policy: Any) -> dict[str, Any]:
        out: dict[str, Any] = self.call("POST", "/_emulator/policy", policy)
        return out

    def tokens(self) -> dict[str, int]:
        """Token tallies (``issued``, ``refreshed``, ``refresh_refused``, ``unauthorized``,
        ``expired_refused``) and ``lifetime_seconds``; set the lifetime with
        ``policy(oauth2_token_lifetime=5)``."""
        out: dict[str, int] = self.call("GET", "/_emulator/tokens")
        return out

    def set_balance(self, usd: float) -> None:
        self.call("POST", "/_emulator/balance", {"usd": usd})

    def balance(self) -> dict[str, Any]:
        out: dict[str, Any] = self.call("GET", "/_emulator/balance")
        return out

    def advance_clock(self, seconds: float) -> None:
        self.call("POST", "/_emulator/clock", {"advance_seconds": seconds})

    def set_limit(self, endpoint: str, **limits: int) -> None:
        self.call("POST", "/_emulator/limits", {"endpoint": endpoint, **limits})

    def stream_status(self) -> dict[str, Any]:
        out: dict[str, Any] = self.call("GET", "/_emulator/stream")
        return out

    def reset(self) -> None:
        self.call("POST", "/_emulator/reset")
