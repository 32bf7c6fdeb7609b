"""Server-rendered SVG charts: no JavaScript, no inline style (the pages' CSP forbids it).

Each chart is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` naming every
value, and its labels and values as ``<text>``, so screen readers, text browsers and
tests read the same numbers a person sees. All text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

WIDTH = 640
ROW = 26
LABEL_WIDTH = 220
VALUE_WIDTH = 70
BAR_COLOR = "#1d6fb8"
TEXT_COLOR = "#1a1a1a"
MAX_LABEL = 28

Bars = Sequence[tuple[str, float]]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}".rstrip("0")


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _seconds(value: float) -> str:
    """A duration as the page shows it without JavaScript; the page's script writes it as a
    person reads it ("1 min 05 s") from the ``data-seconds`` it carries."""
    return f"{round(value)} s"


def _open(
    chart_id: str, title: str, bars: Bars, width: int, height: int, shown: Callable[[float], str]
) -> list[str]:
    desc = "; ".join(f"{label}: {shown(value)}" for label, value in bars) or "no data"
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" id="{escape(chart_id)}" '
        f'class="chart" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">{escape(desc)}</desc>',
    ]


def bar_chart(chart_id: str, title: str, bars: Bars, *, seconds: bool = False) -> str:
    """Horizontal bars, one row per ``(label, value)``: label left, value right (a
    duration when ``seconds``)."""
    height = max(len(bars), 1) * ROW + 8
    shown = _seconds if seconds else _number
    out = _open(chart_id, title, bars, WIDTH, height, shown)
    top = max((v for _, v in bars), default=0) or 1
    room = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    if not bars:
        out.append(f'<text x="8" y="20" fill="{TEXT_COLOR}">—</text>')
    for i, (label, value) in enumerate(bars):
        y = i * ROW + 4
        length = max(value / top * room, 0)
        out += [
            f'<g class="bar" data-label="{escape(label)}" data-value="{_number(value)}">',
            f'<text class="label" x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end" '
            f'fill="{TEXT_COLOR}" font-size="13">{escape(_short(label))}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{ROW - 8}" '
            f'fill="{BAR_COLOR}"/>',
            f'<text class="value" x="{LABEL_WIDTH + length + 6:.1f}" y="{y + 17}" '
            f'fill="{TEXT_COLOR}" font-size="13"'
            + (f' data-seconds="{_number(value)}"' if seconds else "")
            + f">{shown(value)}</text>",
            "</g>",
        ]
    out.append("</svg>")
    return "".join(out)


def column_chart(chart_id: str, title: str, columns: Bars) -> str:
    """Vertical columns over time (e.g. questions per minute); every column has its value
    on top and, when there is room, its label below."""
    height, base, top_margin = 220, 180, 20
    n = max(len(columns), 1)
    step = (WIDTH - 40) / n
    every = max(1, round(n / 12))  # at most ~12 axis labels
    out = _open(chart_id, title, columns, WIDTH, height, _number)
    top = max((v for _, v in columns), default=0) or 1
    out.append(f'<line x1="20" y1="{base}" x2="{WIDTH - 20}" y2="{base}" stroke="{TEXT_COLOR}"/>')
    for i, (label, value) in enumerate(columns):
        h = value / top * (base - top_margin - 14)
        x = 20 + i * step
        width = max(step - 4, 1)
        out += [
            f'<g class="bar" data-label="{escape(label)}" data-value="{_number(value)}">',
            f'<rect x="{x + 2:.1f}" y="{base - h:.1f}" width="{width:.1f}" height="{h:.1f}" '
            f'fill="{BAR_COLOR}"/>',
            f'<text class="value" x="{x + step / 2:.1f}" y="{base - h - 4:.1f}" '
            f'text-anchor="middle" fill="{TEXT_COLOR}" font-size="11">{_number(value)}</text>',
        ]
        if i % every == 0:
            out.append(
                f'<text class="label" x="{x + step / 2:.1f}" y="{base + 16}" '
                f'text-anchor="middle" fill="{TEXT_COLOR}" font-size="11">{escape(label)}</text>'
            )
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)
