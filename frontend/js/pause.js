// The banner of the moderator and expert consoles while intake is paused: why, in plain
// words. It follows the session's ``intake_pause`` record (its live view's snapshot and
// ``intake_pause.changed`` events, folded by mirror.js) and hides when intake resumes.

import { $ } from "./dom.js";
import { t } from "./i18n.js";

/** A function that shows or hides ``#intake-pause`` from ``state.intake_pause``; it also
 * follows language changes. */
export function pauseBanner(state) {
  const show = () => {
    const banner = $("#intake-pause");
    const pause = state.intake_pause;
    banner.hidden = !(pause && pause.paused);
    banner.textContent = banner.hidden ? "" : t(`pause.${pause.reason}`);
  };
  document.addEventListener("langchange", show);
  return show;
}
