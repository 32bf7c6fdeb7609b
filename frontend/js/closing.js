// Closing a session: the banner every console shows once a session wraps up or closes,
// and the admin's confirmation dialog (what is still unanswered or on its way to X, and
// what to do with the answers still queued).

import { api } from "./api.js";
import { $, askDialog, clear, el } from "./dom.js";
import { formatDateTime, t } from "./i18n.js";

const ENDING = ["wrapping_up", "closed", "archived"];

/** Show (or hide) ``#session-ended`` for ``session``; ``audience`` "staff" or "public". */
export function showSessionEnded(session, audience = "staff") {
  const banner = $("#session-ended");
  if (!banner) return;
  const status = session && ENDING.includes(session.status) ? session.status : null;
  banner.hidden = !status;
  document.body.dataset.sessionStatus = session ? session.status : "";
  if (!status) return;
  const until = formatDateTime(session.wrap_up_until, session.time_zone);
  const key = status === "wrapping_up" ? "wrapping_up" : "closed";
  banner.textContent = t(`closing.${audience}.${key}`, { until });
}

function questionLine(q) {
  return `@${(q.author || {}).handle || "?"}: ${q.display_text || q.text}`;
}

/** An empty ``list`` is hidden, its "None." line ``none`` shown instead (no blank space). */
function showEmpty(list, none) {
  list.hidden = list.children.length === 0;
  none.hidden = !list.hidden;
}

/** Ask the admin to confirm closing ``session``; the ``queued`` choice ("post" or
 * "cancel"), or null when the admin keeps it open. */
export async function confirmClose(session) {
  const base = `/api/sessions/${encodeURIComponent(session.id)}`;
  const [approved, answers] = await Promise.all([
    api("GET", `${base}/questions?status=approved&limit=500`),
    api("GET", `${base}/answers`),
  ]);
  const inFlight = answers.filter((a) => ["queued", "publishing"].includes(a.status));
  const dialog = $("#close-dialog");
  $("#close-title").textContent = t("closing.title", { title: session.title });
  const wrapUp = session.status === "live" && session.wrap_up_minutes > 0;
  $("#close-wrap-up").hidden = !wrapUp;
  $("#close-wrap-up").textContent = wrapUp ? t("closing.wrapup", { n: session.wrap_up_minutes }) : "";
  const unanswered = clear($("#close-unanswered"));
  for (const q of approved) unanswered.append(el("li", { "data-question": q.id, text: questionLine(q) }));
  showEmpty(unanswered, $("#close-unanswered-none"));
  const flying = clear($("#close-in-flight"));
  const asked = new Map(approved.map((q) => [q.id, q]));
  for (const a of inFlight) {
    flying.append(el("li", { "data-answer": a.id },
      el("span", { class: "badge", text: t(`answer.status.${a.status}`) }), " ",
      a.question_ids.map((id) => asked.get(id)).filter(Boolean).map(questionLine).join(" · ") || a.text));
  }
  showEmpty(flying, $("#close-in-flight-none"));
  $("#close-choice").hidden = inFlight.length === 0;
  $("#close-post").checked = true;
  const answer = await askDialog(dialog);
  if (answer !== "close") return null;
  return $("#close-cancel").checked ? "cancel" : "post";
}
