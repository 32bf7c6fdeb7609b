// The public page of a series (no login): its next date in the series' time zone, the
// upcoming sessions with their topic (title, guest and description), and the past ones with
// their recaps.

import { api, ApiError } from "./api.js";
import { $, clear, el } from "./dom.js";
import { bindLangSwitch, formatDateTime, initI18n, sessionLanguage, t } from "./i18n.js";

const match = location.pathname.match(/^\/series\/([a-z0-9-]{1,64})\/?$/);
const slug = match ? match[1] : null;
let series = null;

function when(s) {
  return formatDateTime(s.scheduled_start, series.time_zone);
}

function guestLine(s) {
  return s.guest ? el("p", { class: "guest", text: t("session.guest", { guest: s.guest }) }) : null;
}

function upcomingItem(s) {
  return el("li", { class: "card", "data-session": s.id },
    el("h4", {}, el("a", { href: s.live_path, text: s.title })),
    guestLine(s),
    el("p", { class: "meta" },
      el("time", { datetime: s.scheduled_start, text: when(s) }), " ",
      el("span", { class: "badge", text: t(`session.status.${s.status}`) })),
    s.description ? el("p", { class: "description", text: s.description }) : null);
}

function pastItem(s) {
  return el("li", { class: "card", "data-session": s.id },
    el("h4", {}, el("a", { href: s.recap_path, text: s.title })),
    guestLine(s),
    el("p", { class: "meta" },
      el("time", { datetime: s.scheduled_start, text: when(s) })),
    el("p", {}, el("a", { href: s.recap_path, text: t("series.recap") })));
}

function render() {
  if (!series) return;
  $("#series").hidden = false;
  document.title = `${series.title} · ${t("series.page")}`;
  $("#series-title").textContent = series.title;
  $("#series-tags").textContent = series.hashtags.join(" ");
  $("#series-host").textContent = `@${series.host_handle}`;
  $("#series-description").textContent = series.description || "";
  $("#series-next").textContent = series.next_start
    ? t("series.next", { when: formatDateTime(series.next_start, series.time_zone), zone: series.time_zone })
    : t("series.next.none");
  $("#series-calendar").href = series.calendar_path;
  clear($("#upcoming")).append(...series.upcoming.map(upcomingItem));
  $("#upcoming-empty").hidden = series.upcoming.length > 0;
  clear($("#past")).append(...series.past.map(pastItem));
  $("#past-empty").hidden = series.past.length > 0;
}

async function main() {
  await initI18n();
  bindLangSwitch($("#lang"));
  document.addEventListener("langchange", render);
  try {
    if (!slug) throw new ApiError(404, null);
    series = await api("GET", `/api/public/series/${encodeURIComponent(slug)}`);
  } catch (error) {
    $("#loading").hidden = true;
    if (error instanceof ApiError && error.status === 404) $("#missing").hidden = false;
    else throw error;
    return;
  }
  $("#loading").hidden = true;
  await sessionLanguage(series.language);
  render();
}

main();
