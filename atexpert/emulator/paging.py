"""Timeline paging as X does it: newest first, exclusive since/until ids, opaque tokens."""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Any

from atexpert.emulator.problems import bad_param
from atexpert.emulator.state import Post

_DIGITS = string.digits + string.ascii_lowercase
_PREFIX = "7140dibd"


def _b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _DIGITS[r] + out
        if not n:
            return out


def make_token(post_id: str) -> str:
    return _PREFIX + _b36(int(post_id))


def read_token(param: str, token: str) -> int:
    """The exclusive upper id bound encoded in ``token``; 400 when it is not ours."""
    body = token[len(_PREFIX) :]
    if not token.startswith(_PREFIX) or not body or any(c not in _DIGITS for c in body):
        raise bad_param(param, token, f"The `{param}` query parameter value [{token}] is not valid")
    return int(body, 36)


def page(
    posts: Iterable[Post],
    *,
    since_id: str | None,
    until_id: str | None,
    max_results: int,
    token: str | None,
    token_param: str,
) -> tuple[list[Post], dict[str, Any]]:
    """One page of ``posts`` (given newest first) and its ``meta`` object."""
    upper = int(until_id) if until_id else None
    if token:
        bound = read_token(token_param, token)
        upper = bound if upper is None else min(upper, bound)
    lower = int(since_id) if since_id else None
    picked: list[Post] = []
    more = False
    for post in posts:
        n = int(post.id)
        if upper is not None and n >= upper:
            continue
        if lower is not None and n <= lower:
            break
        if len(picked) == max_results:
            more = True
            break
        picked.append(post)
    meta: dict[str, Any] = {"result_count": len(picked)}
    if picked:
        meta = {"newest_id": picked[0].id, "oldest_id": picked[-1].id, "result_count": len(picked)}
        if more:
            meta["next_token"] = make_token(picked[-1].id)
    return picked, meta
