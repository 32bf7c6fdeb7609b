// French and English strings: tables in /static/i18n/{lang}.json, applied to elements
// carrying data-i18n (textContent), data-i18n-placeholder, data-i18n-label (aria-label)
// and data-i18n-title. The choice is kept in localStorage.

const LANGS = ["en", "fr"];
const STORAGE_KEY = "atexpert.lang";
const tables = {};
let current = "en";

async function load(lang) {
  if (!tables[lang]) {
    const response = await fetch(`/static/i18n/${lang}.json`, { credentials: "same-origin" });
    tables[lang] = await response.json();
  }
  return tables[lang];
}

function stored() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGS.includes(value) ? value : null;
  } catch {
    return null;
  }
}

function browserLang() {
  const tag = (navigator.language || "en").toLowerCase();
  return tag.startsWith("fr") ? "fr" : "en";
}

/** Load the tables and apply the language: the user's choice, else ``fallback``, else the
 * browser's. */
export async function initI18n(fallback) {
  await load("en");
  await use(stored() || (LANGS.includes(fallback) ? fallback : browserLang()));
}

/** A session's language applies unless the user picked one. */
export async function sessionLanguage(lang) {
  if (!stored() && LANGS.includes(lang) && lang !== current) await use(lang);
}

export async function setLang(lang) {
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // private mode: the choice lasts for this page only
  }
  await use(lang);
}

async function use(lang) {
  await load(lang);
  current = lang;
  document.documentElement.lang = lang;
  applyI18n(document);
  document.dispatchEvent(new CustomEvent("langchange", { detail: { lang } }));
}

/** The string for ``key`` with {name} placeholders filled from ``params``. */
export function t(key, params = {}) {
  const raw = (tables[current] && tables[current][key]) ?? (tables.en && tables.en[key]) ?? key;
  return raw.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The plural form of ``key`` for ``n`` (``key.one``, ``key.other``... as Intl.PluralRules
 * names them in the current language), with {n} and ``params`` filled. */
export function tn(key, n, params = {}) {
  const form = `${key}.${new Intl.PluralRules(current).select(n)}`;
  const known = (tables[current] && form in tables[current]) || (tables.en && form in tables.en);
  return t(known ? form : `${key}.other`, { n, ...params });
}

/** A price in US dollars, to the tenth of a cent (X's rate card has such prices). */
export function formatUsd(amount) {
  return new Intl.NumberFormat(current === "fr" ? "fr-FR" : "en-US", {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 3,
  }).format(Number(amount));
}

function applyI18n(root) {
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) {
    node.setAttribute("placeholder", t(node.dataset.i18nPlaceholder));
  }
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) {
    node.setAttribute("title", t(node.dataset.i18nTitle));
  }
  const title = document.querySelector("title[data-i18n]");
  if (title) document.title = title.textContent;
}

/** Wire a <select> as the language switch. */
export function bindLangSwitch(select) {
  select.value = current;
  select.addEventListener("change", () => setLang(select.value));
  document.addEventListener("langchange", () => {
    select.value = current;
  });
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return new Intl.DateTimeFormat(current === "fr" ? "fr-FR" : "en-GB", {
    hour: "2-digit",
    minute: "2-digit",
  }).format(date);
}

export function formatDateTime(iso, timeZone) {
  if (!iso) return "";
  const options = { dateStyle: "medium", timeStyle: "short" };
  try {
    if (timeZone) options.timeZone = timeZone;
    return new Intl.DateTimeFormat(current === "fr" ? "fr-FR" : "en-GB", options).format(
      new Date(iso),
    );
  } catch {
    return new Date(iso).toISOString();
  }
}
