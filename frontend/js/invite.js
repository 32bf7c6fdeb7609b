// The invitation page (/invite/<secret>): what the link invites to, then join as the
// logged-in user, or create a staff account; on success, go to the session's console.

import { api, ApiError, fieldErrors, me } from "./api.js";
import { personName } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { bindLangSwitch, formatDateTime, initI18n, sessionLanguage, t } from "./i18n.js";

const state = { secret: null, invitation: null, who: null, gone: null };

function secretFromPath() {
  const match = location.pathname.match(/^\/invite\/([A-Za-z0-9_-]{20,100})$/);
  return match ? match[1] : null;
}

function acceptUrl() {
  return `/api/invitations/${encodeURIComponent(state.secret)}/accept`;
}

/** Why the link cannot be used, from an API error code. */
function goneMessage(code) {
  if (code === "invitation_used") return t("invite.gone.used");
  if (code === "invitation_revoked") return t("invite.gone.revoked");
  if (code === "invitation_expired") return t("invite.gone.expired");
  if (code === "session_closed") return t("invite.gone.closed");
  return t("invite.gone.unknown");
}

function render() {
  $("#invite-loading").hidden = true;
  if (state.gone) {
    $("#invite").hidden = true;
    $("#invite-gone").hidden = false;
    $("#invite-gone-text").textContent = goneMessage(state.gone);
    return;
  }
  const inv = state.invitation;
  if (!inv) return;
  $("#invite").hidden = false;
  const title = inv.session_title;
  $("#invite-what").textContent = inv.role === "expert"
    ? t("invite.what.expert", { title })
    : t("invite.what.moderator", { title });
  $("#invite-note").hidden = !inv.note;
  $("#invite-note").textContent = inv.note ? t("invite.note", { note: inv.note }) : "";
  $("#invite-expires").textContent = t("invite.expires", { when: formatDateTime(inv.expires_at) });
  $("#join").hidden = !state.who;
  $("#signup").hidden = Boolean(state.who);
  if (state.who) {
    const user = state.who.user;
    $("#join-button").textContent = t("invite.join", { name: personName(user) });
  }
}

function showErrors(messages) {
  const list = clear($("#invite-errors"));
  for (const message of messages) list.append(el("li", { text: message }));
}

/** Show what went wrong with an accept call: the link is gone, or the form needs a fix. */
function failed(error) {
  if (error instanceof ApiError && (error.status === 410 || error.status === 404
      || error.code === "session_closed")) {
    state.gone = error.code;
    render();
    return;
  }
  if (error instanceof ApiError && error.status === 409) {
    showErrors([t("invite.taken")]);
    $("#su-username").focus();
    return;
  }
  const fields = error instanceof ApiError ? Object.entries(fieldErrors(error)) : [];
  showErrors(fields.length
    ? fields.map(([loc, msg]) => (loc ? `${loc}: ${msg}` : msg))
    : [t("error.action", { detail: error.message })]);
}

function joined(out) {
  location.assign(out.console);
}

async function join() {
  const button = $("#join-button");
  button.disabled = true;
  showErrors([]);
  try {
    joined(await api("POST", acceptUrl(), {}));
  } catch (error) {
    failed(error);
    button.disabled = false;
  }
}

async function signup(event) {
  event.preventDefault();
  const username = $("#su-username").value.trim();
  const password = $("#su-password").value;
  if (!username || password.length < 12) {
    showErrors([t("invite.missing")]);
    return;
  }
  if (password !== $("#su-confirm").value) {
    showErrors([t("invite.mismatch")]);
    $("#su-confirm").focus();
    return;
  }
  showErrors([]);
  const displayName = $("#su-display").value.trim();
  try {
    joined(await api("POST", acceptUrl(), {
      username,
      password,
      ...(displayName ? { display_name: displayName } : {}),
    }));
  } catch (error) {
    failed(error);
  }
}

async function switchAccount() {
  try {
    await api("POST", "/api/logout");
  } catch (error) {
    showErrors([t("error.action", { detail: error.message })]);
    return;
  }
  state.who = null;
  render();
  $("#su-username").focus();
}

async function main() {
  await initI18n();
  bindLangSwitch($("#lang"));
  document.addEventListener("langchange", render);
  state.secret = secretFromPath();
  $("#invite-login").setAttribute("href", `/login?next=${encodeURIComponent(location.pathname)}`);
  $("#join-button").addEventListener("click", join);
  $("#switch-account").addEventListener("click", switchAccount);
  $("#signup").addEventListener("submit", signup);
  if (!state.secret) {
    state.gone = "not_found";
  } else {
    try {
      state.invitation = await api("GET", `/api/invitations/${encodeURIComponent(state.secret)}`);
      state.who = await me();
      await sessionLanguage(state.invitation.language);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      state.gone = error.code;
    }
  }
  render();
  document.body.dataset.ready = "true";
}

main();
