// Series on the admin page (admins only): the list with each series' rule, next date and
// links (public page, calendar feed, analytics), the form creating one, and a series'
// occurrences: the upcoming ones with their guest and announcements (text, time, price,
// state), each of which can be given its own text or skipped (or taken back) until it is
// posted; the past ones, latest first, with their recap and analytics. While a series is
// shown, its occurrences are refreshed every 30 s (the page follows the log of one session
// at most, the selected one, while a series has several), and at once when the admin's
// live feed reports an ``announcement.*`` event (admin.js).

import { api, fieldErrors } from "./api.js";
import { say } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, formatUsd, t } from "./i18n.js";

/** How often the shown series' occurrences are read again (ms). */
const REFRESH_MS = 30_000;
/** Session statuses whose recap is published. */
const RECAP_STATUSES = new Set(["closed", "archived"]);

let series = [];
let shown = null;
let refresher = null;

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
      el("th", { scope: "row" }, s.title, el("div", { class: "hint", text: s.hashtags.join(" ") }),
        seriesLinks(s)),
      el("td", {}, el("code", { text: s.rrule }), el("div", { class: "hint", text: `${s.start_time} ${s.time_zone}` })),
      el("td", { text: next }),
      el("td", {}, el("button", { type: "button", text: t("admin.series.upcoming"), onclick: () => showOccurrences(s) }))));
  }
  if (shown) showOccurrences(shown, false);
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
    await showOccurrences(created);
  } catch (error) {
    const fields = Object.entries(fieldErrors(error));
    if (!fields.length) errors.append(el("li", { text: error.message }));
    for (const [field, msg] of fields) errors.append(el("li", { text: `${field}: ${msg}` }));
  }
}

function seriesLinks(s) {
  const slug = encodeURIComponent(s.slug);
  return el("div", { class: "row links" },
    el("a", { href: `/series/${slug}`, text: t("admin.series.link.page") }),
    el("a", { href: `/series/${slug}.ics`, text: t("admin.series.link.calendar") }),
    el("a", { href: `/series/${encodeURIComponent(s.id)}/analytics`, text: t("admin.series.link.analytics") }));
}

function announcement(a, session) {
  const state = t(`admin.series.state.${a.status}`);
  const editable = a.status === "scheduled" || a.status === "skipped";
  const item = el("li", { class: "card", "data-before": String(a.before_minutes) },
    el("div", { class: "row" },
      el("strong", { text: formatDateTime(a.due_at, session.time_zone) }),
      el("span", { class: `badge status-${a.status}`, text: state }),
      el("span", { class: "hint", text: t("admin.series.price", { price: formatUsd(a.price_usd), weight: a.weighted_length }) })),
    el("p", { class: "preview", text: a.text }),
    a.reason ? el("p", { class: "error", text: t("admin.series.reason", { reason: a.reason }) }) : null);
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
      el("button", { type: "button", text: t("cancel"), onclick: () => showOccurrences(shown, false) })),
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

/** The occurrence's guest (its own expert, shown in public) in a field saved with the
 * session's update; empty: none. */
function guestForm(session) {
  const field = el("input", {
    maxlength: "100", autocomplete: "off", value: session.guest || "", placeholder: t("admin.series.guest.placeholder"),
  });
  const errors = el("ul", { class: "error" });
  const form = el("form", { class: "row guest" },
    el("label", {}, el("span", { text: t("admin.series.guest") }), field),
    el("button", { type: "submit", text: t("admin.series.guest.save") }),
    el("div", { role: "alert" }, errors));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("PATCH", `/api/sessions/${encodeURIComponent(session.id)}`, { guest: field.value.trim() });
    } catch (error) {
      const fields = Object.values(fieldErrors(error));
      clear(errors).append(el("li", { text: fields.length ? fields.join(" ") : error.message }));
      return;
    }
    say(t("admin.series.guest.saved"), "ok");
    await showOccurrences(shown, false);
  });
  return form;
}

function upcomingItem(o) {
  return el("li", { "data-session": o.session.id },
    el("h4", { text: `${o.session.title} — ${formatDateTime(o.session.scheduled_start, o.session.time_zone)}` }),
    guestForm(o.session),
    el("ul", { class: "stack" }, ...o.announcements.map((a) => announcement(a, o.session))));
}

/** A past (or running) occurrence: its status, links, and the announcements that did not go out. */
function pastItem(o) {
  const s = o.session;
  const id = encodeURIComponent(s.id);
  const unsent = o.announcements.filter((a) => a.status === "missed" || a.status === "failed");
  return el("li", { class: "card", "data-session": s.id },
    el("div", { class: "row" },
      el("strong", { text: `${s.title} — ${formatDateTime(s.scheduled_start, s.time_zone)}` }),
      el("span", { class: "badge", text: t(`session.status.${s.status}`) })),
    s.guest ? el("p", { class: "hint", text: s.guest }) : null,
    el("div", { class: "row links" },
      RECAP_STATUSES.has(s.status) ? el("a", { href: `/recap/${id}`, text: t("admin.series.link.recap") }) : null,
      el("a", { href: `/sessions/${id}/analytics`, text: t("admin.series.link.analytics") })),
    unsent.length ? el("ul", { class: "stack" }, ...unsent.map((a) => announcement(a, s))) : null);
}

async function showOccurrences(s, focus = true) {
  shown = s;
  let occurrences = [];
  try {
    occurrences = await api("GET", `/api/series/${encodeURIComponent(s.id)}/occurrences`);
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
    return;
  }
  const upcoming = occurrences.filter((o) => !o.session.started_at && !o.session.archived_at);
  const past = occurrences.filter((o) => o.session.started_at)
    .sort((a, b) => b.session.scheduled_start.localeCompare(a.session.scheduled_start));
  $("#series-upcoming").hidden = false;
  $("#series-upcoming-title").textContent = t("admin.series.upcoming.title", { title: s.title });
  const list = clear($("#series-occurrences"));
  if (!upcoming.length) list.append(el("li", { class: "empty", text: t("admin.series.none") }));
  list.append(...upcoming.map(upcomingItem));
  const held = clear($("#series-past"));
  if (!past.length) held.append(el("li", { class: "empty", text: t("admin.series.past.none") }));
  held.append(...past.map(pastItem));
  if (focus) $("#series-upcoming-title").focus();
  refresher ??= setInterval(refresh, REFRESH_MS);
}

/** Read the shown series' occurrences again, unless the admin is editing them (a text
 * open, a guest typed and not saved yet). */
export function refresh() {
  const panel = $("#series-upcoming");
  const editing = panel.querySelector("textarea")
    || [...panel.querySelectorAll("input")].some((field) => field.value !== field.defaultValue);
  if (shown && !document.hidden && !editing) showOccurrences(shown, false);
}

/** Change one announcement; the error to show, if any. */
async function change(session, body) {
  try {
    await api("PUT", `/api/sessions/${encodeURIComponent(session.id)}/series/announcements`, body);
  } catch (error) {
    const fields = Object.values(fieldErrors(error));
    return fields.length ? fields.join(" ") : error.message;
  }
  if (shown) await showOccurrences(shown, false);
  return null;
}

export async function setupSeries() {
  $("#series-form").addEventListener("submit", create);
  $("#sr-tz").value ||= Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  document.addEventListener("langchange", render);
  await load();
}
