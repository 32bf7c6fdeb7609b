// The public live page (no login): answered questions and their answers as they are
// posted, and the live and upcoming sessions.

import { api } from "./api.js";
import { connectionIndicator, loadPostLinks } from "./chrome.js";
import { showSessionEnded } from "./closing.js";
import { $, clear, el, linkified, postUrl, sessionIdFromPath } from "./dom.js";
import { bindLangSwitch, formatDateTime, initI18n, sessionLanguage, t } from "./i18n.js";
import { applyEvent, applySnapshot } from "./mirror.js";
import { shownText } from "./questions.js";
import { LiveSocket } from "./socket.js";

const sid = sessionIdFromPath();
const state = { session: null, questions: new Map(), answers: new Map(), upcoming: [] };

function render() {
  renderSession();
  renderUpcoming();
}

function renderSession() {
  const s = state.session;
  $("#session").hidden = !s;
  if (!s) return;
  $("#session-title").textContent = s.title;
  $("#session-guest").hidden = !s.guest;
  $("#session-guest").textContent = s.guest ? t("session.guest", { guest: s.guest }) : "";
  $("#session-tags").textContent = (s.hashtags || []).join(" ");
  $("#session-state").textContent = t(`session.status.${s.status}`);
  showSessionEnded(s, "public");
  $("#session-when").textContent = t("session.when", {
    when: formatDateTime(s.scheduled_start, s.time_zone),
    zone: s.time_zone,
  });
  $("#session-description").textContent = s.description || "";
  const list = clear($("#qa"));
  const answers = [...state.answers.values()].filter((a) => a.parts.length);
  $("#qa-empty").hidden = answers.length > 0;
  for (const a of answers) {
    const asked = a.question_ids.map((id) => state.questions.get(id)).filter(Boolean);
    list.append(
      el("li", { "data-answer": a.id },
        ...asked.map((q) => el("p", { class: "asked" },
          el("span", { class: "handle", text: `@${(q.author || {}).handle || "?"}` }), " ",
          el("span", { class: "question-text", text: shownText(q) }))),
        el("ol", { class: "preview" },
          ...a.parts.map((part) => el("li", { class: "post" },
            el("p", { class: "post-text" }, ...linkified(part.text)),
            el("p", { class: "post-meta" },
              el("a", { href: postUrl(s.host_handle, part.tweet_id), target: "_blank", rel: "noopener noreferrer", text: t("part.link") })))))),
    );
  }
}

function renderUpcoming() {
  const list = clear($("#upcoming"));
  $("#upcoming-empty").hidden = state.upcoming.length > 0;
  for (const s of state.upcoming) {
    list.append(
      el("li", { class: "card" },
        el("a", { href: `/live/${encodeURIComponent(s.id)}`, text: s.title }), " ",
        el("span", { class: "badge", text: t(`session.status.${s.status}`) }), " ",
        el("span", { class: "meta", text: `${(s.hashtags || []).join(" ")} · ${formatDateTime(s.scheduled_start, s.time_zone)}` })),
    );
  }
}

function onSnapshot(msg) {
  applySnapshot(state, msg);
  if (state.session) sessionLanguage(state.session.language);
  render();
}

function onEvent(msg) {
  applyEvent(state, msg);
  render();
}

async function main() {
  await Promise.all([initI18n(), loadPostLinks()]);
  bindLangSwitch($("#lang"));
  document.addEventListener("langchange", render);
  try {
    state.upcoming = await api("GET", "/api/public/sessions");
  } catch {
    state.upcoming = [];
  }
  render();
  if (!sid) return;
  $("#conn").hidden = false;
  const indicator = connectionIndicator();
  const socket = new LiveSocket(sid, "public", {
    onSnapshot,
    onEvent,
    onStatus: (status, detail) => {
      indicator(status);
      if (status === "stopped" && detail.code === 4404) $("#missing").hidden = false;
    },
  });
  socket.start();
}

main();
