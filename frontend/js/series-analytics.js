// A series' figures for its admins and moderators: a row per session (questions received,
// share answered, response times, X spend) and the totals; the CSV of the same table.

import { api, ApiError } from "./api.js";
import { setupChrome } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, formatDuration, formatUsd, t } from "./i18n.js";

const match = location.pathname.match(/^\/series\/([A-Za-z0-9_-]{1,64})\/analytics\/?$/);
const seriesId = match ? match[1] : null;
let figures = null;

function share(value) {
  if (value === null || value === undefined) return "–";
  const locale = document.documentElement.lang === "fr" ? "fr-FR" : "en-GB";
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 0 }).format(value);
}

function seconds(value) {
  return value === null || value === undefined ? "–" : formatDuration(value);
}

function cells(f) {
  return [
    el("td", { class: "num", text: f.received }),
    el("td", { class: "num", text: f.answered }),
    el("td", { class: "num", text: share(f.answered_share) }),
    el("td", { class: "num", text: seconds(f.response_times.median_seconds) }),
    el("td", { class: "num", text: seconds(f.response_times.p90_seconds) }),
    el("td", { class: "num", text: formatUsd(f.spend_usd) }),
  ];
}

function render() {
  if (!figures) return;
  $("#figures").hidden = false;
  $("#csv").href = `/api/series/${encodeURIComponent(seriesId)}/analytics.csv`;
  clear($("#rows")).append(...figures.sessions.map((row) => el("tr", { "data-session": row.session_id },
    el("th", { scope: "row" }, el("a", { href: `/sessions/${encodeURIComponent(row.session_id)}/analytics`, text: row.title })),
    el("td", { text: formatDateTime(row.scheduled_start, row.time_zone) }),
    ...cells(row))));
  clear($("#totals")).append(el("tr", {},
    el("th", { scope: "row", text: t("seriesstats.total") }),
    el("td", { text: t("seriesstats.sessions", { n: figures.sessions.length }) }),
    ...cells(figures.totals)));
}

async function main() {
  await setupChrome();
  document.addEventListener("langchange", render);
  try {
    if (!seriesId) throw new ApiError(404, null);
    figures = await api("GET", `/api/series/${encodeURIComponent(seriesId)}/analytics`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    $("#status").textContent = t(error.status === 403 ? "seriesstats.forbidden" : "seriesstats.missing");
    return;
  }
  render();
}

main();
