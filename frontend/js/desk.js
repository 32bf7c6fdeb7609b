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

/** The desk's target changed (``session.target_changed``): every waiting time shown
 * follows it at once, kept list items included. */
export function retarget(session) {
  if (!isDesk(session)) return;
  for (const chip of document.querySelectorAll(".waiting[data-received]")) {
    chip.dataset.target = String(session.first_response_minutes * 60);
    updateChip(chip);
  }
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

/** The saved-reply picker of the answer editor: choose a reply, fill its free variables,
 * see it filled in with its weighted length on X (``fill``: the server's fill of the
 * reply for the current question), and insert it (``insert``: the filled text). */
export function replyPicker(box, session, { fill, insert }) {
  const replies = session.saved_replies || [];
  box.hidden = replies.length === 0;
  const chosen = box.querySelector("#reply");
  const keep = chosen ? chosen.value : "";
  const select = el("select", { id: "reply", "aria-labelledby": "reply-label" },
    el("option", { value: "", text: t("desk.reply.pick") }),
    ...replies.map((r) => el("option", { value: r.id, text: r.title, selected: r.id === keep })));
  const values = el("div", { class: "row reply-values" });
  const preview = el("p", { class: "reply-preview", id: "reply-preview", "aria-live": "polite" });
  const button = el("button", { type: "button", id: "reply-insert", text: t("desk.reply.insert") });
  const current = () => replies.find((r) => r.id === select.value);
  const filled = async () => {
    const reply = current();
    if (!reply) return null;
    const given = Object.fromEntries([...values.querySelectorAll("input")].map((i) => [i.name, i.value]));
    return fill(reply, given);
  };
  const show = async () => {
    preview.textContent = "";
    const reply = current();
    if (!reply || reply.variables.some((v) => !values.querySelector(`input[name="${v}"]`).value.trim())) return;
    const done = await filled().catch(() => null);
    if (done) preview.textContent = t("desk.reply.preview", { text: done.text, n: done.weighted_length });
  };
  select.addEventListener("change", () => {
    const reply = current();
    values.replaceChildren(...(reply ? reply.variables : []).map((name) =>
      el("label", {}, el("span", { text: name }), el("input", { name, maxlength: "200", oninput: show }))));
    show();
  });
  button.addEventListener("click", async () => {
    const done = await filled();
    if (done) insert(done.text);
  });
  box.replaceChildren(el("label", {}, el("span", { id: "reply-label", text: t("desk.reply") }), select), values, preview, button);
  if (keep) select.dispatchEvent(new Event("change"));
}

/** The asker's earlier questions in this session, newest first, with their answers. */
export function renderHistory(box, list, items, when) {
  box.hidden = items.length === 0;
  list.replaceChildren(...items.map(({ question, answer }) => el("li", { class: "history-item" },
    el("p", {}, el("time", { datetime: question.received_at, text: when(question.received_at) }), " ",
      el("span", { class: `badge status-${question.status}`, text: t(`status.${question.status}`) }), " ",
      el("span", { class: "q-text", text: question.display_text ?? question.text })),
    el("p", { class: answer ? "history-answer" : "hint", text: answer ? t("desk.history.answer", { text: answer.text }) : t("desk.history.none") }))));
}
