"""The SVG charts: well-formed, accessible (title, desc, text labels), escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from atexpert.recap import charts
from atexpert.recap.analytics import MinuteCount
from atexpert.web.api_recap import arrivals

SVG = "{http://www.w3.org/2000/svg}"


def test_bar_chart_is_accessible_svg_with_escaped_labels() -> None:
    svg = charts.bar_chart("c1", "Reasons <&>", [("<script>x</script>", 2), ("ok", 0.5)])
    root = ET.fromstring(svg)  # well-formed XML: the labels cannot break out
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.findtext(SVG + "title") == "Reasons <&>"
    assert root.findtext(SVG + "desc") == "<script>x</script>: 2; ok: 0.5"
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "label"]
    values = [t.text for t in root.iter(SVG + "text") if t.get("class") == "value"]
    assert labels == ["<script>x</script>", "ok"] and values == ["2", "0.5"]
    widths = [float(r.get("width", "0")) for r in root.iter(SVG + "rect")]
    assert widths[0] == 4 * widths[1] > 0
    assert "<script" not in svg and "style" not in svg


def test_long_labels_are_shortened_but_kept_whole_in_the_description() -> None:
    label = "automod [profanity-fr]: grossièreté « zut » et encore"
    root = ET.fromstring(charts.bar_chart("c2", "t", [(label, 1)]))
    [shown] = [t.text or "" for t in root.iter(SVG + "text") if t.get("class") == "label"]
    assert shown.endswith("…") and len(shown) == charts.MAX_LABEL
    assert root.findtext(SVG + "desc") == f"{label}: 1"
    assert root.find(SVG + "g").get("data-label") == label  # type: ignore[union-attr]


def test_empty_charts_say_so() -> None:
    for svg in (charts.bar_chart("e", "Empty", []), charts.column_chart("f", "Empty", [])):
        root = ET.fromstring(svg)
        assert root.findtext(SVG + "desc") == "no data"


def test_column_chart_values_and_thinned_axis_labels() -> None:
    columns = [(f"10:{m:02d}", float(m % 3)) for m in range(30)]
    root = ET.fromstring(charts.column_chart("m", "Per minute", columns))
    values = [t.text for t in root.iter(SVG + "text") if t.get("class") == "value"]
    assert values == [str(m % 3) for m in range(30)]
    labels = [t.text for t in root.iter(SVG + "text") if t.get("class") == "label"]
    assert labels[0] == "10:00" and 10 <= len(labels) <= 15


def test_a_week_of_arrivals_is_summed_into_at_most_120_columns() -> None:
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    week = [MinuteCount(minute=start + timedelta(minutes=i), count=1) for i in range(7 * 1440)]
    step, columns = arrivals(week)
    assert step == 84 and len(columns) == 120
    assert columns[0] == ("20 10:00", 84.0)
    assert sum(v for _, v in columns) == 7 * 1440
    short = week[:5]
    assert arrivals(short) == (1, [(f"10:0{i}", 1.0) for i in range(5)])


def test_arrivals_are_labelled_in_the_session_time_zone() -> None:
    winter = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    minutes = [MinuteCount(minute=winter + timedelta(minutes=i), count=1) for i in range(2)]
    assert arrivals(minutes, "Europe/Paris") == (1, [("11:00", 1.0), ("11:01", 1.0)])
    assert arrivals(minutes, "Asia/Tokyo")[1][0] == ("19:00", 1.0)
