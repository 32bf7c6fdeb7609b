// The client-side mirror of a session, shared by every console: the live socket's
// snapshot, then its events folded in. ``state`` holds ``session``, ``questions`` and
// ``answers`` (Maps by id), ``intake_pause`` (whether intake is paused, and why) and, on
// the staff consoles, the settings by name (``automod``) and a series occurrence's
// ``announcements`` (a Map by id: the minutes before the start).
// The newest version of a record wins: an HTTP reply may arrive after the events it
// caused, so an older record than the one held is ignored. Records without a version
// (the public view's) always replace the one held.

const LISTS = { question: "questions", answer: "answers", announcement: "announcements" };

/** ``record`` unless ``held`` is a newer version of it. */
export function newer(held, record) {
  return held && held.version > record.version ? held : record;
}

/** Keep ``record`` (of ``entity``: a record type or a setting) unless it is older. */
export function keep(state, entity, record) {
  const list = LISTS[entity];
  if (list) state[list].set(record.id, newer(state[list].get(record.id), record));
  else state[entity] = newer(state[entity], record);
}

/** Replace the session and its records with those of a ``snapshot`` message. */
export function applySnapshot(state, msg) {
  state.session = msg.session;
  state.questions = new Map(msg.questions.map((q) => [q.id, q]));
  state.answers = new Map(msg.answers.map((a) => [a.id, a]));
  state.intake_pause = msg.intake_pause ?? null;
  state.announcements = new Map((msg.announcements ?? []).map((a) => [a.id, a]));
}

/** Fold an ``event`` message: its record, or none when the record left this view. */
export function applyEvent(state, msg) {
  const list = LISTS[msg.entity];
  if (msg.record) keep(state, msg.entity, msg.record);
  else if (list) state[list].delete(msg.entity_id);
  else state[msg.entity] = null;
}
