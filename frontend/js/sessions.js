// The logged-in person's sessions (where "/" leads moderators and experts when not exactly
// one of their sessions is live): each with the consoles their roles open.

import { api } from "./api.js";
import { say, setupChrome } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";

const state = { me: null, sessions: [] };
// Live sessions first, then the next ones, then the past ones.
const ORDER = { live: 0, scheduled: 1, draft: 2, closed: 3, archived: 4 };

function consoles(s) {
  const id = encodeURIComponent(s.id);
  const links = [];
  if (state.me.is_admin || s.moderator_ids.includes(state.me.id)) {
    links.push(el("a", { href: `/sessions/${id}/moderate`, text: t("admin.open.moderate") }));
  }
  if (state.me.is_admin || s.expert_ids.includes(state.me.id)) {
    links.push(el("a", { href: `/sessions/${id}/expert`, text: t("admin.open.expert") }));
  }
  links.push(
    el("a", { href: `/live/${id}`, text: t("admin.open.live") }),
    el("a", { href: `/sessions/${id}/analytics`, text: t("admin.open.analytics") }),
  );
  return links;
}

function render() {
  const list = clear($("#mine"));
  $("#mine-empty").hidden = state.sessions.length > 0;
  const sorted = [...state.sessions].sort(
    (a, b) => ORDER[a.status] - ORDER[b.status] || a.scheduled_start.localeCompare(b.scheduled_start),
  );
  for (const s of sorted) {
    list.append(
      el("li", { class: "card", "data-session": s.id },
        el("h2", { text: s.title }),
        el("p", { class: "meta" },
          el("span", { class: "badge", text: t(`session.status.${s.status}`) }), " ",
          `${(s.hashtags || []).join(" ")} · ${formatDateTime(s.scheduled_start, s.time_zone)}`),
        el("p", { class: "row" }, ...consoles(s))),
    );
  }
}

async function main() {
  state.me = await setupChrome();
  document.addEventListener("langchange", render);
  try {
    state.sessions = await api("GET", "/api/sessions");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  render();
}

main();
