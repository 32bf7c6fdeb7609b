"""Optional JSON snapshot of the state: written atomically when dirty, read at start."""

from __future__ import annotations

import json
import os
from pathlib import Path

from atexpert.emulator.query import QueryError, parse
from atexpert.emulator.state import (
    Account,
    AppCredentials,
    OAuth2Token,
    Policy,
    Post,
    Rule,
    State,
)


def save(state: State, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(state.to_json(), ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    state.dirty = False


def load(path: Path) -> State | None:
    """The state saved at ``path``, or None when there is no snapshot yet."""
    if not path.exists():
        return None
    raw = json.loads(path.read_text(encoding="utf-8"))
    state = State(app=AppCredentials(**raw["app"]))
    state.policy = Policy(**raw["policy"])
    for a in raw["accounts"]:
        acc = Account(**a)
        state.accounts[acc.id] = acc
        state.by_username[acc.username.casefold()] = acc.id
        state.snowflake.reserve(acc.id)
    for p in raw["posts"]:
        p["referenced"] = [tuple(r) for r in p["referenced"]]
        post = Post(**p)
        state.snowflake.reserve(post.id)
        state.add_post(post)
    for r in raw["rules"]:
        try:
            state.rules[r["id"]] = Rule(r["id"], r["value"], r["tag"], parse(r["value"], 4096))
        except QueryError:
            continue
        state.snowflake.reserve(r["id"])
    state.oauth1 = {k: (v[0], v[1]) for k, v in raw["oauth1"].items()}
    state.oauth2 = {
        k: OAuth2Token(v["user_id"], tuple(v["scopes"]), v["expires_at"])
        for k, v in raw["oauth2"].items()
    }
    state.refresh = {k: (v[0], tuple(v[1])) for k, v in raw["refresh"].items()}
    state.balance_micro = raw["balance_micro"]
    state.spent_micro = raw["spent_micro"]
    state.dirty = False
    return state
