// What every console shares: language switch, who is logged in, log out, the pages' links,
// connection state.

import { api, logout, requireLogin } from "./api.js";
import { $, el, setPostLink } from "./dom.js";
import { bindLangSwitch, initI18n, t } from "./i18n.js";

/** Set up the page chrome; resolves with the logged-in user (or null when ``login`` is
 * false). */
export async function setupChrome({ login = true } = {}) {
  await Promise.all([initI18n(), loadPostLinks()]);
  bindLangSwitch($("#lang"));
  if (!login) return null;
  const who = await requireLogin();
  staffNames.set(who.user.username, personName(who.user));
  $("#whoami").textContent = personName(who.user);
  $("#logout").addEventListener("click", () => logout());
  const nav = document.getElementById("nav");
  if (nav) renderNav(nav, who.user);
  return who.user;
}

/** The links between the staff pages, in a page's ``<nav id="nav">``. */
function renderNav(nav, user) {
  const pages = [["/sessions", "nav.sessions"], ["/admin", "nav.admin"], ["/live", "nav.public"]]
    .filter(([href]) => user.is_admin || href !== "/admin");
  const render = () => {
    nav.replaceChildren(...pages.map(([href, key]) => el("a", {
      href, text: t(key), "aria-current": location.pathname === href ? "page" : null,
    })));
  };
  document.addEventListener("langchange", render);
  render();
}

/** Link posts to the configured X (x.com, or the emulator's timeline page); x.com on error. */
export async function loadPostLinks() {
  try {
    setPostLink((await api("GET", "/api/public/links")).x_post_link);
  } catch {
    // the links keep pointing to x.com
  }
}

/** How a staff person is named on every page: their display name (the username is the
 * key events and records use, never shown when a name is known). */
export function personName(user) {
  return user.display_name || user.username;
}

const staffNames = new Map();

/** The name of the staff person whose username (e.g. an event's actor) or id is
 * ``username``. */
export function staffName(username) {
  return staffNames.get(username) || username;
}

/** Learn the names of the people who may act on session ``sid``; usernames stay on error. */
export async function loadStaffNames(sid) {
  try {
    for (const person of await api("GET", `/api/sessions/${encodeURIComponent(sid)}/staff`)) {
      staffNames.set(person.username, person.name);
      staffNames.set(person.id, person.name); // a desk's agents and assignees are ids
    }
  } catch {
    // the usernames are shown instead
  }
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
