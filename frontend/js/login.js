// The login page: POST /api/login, then back to where the user was going.

import { api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { bindLangSwitch, initI18n, t } from "./i18n.js";

/** Where to go after logging in: ``?next=`` when it is a path of this site, else "/" (which
 * sends each person to their console: see landing_path in atexpert/web/pages.py).
 * Resolved as a URL, so "//host", "/\\host" or a tab or newline hidden in it cannot lead
 * elsewhere. */
function nextPath() {
  const next = new URLSearchParams(location.search).get("next");
  if (!next || !next.startsWith("/")) return "/";
  try {
    const url = new URL(next, location.origin);
    if (url.origin === location.origin) return url.pathname + url.search + url.hash;
  } catch {
    // not a URL at all
  }
  return "/";
}

async function submit(event) {
  event.preventDefault();
  const error = $("#login-error");
  error.textContent = "";
  const username = $("#username").value.trim();
  const password = $("#password").value;
  if (!username || !password) {
    error.textContent = t("login.missing");
    return;
  }
  try {
    await api("POST", "/api/login", { username, password });
    location.assign(nextPath());
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) error.textContent = t("login.wrong");
    else if (err instanceof ApiError && err.status === 429) {
      error.textContent = t("login.locked", { seconds: err.retryAfter ?? 60 });
    }
    else error.textContent = t("error.action", { detail: err.message });
  }
}

async function main() {
  await initI18n();
  bindLangSwitch($("#lang"));
  $("#login-form").addEventListener("submit", submit);
  $("#username").focus();
}

main();
