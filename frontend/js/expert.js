// The expert console: approved questions in the moderators' order, "now answering", a
// composer with the live weighted count and the thread preview from the server, drafts
// saved on the server, warnings before publishing, per-part publishing status.

import { api } from "./api.js";
import { connectionIndicator, loadStaffNames, say, setupChrome, staffName } from "./chrome.js";
import { showSessionEnded } from "./closing.js";
import {
  assignForm, assigneeChip, deskOrder, dutyPanel, isDesk, renderHistory, replyPicker, startTicker, waitingChip,
} from "./desk.js";
import { $, askDialog, clear, debounce, el, postUrl, sessionIdFromPath, typing } from "./dom.js";
import { formatDateTime, formatTime, formatUsd, sessionLanguage, t } from "./i18n.js";
import { SelectionGuard } from "./keyguard.js";
import { applyEvent, applySnapshot, keep } from "./mirror.js";
import { pauseBanner } from "./pause.js";
import { byModeratorOrder, mergedAskers, shownText } from "./questions.js";
import { LiveSocket } from "./socket.js";

const sid = sessionIdFromPath();
const base = `/api/sessions/${encodeURIComponent(sid || "")}`;
const MAX_WEIGHT = 280;
const URL_RE = /(https?:\/\/|www\.)\S+|\b[\w-]+\.(com|fr|org|net|io|eu|co|info|app|dev|ly)\b/i;

const state = {
  me: null,
  actions: [],
  session: null,
  questions: new Map(),
  answers: new Map(),
  selected: null,
  current: null,
  draftId: null,
  preview: null,
  previewSeq: 0,
  saving: Promise.resolve(),
  skipped: new Set(),
  /** The answer last sent to publishing: its outcome replaces "Sent to publishing." */
  sent: null,
};
const keyGuard = new SelectionGuard($("#approved"));

// -- rendering -------------------------------------------------------------------------

/** "Also asked by Zoé (@fan_3), @fan_4", or "" when nobody's question was merged in. */
function alsoAsked(q, merged) {
  const askers = merged.get(q.id) || [];
  if (!askers.length) return "";
  const names = askers.map((a) => (a.name ? `${a.name} (@${a.handle})` : `@${a.handle}`));
  return t("expert.merged_askers", { names: names.join(", ") });
}

function approvedList() {
  return [...state.questions.values()]
    .filter((q) => q.status === "approved" && !state.skipped.has(q.id))
    .sort(isDesk(state.session) ? deskOrder(state.me.id) : byModeratorOrder);
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderList();
    renderNow();
    renderAnswers();
  });
}

function renderList() {
  const list = clear($("#approved"));
  const items = approvedList();
  const merged = mergedAskers([...state.questions.values()]);
  if (!items.some((q) => q.id === state.selected)) state.selected = items.length ? items[0].id : null;
  keyGuard.selected(state.selected);
  for (const q of items) {
    const selected = q.id === state.selected;
    const also = alsoAsked(q, merged);
    list.append(
      el("li", {
        id: `q-${q.id}`,
        role: "option",
        class: `q${selected ? " selected" : ""}${q.id === state.current ? " answering" : ""}`,
        "aria-selected": selected ? "true" : "false",
        onclick: () => answer(q.id),
      },
      el("div", { class: "q-head" },
        el("strong", { class: "handle", text: `@${(q.author || {}).handle || "?"}` }),
        el("time", { datetime: q.created_at, text: formatTime(q.created_at, zone()) }),
        waitingChip(q, state.session),
        assigneeChip(q, state.me.id, staffName),
        q.starred ? el("span", { class: "star", text: "★" }) : null,
        q.priority ? el("span", { class: "prio", text: t("detail.priority.short", { n: q.priority }) }) : null,
        q.id === state.current ? el("span", { class: "badge", text: t("expert.now") }) : null),
      el("p", { class: "q-text", text: shownText(q) }),
      also ? el("p", { class: "merged-askers", text: also }) : null),
    );
  }
  $("#approved-empty").hidden = items.length > 0;
  if (state.selected) list.setAttribute("aria-activedescendant", `q-${state.selected}`);
  else list.removeAttribute("aria-activedescendant");
}

function renderNow() {
  const q = state.questions.get(state.current);
  $("#now").hidden = !q;
  $("#now-none").hidden = Boolean(q);
  if (!q) return;
  $("#now-author").textContent = `@${(q.author || {}).handle || "?"}`;
  $("#now-time").textContent = formatTime(q.created_at, zone());
  $("#now-text").textContent = shownText(q);
  $("#now-merged").textContent = alsoAsked(q, mergedAskers([...state.questions.values()]));
  $("#now-merged").hidden = !$("#now-merged").textContent;
  const assign = $("#now-assign");
  assign.hidden = !isDesk(state.session);
  const stamp = `${q.id}@${q.version}|${(state.session.on_duty || []).join()}|${document.documentElement.lang}`;
  if (!assign.hidden && assign.dataset.stamp !== stamp) { // rebuilt only when it changed: a note being typed stays
    assign.dataset.stamp = stamp;
    assign.replaceChildren(assignForm(q, state.session, staffName, (who, note) => assignTo(q, who, note)));
  }
  renderPreview();
}

function renderPreview() {
  const line = clear($("#count-line"));
  const list = clear($("#preview"));
  const p = state.preview;
  if (!p) return;
  const over = p.parts.some((part) => part.weighted_length > MAX_WEIGHT);
  line.append(
    el("span", { text: t("expert.weight", { n: p.weighted_length }) }),
    el("span", { class: over ? "over" : "", text: t("expert.parts", { n: p.parts.length }) }),
    el("span", { class: "route", text: t(`route.${p.route}`) }),
  );
  if (p.merged && p.merged.length) {
    const cost = formatUsd(p.merged_cost);
    line.append(el("span", { class: "merged-cost", text: t("expert.merged_cost", { n: p.merged.length, cost }) }));
  }
  for (const part of p.parts) {
    list.append(
      el("li", { class: "post" },
        el("p", { class: "post-text", text: part.text }),
        el("p", { class: "post-meta" },
          el("span", { text: t("expert.part", { i: part.index, n: p.parts.length }) }),
          el("span", { class: part.weighted_length > MAX_WEIGHT ? "over" : "", text: `${part.weighted_length}/${MAX_WEIGHT}` }))),
    );
  }
}

function warnings(text) {
  const out = [];
  if (URL_RE.test(text)) out.push(t("warn.url"));
  const same = text.trim();
  const dup = [...state.answers.values()].some((a) => a.id !== state.draftId && a.text.trim() === same);
  if (same && dup) out.push(t("warn.duplicate"));
  return out;
}

function renderWarnings() {
  const list = clear($("#warnings"));
  for (const w of warnings($("#answer-text").value)) list.append(el("li", { text: w }));
}

function partStatus(answer, part) {
  if (part.tweet_id) {
    const host = state.session && state.session.host_account ? state.session.host_account.handle : "";
    return el("span", { class: "part-posted" }, `${t("part.posted")} `,
      el("a", { href: postUrl(host, part.tweet_id), target: "_blank", rel: "noopener noreferrer", text: t("part.link") }));
  }
  if (answer.status === "failed") {
    return el("span", { class: "part-failed", text: t("part.failed", { reason: answer.error || "?" }) });
  }
  return el("span", { text: t(`part.${answer.status}`) });
}

function renderAnswers() {
  const list = clear($("#answers"));
  const answers = [...state.answers.values()].sort((a, b) => b.created_at.localeCompare(a.created_at));
  for (const a of answers) {
    const q = state.questions.get(a.question_ids[0]);
    const parts = a.status === "draft" ? [] : a.parts;
    const actions = el("div", { class: "row" });
    if (a.status === "failed" && state.actions.includes("answer.approve")) {
      actions.append(el("button", { type: "button", text: t("answer.retry"), onclick: () => post(a, "retry") }));
    }
    if (a.status === "queued" && state.actions.includes("answer.write")) {
      actions.append(el("button", { type: "button", text: t("answer.withdraw"), onclick: () => post(a, "withdraw") }));
    }
    list.append(
      el("li", { class: "card", "data-answer": a.id, "data-status": a.status },
        el("p", { class: "meta" },
          el("span", { class: `badge status-${a.status}`, text: t(`answer.status.${a.status}`) }), " ",
          q ? el("span", { class: "asked", text: shownText(q) }) : null),
        a.status === "failed" ? el("p", { class: "part-failed", role: "alert", text: t("part.failed", { reason: a.error || "?" }) }) : null,
        el("ol", { class: "preview" },
          ...parts.map((part, i) => el("li", { class: "post", "data-part": i + 1 },
            el("p", { class: "post-text", text: part.text }),
            el("p", { class: "post-meta" }, partStatus(a, part))))),
        actions),
    );
  }
}

// -- composing ---------------------------------------------------------------------------

function answer(qid) {
  if (!qid) return;
  state.current = qid;
  state.selected = qid;
  const mine = [...state.answers.values()].find(
    (a) => a.status === "draft" && a.question_ids.includes(qid) && a.expert_id === state.me.id,
  );
  state.draftId = mine ? mine.id : null;
  $("#answer-text").value = mine ? mine.text : "";
  $("#draft-state").textContent = mine ? t("draft.restored") : "";
  state.preview = null;
  render();
  refreshPreview();
  showHistory(qid);
  requestAnimationFrame(() => $("#answer-text").focus());
}

const refreshPreview = debounce(async () => {
  const text = $("#answer-text").value;
  renderWarnings();
  if (!state.current || !text.trim()) {
    state.preview = null;
    renderPreview();
    return;
  }
  state.previewSeq += 1;
  const seq = state.previewSeq;
  try {
    const preview = await api("POST", `${base}/preview`, { question_ids: [state.current], text });
    if (seq !== state.previewSeq) return;
    state.preview = preview;
  } catch (error) {
    if (seq !== state.previewSeq) return;
    state.preview = null;
    say(t("error.action", { detail: error.message }), "error");
  }
  renderPreview();
}, 200);

/** Save the composer as the server-side draft (one save at a time). */
function saveDraft() {
  state.saving = state.saving.then(async () => {
    const text = $("#answer-text").value;
    if (!state.current || !text.trim()) return;
    try {
      if (state.draftId) {
        await api("POST", `${base}/answers/${encodeURIComponent(state.draftId)}/edit`, { text });
      } else {
        const created = await api("POST", `${base}/answers`, { question_ids: [state.current], text });
        state.draftId = created.id;
        keep(state, "answer", created);
      }
      $("#draft-state").textContent = t("draft.saved", { time: formatTime(new Date().toISOString(), zone()) });
    } catch (error) {
      $("#draft-state").textContent = t("draft.failed", { detail: error.message });
    }
  });
  return state.saving;
}

const saveSoon = debounce(saveDraft, 800);

async function publish() {
  const text = $("#answer-text").value;
  if (!state.current || !text.trim()) {
    say(t("expert.empty"), "warn");
    return;
  }
  const found = warnings(text);
  if (found.length && !(await confirmed(found))) return;
  saveSoon.flush();
  await saveDraft();
  if (!state.draftId) return;
  try {
    const sent = await api("POST", `${base}/answers/${encodeURIComponent(state.draftId)}/submit`);
    keep(state, "answer", sent);
    const held = state.answers.get(sent.id); // its events may have come first
    if (held.status === "published") say(t("publish.posted"), "ok");
    else if (held.status === "failed") say(t("part.failed", { reason: held.error || "?" }), "error");
    else {
      say(t(held.status === "awaiting_approval" ? "publish.awaiting" : "publish.queued"), "ok");
      state.sent = sent.id;
    }
    state.current = null;
    state.draftId = null;
    $("#answer-text").value = "";
    $("#draft-state").textContent = "";
    state.preview = null;
    render();
    $("#approved").focus();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

async function confirmed(found) {
  const list = clear($("#confirm-warnings"));
  for (const w of found) list.append(el("li", { text: w }));
  return (await askDialog($("#confirm-dialog"))) === "publish";
}

/** The dialog's answer: the reason typed (maybe empty), or null when cancelled. */
async function handBackReason() {
  $("#handback-reason").value = "";
  const choice = await askDialog($("#handback-dialog"));
  return choice === "handback" ? $("#handback-reason").value.trim() : null;
}

async function handBack() {
  const q = state.questions.get(state.current);
  if (!q) return;
  const reason = await handBackReason();
  if (reason === null) return;
  try {
    await api("POST", `${base}/questions/${encodeURIComponent(q.id)}/requeue`, { reason: reason || null });
    state.questions.delete(q.id);
    state.current = null;
    say(t("handback.done", { handle: (q.author || {}).handle || "?" }), "ok");
    render();
    $("#approved").focus();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

async function post(a, action) {
  try {
    const updated = await api("POST", `${base}/answers/${encodeURIComponent(a.id)}/${action}`);
    keep(state, "answer", updated);
    render();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

// -- the publisher's state (rate limits, daily limit, retries) ----------------------------

const PUBLISHER_STATES = ["idle", "posting", "rate_limited", "daily_limit", "retrying", "waiting"];
let publisherTimer = null;

function busy() {
  return [...state.answers.values()].some((a) => ["queued", "publishing"].includes(a.status));
}

async function pollPublisher() {
  clearTimeout(publisherTimer);
  try {
    const view = await api("GET", `${base}/publishing`);
    const s = view.status;
    const known = PUBLISHER_STATES.includes(s.state) ? s.state : "other";
    $("#publisher").textContent = t(`publisher.${known}`, {
      state: s.state,
      detail: s.detail || "",
      time: s.resume_at ? formatTime(s.resume_at, zone()) : "",
    });
    $("#publisher").dataset.state = s.state;
  } catch {
    $("#publisher").textContent = "";
  }
  publisherTimer = setTimeout(pollPublisher, busy() ? 1000 : 10000);
}

// -- the socket -------------------------------------------------------------------------

const showPause = pauseBanner(state);

function onSnapshot(msg) {
  applySnapshot(state, msg);
  showPause();
  showSession();
  render();
}

function onEvent(msg) {
  applyEvent(state, msg);
  if (msg.entity === "session") showSession();
  if (msg.entity === "intake_pause") showPause();
  if (msg.entity === "answer" && ["answer.queued", "answer.approved", "answer.retried"].includes(msg.kind)) {
    pollPublisher();
  }
  if (msg.entity === "answer" && msg.kind === "answer.failed" && msg.record) {
    say(t("part.failed", { reason: msg.record.error || "?" }), "error");
    if (msg.entity_id === state.sent) state.sent = null;
  }
  if (msg.entity === "answer" && msg.kind === "answer.published" && msg.entity_id === state.sent) {
    say(t("publish.posted"), "ok");
    state.sent = null;
  }
  render();
}

function showSession() {
  if (!state.session) return;
  $("#session-title").textContent = state.session.title;
  $("#session-status").textContent = t(`session.status.${state.session.status}`);
  $("#session-when").textContent = t("session.when", {
    when: formatDateTime(state.session.scheduled_start, zone()),
    zone: zone(),
  });
  sessionLanguage(state.session.language);
  showSessionEnded(state.session);
  dutyPanel($("#duty"), state.session, state.me.id, staffName, { agent: state.actions.includes("desk.shift"), onShift: shift });
  $("#desk").hidden = !isDesk(state.session);
  const replies = JSON.stringify([state.session.saved_replies || [], document.documentElement.lang]);
  if ($("#replies").dataset.stamp !== replies) { // rebuilt only when the replies change
    $("#replies").dataset.stamp = replies;
    replyPicker($("#replies"), state.session, { fill: fillReply, insert: insertText });
  }
}

function fillReply(reply, values) {
  const path = `${base}/saved-replies/${encodeURIComponent(reply.id)}/fill`;
  return api("POST", path, { question_id: state.current, values });
}

/** Put ``text`` into the answer at the cursor; the preview and the draft follow. */
function insertText(text) {
  const area = $("#answer-text");
  const at = area.selectionStart ?? area.value.length;
  area.setRangeText(text, at, area.selectionEnd ?? at, "end");
  area.dispatchEvent(new Event("input"));
  area.focus();
}

/** The asker's earlier questions beside the one being answered. */
async function showHistory(qid) {
  const box = $("#history-box");
  try {
    const items = await api("GET", `${base}/questions/${encodeURIComponent(qid)}/history`);
    if (qid === state.current) renderHistory(box, $("#history"), items, (iso) => formatDateTime(iso, zone()));
  } catch {
    box.hidden = true;
  }
}

async function shift(onDuty) {
  try {
    keep(state, "session", await api("POST", `${base}/shift`, { on_duty: onDuty }));
    say(t(onDuty ? "desk.shift.started" : "desk.shift.ended"), "ok");
    showSession();
    render();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

async function assignTo(q, assignee, note) {
  try {
    const path = `${base}/questions/${encodeURIComponent(q.id)}/assign`;
    keep(state, "question", await api("POST", path, { assignee, note }));
    say(assignee ? t("desk.assigned.to", { who: staffName(assignee) }) : t("desk.unassigned"), "ok");
    render();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

/** The session's time zone: every time shown is in it. */
function zone() {
  return state.session ? state.session.time_zone : undefined;
}

// -- wiring -----------------------------------------------------------------------------

function move(delta) {
  const items = approvedList();
  if (!items.length) return;
  const index = items.findIndex((q) => q.id === state.selected);
  state.selected = items[Math.max(0, Math.min(items.length - 1, index + delta))].id;
  render();
}

function onKey(event) {
  if (document.querySelector("dialog[open]")) return;
  if ((event.ctrlKey || event.metaKey) && event.key === "Enter") {
    event.preventDefault();
    publish();
    return;
  }
  if (typing(event) || event.ctrlKey || event.metaKey || event.altKey) return;
  const handlers = {
    j: () => move(1),
    k: () => move(-1),
    ArrowDown: () => move(1),
    ArrowUp: () => move(-1),
  };
  // Enter opens the selected question wherever the focus is, but on a control of its own.
  if (!event.target.closest("button, a[href], summary, [role=button]")) {
    handlers.Enter = () => keyGuard.allows() && answer(state.selected);
  }
  const handler = handlers[event.key];
  if (!handler) return;
  event.preventDefault();
  handler();
}

async function main() {
  state.me = await setupChrome();
  if (!sid) {
    say(t("error.nosession"), "error");
    return;
  }
  try {
    const grants = await api("GET", `${base}/grants`);
    state.actions = grants.actions;
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
    return;
  }
  await loadStaffNames(sid);
  startTicker();
  document.addEventListener("keydown", onKey);
  document.addEventListener("langchange", () => {
    showSession();
    render();
    renderWarnings();
  });
  $("#answer-text").addEventListener("input", () => {
    if ($("#status").textContent === t("expert.empty")) say("", "info"); // typing resolves it
    refreshPreview();
    saveSoon();
  });
  $("#composer").addEventListener("submit", (event) => {
    event.preventDefault();
    publish();
  });
  $("#skip").addEventListener("click", () => {
    if (state.current) state.skipped.add(state.current);
    state.current = null;
    render();
    $("#approved").focus();
  });
  $("#hand-back").addEventListener("click", handBack);
  const socket = new LiveSocket(sid, "expert", {
    onSnapshot,
    onEvent,
    onStatus: connectionIndicator(),
  });
  socket.start();
  pollPublisher();
}

main();
