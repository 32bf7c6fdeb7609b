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

/** The string for ``key`` with {name} placeholders filled from ``params``. A count string
 * is a table of plural forms ({"one": "{n} post", "other": "{n} posts"}): the form is the
 * one Intl.PluralRules picks for ``params.n`` in the language shown. */
export function t(key, params = {}) {
  const raw = pick(tables[current], current, key, params) ?? pick(tables.en, "en", key, params) ?? key;
  return raw.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

function pick(table, lang, key, params) {
  const value = table ? table[key] : undefined;
  if (value === undefined || typeof value === "string") return value;
  const form = new Intl.PluralRules(lang).select(Number(params.n));
  return value[form] ?? value.other;
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

/** A duration as people read it: "42 s", "4.5 s", "1 min 05 s", "2 h 03 min". */
export function formatDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  const locale = current === "fr" ? "fr-FR" : "en-GB";
  if (seconds < 10 && !Number.isInteger(seconds)) {
    const s = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 }).format(seconds);
    return t("duration.s", { s });
  }
  const whole = Math.round(seconds);
  const two = (n) => String(n).padStart(2, "0");
  if (whole < 60) return t("duration.s", { s: whole });
  if (whole < 3600) return t("duration.ms", { m: Math.floor(whole / 60), s: two(whole % 60) });
  return t("duration.hm", { h: Math.floor(whole / 3600), m: two(Math.floor((whole % 3600) / 60)) });
}

// -- times: every time shown is in the session's zone, labelled with the zone's short name
// ("15:04 CET"); the server writes the same form (shown_time in atexpert/domain/clock.py).

const LOCALES = { en: "en-GB", fr: "fr-FR" };

/** The zone's short name: an abbreviation where English has one (CET, BST, EST, UTC), else
 * the offset (GMT+9); the same in both languages. */
export function zoneName(date, timeZone) {
  let found = "";
  for (const locale of ["en-GB", "en-US"]) {
    const parts = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: "short" }).formatToParts(date);
    found = (parts.find((p) => p.type === "timeZoneName") || {}).value || found;
    if (!/^GMT[+-]/.test(found)) return found;
  }
  return found;
}

function format(iso, timeZone, withDate) {
  if (!iso) return "";
  const date = new Date(iso);
  const zone = { timeZone: timeZone || undefined };
  try {
    const locale = LOCALES[current] || LOCALES.en;
    const time = new Intl.DateTimeFormat(locale, { ...zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" }).format(date);
    const label = `${time} ${zoneName(date, zone.timeZone)}`;
    if (!withDate) return label;
    const day = new Intl.DateTimeFormat(locale, { ...zone, day: "numeric", month: "short", year: "numeric" }).format(date);
    return `${day}, ${label}`;
  } catch {
    return date.toISOString();
  }
}

/** "15:04 CET": the time of ``iso`` in ``timeZone`` (the browser's when not given). */
export function formatTime(iso, timeZone) {
  return format(iso, timeZone, false);
}

/** "6 Dec 2026, 15:04 CET" ("6 déc. 2026, 15:04 CET" in French). */
export function formatDateTime(iso, timeZone) {
  return format(iso, timeZone, true);
}
