"""After the session: the public recap page, the staff analytics page, exports and import.

::

    GET  /recap/{session_id}                 public HTML, no JavaScript, in the session's language
                                             (a draft answers the 404 of an unknown id)
    GET  /sessions/{session_id}/analytics    staff HTML with SVG charts (admin, its staff)
    GET  /api/sessions/{session_id}/analytics         the figures as JSON (same people)
    GET  /api/sessions/{session_id}/export?format=…   json | csv | md (admin)
    POST /api/import                                  a JSON export (admin)

The HTML pages carry the consoles' security headers (strict CSP: no inline script or style).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from html import escape
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from atexpert.domain.clock import shown_time, utc_to_local
from atexpert.domain.errors import NotFound
from atexpert.domain.plural import plural
from atexpert.domain.sessions import Session
from atexpert.domain.staff import Action, StaffUser, can
from atexpert.domain.views import REASON_READERS, Audience, reader_of, sees_status
from atexpert.recap import charts, exports
from atexpert.recap import summary as recap
from atexpert.recap.analytics import Analytics, MinuteCount, compute
from atexpert.settings import Settings
from atexpert.web.api_errors import ApiError
from atexpert.web.api_routing import BODY_ERRORS, Call, Endpoint, Services, endpoint, to_route
from atexpert.web.api_series_public import series_link
from atexpert.web.auth import authenticate
from atexpert.web.pages import security_headers
from atexpert.x.meter import Meter

TAG = "recap"
#: An export of a big session is far larger than the API's usual 64 KiB body.
MAX_IMPORT_BYTES = 64 * 1024 * 1024
#: Columns of the arrivals chart at most (minutes are summed beyond that).
MAX_COLUMNS = 120
UNANSWERED_NOTE = {
    "en": "Approved by the moderators but not answered during the session.",
    "fr": "Approuvées par la modération mais restées sans réponse pendant la session.",
}
TEXT = {
    "en": {
        "recap": "Recap",
        "answered": "Answers",
        "asked_by": "Asked by",
        "question_post": "question on X",
        "part": "post",
        "answer_by": "Answer from",
        "also": "Also asked by",
        "answered_here": "their answer on X",
        "none": "No answer was published in this session.",
        "unanswered": "Unanswered questions",
        "closed": "Closed",
        "not_ready": "This session has no recap yet: it is published when the session closes.",
        "series": "Every session of {title}",
        "guest": "With {guest}",
    },
    "fr": {
        "recap": "Récapitulatif",
        "answered": "Réponses",
        "asked_by": "Question de",
        "question_post": "question sur X",
        "part": "message",
        "answer_by": "Réponse de",
        "also": "Aussi posée par",
        "answered_here": "sa réponse sur X",
        "none": "Aucune réponse n'a été publiée pendant cette session.",
        "unanswered": "Questions sans réponse",
        "closed": "Terminée le",
        "not_ready": "Cette session n'a pas encore de récapitulatif : il paraît à sa clôture.",
        "series": "Toutes les sessions de {title}",
        "guest": "Avec {guest}",
    },
}


def _when(at: datetime | None, tz: str, lang: str) -> str:
    """The form of every time shown: in the session's zone, the zone named."""
    return "" if at is None else f"{shown_time(at, tz, lang)} ({tz})"


def _page(
    lang: str,
    title: str,
    body: list[str],
    kind: str = "public",
    head: tuple[str, ...] = (),
    header: tuple[str, ...] = (),
) -> str:
    """A whole page; ``kind`` is the stylesheet's layout class ("public" or "page"),
    ``header`` goes before its main content."""
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="{escape(lang)}">',
            '<head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            *head,
            '<link rel="icon" href="/static/css/icon.svg" type="image/svg+xml">',
            '<link rel="stylesheet" href="/static/css/app.css"></head>',
            f'<body class="{kind}">',
            *header,
            '<main id="main">',
            *body,
            "</main></body></html>",
        ]
    )


def _link(url: str | None, text: str) -> str:
    if url is None:
        return escape(text)
    return f'<a href="{escape(url)}" rel="noopener">{escape(text)}</a>'


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.splitlines() if line.strip())


def _question_html(q: recap.RecapQuestion, t: dict[str, str]) -> list[str]:
    out = [
        '<blockquote class="question">',
        _paragraphs(q.text),
        f"<footer>{escape(t['asked_by'])} @{escape(q.handle)} · "
        f"{_link(q.url, t['question_post'])}</footer>",
    ]
    if q.merged:
        out.append(f'<p class="merged">{escape(t["also"])}:</p><ul class="merged">')
        out += [_asker_html(m, t) for m in q.merged]
        out.append("</ul>")
    out.append("</blockquote>")
    return out


def _asker_html(m: recap.Asker, t: dict[str, str]) -> str:
    """A merged asker: name, @handle (their question on X), and the post that answered them."""
    name = f"{escape(m.name)} " if m.name else ""
    answered = f" · {_link(m.answered_by, t['answered_here'])}" if m.answered_by else ""
    return f"<li>{name}{_link(m.url, '@' + m.handle)}{answered}</li>"


def _share_tags(view: recap.Recap, url: str, title: str) -> tuple[str, ...]:
    """Link previews of the shared page (X, chat apps) and its canonical address."""
    description = view.description or " ".join(view.hashtags)
    return (
        f'<link rel="canonical" href="{escape(url)}">',
        f'<meta name="description" content="{escape(description)}">',
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{escape(title)}">',
        f'<meta property="og:description" content="{escape(description)}">',
        f'<meta property="og:url" content="{escape(url)}">',
        '<meta name="twitter:card" content="summary">',
    )


def render_recap(
    view: recap.Recap, tz: str, public_base_url: str, show_unanswered: bool = True
) -> str:
    lang = view.language if view.language in TEXT else "en"
    t = TEXT[lang]
    body = [
        f"<h1>{escape(view.title)}</h1>",
        f'<p class="meta">{escape(" ".join(view.hashtags))} · @{escape(view.host_handle)}'
        f" · {escape(t['closed'])} {escape(_when(view.closed_at, tz, lang))}</p>",
        _paragraphs(view.description),
    ]
    if view.guest:
        body.insert(1, f'<p class="guest">{escape(t["guest"].format(guest=view.guest))}</p>')
    if view.series is not None:
        link = t["series"].format(title=escape(view.series.title))
        body.append(f'<p class="series"><a href="{escape(view.series.path)}">{link}</a></p>')
    body.append(f"<h2>{escape(t['answered'])}</h2>")
    if not view.items:
        body.append(f'<p class="empty">{escape(t["none"])}</p>')
    for item in view.items:
        body.append(f'<article class="answer" id="{escape(item.answer_id)}">')
        for q in item.questions:
            body += _question_html(q, t)
        body.append(f"<p><strong>{escape(t['answer_by'])} @{escape(view.host_handle)}</strong></p>")
        body.append('<ol class="thread">')
        for i, post in enumerate(item.posts, 1):
            link = _link(post.url, f"{t['part']} {i}/{len(item.posts)}")
            body.append(f'<li>{_paragraphs(post.text)}<p class="post-link">{link}</p></li>')
        body.append("</ol></article><hr>")
    if show_unanswered and view.unanswered:
        body += [
            f'<section class="unanswered"><h2>{escape(t["unanswered"])}</h2>',
            f'<p class="note">{escape(UNANSWERED_NOTE[lang])}</p>',
        ]
        for q in view.unanswered:
            body += _question_html(q, t)
        body.append("</section>")
    title = f"{t['recap']}: {view.title}"
    url = recap.recap_url(public_base_url, view.session_id)
    return _page(lang, title, body, head=_share_tags(view, url, title))


def arrivals(
    per_minute: Sequence[MinuteCount], time_zone: str = "UTC", most: int = MAX_COLUMNS
) -> tuple[int, list[tuple[str, float]]]:
    """The arrivals chart's columns: minutes summed in buckets of ``step`` minutes so that a
    long intake window (days) still draws at most ``most`` columns; labelled with the
    session's local time, like every time shown."""
    step = max(1, math.ceil(len(per_minute) / most))
    columns: list[tuple[str, float]] = []
    for i in range(0, len(per_minute), step):
        chunk = per_minute[i : i + step]
        local = utc_to_local(chunk[0].minute, time_zone)
        label = local.strftime("%H:%M" if len(per_minute) <= 1440 else "%d %H:%M")
        columns.append((label, float(sum(m.count for m in chunk))))
    return step, columns


def _staff_header(heading: str) -> tuple[str, ...]:
    """The consoles' header (frontend/js/chrome.js fills the links, who is logged in and
    the language switch) and the page's script."""
    return (
        '<a class="skip" href="#main" data-i18n="skip">Skip to the main content</a>',
        '<header class="topbar"><span class="brand">atexpert</span>',
        f"<h1>{escape(heading)}</h1>",
        '<nav id="nav" class="nav" data-i18n-label="nav.label" aria-label="Pages"></nav>',
        '<label class="lang"><span id="lang-label" data-i18n="lang.label">Language</span>',
        '<select id="lang" aria-labelledby="lang-label"><option value="en">English</option>'
        '<option value="fr">Français</option></select></label>',
        '<span id="whoami" class="whoami"></span>',
        '<button id="logout" type="button" data-i18n="logout">Log out</button></header>',
    )


def render_analytics(session: Session, figures: Analytics, audience: Audience) -> str:
    """The staff page (in English, like the figures' labels) for ``audience``: the reject
    reasons for those who read them, links to the exports for admins."""
    c = figures.counts
    times = figures.answer_times
    step, columns = arrivals(figures.per_minute, session.time_zone)
    per = plural(step, "en", "minute", "{n} minutes")
    sections = [
        (
            f"Questions received per {per} ({session.time_zone} time)",
            charts.column_chart("chart-per-minute", f"Questions received per {per}", columns),
        ),
        (
            "Questions by status",
            charts.bar_chart(
                "chart-status",
                "Questions by status",
                [
                    ("received", c.received),
                    ("approved", c.approved_total),
                    ("answered", c.answered),
                    ("rejected", c.rejected),
                    ("merged", c.merged),
                    ("pending", c.pending),
                ],
            ),
        ),
        *(
            [
                (
                    "Reject reasons",
                    charts.bar_chart(
                        "chart-reasons",
                        "Reject reasons",
                        [(r.label, r.count) for r in figures.reject_reasons],
                    ),
                )
            ]
            if audience in REASON_READERS
            else []
        ),
        (
            "Time from question to answer",
            charts.bar_chart(
                "chart-answer-times",
                "Time from question to answer",
                [
                    ("median", times.median_seconds or 0),
                    ("p90", times.p90_seconds or 0),
                ],
                seconds=True,
            ),
        ),
        (
            "Moderator decisions",
            charts.bar_chart(
                "chart-moderators",
                "Decisions per moderator",
                [(m.name or m.actor, m.total) for m in figures.moderators],
            ),
        ),
        (
            "Answers published per expert",
            charts.bar_chart(
                "chart-experts",
                "Answers published per expert",
                [(e.name or e.expert, e.published) for e in figures.experts],
            ),
        ),
        (
            "Top askers",
            charts.bar_chart(
                "chart-askers",
                "Questions per asker",
                [(a.label, a.count) for a in figures.top_askers],
            ),
        ),
        (
            "Auto-moderation hits by rule",
            charts.bar_chart(
                "chart-automod",
                "Auto-moderation hits by rule",
                [(r.rule, r.total) for r in figures.automod],
            ),
        ),
        (
            "X spend (USD)",
            charts.bar_chart(
                "chart-spend",
                "X spend by call kind, USD",
                [(k.value, float(v)) for k, v in sorted(figures.x_spend.by_kind_usd.items())],
            ),
        ),
    ]
    received = plural(c.received, "en", "{n} question", "{n} questions")
    body = [
        f'<p class="meta">{received} · {times.answered} answered · '
        f"X spend ${escape(str(figures.x_spend.total_usd))}</p>",
    ]
    if audience is Audience.ADMIN:
        base = f"/api/sessions/{escape(session.id)}/export?format="
        body.append(
            f'<p class="exports">Export: <a href="{base}json">JSON</a> · '
            f'<a href="{base}csv">CSV</a> · <a href="{base}md">Markdown</a></p>'
        )
        if session.series_id is not None:
            href = f"/series/{escape(session.series_id)}/analytics"
            body.append(f'<p class="series"><a href="{href}">Every session of its series</a></p>')
    for heading, svg in sections:
        body += ['<section class="chart">', f"<h2>{escape(heading)}</h2>", svg, "</section>"]
    title = f"Analytics: {session.title}"
    script = '<script type="module" src="/static/js/analytics.js"></script>'
    return _page("en", title, body, "page", head=(script,), header=_staff_header(title))


# -- data ----------------------------------------------------------------------------------


async def analytics_of(services: Services, session_id: str, audience: Audience) -> Analytics:
    """The figures ``audience`` may read (see :mod:`atexpert.domain.views`)."""
    snapshot = await services.store.snapshot(session_id)
    events = await exports.read_all_events(services.store, session_id)
    spend = await Meter(services.redis).spend(session_id)
    return compute(snapshot, events, spend, audience, await services.staff.names())


def _require_admin(user: StaffUser) -> None:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "only admins may export or import sessions")


class ExportQuery(BaseModel):
    """``from`` and ``to`` (both or neither): the days ``[from, to)`` in the session's time
    zone, for a CSV or Markdown export of a desk that never closes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    format: Literal["json", "csv", "md"] = "json"
    start: date | None = Field(default=None, alias="from")
    end: date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _range(self) -> ExportQuery:
        exports.days_of(self.format, self.start, self.end)
        return self

    @property
    def days(self) -> exports.Days | None:
        return exports.days_of(self.format, self.start, self.end)


MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "md": "text/markdown; charset=utf-8",
}


@endpoint(
    "GET",
    "/api/sessions/{session_id}/export",
    summary="Export a session as JSON (importable), CSV or Markdown (admin)",
    tag=TAG,
    query=ExportQuery,
    status=200,
    media=tuple(media.split(";")[0] for media in MEDIA.values()),
)
async def export_session(call: Call) -> Response:
    _require_admin(call.principal.user)
    query = call.query(ExportQuery)
    fmt, days = query.format, query.days
    session = await call.services.store.get_session(call.path("session_id"))
    names = await call.services.staff.names()
    services = call.services
    doc = await exports.export_session(services.store, services.redis, session.id, names, days)
    name = exports.file_name(session, fmt)
    return Response(
        exports.render(doc, fmt, names),
        media_type=MEDIA[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@endpoint(
    "POST",
    "/api/import",
    summary="Import a session from its JSON export (admin); 409 if its id exists",
    tag=TAG,
    response=Session,
    status=201,
    errors=BODY_ERRORS,  # it reads its own (larger) body
)
async def import_session(call: Call) -> Session:
    _require_admin(call.principal.user)
    request = call.request
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the export as application/json")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_IMPORT_BYTES:
            raise ApiError(413, "body_too_large", f"the export exceeds {MAX_IMPORT_BYTES} bytes")
    doc = exports.parse_export(bytes(raw))
    return await exports.import_session(call.services.redis, doc)


@endpoint(
    "GET",
    "/api/sessions/{session_id}/analytics",
    summary="The session's figures (admin, its moderators and experts; experts get no "
    "reject reason and no asker of a question they may not see)",
    tag=TAG,
    response=Analytics,
)
async def session_analytics(call: Call) -> Analytics:
    session = await call.session(Action.SESSION_READ)
    return await analytics_of(call.services, session.id, reader_of(call.principal.user, session))


ENDPOINTS: list[Endpoint] = [export_session, import_session, session_analytics]


# -- HTML pages ------------------------------------------------------------------------------


def _html(text: str, status: int, headers: dict[str, str]) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers=headers)


def _not_found(headers: dict[str, str]) -> Response:
    return _html(_page("en", "Not found", ["<h1>No such session</h1>"]), 404, headers)


def _recap_page(headers: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            snapshot = await services.store.snapshot(str(request.path_params["session_id"]))
        except NotFound:
            return _not_found(headers)
        session = snapshot.session
        if not sees_status(Audience.PUBLIC, "session", session.status):
            return _not_found(headers)  # a draft is not public: as if there were none
        if session.status not in recap.RECAP_STATUSES:
            t = TEXT.get(session.language, TEXT["en"])
            body = [f"<h1>{escape(session.title)}</h1>", f"<p>{escape(t['not_ready'])}</p>"]
            return _html(_page(session.language, session.title, body), 404, headers)
        show = request.query_params.get("unanswered", "1") != "0"
        base = services.settings.public_base_url
        series = await series_link(services, session)
        view = recap.build(snapshot, services.settings.x_post_link, series)
        html = render_recap(view, session.time_zone, base, show)
        return _html(html, 200, headers)

    return page


def _analytics_page(headers: dict[str, str]) -> Callable[[Request], Awaitable[Response]]:
    async def page(request: Request) -> Response:
        services: Services = request.app.state.services
        try:
            principal = await authenticate(request, services.staff, services.signer)
        except ApiError:
            back = quote(request.url.path, safe="/")
            body = [f'<h1>Log in first</h1><p><a href="/login?next={back}">Log in</a></p>']
            return _html(_page("en", "Log in", body), 401, headers)
        try:
            session = await services.store.get_session(str(request.path_params["session_id"]))
        except NotFound:
            return _not_found(headers)
        if not can(principal.user, Action.SESSION_READ, session):
            body = ["<h1>Forbidden</h1><p>Only this session's staff see its analytics.</p>"]
            return _html(_page("en", "Forbidden", body), 403, headers)
        audience = reader_of(principal.user, session)
        figures = await analytics_of(services, session.id, audience)
        html = render_analytics(session, figures, audience)
        return _html(html, 200, headers)

    return page


def recap_routes(settings: Settings | None = None) -> list[BaseRoute]:
    """The two HTML pages and the JSON endpoints above, for ``create_app`` to mount."""
    headers = security_headers(settings)
    return [
        Route("/recap/{session_id}", _recap_page(headers), methods=["GET", "HEAD"]),
        Route("/sessions/{session_id}/analytics", _analytics_page(headers), methods=["GET"]),
        *(to_route(ep) for ep in ENDPOINTS),
    ]
