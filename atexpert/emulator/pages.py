"""``GET /_emulator/timeline/{username}``: an account's posts and their threads, as HTML."""

from __future__ import annotations

from html import escape

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from atexpert.domain.plural import plural
from atexpert.emulator.core import Emulator
from atexpert.emulator.state import Post, State, iso

_STYLE = (
    "body{font-family:sans-serif;max-width:46em;margin:2em auto;color:#0f1419}"
    ".conv{border:1px solid #cfd9de;border-radius:12px;padding:.5em 1em;margin:1em 0}"
    ".post{margin:.6em 0;white-space:pre-wrap}.meta{color:#536471;font-size:.85em}"
    ".mine{background:#f0f7ff}"
)


def _post_html(state: State, post: Post, depth: int, owner_id: str) -> str:
    author = state.accounts.get(post.author_id)
    who = f"@{author.username}" if author else post.author_id
    css = "post mine" if post.author_id == owner_id else "post"
    hidden = " · hidden reply" if post.hidden else ""
    return (
        f"<div class='{css}' style='margin-left:{min(depth, 8) * 1.5}em' id='p{post.id}'>"
        f"<div class='meta'>{escape(who)} · {escape(iso(post.created_at))} · "
        f"id {escape(post.id)}{hidden}</div>{escape(post.note_text or post.text)}</div>"
    )


def _thread(state: State, conversation: list[Post], owner_id: str) -> str:
    children: dict[str, list[Post]] = {}
    ids = {p.id for p in conversation}
    roots: list[Post] = []
    for post in conversation:
        parent = next((ref for kind, ref in post.referenced if kind == "replied_to"), None)
        if parent in ids:
            children.setdefault(parent or "", []).append(post)
        else:
            roots.append(post)
    out: list[str] = []

    def walk(post: Post, depth: int) -> None:
        out.append(_post_html(state, post, depth, owner_id))
        for child in children.get(post.id, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "<div class='conv'>" + "".join(out) + "</div>"


async def timeline(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    state = emu.state
    username = request.path_params["username"]
    account = state.account_by_username(username)
    if account is None:
        return HTMLResponse(
            f"<!doctype html><title>Not found</title><p>No account @{escape(username)}.</p>",
            status_code=404,
        )
    posts = sorted(state.posts.values(), key=lambda p: int(p.id))
    conversations = {p.conversation_id for p in posts if p.author_id == account.id}
    threads = [
        _thread(state, [p for p in posts if p.conversation_id == cid], account.id)
        for cid in sorted(conversations, key=int, reverse=True)
    ]
    body = "".join(threads) or "<p>No posts yet.</p>"
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'>{_refresh(request)}"
        f"<title>@{escape(account.username)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(account.name)} "
        f"<small>@{escape(account.username)}</small></h1>"
        f"<p class='meta'>{_count(len([p for p in posts if p.author_id == account.id]), 'post')}"
        f" · {_count(len(threads), 'conversation')}</p>{body}</body></html>"
    )


def _count(n: int, noun: str) -> str:
    """``n`` and ``noun``, in the plural unless ``n`` is 1 (the pages are in English)."""
    return plural(n, "en", f"{{n}} {noun}", f"{{n}} {noun}s")


def _refresh(request: Request) -> str:
    """``?refresh=N`` reloads the page every N seconds (no JavaScript)."""
    raw = request.query_params.get("refresh", "")
    return f"<meta http-equiv='refresh' content='{int(raw)}'>" if raw.isdigit() else ""


async def index(request: Request) -> Response:
    emu: Emulator = request.app.state.emulator
    items = "".join(
        f"<li><a href='/_emulator/timeline/{escape(a.username)}?refresh=5'>@{escape(a.username)}"
        f"</a> {escape(a.name)} · {_count(emu.state.post_count(a.id), 'post')}</li>"
        for a in emu.state.accounts.values()
    )
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset='utf-8'>{_refresh(request)}<title>X emulator"
        f"</title><style>{_STYLE}</style></head><body><h1>X emulator</h1>"
        f"<ul>{items or '<li>No accounts yet.</li>'}</ul></body></html>"
    )


routes = [
    Route("/_emulator/", index),
    Route("/_emulator/timeline/{username}", timeline),
]
