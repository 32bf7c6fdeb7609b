// Series on the admin page (admins only): the list with each series' rule and next date, the
// form creating one, and a series' upcoming occurrences with their announcements (text,
// time, price, state), each of which can be skipped (or taken back) until it is posted.

import { api, fieldErrors } from "./api.js";
import { say } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, formatUsd, t } from "./i18n.js";

let series = [];
let shown = null;

async function load() {
  try {
    series = await api("GET", "/api/series");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  render();
}

function render() {
  const body = clear($("#series-list"));
  $("#series-empty").hidden = series.length > 0;
  for (const s of series) {
    const next = s.next_starts.length ? formatDateTime(s.next_starts[0], s.time_zone) : "—";
    body.append(el("tr", { "data-series": s.id },
      el("th", { scope: "row" }, s.title, el("div", { class: "hint", text: s.hashtags.join(" ") })),
      el("td", {}, el("code", { text: s.rrule }), el("div", { class: "hint", text: `${s.start_time} ${s.time_zone}` })),
      el("td", { text: next }),
      el("td", {}, el("button", { type: "button", text: t("admin.series.upcoming"), onclick: () => showUpcoming(s) }))));
  }
  if (shown) showUpcoming(shown, false);
}

async function create(event) {
  event.preventDefault();
  const errors = clear($("#series-errors"));
  const body = {
    slug: $("#sr-slug").value.trim(),
    title: $("#sr-title").value.trim(),
    hashtags: $("#sr-hashtags").value.split(/[\s,]+/).filter(Boolean),
    host_account: { handle: $("#sr-host").value.trim() },
    rrule: $("#sr-rule").value.trim(),
    start_time: $("#sr-start").value,
    duration_minutes: Number($("#sr-duration").value),
    time_zone: $("#sr-tz").value.trim(),
  };
  try {
    const created = await api("POST", "/api/series", body);
    say(t("admin.series.created", { title: created.title }), "ok");
    $("#series-form").reset();
    $("#sr-tz").value = created.time_zone;
    await load();
    await showUpcoming(created);
  } catch (error) {
    const fields = Object.entries(fieldErrors(error));
    if (!fields.length) errors.append(el("li", { text: error.message }));
    for (const [field, msg] of fields) errors.append(el("li", { text: `${field}: ${msg}` }));
  }
}

function announcement(a, session) {
  const state = t(`admin.series.state.${a.status}`);
  const skip = a.status === "scheduled" || a.status === "skipped";
  return el("li", { class: "card", "data-before": String(a.before_minutes) },
    el("div", { class: "row" },
      el("strong", { text: formatDateTime(a.due_at, session.time_zone) }),
      el("span", { class: "badge", text: state }),
      el("span", { class: "hint", text: t("admin.series.price", { price: formatUsd(a.price_usd), weight: a.weighted_length }) })),
    el("p", { class: "preview", text: a.text }),
    skip
      ? el("button", {
          type: "button",
          text: t(a.status === "skipped" ? "admin.series.unskip" : "admin.series.skip"),
          onclick: () => toggleSkip(session, a),
        })
      : null);
}

async function showUpcoming(s, focus = true) {
  shown = s;
  let occurrences = [];
  try {
    occurrences = await api("GET", `/api/series/${encodeURIComponent(s.id)}/occurrences?upcoming=true`);
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
    return;
  }
  $("#series-upcoming").hidden = false;
  $("#series-upcoming-title").textContent = t("admin.series.upcoming.title", { title: s.title });
  const list = clear($("#series-occurrences"));
  if (!occurrences.length) list.append(el("li", { class: "empty", text: t("admin.series.none") }));
  for (const o of occurrences) {
    list.append(el("li", { "data-session": o.session.id },
      el("h4", { text: `${o.session.title} — ${formatDateTime(o.session.scheduled_start, o.session.time_zone)}` }),
      el("ul", { class: "stack" }, ...o.announcements.map((a) => announcement(a, o.session)))));
  }
  if (focus) $("#series-upcoming-title").focus();
}

async function toggleSkip(session, a) {
  try {
    await api("PUT", `/api/sessions/${encodeURIComponent(session.id)}/series/announcements`, {
      before_minutes: a.before_minutes,
      skip: a.status !== "skipped",
    });
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  if (shown) await showUpcoming(shown, false);
}

export async function setupSeries() {
  $("#series-form").addEventListener("submit", create);
  $("#sr-tz").value ||= Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.addEventListener("langchange", render);
  await load();
}
