// Pure helpers on question records: text shown, filters, sort orders, similarity.

export const STATUSES = ["pending", "approved", "answered", "rejected", "merged"];

export function shownText(q) {
  return q.display_text ?? q.text ?? "";
}

function norm(value) {
  return String(value || "").toLocaleLowerCase();
}

/** Whether ``q`` passes the filters {status, text, author, tag} (empty ones pass). */
export function matches(q, filters) {
  if (filters.status && q.status !== filters.status) return false;
  const text = norm(filters.text).trim();
  if (text && !norm(q.text).includes(text) && !norm(q.display_text).includes(text)) return false;
  const author = norm(filters.author).trim().replace(/^@/, "");
  if (author) {
    const who = q.author || {};
    if (!norm(who.handle).includes(author) && !norm(who.name).includes(author)) return false;
  }
  const tag = norm(filters.tag).trim();
  if (tag && !(q.tags || []).some((t) => norm(t).startsWith(tag))) return false;
  return true;
}

function byTime(a, b) {
  return (a.created_at || "").localeCompare(b.created_at || "") || a.id.localeCompare(b.id);
}

/** The moderators' order: priority, then stars, then oldest first. */
export function byModeratorOrder(a, b) {
  return (b.priority || 0) - (a.priority || 0) || Number(b.starred) - Number(a.starred) || byTime(a, b);
}

export const SORTS = {
  newest: (a, b) => byTime(b, a),
  oldest: byTime,
  priority: byModeratorOrder,
  followers: (a, b) => ((b.author || {}).followers || 0) - ((a.author || {}).followers || 0) || byTime(b, a),
  likes: (a, b) => (b.likes || 0) - (a.likes || 0) || byTime(b, a),
};

function words(text) {
  return new Set(
    norm(text)
      .replace(/https?:\/\/\S+/g, " ")
      .replace(/[@#][\w]+/g, " ")
      .split(/[^\p{L}\p{N}]+/u)
      .filter((w) => w.length > 2),
  );
}

/** Jaccard similarity of the two questions' words, 0..1. */
export function similarity(a, b) {
  const x = words(shownText(a));
  const y = words(shownText(b));
  if (!x.size || !y.size) return 0;
  let common = 0;
  for (const w of x) if (y.has(w)) common += 1;
  return common / (x.size + y.size - common);
}

/** The askers of questions merged into each question (following chains of merges), by
 * question id, one per author and none who asked that question: those the publisher
 * answers too (the rule of atexpert/domain/merged.py). */
export function mergedAskers(all) {
  const byId = new Map(all.map((o) => [o.id, o]));
  const target = (o) => {
    let id = o.merged_into;
    const seen = new Set([o.id]);
    for (let next = byId.get(id); next && next.status === "merged" && next.merged_into && !seen.has(id); next = byId.get(id)) {
      seen.add(id);
      id = next.merged_into;
    }
    return id;
  };
  const merged = all
    .filter((o) => o.status === "merged" && o.merged_into)
    .sort((a, b) => (a.received_at || "").localeCompare(b.received_at || "") || a.id.localeCompare(b.id));
  const out = new Map();
  const authors = new Map();
  for (const o of merged) {
    const id = target(o);
    const seen = authors.get(id) || new Set([((byId.get(id) || {}).author || {}).id]);
    authors.set(id, seen);
    const who = o.author || {};
    if (seen.has(who.id)) continue;
    seen.add(who.id);
    out.set(id, [...(out.get(id) || []), who]);
  }
  return out;
}

/** Questions ``q`` may be merged into, most similar first. */
export function mergeCandidates(q, all, limit = 5) {
  return all
    .filter((o) => o.id !== q.id && ["pending", "approved", "answered"].includes(o.status))
    .map((o) => ({ question: o, score: similarity(q, o) }))
    .sort((a, b) => b.score - a.score || byTime(a.question, b.question))
    .slice(0, limit);
}
