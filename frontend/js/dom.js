// Small DOM helpers. Text always goes through textContent, never through HTML parsing.

/** Create an element: el("li", {class: "q", text: "hi", "aria-selected": "true"}, child...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = value;
    else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

export function $(selector, root = document) {
  const found = root.querySelector(selector);
  if (!found) throw new Error(`missing element ${selector}`);
  return found;
}

/** Whether a key event was typed into a field (shortcuts must not fire there). */
export function typing(event) {
  const target = event.target;
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

/** The session id from a path like /sessions/{id}/moderate or /live/{id}. */
export function sessionIdFromPath() {
  const match = location.pathname.match(/^\/(?:sessions|live)\/([A-Za-z0-9_-]{1,64})/);
  return match ? match[1] : null;
}

/** Open a modal ``dialog`` whose buttons submit its form; resolves with the value of the
 * button pressed, or null on Escape. Listens to this very opening only: a "close" event may
 * be a late one from the previous opening. */
export function askDialog(dialog) {
  const form = dialog.querySelector("form");
  return new Promise((resolve) => {
    const done = (value) => {
      form.removeEventListener("submit", onSubmit);
      dialog.removeEventListener("cancel", onCancel);
      resolve(value);
    };
    const onSubmit = (event) => done(event.submitter ? event.submitter.value : null);
    const onCancel = () => done(null);
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

/** Ask in the page's ``#confirm-dialog`` (never window.confirm): its ``title``, ``why`` and
 * the ``yes`` button's text, all translated; whether ``yes`` was pressed. */
export async function confirmed(title, why, yes) {
  $("#confirm-title").textContent = title;
  $("#confirm-why").textContent = why;
  $("#confirm-yes").textContent = yes;
  return (await askDialog($("#confirm-dialog"))) === "confirm";
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.flush = () => {
    clearTimeout(timer);
  };
  return wrapped;
}

let postLink = "https://x.com/{handle}/status/{id}";

/** Where posts are linked to: the server's ``x_post_link`` (see loadPostLinks in chrome.js). */
export function setPostLink(template) {
  postLink = template;
}

/** A link to a post on the configured X (ids are digits; handles are checked by the server). */
export function postUrl(handle, tweetId) {
  return postLink
    .replace("{handle}", encodeURIComponent(handle || "i"))
    .replace("{id}", encodeURIComponent(tweetId));
}

/** ``text`` as nodes where each http(s) URL is a link (rel noopener nofollow ugc): text
 * nodes and anchors built by hand, never parsed HTML. */
export function linkified(text) {
  const nodes = [];
  let at = 0;
  text = String(text);
  for (const match of text.matchAll(/https?:\/\/[^\s<>"]+/g)) {
    const raw = match[0].replace(/[.,;:!?)\]'’»]+$/u, "");
    let url = null;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (!["http:", "https:"].includes(url.protocol)) continue;
    nodes.push(document.createTextNode(text.slice(at, match.index)));
    nodes.push(el("a", { href: url.href, rel: "noopener nofollow ugc", target: "_blank", text: raw }));
    at = match.index + raw.length;
  }
  nodes.push(document.createTextNode(text.slice(at)));
  return nodes;
}
