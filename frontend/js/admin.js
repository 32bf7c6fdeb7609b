// The admin page: sessions (create, edit, lifecycle), roles, intake status and spend,
// staff accounts. Staff who are not admins see their sessions and the console links.

import { api, fieldErrors } from "./api.js";
import { personName, say, setupChrome } from "./chrome.js";
import { confirmClose } from "./closing.js";
import { $, clear, confirmed, el } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";
import { hoursBody, setupHours, showAutoReply, showHours } from "./hours.js";
import { setupInvitations, showInvitations } from "./invites.js";
import { refresh as refreshSeries, setupSeries } from "./series.js";
import { LiveSocket } from "./socket.js";
import { hostHint, setupXAccounts } from "./xaccounts.js";

const state = {
  me: null, sessions: [], users: [], selected: null, editing: null, live: null, roleRenders: 0,
  // The edited session's options: those the form has no field for are
  // sent back as they are, since a PATCH replaces the options whole.
  options: {},
};

const NEXT_STEPS = {
  draft: ["schedule", "archive"],
  scheduled: ["start", "unschedule"],
  live: ["close"],
  wrapping_up: ["close"],
  closed: ["archive"],
  archived: [],
};

const SPEND_REFRESH_MS = 30_000;

function sessionUrl(id, tail = "") {
  return `/api/sessions/${encodeURIComponent(id)}${tail}`;
}

// -- sessions ---------------------------------------------------------------------------

async function loadSessions() {
  state.sessions = await api("GET", "/api/sessions");
  renderSessions();
}

function renderSessions() {
  const body = clear($("#sessions"));
  $("#sessions-empty").hidden = state.sessions.length > 0;
  for (const s of state.sessions) {
    const id = encodeURIComponent(s.id);
    const actions = el("div", { class: "row" },
      el("button", { type: "button", text: t("admin.details"), onclick: () => showDetail(s.id, { reveal: true }) }));
    if (state.me.is_admin) {
      if (["draft", "scheduled"].includes(s.status)) {
        actions.append(el("button", { type: "button", text: t("admin.edit"), onclick: () => edit(s) }));
      }
      for (const step of NEXT_STEPS[s.status] || []) {
        actions.append(el("button", { type: "button", text: t(`admin.step.${step}`), onclick: () => lifecycle(s, step) }));
      }
    }
    body.append(
      el("tr", { "data-session": s.id },
        el("th", { scope: "row", text: s.title }),
        el("td", {}, el("span", { class: "badge", text: t(`session.status.${s.status}`) }),
          s.kind === "desk" && el("span", { class: "badge", text: t("session.kind.desk.badge") })),
        el("td", { text: formatDateTime(s.scheduled_start, s.time_zone) }),
        el("td", {}, el("div", { class: "row" },
          el("a", { href: `/sessions/${id}/moderate`, text: t("admin.open.moderate") }),
          el("a", { href: `/sessions/${id}/expert`, text: t("admin.open.expert") }),
          el("a", { href: `/live/${id}`, text: t("admin.open.live") }),
          el("a", { href: `/sessions/${id}/analytics`, text: t("admin.open.analytics") }),
          ...(["closed", "archived"].includes(s.status)
            ? [el("a", { href: `/recap/${id}`, text: t("admin.open.recap") })]
            : []),
          ...["json", "csv", "md"].map((format) => el("a", {
            href: `/api/sessions/${id}/export?format=${format}`,
            download: "",
            text: t(`admin.export.${format}`),
          })))),
        el("td", {}, actions)),
    );
  }
}

async function lifecycle(s, step) {
  try {
    let tail = `/${step}`;
    if (step === "close") {
      const queued = await confirmClose(s);
      if (!queued) return;
      tail += `?queued=${queued}`;
    }
    await api("POST", sessionUrl(s.id, tail));
    say(t("admin.done", { title: s.title }), "ok");
    await loadSessions();
  } catch (error) {
    if (step === "schedule" && "scheduled_end" in fieldErrors(error)) {
      endHasPassed(s);
      return;
    }
    say(t("error.action", { detail: error.message }), "error");
  }
}

/** Scheduling refused because the end is past: say so, and open the times to change. */
function endHasPassed(s) {
  const message = t("admin.schedule.past", {
    title: s.title, end: formatDateTime(s.scheduled_end, s.time_zone),
  });
  say(message, "error");
  edit(s);
  $("#s-errors").append(el("li", { text: message }));
  $("#editor").scrollIntoView({ block: "start" });
  $("#s-end").focus();
}

// -- the session form -------------------------------------------------------------------

function localInput(iso) {
  const date = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function resetForm() {
  state.editing = null;
  state.options = {};
  $("#session-form").reset();
  $("#editor-title").textContent = t("admin.create");
  $("#s-tz").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  $("#s-kind").disabled = false;
  kindChanged();

  showHours({});
  showAutoReply(null);
  clear($("#s-errors"));
  hostHint();
}

/** A desk has no end: its end field is hidden, its first-response target shown. */
function kindChanged() {
  const desk = $("#s-kind").value === "desk";
  $("#s-end").closest("label").hidden = desk;
  $("#s-end").required = !desk;
  $("#s-first-response").closest("label").hidden = !desk;
}

function edit(s) {
  state.editing = s.id;
  state.options = s.options;
  $("#editor-title").textContent = t("admin.editing", { title: s.title });
  $("#s-title").value = s.title;
  $("#s-hashtags").value = s.hashtags.join(" ");
  $("#s-host").value = `@${s.host_account.handle}`;
  $("#s-start").value = localInput(s.scheduled_start);
  $("#s-kind").value = s.kind || "event";
  $("#s-kind").disabled = true;
  kindChanged();
  $("#s-end").value = s.scheduled_end ? localInput(s.scheduled_end) : "";
  $("#s-first-response").value = s.first_response_minutes || 60;
  $("#s-tz").value = s.time_zone;
  $("#s-language").value = s.language;
  $("#s-description").value = s.description || "";
  $("#s-signature").value = s.options.signature || "";
  $("#s-approval").checked = s.options.require_answer_approval;
  $("#s-announce").checked = s.options.announce;
  $("#s-numbering").checked = s.options.numbering;
  $("#s-merged").value = s.options.merged_replies || "thread";
  showHours(s.options);
  showAutoReply(s);
  $("#s-wrap-up").value = s.wrap_up_minutes || 0;
  clear($("#s-errors"));
  hostHint();
  $("#s-title").focus();
}

function formBody() {
  const when = (id) => {
    const value = $(id).value;
    return value ? new Date(value).toISOString() : null;
  };
  const desk = $("#s-kind").value === "desk";
  return {
    ...(state.editing ? {} : { kind: $("#s-kind").value }),
    title: $("#s-title").value.trim(),
    description: $("#s-description").value,
    hashtags: $("#s-hashtags").value.split(/[\s,]+/).filter(Boolean),
    host_account: { handle: $("#s-host").value.trim() },
    scheduled_start: when("#s-start"),
    scheduled_end: desk ? null : when("#s-end"),
    ...(desk ? { first_response_minutes: Number($("#s-first-response").value || 60) } : {}),
    time_zone: $("#s-tz").value.trim() || "UTC",
    language: $("#s-language").value,
    wrap_up_minutes: Number($("#s-wrap-up").value || 0),
    options: {
      ...state.options,
      require_answer_approval: $("#s-approval").checked,
      announce: $("#s-announce").checked,
      numbering: $("#s-numbering").checked,
      merged_replies: $("#s-merged").value,
      signature: $("#s-signature").value.trim() || null,
      ...hoursBody(),
    },
  };
}

function showErrors(list, error) {
  clear(list);
  const fields = fieldErrors(error);
  const entries = Object.entries(fields);
  if (!entries.length) list.append(el("li", { text: error.message }));
  for (const [loc, msg] of entries) list.append(el("li", { text: loc ? `${loc}: ${msg}` : msg }));
}

async function saveSession(event) {
  event.preventDefault();
  const body = formBody();
  try {
    const saved = state.editing
      ? await api("PATCH", sessionUrl(state.editing), body)
      : await api("POST", "/api/sessions", body);
    say(t("admin.saved", { title: saved.title }), "ok");
    resetForm();
    await loadSessions();
    await showDetail(saved.id, { reveal: true });
  } catch (error) {
    showErrors($("#s-errors"), error);
  }
}

// -- one session: roles, intake, spend ----------------------------------------------------

function userName(id) {
  const user = state.users.find((u) => u.id === id);
  return user ? personName(user) : id;
}

/** Show session ``id``'s details; ``reveal``: scroll them into view, their heading focused
 * (they sit below the session form). */
async function showDetail(id, { reveal = false } = {}) {
  state.selected = id;
  const s = await api("GET", sessionUrl(id));
  $("#detail").hidden = false;
  $("#detail-title").textContent = s.title;
  if (reveal) {
    $("#detail-title").focus({ preventScroll: true });
    $("#detail").scrollIntoView({ block: "start" });
  }
  await renderRoles(s);
  if (state.me.is_admin) follow(id);
  await Promise.all([showIntake(id), showSpend(id), state.me.is_admin && showInvitations(id)]);
}

/** Follow the selected session over its admin websocket, so that someone joining by
 * invitation link shows up (and leaves the pending invitations) without a click. */
function follow(id) {
  if (state.live?.sessionId === id) return;
  state.live?.stop();
  const changed = (s) => {
    if (state.selected !== id) return;
    renderRoles(s);
    showInvitations(id);
  };
  state.live = new LiveSocket(id, "admin", {
    onSnapshot: (msg) => changed(msg.session),
    onEvent: (msg) => {
      if (msg.kind === "session.roles_changed" && msg.record) changed(msg.record);
      if (msg.entity === "intake_pause" && state.selected === id) Promise.all([showIntake(id), showSpend(id)]);
      if (msg.entity === "announcement") refreshSeries();
    },
  });
  state.live.start();
}

async function renderRoles(s) {
  const render = ++state.roleRenders;
  // Someone may have joined by invitation link since the staff list was loaded.
  const known = new Set(state.users.map((u) => u.id));
  if (state.me.is_admin && [...s.moderator_ids, ...s.expert_ids].some((uid) => !known.has(uid))) {
    await loadUsers();
  }
  if (render !== state.roleRenders || state.selected !== s.id) return; // outdated meanwhile
  const roles = clear($("#roles"));
  for (const [role, ids] of [["moderator", s.moderator_ids], ["expert", s.expert_ids]]) {
    for (const uid of ids) {
      const remove = state.me.is_admin
        ? el("button", { type: "button", text: t("admin.remove"), onclick: () => revoke(s.id, role, uid) })
        : null;
      roles.append(el("li", {}, `${t(`role.${role}`)}: ${userName(uid)} `, remove));
    }
  }
  if (!roles.children.length) roles.append(el("li", { class: "empty", text: t("admin.roles.none") }));
}

function definitions(target, entries) {
  const list = clear(target);
  for (const [term, value] of entries) {
    if (value === null || value === undefined || value === "") continue;
    list.append(el("dt", { text: term }), el("dd", { text: String(value) }));
  }
}

async function showIntake(id) {
  try {
    const intake = await api("GET", sessionUrl(id, "/intake"));
    $("#intake-mode").value = intake.mode;
    definitions($("#intake"), [
      [t("intake.state"), t(`intake.state.${intake.state}`)],
      [t("intake.lag"), intake.lag_seconds == null ? null : `${intake.lag_seconds.toFixed(1)} s`],
      [t("intake.lastread"), intake.last_read_at ? formatDateTime(intake.last_read_at) : null],
      [t("intake.error"), intake.last_error],
      ...Object.entries(intake.counters || {}).map(([name, n]) => [t(`intake.n.${name}`), n]),
    ]);
  } catch (error) {
    definitions($("#intake"), [[t("intake.state"), error.message]]);
  }
}

/** US dollars, to the tenth of a cent (X's smallest price). */
function usd(value) {
  const locale = document.documentElement.lang === "fr" ? "fr-FR" : "en-US";
  const options = { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 3 };
  return new Intl.NumberFormat(locale, options).format(Number(value));
}

async function showSpend(id) {
  try {
    const spend = await api("GET", sessionUrl(id, "/spend"));
    if (state.selected !== id) return;
    const budget = spend.budget_usd;
    const monthly = spend.monthly_budget_usd;
    const meter = $("#spend-meter");
    meter.hidden = budget == null || Number(budget) <= 0;
    if (!meter.hidden) meter.value = Math.min(Number(spend.total_usd) / Number(budget), 1);
    const spent = budget == null ? usd(spend.total_usd) : t("spend.of", { spent: usd(spend.total_usd), budget: usd(budget) });
    definitions($("#spend"), [
      [t("spend.total"), spent],
      [t("spend.budget"), budget == null ? t("spend.nobudget") : usd(budget)],
      [t("spend.remaining"), spend.remaining_usd == null ? null : usd(spend.remaining_usd)],
      [t("spend.today", { day: spend.day }), usd(spend.today_usd)],
      [t("spend.month", { month: spend.month }), monthly == null ? usd(spend.month_usd) : t("spend.of", { spent: usd(spend.month_usd), budget: usd(monthly) })],
      [t("spend.monthly"), monthly == null ? t("spend.nobudget") : usd(monthly)],
      ...Object.entries(spend.counts || {}).map(([kind, n]) => [
        t(`spend.kind.${kind}`),
        t("spend.line", { n, usd: usd(spend.by_kind_usd[kind] ?? 0) }),
      ]),
    ]);
    if (document.activeElement !== $("#budget")) $("#budget").value = budget ?? "";
    if (document.activeElement !== $("#monthly-budget")) $("#monthly-budget").value = monthly ?? "";
  } catch (error) {
    definitions($("#spend"), [[t("spend.total"), error.message]]);
  }
}

/** Refresh the cost meter every 30 s while the page is visible (events refresh it too), and
 * as soon as it becomes visible again. */
function refreshSpendWhileVisible() {
  const refresh = () => {
    if (document.visibilityState === "visible" && state.selected) showSpend(state.selected);
  };
  setInterval(refresh, SPEND_REFRESH_MS);
  document.addEventListener("visibilitychange", refresh);
}

/** A budget form's submit handler: PUT `{field: value or null}` to the session's `path`. */
function budgetSaver(id, path, field, saved) {
  return async (event) => {
    event.preventDefault();
    if (!state.selected) return;
    const raw = $(`#${id}`).value.trim();
    try {
      await api("PUT", sessionUrl(state.selected, path), { [field]: raw === "" ? null : raw });
      clear($(`#${id}-errors`));
      say(t(saved), "ok");
      await showSpend(state.selected);
    } catch (error) {
      showErrors($(`#${id}-errors`), error);
    }
  };
}

async function assign(event) {
  event.preventDefault();
  if (!state.selected) return;
  try {
    await api("POST", sessionUrl(state.selected, "/roles"), { user_id: $("#r-user").value, role: $("#r-role").value });
    say(t("admin.assigned"), "ok");
    await showDetail(state.selected);
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

async function revoke(id, role, uid) {
  try {
    await api("DELETE", sessionUrl(id, `/roles/${role}/${encodeURIComponent(uid)}`));
    await showDetail(id);
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

async function setMode() {
  if (!state.selected) return;
  try {
    await api("PUT", sessionUrl(state.selected, "/intake/mode"), { mode: $("#intake-mode").value });
    await showIntake(state.selected);
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
}

// -- staff --------------------------------------------------------------------------------

async function loadUsers() {
  state.users = await api("GET", "/api/users");
  const list = clear($("#users"));
  const select = clear($("#r-user"));
  for (const u of state.users) {
    const label = `${personName(u)} · ${t("admin.u.login", { username: u.username })}`;
    const text = `${label}${u.is_admin ? ` · ${t("admin.u.admin")}` : ""}`;
    list.append(el("li", { "data-user": u.id }, text, " ",
      u.disabled ? el("span", { class: "badge", text: t("admin.u.disabled") }) : null, " ",
      u.id === state.me.id ? null : userActions(u)));
    if (!u.disabled) select.append(el("option", { value: u.id, text: label }));
  }
}

/** Disable / enable and delete (confirmed) ``u``: never shown for oneself. */
function userActions(u) {
  const name = personName(u);
  const step = u.disabled ? "enable" : "disable";
  return el("span", { class: "row" },
    el("button", {
      type: "button", "data-action": step, text: t(`admin.u.${step}`),
      "aria-label": t(`admin.u.${step}.label`, { name }), onclick: () => changeUser(u, step),
    }),
    el("button", {
      type: "button", "data-action": "delete", class: "danger", text: t("admin.u.delete"),
      "aria-label": t("admin.u.delete.label", { name }), onclick: () => changeUser(u, "delete"),
    }));
}

async function changeUser(u, step) {
  if (step === "delete") {
    const title = t("admin.u.delete.title", { name: personName(u) });
    if (!(await confirmed(title, t("admin.u.delete.why"), t("admin.u.delete")))) return;
  }
  try {
    if (step === "delete") await api("DELETE", `/api/users/${encodeURIComponent(u.id)}`);
    else await api("POST", `/api/users/${encodeURIComponent(u.id)}/${step}`);
    say(t(`admin.u.done.${step}`, { name: personName(u) }), "ok");
    await loadUsers();
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  // The buttons were drawn again: keep the keyboard where it was.
  const row = document.querySelector(`#users li[data-user="${CSS.escape(u.id)}"]`);
  (row?.querySelector("button") ?? $("#users-title")).focus();
}

async function createUser(event) {
  event.preventDefault();
  try {
    await api("POST", "/api/users", {
      username: $("#u-name").value.trim(),
      password: $("#u-password").value,
      display_name: $("#u-display").value.trim() || null,
      is_admin: $("#u-admin").checked,
    });
    $("#user-form").reset();
    clear($("#u-errors"));
    await loadUsers();
  } catch (error) {
    showErrors($("#u-errors"), error);
  }
}

async function main() {
  state.me = await setupChrome();
  document.addEventListener("langchange", renderSessions);
  document.addEventListener("langchange", () => state.selected && Promise.all([showIntake(state.selected), showSpend(state.selected)]));
  if (!state.me.is_admin) {
    for (const node of document.querySelectorAll(".admin-only")) node.hidden = true;
    $("#not-admin").hidden = false;
  } else {
    setupHours();
    $("#session-form").addEventListener("submit", saveSession);
    $("#s-new").addEventListener("click", resetForm);
    $("#s-kind").addEventListener("change", kindChanged);
    kindChanged();
    $("#role-form").addEventListener("submit", assign);
    setupInvitations();
    $("#intake-mode").addEventListener("change", setMode);
    $("#budget-form").addEventListener("submit", budgetSaver("budget", "/budget", "budget_usd", "budget.saved"));
    $("#monthly-budget-form").addEventListener(
      "submit",
      budgetSaver("monthly-budget", "/monthly-budget", "monthly_budget_usd", "monthly.saved"),
    );
    $("#user-form").addEventListener("submit", createUser);
    refreshSpendWhileVisible();
    $("#s-tz").value ||= Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    await loadUsers();
    await setupXAccounts();
    await setupSeries();
  }
  await loadSessions();
  document.body.dataset.ready = "true";
}

main();
