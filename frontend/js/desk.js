// Desk mode in the consoles (the rules of atexpert/domain/desk.py): a waiting question's
// waiting time (ticking, from its received time) and whether it is past the desk's
// first-response target, who is on duty, and assignment.

import { el } from "./dom.js";
import { formatDuration, t } from "./i18n.js";

/** The statuses of a question still waiting for its first response. */
export const WAITING = ["pending", "approved"];

export function isDesk(session) {
  return Boolean(session && session.kind === "desk");
}

function waitedSeconds(receivedAt, now = Date.now()) {
  return Math.max(0, (now - Date.parse(receivedAt)) / 1000);
}

/** Whether ``q`` waits past the desk's first-response target at ``now`` (ms). */
export function pastTarget(q, session, now = Date.now()) {
  return waitedSeconds(q.received_at, now) >= session.first_response_minutes * 60;
}

/** The desk's order: the questions assigned to ``me`` (a staff user id) first, then the
 * others, each group oldest first. */
export function deskOrder(me) {
  return (a, b) =>
    Number(b.assignee === me) - Number(a.assignee === me) ||
    (a.received_at || "").localeCompare(b.received_at || "") ||
    a.id.localeCompare(b.id);
}

/** The ticking waiting time of a waiting question on a desk (null otherwise): text and an
 * icon say when it is past the target, not the colour alone. */
export function waitingChip(q, session) {
  if (!isDesk(session) || !WAITING.includes(q.status)) return null;
  const chip = el("span", {
    class: "waiting",
    "data-received": q.received_at,
    "data-target": String(session.first_response_minutes * 60),
  });
  updateChip(chip);
  return chip;
}

function updateChip(chip, now = Date.now()) {
  const seconds = Math.floor(waitedSeconds(chip.dataset.received, now));
  const late = seconds >= Number(chip.dataset.target);
  const d = formatDuration(seconds);
  chip.classList.toggle("late", late);
  chip.textContent = late ? `⚠ ${t("desk.late", { d })}` : t("desk.waiting", { d });
}

/** Keep every waiting time of the page ticking (once a second). */
export function startTicker() {
  const tick = () => document.querySelectorAll(".waiting[data-received]").forEach((c) => updateChip(c));
  document.addEventListener("langchange", tick);
  return setInterval(tick, 1000);
}

/** "Assigned to you" / "Assigned to Ada", or null when unassigned. */
export function assigneeChip(q, me, name) {
  if (!q.assignee) return null;
  const mine = q.assignee === me;
  return el("span", {
    class: mine ? "assignee mine" : "assignee",
    text: mine ? t("desk.assigned.me") : t("desk.assigned.to", { who: name(q.assignee) }),
  });
}

/** The desk panel of a console: who is on duty and, for an agent, a shift button. */
export function dutyPanel(panel, session, me, name, { agent, onShift }) {
  const onDuty = session.on_duty || [];
  const names = onDuty.map((id) => (id === me ? t("presence.you", { who: name(id) }) : name(id)));
  const list = el("p", { class: "on-duty", id: "on-duty" },
    el("strong", { text: t("desk.on_duty") }), " ",
    names.length ? names.join(", ") : t("desk.on_duty.none"));
  const children = [list];
  if (agent) {
    const on = onDuty.includes(me);
    children.push(el("button", {
      type: "button",
      id: "shift",
      "aria-pressed": on ? "true" : "false",
      text: on ? t("desk.shift.end") : t("desk.shift.start"),
      onclick: () => onShift(!on),
    }));
  }
  panel.replaceChildren(...children);
  panel.hidden = !isDesk(session);
}

/** Assign ``q`` to an agent on duty (or no one), with an optional hand-over note. */
export function assignForm(q, session, name, onAssign) {
  const select = el("select", { id: "assignee", "aria-labelledby": "assignee-label" },
    el("option", { value: "", text: t("desk.assign.none") }),
    ...(session.on_duty || []).map((id) =>
      el("option", { value: id, text: name(id), selected: id === q.assignee })));
  const note = el("input", { id: "handover-note", maxlength: "500", "aria-labelledby": "handover-label" });
  return el("form", {
    class: "row assign-form",
    onsubmit: (event) => {
      event.preventDefault();
      onAssign(select.value || null, note.value.trim() || null);
    },
  },
  el("label", {}, el("span", { id: "assignee-label", text: t("desk.assign.to") }), select),
  el("label", {}, el("span", { id: "handover-label", text: t("desk.handover.note") }), note),
  el("button", { type: "submit", id: "assign", text: t("desk.assign") }),
  q.handover_note ? el("p", { class: "hint handover", text: t("desk.handover.was", { note: q.handover_note }) }) : null);
}
