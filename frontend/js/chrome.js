// What every console shares: language switch, who is logged in, log out, connection state.

import { logout, requireLogin } from "./api.js";
import { $ } from "./dom.js";
import { bindLangSwitch, initI18n, t } from "./i18n.js";

/** Set up the page chrome; resolves with the logged-in user (or null when ``login`` is
 * false). */
export async function setupChrome({ login = true } = {}) {
  await initI18n();
  bindLangSwitch($("#lang"));
  if (!login) return null;
  const who = await requireLogin();
  $("#whoami").textContent = who.user.display_name || who.user.username;
  $("#logout").addEventListener("click", () => logout());
  return who.user;
}

/** A LiveSocket onStatus handler writing into the #conn element. */
export function connectionIndicator() {
  const node = $("#conn");
  let last = "connecting";
  const render = () => {
    node.dataset.state = last;
    node.textContent = t(`conn.${last}`);
  };
  document.addEventListener("langchange", render);
  render();
  return (state) => {
    last = state;
    render();
  };
}

/** Announce ``message`` in the page's status region (role=status, polite). */
export function say(message, kind = "info") {
  const node = $("#status");
  node.dataset.kind = kind;
  node.textContent = message;
}
