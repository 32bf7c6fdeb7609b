// The keyboard guard of the consoles: a key press never acts on a question that became
// selected less than SETTLE_MS before. The question under the cursor changes without the
// user's doing (the next one slides in after an approval, a new one arrives in an empty
// queue): pressing `a` twice quickly must not approve a question nobody has read.

import { say } from "./chrome.js";
import { t } from "./i18n.js";

/** How long (ms) a newly selected question is held from key presses. */
export const SETTLE_MS = 400;

/** Watches the selection of ``list`` (a listbox); while a new selection settles, the list
 * carries data-settling="true". */
export class SelectionGuard {
  constructor(list) {
    this.list = list;
    this.id = null;
    this.since = -Infinity;
    this.timer = null;
    this.heldAt = -Infinity;
  }

  /** Tell the guard which question is selected now (null: none); a change restarts the
   * wait. */
  selected(id) {
    if (id === this.id) return;
    this.id = id;
    this.since = performance.now();
    this.list.dataset.settling = "true";
    clearTimeout(this.timer);
    this.timer = setTimeout(() => delete this.list.dataset.settling, SETTLE_MS);
  }

  /** Whether a key may act on the selected question now; if not, the user is told why. */
  allows() {
    if (performance.now() - this.since >= SETTLE_MS) return true;
    this.heldAt = performance.now();
    say(t("keys.held"), "warn");
    return false;
  }

  /** The notice to add to the outcome of an action started at ``start`` (a
   * performance.now() time) when a key was held meanwhile: the outcome must not hide it. */
  heldNote(start) {
    return this.heldAt >= start ? ` ${t("keys.held")}` : "";
  }
}
