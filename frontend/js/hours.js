// The business hours fields of the admin's session form: weekly windows the admin adds and
// removes (a small repeated fieldset), closed dates, what happens outside the hours, and the
// automatic reply as an asker would get it now.

import { api } from "./api.js";
import { $, clear, el } from "./dom.js";
import { formatDateTime, formatUsd, t } from "./i18n.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const FIRST_WINDOW = { days: ["mon", "tue", "wed", "thu", "fri"], opens: "08:00", closes: "20:00" };

let drawn = 0; // ids for the labels of the windows drawn so far
let previewed = null; // the session whose automatic reply is (being) shown

/** One weekly window's fieldset; ``number``: its place, ``removable``: with a remove button. */
function windowFieldset(window, number, removable) {
  const id = `s-window-${++drawn}`;
  const days = el("div", { class: "row", role: "group", "aria-labelledby": `${id}-days` },
    el("span", { id: `${id}-days`, text: t("admin.f.hours.days") }), " ",
    ...DAYS.map((day) => el("label", { class: "inline" },
      el("input", { type: "checkbox", value: day, checked: window.days.includes(day) }), " ",
      el("span", { text: t(`day.${day}`) }))));
  const time = (key, field, value) => el("label", {},
    el("span", { text: t(key) }), el("input", { type: "time", "data-field": field, value }));
  return el("fieldset", { class: "window", "data-window": "" },
    el("legend", { text: t("admin.f.hours.window", { n: number }) }),
    days,
    time("admin.f.hours.opens", "opens", window.opens.slice(0, 5)),
    time("admin.f.hours.closes", "closes", window.closes.slice(0, 5)),
    removable
      ? el("button", {
        type: "button", text: t("admin.f.hours.remove"),
        "aria-label": t("admin.f.hours.remove.label", { n: number }),
        onclick: () => removeWindow(number - 1),
      })
      : null);
}

/** The weekly windows as the form holds them. */
function formWindows() {
  return [...document.querySelectorAll("#s-windows [data-window]")].map((box) => ({
    days: [...box.querySelectorAll("input[type=checkbox]:checked")].map((day) => day.value),
    opens: box.querySelector("[data-field=opens]").value,
    closes: box.querySelector("[data-field=closes]").value,
  }));
}

function drawWindows(windows) {
  const list = clear($("#s-windows"));
  windows.forEach((window, i) => list.append(windowFieldset(window, i + 1, windows.length > 1)));
}

function addWindow() {
  const windows = formWindows();
  drawWindows([...windows, { days: [], opens: "08:00", closes: "20:00" }]);
  const added = [...document.querySelectorAll("#s-windows [data-window]")].at(-1);
  added.querySelector("input").focus();
}

function removeWindow(index) {
  const windows = formWindows();
  windows.splice(index, 1);
  drawWindows(windows);
  const boxes = document.querySelectorAll("#s-windows [data-window]");
  boxes[Math.min(index, boxes.length - 1)].querySelector("input").focus();
}

/** Wire the add button; windows are drawn again (values kept) when the language changes. */
export function setupHours() {
  $("#s-window-add").addEventListener("click", addWindow);
  document.addEventListener("langchange", () => drawWindows(formWindows()));
  drawWindows([FIRST_WINDOW]);
}

/** The business hours fields from a session's options (``{}``: a new session's). */
export function showHours(options) {
  const hours = options.business_hours;
  $("#s-hours-on").checked = Boolean(hours);
  drawWindows(hours?.windows.length ? hours.windows : [FIRST_WINDOW]);
  $("#s-closed").value = hours ? hours.closed_dates.join(" ") : "";
  $("#s-after").value = options.after_hours || "pause";
  if (options.auto_reply_text) $("#s-auto-reply").value = options.auto_reply_text;
}

/** The options of the business hours fields. */
export function hoursBody() {
  const body = { after_hours: $("#s-after").value };
  const text = $("#s-auto-reply").value.trim();
  if (text) body.auto_reply_text = text;
  if (!$("#s-hours-on").checked) return { ...body, business_hours: null };
  const closed = $("#s-closed").value.split(/[\s,]+/).filter(Boolean);
  return { ...body, business_hours: { windows: formWindows(), closed_dates: closed } };
}

/** Beside the reply's text: the saved session ``s``'s automatic reply at its longest, its
 * length as X counts it, its price, and whether the desk is open now; hidden for a new one. */
export async function showAutoReply(s) {
  const box = $("#s-auto-reply-preview");
  box.hidden = !s;
  previewed = s?.id ?? null;
  if (!s) return;
  let preview;
  try {
    preview = await api("GET", `/api/sessions/${encodeURIComponent(s.id)}/auto-reply`);
  } catch {
    preview = null;
  }
  if (previewed !== s.id) return; // another session was opened meanwhile
  box.hidden = !preview;
  if (!preview) return;
  $("#s-ar-text").textContent = preview.text;
  const length = $("#s-ar-length");
  length.textContent = t("admin.f.autoreply.length", { n: preview.weighted_length, max: preview.max_length });
  length.classList.toggle("over", preview.weighted_length > preview.max_length);
  $("#s-ar-price").textContent = t("admin.f.autoreply.price", { usd: formatUsd(preview.price_usd) });
  const when = preview.next_change ? formatDateTime(preview.next_change, s.time_zone) : null;
  const now = preview.open_now ? "open" : "closed";
  $("#s-ar-now").textContent = t(`admin.f.autoreply.${now}${when ? ".until" : ""}`, { when });
  $("#s-ar-off").hidden = preview.enabled;
}
