// Series on the admin page (admins only): the list with each series' rule and next date, the
// form creating one, and a series' upcoming occurrences with their announcements (text,
// time, price, state), each of which can be given its own text or skipped (or taken back)
// until it is posted.

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
  const editable = a.status === "scheduled" || a.status === "skipped";
  const item = el("li", { class: "card", "data-before": String(a.before_minutes) },
    el("div", { class: "row" },
      el("strong", { text: formatDateTime(a.due_at, session.time_zone) }),
      el("span", { class: "badge", text: state }),
      el("span", { class: "hint", text: t("admin.series.price", { price: formatUsd(a.price_usd), weight: a.weighted_length }) })),
    el("p", { class: "preview", text: a.text }));
  if (editable) {
    item.append(el("div", { class: "row" },
      el("button", { type: "button", text: t("admin.series.edit"), onclick: () => editText(item, session, a) }),
      el("button", {
        type: "button",
        text: t(a.status === "skipped" ? "admin.series.unskip" : "admin.series.skip"),
        onclick: () => change(session, { before_minutes: a.before_minutes, skip: a.status !== "skipped" }),
      })));
  }
  return item;
}

/** The announcement's text in a field, saved as the admin's own (empty: the rendered one). */
function editText(item, session, a) {
  const errors = el("ul", { class: "error" });
  const field = el("textarea", { rows: "4", maxlength: "1000" });
  field.value = a.text;
  const form = el("form", { class: "stack" },
    el("label", {}, el("span", { text: t("admin.series.text") }), field),
    el("div", { class: "row" },
      el("button", { type: "submit", class: "primary", text: t("admin.series.save") }),
      el("button", { type: "button", text: t("cancel"), onclick: () => showUpcoming(shown, false) })),
    el("div", { role: "alert" }, errors));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = field.value.trim() || null;
    const failed = await change(session, { before_minutes: a.before_minutes, text, skip: a.status === "skipped" });
    if (failed) clear(errors).append(el("li", { text: failed }));
  });
  item.querySelector(".preview").replaceWith(form);
  field.focus();
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

/** Change one announcement; the error to show, if any. */
async function change(session, body) {
  try {
    await api("PUT", `/api/sessions/${encodeURIComponent(session.id)}/series/announcements`, body);
  } catch (error) {
    const fields = Object.values(fieldErrors(error));
    return fields.length ? fields.join(" ") : error.message;
  }
  if (shown) await showUpcoming(shown, false);
  return null;
}

export async function setupSeries() {
  $("#series-form").addEventListener("submit", create);
  $("#sr-tz").value ||= Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.addEventListener("langchange", render);
  await load();
}
