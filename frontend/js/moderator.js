// The moderator console: the live queue, actions over the websocket, shortcuts, presence
// and soft claims, undo, bulk actions.

import { api } from "./api.js";
import { connectionIndicator, loadStaffNames, say, setupChrome, staffName } from "./chrome.js";
import { showSessionEnded } from "./closing.js";
import {
  assignForm, assigneeChip, dutyPanel, isDesk, renderHistory, retarget, startTicker, waitingChip,
} from "./desk.js";
import { $, askDialog, clear, debounce, el, postUrl, sessionIdFromPath, typing } from "./dom.js";
import { formatDateTime, formatTime, sessionLanguage, t } from "./i18n.js";
import { SelectionGuard } from "./keyguard.js";
import { applyEvent, applySnapshot, keep } from "./mirror.js";
import { pauseBanner } from "./pause.js";
import { SORTS, STATUSES, matches, mergeCandidates, shownText } from "./questions.js";
import { setupReplies, showReplies } from "./replies.js";
import { LiveSocket } from "./socket.js";

const sid = sessionIdFromPath();
const state = {
  me: null,
  session: null,
  questions: new Map(),
  answers: new Map(),
  automod: null,
  presence: { moderators: [], claims: [] },
  selected: null,
  selectedIndex: 0,
  visible: [],
  bulk: new Set(),
  undo: [],
  conflicts: new Map(),
  claimed: null,
  actedOnSelected: false,
  shownVersion: null,
};
let socket = null;
let arrivals = 0;
const keyGuard = new SelectionGuard($("#queue"));
/** The sort chosen last in this session, kept across reloads. */
const SORT_KEY = `atexpert.sort.${sid}`;

// -- rendering -------------------------------------------------------------------------

function filters() {
  return {
    status: $("#f-status").value,
    text: $("#f-text").value,
    author: $("#f-author").value,
    tag: $("#f-tag").value,
  };
}

let scheduled = false;
function render() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderNow();
  });
}

function renderNow() {
  const f = filters();
  const sort = SORTS[$("#f-sort").value] || SORTS.newest;
  state.visible = [...state.questions.values()].filter((q) => matches(q, f)).sort(sort);
  const ids = state.visible.map((q) => q.id);
  if (!ids.includes(state.selected)) {
    const index = Math.min(state.selectedIndex, ids.length - 1);
    select(index >= 0 ? ids[index] : null, { render: false });
  } else {
    state.selectedIndex = ids.indexOf(state.selected);
  }
  const list = $("#queue");
  list.replaceChildren(...state.visible.map(cachedItem));
  $("#empty").hidden = state.visible.length > 0;
  if (state.selected) {
    list.setAttribute("aria-activedescendant", `q-${state.selected}`);
    const node = document.getElementById(`q-${state.selected}`);
    if (node) node.scrollIntoView({ block: "nearest" });
  } else list.removeAttribute("aria-activedescendant");
  renderCounters();
  renderPresence();
  renderBulk();
  renderDetail();
  renderReview();
  renderRaid();
}

function claimOf(qid) {
  return state.presence.claims.find((c) => c.question_id === qid && c.username !== state.me.username);
}

/** Items are rebuilt only when what they show changed (large queues stay fast). */
const items = new Map();
let itemsLang = null;

function cachedItem(q) {
  if (itemsLang !== document.documentElement.lang) {
    items.clear();
    itemsLang = document.documentElement.lang;
  }
  const claim = claimOf(q.id);
  const key = [q.version, q.likes, q.id === state.selected, claim ? claim.name : "", state.bulk.has(q.id)].join("|");
  const cached = items.get(q.id);
  if (cached && cached.key === key) return cached.node;
  const node = item(q);
  items.set(q.id, { key, node });
  return node;
}

/** Pending again because an expert (or a moderator) sent it back from the expert's list. */
function handedBack(q) {
  return q.status === "pending" && q.handed_back;
}

function item(q) {
  const claim = claimOf(q.id);
  const node = el(
    "li",
    {
      id: `q-${q.id}`,
      role: "option",
      class: `q status-${q.status}${q.id === state.selected ? " selected" : ""}`,
      "aria-selected": q.id === state.selected ? "true" : "false",
      "data-id": q.id,
      onclick: () => {
        select(q.id);
        $("#queue").focus();
      },
    },
    el(
      "div",
      { class: "q-head" },
      state.bulk.has(q.id) ? el("span", { class: "check", text: "✓", title: t("bulk.selected") }) : null,
      el("strong", { class: "handle", text: `@${(q.author || {}).handle || "?"}` }),
      el("time", { datetime: q.created_at, text: formatTime(q.created_at, zone()) }),
      likes(q),
      waitingChip(q, state.session),
      assigneeChip(q, state.me.id, staffName),
      el("span", { class: `badge status-${q.status}`, text: t(`status.${q.status}`) }),
      q.starred ? el("span", { class: "star", text: "★", title: t("action.star") }) : null,
      q.priority ? el("span", { class: "prio", text: t("detail.priority.short", { n: q.priority }) }) : null,
      ...(q.tags || []).map((tag) => el("span", { class: "tag", text: tag })),
      q.decided_by && q.status !== "pending"
        ? el("span", { class: "by", text: t("by", { who: staffName(q.decided_by) }) })
        : null,
      claim ? el("span", { class: "claim-chip", text: t("claim.on", { who: claim.name }) }) : null,
      handedBack(q) ? el("span", { class: "handback", text: t("handback.by", { who: staffName(q.decided_by) }) }) : null,
    ),
    el("p", { class: "q-text", text: shownText(q) }),
  );
  return node;
}

/** The like count on X: a heart for the eye, "12 likes" for screen readers. */
function likes(q) {
  const n = q.likes || 0;
  return el("span", { class: "likes" },
    el("span", { "aria-hidden": "true", text: `♥ ${n}` }),
    el("span", { class: "visually-hidden", text: t("likes.count", { n }) }));
}

function renderCounters() {
  const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const q of state.questions.values()) counts[q.status] = (counts[q.status] || 0) + 1;
  const list = clear($("#counters"));
  for (const s of STATUSES) {
    list.append(
      el("li", { class: `counter status-${s}`, "data-status": s }, el("span", { text: t(`status.${s}`) }), " ",
        el("strong", { class: "count", text: counts[s] })),
    );
  }
}

function renderPresence() {
  const list = clear($("#presence"));
  const people = new Map(state.presence.moderators.map((m) => [m.username, m.name]));
  const sorted = [...people].sort((a, b) => a[1].localeCompare(b[1]));
  for (const [username, name] of sorted) {
    const mine = username === state.me.username;
    list.append(el("li", { class: mine ? "chip me" : "chip", text: mine ? t("presence.you", { who: name }) : name }));
  }
}

function renderBulk() {
  $("#bulk").hidden = state.bulk.size === 0;
  $("#bulk-count").textContent = t("bulk.count", { n: state.bulk.size });
}

function renderDetail() {
  const q = state.questions.get(state.selected);
  $("#detail").hidden = !q;
  $("#detail-none").hidden = Boolean(q);
  if (!q) return;
  const author = q.author || {};
  const link = $("#d-author");
  link.textContent = `@${author.handle || "?"}${author.name ? ` (${author.name})` : ""}`;
  link.href = postUrl(author.handle, q.tweet_id || q.id.replace(/^q_/, ""));
  $("#d-followers").textContent = t("detail.followers", { n: author.followers || 0 });
  $("#d-time").textContent = formatTime(q.created_at, zone());
  $("#d-time").setAttribute("datetime", q.created_at || "");
  const status = $("#d-status");
  status.textContent = q.decided_by && q.status !== "pending"
    ? t("detail.status.by", { status: t(`status.${q.status}`), who: staffName(q.decided_by) })
    : t(`status.${q.status}`);
  status.className = `badge status-${q.status}`;
  const claim = claimOf(q.id);
  const mine = state.presence.claims.some((c) => c.question_id === q.id && c.username === state.me.username);
  $("#d-claim").hidden = !claim && !mine;
  if (claim) $("#d-claim").textContent = t("claim.taken", { who: claim.name });
  else if (mine) $("#d-claim").textContent = t("claim.mine");
  $("#d-text").textContent = shownText(q);
  renderAssign(q);
  if (state.historyOf !== q.id) {
    state.historyOf = q.id;
    $("#history-box").hidden = true;
    loadHistory(q.id);
  }
  const why = q.reject_reason
    ? t("detail.reason", { reason: q.reject_reason })
    : handedBack(q)
      ? t("detail.handback", { who: staffName(q.decided_by), reason: q.handback_reason || "-" })
      : q.moderator_note
      ? t("detail.notehint", { note: q.moderator_note })
      : "";
  $("#d-reason").hidden = !why;
  $("#d-reason").textContent = why;
  $("#d-original-wrap").hidden = q.display_text == null;
  $("#d-original").textContent = q.text;
  $("#do-star").setAttribute("aria-pressed", q.starred ? "true" : "false");
  $("#do-approve").disabled = q.status !== "pending";
  $("#do-reject").disabled = !["pending", "approved"].includes(q.status);
  $("#do-merge").disabled = !["pending", "approved"].includes(q.status);
  $("#do-restore").hidden = !["rejected", "merged", "approved"].includes(q.status);
  $("#do-undo").disabled = state.undo.length === 0;
  const stamp = `${q.id}@${q.version}`;
  if (state.shownVersion !== stamp) {
    state.shownVersion = stamp;
    fill("#d-edit", shownText(q));
    fill("#d-priority", String(q.priority || 0));
    fill("#d-tags", (q.tags || []).join(", "));
    fill("#d-note", q.moderator_note || "");
  }
}

/** The asker's earlier questions beside the selected one (once the selection rests). */
const loadHistory = debounce(async (qid) => {
  if (qid !== state.selected) return;
  try {
    const items = await api("GET", `/api/sessions/${encodeURIComponent(sid)}/questions/${encodeURIComponent(qid)}/history`);
    if (qid === state.selected) renderHistory($("#history-box"), $("#history"), items, (iso) => formatDateTime(iso, zone()));
  } catch {
    // no history shown
  }
}, 300);

/** Desk mode: assign the selected waiting question to an agent on duty, or hand it over. */
function renderAssign(q) {
  const box = $("#d-assign");
  box.hidden = !isDesk(state.session) || !["pending", "approved"].includes(q.status);
  const stamp = `${q.id}@${q.version}|${(state.session.on_duty || []).join()}|${document.documentElement.lang}`;
  if (box.hidden || box.dataset.stamp === stamp) return; // a note being typed stays
  box.dataset.stamp = stamp;
  box.replaceChildren(assignForm(q, state.session, staffName, (assignee, note) => run(q.id, "assign", { assignee, note }).then(render)));
}

function fill(selector, value) {
  const input = $(selector);
  if (document.activeElement !== input) input.value = value;
}

/** Answers waiting for a moderator (sessions requiring approval) and failed ones. */
function renderReview() {
  const list = clear($("#review"));
  const waiting = [...state.answers.values()].filter((a) => ["awaiting_approval", "failed"].includes(a.status));
  $("#answers-pane").hidden = waiting.length === 0;
  for (const a of waiting) {
    const asked = a.question_ids.map((id) => state.questions.get(id)).filter(Boolean);
    const buttons = a.status === "failed"
      ? [el("button", { type: "button", text: t("answer.retry"), onclick: () => review(a, "retry") })]
      : [
          el("button", { type: "button", class: "primary", text: t("review.approve"), onclick: () => review(a, "approve") }),
          el("button", { type: "button", text: t("review.return"), onclick: () => review(a, "return") }),
        ];
    list.append(
      el("li", { class: "card", "data-answer": a.id, "data-status": a.status },
        el("p", { class: "meta" }, el("span", { class: `badge status-${a.status}`, text: t(`answer.status.${a.status}`) })),
        ...asked.map((q) => el("p", { class: "asked", text: shownText(q) })),
        el("blockquote", { class: "tweet", text: a.text }),
        a.status === "failed" ? el("p", { class: "part-failed", text: t("part.failed", { reason: a.error || "?" }) }) : null,
        el("div", { class: "row" }, ...buttons)),
    );
  }
}

async function review(a, action) {
  try {
    const updated = await api("POST", `/api/sessions/${encodeURIComponent(sid)}/answers/${encodeURIComponent(a.id)}/${action}`);
    keep(state, "answer", updated);
    if (action !== "retry") say(t(action === "approve" ? "review.approved" : "review.returned"), "ok");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  render();
}

// -- auto-moderation: raid mode and bans ---------------------------------------------------

const automodUrl = () => `/api/sessions/${encodeURIComponent(sid)}/automod`;

function renderRaid() {
  const on = Boolean(state.automod && state.automod.config.raid_mode);
  $("#raid").hidden = !state.automod;
  $("#raid").setAttribute("aria-pressed", on ? "true" : "false");
  $("#raid-state").textContent = t(on ? "raid.on" : "raid.off");
}

async function loadAutomod() {
  try {
    keep(state, "automod", await api("GET", automodUrl()));
  } catch {
    // not available here (the raid switch stays hidden), or not this time: keep ours
  }
  render();
}

/** Another console changed the config (an ``automod.changed`` event, now folded in). */
function onAutomod(msg, wasOn) {
  const on = Boolean(state.automod.config.raid_mode);
  if (on !== wasOn && msg.actor !== state.me.username) {
    say(t(on ? "raid.turned_on" : "raid.turned_off", { who: staffName(msg.actor) }), "info");
  }
}

async function toggleRaid() {
  const on = !(state.automod && state.automod.config.raid_mode);
  try {
    keep(state, "automod", await api("PUT", `${automodUrl()}/raid`, { raid_mode: on }));
    say(t("raid.switched", { state: t(on ? "raid.on" : "raid.off") }), "ok");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  render();
}

async function openBan() {
  const q = current();
  if (!q) return;
  $("#ban-text").textContent = t("ban.text", { who: (q.author || {}).handle || "?" });
  if ((await askDialog($("#ban-dialog"))) === "ban") ban(q.author);
}

/** Add the author to the session's banned list (retrying once if the config moved). */
async function ban(author) {
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const stored = await api("GET", automodUrl());
      const config = { ...stored.config, banned: [...stored.config.banned, author.id] };
      keep(state, "automod", await api("PUT", `${automodUrl()}?version=${stored.version}`, config));
      say(t("ban.done", { who: author.handle }), "ok");
      return;
    } catch (error) {
      if (error.status !== 409 || attempt === 1) say(t("error.action", { detail: error.message }), "error");
    }
  }
}

// -- selection and claims ---------------------------------------------------------------

function select(qid, { render: again = true } = {}) {
  if (qid !== state.selected) {
    state.selected = qid;
    keyGuard.selected(qid);
    state.shownVersion = null;
    state.actedOnSelected = false;
    claimSoon();
  }
  const index = state.visible.findIndex((q) => q.id === qid);
  if (index >= 0) state.selectedIndex = index;
  if (again) render();
}

function move(delta) {
  if (!state.visible.length) return;
  const index = state.visible.findIndex((q) => q.id === state.selected);
  const next = Math.max(0, Math.min(state.visible.length - 1, (index < 0 ? -1 : index) + delta));
  select(state.visible[next].id);
}

const claimSoon = debounce(async () => {
  const wanted = state.selected;
  if (state.claimed && state.claimed !== wanted) {
    socket.request({ type: "release", question_id: state.claimed }).catch(() => {});
    state.claimed = null;
  }
  if (!wanted || wanted === state.claimed) return;
  try {
    await socket.request({ type: "claim", question_id: wanted });
    state.claimed = wanted;
  } catch (error) {
    // Once the moderator has acted on the question, the outcome of that action (such as
    // "alice got there first") is the news: a late claim refusal must not cover it.
    if (error.code === "claimed" && state.selected === wanted && !state.actedOnSelected) {
      const claim = claimOf(wanted);
      say(t("claim.taken", { who: claim ? claim.name : error.detail.split(" is handling ")[0] }), "warn");
    }
  }
}, 250);

// -- actions --------------------------------------------------------------------------

/** The command that undoes ``action`` on ``before`` (the record before it), or null. */
function inverse(action, before) {
  switch (action) {
    case "approve":
      return { action: "requeue" };
    case "requeue":
      return { action: "approve" };
    case "reject":
    case "merge":
      return { action: "restore" };
    case "restore":
      if (before.status === "rejected") return { action: "reject", reason: before.reject_reason || "-" };
      if (before.status === "merged") return { action: "merge", into: before.merged_into };
      if (before.status === "approved") return { action: "approve" };
      return null;
    case "star":
      return { action: "star", starred: Boolean(before.starred) };
    case "priority":
      return { action: "priority", priority: before.priority || 0 };
    case "tags":
      return { action: "tags", tags: before.tags || [] };
    case "note":
      return { action: "note", note: before.moderator_note ?? null };
    case "edit":
      return { action: "edit", display_text: before.display_text ?? null };
    default:
      return null;
  }
}

/** Run one action; returns the undo step ({qid, cmd}) or null when it failed. */
async function run(qid, action, extra = {}, versions = null) {
  // A second press while the first is on its way would only meet a refusal.
  if (inFlight.has(qid)) return null;
  const before = state.questions.get(qid);
  let guard = {};
  if (versions && versions.has(qid)) guard = { version: versions.get(qid) };
  else if (action === "approve" || action === "reject") guard = seen(qid);
  inFlight.add(qid);
  try {
    const ack = await socket.request({ type: "question", action, question_id: qid, ...extra, ...guard });
    if (ack.record) keep(state, "question", ack.record);
    const back = inverse(action, before);
    return back ? { qid, cmd: back } : { qid, cmd: null };
  } catch (error) {
    failed(qid, action, error);
    return null;
  } finally {
    inFlight.delete(qid);
  }
}

/** Questions with an action on its way to the server. */
const inFlight = new Set();

async function act(action, extra = {}, targets = null, versions = null) {
  const ids = targets || (state.selected ? [state.selected] : []);
  if (!ids.length) return;
  if (state.selected && ids.includes(state.selected)) state.actedOnSelected = true;
  const start = performance.now();
  const steps = [];
  for (const qid of ids) {
    const step = await run(qid, action, extra, versions);
    if (step) steps.push(step);
  }
  const undoable = steps.filter((s) => s.cmd);
  if (undoable.length) state.undo.push(undoable);
  if (steps.length) {
    const message = steps.length > 1 ? t("done.bulk", { n: steps.length }) : t(`done.${action}`);
    say(message + keyGuard.heldNote(start), "ok");
  }
  render();
}

function failed(qid, action, error) {
  if (error.code === "illegal_transition" || error.code === "conflict") {
    state.conflicts.set(qid, { action, detail: error.detail });
    explainConflict(qid);
  } else if (error.code === "disconnected") {
    say(t("error.disconnected"), "error");
  } else {
    say(t("error.action", { detail: error.detail || error.code }), "error");
  }
}

/** Tell the loser of a race who won, once the winner's event is known. */
function explainConflict(qid) {
  const pending = state.conflicts.get(qid);
  const q = state.questions.get(qid);
  if (!pending || !q) return;
  if (q.decided_by && q.decided_by !== state.me.username) {
    say(t("conflict.won", { who: staffName(q.decided_by), status: t(`state.${q.status}`) }), "warn");
    state.conflicts.delete(qid);
  } else {
    say(t("conflict.generic", { detail: pending.detail || "" }), "warn");
  }
}

async function undo() {
  const steps = state.undo.pop();
  if (!steps) {
    say(t("undo.nothing"), "info");
    return;
  }
  let ok = 0;
  for (const { qid, cmd } of steps) {
    try {
      const ack = await socket.request({ type: "question", question_id: qid, ...cmd });
      if (ack.record) keep(state, "question", ack.record);
      ok += 1;
    } catch (error) {
      failed(qid, cmd.action, error);
    }
  }
  if (ok) say(t("undo.done", { n: ok }), "ok");
  render();
}

function current() {
  return state.questions.get(state.selected) || null;
}

function targets() {
  return state.bulk.size ? [...state.bulk] : null;
}

/** Decisions carry the version the moderator saw: a change meanwhile is a conflict. */
function seen(qid) {
  const q = state.questions.get(qid);
  return q ? { version: q.version } : {};
}

function approve() {
  const bulk = targets();
  act("approve", {}, bulk).then(() => {
    if (bulk) state.bulk.clear();
    render();
  });
}

/** What the reject dialog acts on: the questions (and versions) seen when it opened. */
let rejecting = null;

function openReject() {
  const ids = targets() || (state.selected ? [state.selected] : []);
  if (!ids.length) return;
  rejecting = { ids, versions: new Map(ids.map((id) => [id, state.questions.get(id).version])) };
  const dialog = $("#reject-dialog");
  $("#reject-reason").value = "";
  const list = clear($("#reasons"));
  for (const key of ["offtopic", "spam", "abuse", "duplicate", "answered"]) {
    list.append(el("option", { value: t(`reason.${key}`) }));
  }
  dialog.showModal();
  $("#reject-reason").focus();
}

function openMerge() {
  const q = current();
  if (!q) return;
  const box = clear($("#merge-options"));
  const candidates = mergeCandidates(q, [...state.questions.values()]);
  if (!candidates.length) {
    say(t("merge.none"), "warn");
    return;
  }
  candidates.forEach(({ question, score }, i) => {
    const id = `merge-${question.id}`;
    box.append(
      el("div", { class: "option" },
        el("input", { type: "radio", name: "into", id, value: question.id, checked: i === 0 }),
        el("label", { for: id },
          el("span", { class: "score", text: t("merge.score", { n: Math.round(score * 100) }) }), " ",
          el("strong", { text: `@${(question.author || {}).handle || "?"}` }), " ",
          el("span", { text: shownText(question) }))),
    );
  });
  $("#merge-dialog").showModal();
  box.querySelector("input").focus();
}

/** Raise or lower the priority: the expert sees approved questions by priority. */
function bump(delta) {
  const q = current();
  if (q) act("priority", { priority: (q.priority || 0) + delta });
}

function toggleBulk() {
  if (!state.selected) return;
  if (state.bulk.has(state.selected)) state.bulk.delete(state.selected);
  else state.bulk.add(state.selected);
  render();
}

// -- the socket -------------------------------------------------------------------------

const showPause = pauseBanner(state);

function onSnapshot(msg) {
  applySnapshot(state, msg);
  showPause();
  showSession();
  render();
  if (document.activeElement === document.body) $("#queue").focus();
  loadAutomod(); // a (re)sync: the config may have changed meanwhile
}

function onEvent(msg) {
  const wasRaid = Boolean(state.automod && state.automod.config.raid_mode);
  applyEvent(state, msg);
  if (msg.entity === "session") {
    showSession();
  } else if (msg.entity === "question") {
    if (msg.kind === "question.received") announceArrival();
    if (state.conflicts.has(msg.entity_id)) explainConflict(msg.entity_id);
  } else if (msg.entity === "automod") {
    onAutomod(msg, wasRaid);
  } else if (msg.entity === "intake_pause") {
    showPause();
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
  dutyPanel($("#duty"), state.session, state.me.id, staffName, { agent: false });
  showReplies(state.session, state.removeReply);
  retarget(state.session);
  if (isDesk(state.session) && !state.deskSorted) {
    state.deskSorted = true; // a desk's queue: oldest first, unless a sort was chosen here
    let chosen = null;
    try {
      chosen = localStorage.getItem(SORT_KEY);
    } catch {
      // no storage: the desk's default
    }
    if (!chosen) {
      $("#f-sort").value = "oldest";
      render();
    }
  }
}

/** The session's time zone: every time shown is in it. */
function zone() {
  return state.session ? state.session.time_zone : undefined;
}

const flushArrivals = debounce(() => {
  $("#announcer").textContent = t("announce.new", { n: arrivals });
  arrivals = 0;
}, 1500);

function announceArrival() {
  arrivals += 1;
  flushArrivals();
}

// -- wiring -----------------------------------------------------------------------------

function onKey(event) {
  if (document.querySelector("dialog[open]")) return;
  if (typing(event)) {
    if (event.key === "Escape") event.target.blur();
    return;
  }
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const handlers = {
    j: () => move(1),
    k: () => move(-1),
    ArrowDown: () => move(1),
    ArrowUp: () => move(-1),
    a: approve,
    r: openReject,
    s: () => {
      const q = current();
      if (q) act("star", { starred: !q.starred });
    },
    m: openMerge,
    "+": () => bump(1),
    "-": () => bump(-1),
    u: undo,
    x: toggleBulk,
    e: () => $("#d-edit").focus(),
    "/": () => $("#f-text").focus(),
    "?": () => $("#help-dialog").showModal(),
  };
  const handler = handlers[event.key];
  if (!handler) return;
  event.preventDefault();
  if (ACTING_KEYS.has(event.key)) {
    if (scheduled) renderNow(); // the selection a pending render would change is the one acted on
    if (!keyGuard.allows()) return;
  }
  handler();
}

/** The shortcuts that act on the selected question (held while a new selection settles). */
const ACTING_KEYS = new Set(["a", "r", "s", "m", "+", "-", "x"]);

/** Restore the sort chosen last in this session, and keep each new choice. */
function keepSort() {
  const select = $("#f-sort");
  try {
    const stored = localStorage.getItem(SORT_KEY);
    if (stored && stored in SORTS) select.value = stored;
  } catch {
    // no storage (private mode): the default sort
  }
  select.addEventListener("change", () => {
    try {
      localStorage.setItem(SORT_KEY, select.value);
    } catch {
      // the choice lasts for this page only
    }
  });
}

function wire() {
  keepSort();
  document.addEventListener("keydown", onKey);
  document.addEventListener("langchange", () => {
    showSession();
    render();
  });
  for (const id of ["#f-status", "#f-sort", "#f-text", "#f-author", "#f-tag"]) {
    $(id).addEventListener("input", render);
  }
  $("#filters").addEventListener("submit", (e) => e.preventDefault());
  $("#do-approve").addEventListener("click", approve);
  $("#do-reject").addEventListener("click", openReject);
  $("#do-star").addEventListener("click", () => {
    const q = current();
    if (q) act("star", { starred: !q.starred });
  });
  $("#do-merge").addEventListener("click", openMerge);
  $("#do-restore").addEventListener("click", () => {
    const q = current();
    if (q) act(q.status === "approved" ? "requeue" : "restore");
  });
  $("#do-undo").addEventListener("click", undo);
  $("#do-ban").addEventListener("click", openBan);
  $("#raid").addEventListener("click", toggleRaid);
  $("#bulk-approve").addEventListener("click", approve);
  $("#bulk-reject").addEventListener("click", openReject);
  $("#bulk-clear").addEventListener("click", () => {
    state.bulk.clear();
    render();
  });
  const rejectDialog = $("#reject-dialog");
  $("#reject-cancel").addEventListener("click", () => rejectDialog.close());
  $("#reject-form").addEventListener("submit", () => {
    const reason = $("#reject-reason").value.trim();
    const chosen = rejecting;
    rejecting = null;
    if (reason && chosen) {
      act("reject", { reason }, chosen.ids, chosen.versions).then(() => {
        for (const id of chosen.ids) state.bulk.delete(id);
        render();
      });
    }
  });
  const mergeDialog = $("#merge-dialog");
  $("#merge-cancel").addEventListener("click", () => mergeDialog.close());
  $("#merge-form").addEventListener("submit", () => {
    const chosen = $("#merge-options").querySelector("input:checked");
    if (chosen) act("merge", { into: chosen.value });
  });
  for (const dialog of document.querySelectorAll("dialog")) {
    dialog.addEventListener("close", () => $("#queue").focus());
  }
  $("#edit-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = current();
    if (!q) return;
    const value = $("#d-edit").value;
    act("edit", { display_text: value.trim() && value !== q.text ? value : null });
  });
  $("#edit-reset").addEventListener("click", () => {
    if (current()) act("edit", { display_text: null });
  });
  $("#meta-form").addEventListener("submit", saveMeta);
}

async function saveMeta(event) {
  event.preventDefault();
  const q = current();
  if (!q) return;
  const priority = Number.parseInt($("#d-priority").value || "0", 10);
  const tags = $("#d-tags").value.split(",").map((s) => s.trim()).filter(Boolean);
  const note = $("#d-note").value;
  const steps = [];
  if (Number.isFinite(priority) && priority !== (q.priority || 0)) steps.push(["priority", { priority }]);
  if (tags.join("\n") !== (q.tags || []).join("\n")) steps.push(["tags", { tags }]);
  if (note !== (q.moderator_note || "")) steps.push(["note", { note: note || null }]);
  const undoSteps = [];
  for (const [action, extra] of steps) {
    const step = await run(q.id, action, extra);
    if (step && step.cmd) undoSteps.push(step);
  }
  if (undoSteps.length) {
    state.undo.push(undoSteps);
    say(t("done.meta"), "ok");
  }
  render();
}

async function main() {
  state.me = await setupChrome();
  if (!sid) {
    say(t("error.nosession"), "error");
    return;
  }
  try {
    const grants = await api("GET", `/api/sessions/${encodeURIComponent(sid)}/grants`);
    if (!grants.actions.includes("question.moderate")) {
      say(t("error.notmoderator"), "error");
      return;
    }
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
    return;
  }
  await loadStaffNames(sid);
  startTicker();
  wire();
  state.removeReply = setupReplies(sid, say);
  socket = new LiveSocket(sid, "moderator", {
    onSnapshot,
    onEvent,
    onPresence: (msg) => {
      state.presence = msg;
      render();
    },
    onStatus: connectionIndicator(),
  });
  socket.start();
  // Claims last a minute: renew the one held while the question stays selected.
  setInterval(() => {
    if (state.claimed && state.claimed === state.selected) {
      socket.request({ type: "claim", question_id: state.claimed }).catch(() => {});
    }
  }, 30_000);
}

main();
