// The brand's X accounts on the admin page (admins only): the connected accounts, connecting
// one (X's consent page, OAuth 2.0 with PKCE), disconnecting, the way back from X
// (/admin?x_connected=<handle> or ?x_error=<why>), and the session form's hint telling
// whether the host account it names is connected.

import { api, fieldErrors } from "./api.js";
import { say } from "./chrome.js";
import { $, clear, confirmed, el } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";

const HANDLE = /^@?([A-Za-z0-9_]{1,15})$/;
const RETURN_PARAMS = ["x_connected", "x_error"];
const MAX_ERROR_LENGTH = 300;

let accounts = [];

function handleOf(raw) {
  const match = HANDLE.exec((raw || "").trim());
  return match ? match[1] : null;
}

function connected(handle) {
  const lower = handle.toLowerCase();
  return accounts.find((a) => a.handle.toLowerCase() === lower) || null;
}

// -- the list -----------------------------------------------------------------------------

async function load() {
  try {
    accounts = await api("GET", "/api/x/accounts");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  render();
}

function access(a) {
  if (a.needs_reconnect) return el("span", { class: "badge status-rejected", text: t("admin.x.reconnect.needed") });
  const renewed = a.scopes.includes("offline.access");
  return el("div", {},
    t(renewed ? "admin.x.token.renewed" : "admin.x.token.until", { time: formatDateTime(a.expires_at) }),
    el("div", { class: "hint", text: a.scopes.join(" ") }));
}

function render() {
  const body = clear($("#x-list"));
  $("#x-empty").hidden = accounts.length > 0;
  for (const a of accounts) {
    const actions = el("div", { class: "row" },
      a.needs_reconnect
        ? el("button", { type: "button", class: "primary", text: t("admin.x.reconnect"), onclick: () => connect(a.handle) })
        : null,
      el("button", { type: "button", text: t("admin.x.disconnect"), onclick: () => disconnect(a) }));
    body.append(el("tr", { "data-handle": a.handle },
      el("th", { scope: "row" }, `@${a.handle}`, a.name ? el("div", { class: "hint", text: a.name }) : null),
      el("td", { text: t("admin.x.connectedby", { time: formatDateTime(a.connected_at), user: a.connected_by }) }),
      el("td", {}, access(a)),
      el("td", {}, actions)));
  }
  hostHint();
}

/** Under the session form's "Host X account": is the account it names connected? */
export function hostHint() {
  const hint = $("#s-host-hint");
  const handle = handleOf($("#s-host").value);
  const account = handle && connected(handle);
  hint.dataset.state = !handle ? "" : !account ? "missing" : account.needs_reconnect ? "reconnect" : "ok";
  if (!handle) hint.textContent = "";
  else if (!account) hint.textContent = t("admin.x.host.missing");
  else if (account.needs_reconnect) hint.textContent = t("admin.x.host.reconnect", { handle: account.handle });
  else hint.textContent = t("admin.x.host.ok", { handle: account.handle });
}

// -- connecting and disconnecting ---------------------------------------------------------

async function connect(handle) {
  const errors = clear($("#x-errors"));
  try {
    const started = await api("POST", "/api/x/connect", handle ? { handle } : {});
    say(t("admin.x.redirecting"));
    location.assign(started.authorize_url);
  } catch (error) {
    const fields = Object.values(fieldErrors(error));
    errors.append(el("li", { text: fields.length ? fields.join(" ") : error.message }));
  }
}

async function disconnect(account) {
  const title = t("admin.x.disconnect.title", { handle: account.handle });
  if (!(await confirmed(title, t("admin.x.disconnect.why"), t("admin.x.disconnect")))) return;
  try {
    await api("DELETE", `/api/x/accounts/${encodeURIComponent(account.handle)}`);
    say(t("admin.x.disconnected", { handle: account.handle }), "ok");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  await load();
  $("#x-handle").focus();
}

// -- back from X --------------------------------------------------------------------------

/** Announce what the callback reported, and drop it from the address (a reload or a
 * bookmark must not announce it again). */
function announceReturn() {
  const params = new URLSearchParams(location.search);
  if (!RETURN_PARAMS.some((name) => params.has(name))) return;
  const handle = handleOf(params.get("x_connected"));
  const why = params.get("x_error");
  for (const name of RETURN_PARAMS) params.delete(name);
  const query = params.toString();
  history.replaceState(history.state, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  if (handle) say(t("admin.x.connected", { handle }), "ok");
  else if (why) say(t("admin.x.failed", { detail: why.slice(0, MAX_ERROR_LENGTH) }), "error");
}

export async function setupXAccounts() {
  $("#x-form").addEventListener("submit", (event) => {
    event.preventDefault();
    connect($("#x-handle").value.trim());
  });
  $("#s-host").addEventListener("input", hostHint);
  document.addEventListener("langchange", render);
  await load();
  announceReturn();
}
