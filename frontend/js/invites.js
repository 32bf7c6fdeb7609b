// The "Invite by link" part of a session's details on the admin page: create a link (shown
// once, with a Copy button), list the pending invitations, revoke one.

import { api, fieldErrors } from "./api.js";
import { say } from "./chrome.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";

let shown = null; // the session whose invitations are on screen
let calls = 0; // showInvitations calls so far: only the latest one renders

function invitationsUrl(sessionId, tail = "") {
  return `/api/sessions/${encodeURIComponent(sessionId)}/invitations${tail}`;
}

function showErrors(error) {
  const list = clear($("#i-errors"));
  if (!error) return;
  const entries = Object.entries(fieldErrors(error));
  if (!entries.length) list.append(el("li", { text: error.message }));
  for (const [loc, msg] of entries) list.append(el("li", { text: loc ? `${loc}: ${msg}` : msg }));
}

/** Show the pending invitations of ``sessionId`` (and forget a link made for another). */
export async function showInvitations(sessionId) {
  if (shown !== sessionId) {
    $("#invite-created").hidden = true;
    $("#invite-url").value = "";
    showErrors(null);
  }
  shown = sessionId;
  const call = ++calls;
  let pending = [];
  let failed = null;
  try {
    pending = await api("GET", invitationsUrl(sessionId));
  } catch (error) {
    failed = error;
  }
  if (call !== calls) return; // a later call (maybe for another session) renders instead
  const list = clear($("#invitations"));
  if (failed) {
    list.append(el("li", { class: "error", text: failed.message }));
    return;
  }
  if (!pending.length) list.append(el("li", { class: "empty", text: t("admin.invite.none") }));
  for (const inv of pending) {
    const what = [t(`role.${inv.role}`), inv.note].filter(Boolean).join(" · ");
    const until = t("admin.invite.expires", { when: formatDateTime(inv.expires_at) });
    list.append(el("li", { "data-invitation": inv.id },
      `${what} · ${until} `,
      el("button", {
        type: "button",
        text: t("admin.invite.revoke"),
        "aria-label": t("admin.invite.revoke.label", { what }),
        onclick: () => revoke(inv),
      })));
  }
}

async function create(event) {
  event.preventDefault();
  if (!shown) return;
  const note = $("#i-note").value.trim();
  try {
    const out = await api("POST", invitationsUrl(shown), {
      role: $("#i-role").value,
      note: note || null,
      expires_in_hours: Number($("#i-expiry").value),
    });
    showErrors(null);
    $("#invite-form").reset();
    $("#invite-url").value = out.url;
    $("#invite-created").hidden = false;
    $("#invite-url").select();
    say(t("admin.invite.created"), "ok");
    await showInvitations(shown);
  } catch (error) {
    showErrors(error);
  }
}

async function copy() {
  const input = $("#invite-url");
  try {
    await navigator.clipboard.writeText(input.value);
    say(t("admin.invite.copied"), "ok");
  } catch {
    // No clipboard access (insecure context, permission): select it for Ctrl+C.
    input.focus();
    input.select();
    say(t("admin.invite.select"), "warn");
  }
}

async function revoke(inv) {
  try {
    await api("DELETE", invitationsUrl(inv.session_id, `/${encodeURIComponent(inv.id)}`));
    say(t("admin.invite.revoked"), "ok");
  } catch (error) {
    say(t("error.action", { detail: error.message }), "error");
  }
  if (shown) await showInvitations(shown);
}

export function setupInvitations() {
  $("#invite-form").addEventListener("submit", create);
  $("#invite-copy").addEventListener("click", copy);
  document.addEventListener("langchange", () => {
    if (shown) showInvitations(shown);
  });
}
