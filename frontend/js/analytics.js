// The staff analytics page (rendered by the server): the consoles' header, and durations
// written as people read them ("1 min 05 s") in the chosen language.

import { setupChrome } from "./chrome.js";
import { formatDuration } from "./i18n.js";

function render() {
  for (const node of document.querySelectorAll("[data-seconds]")) {
    node.textContent = formatDuration(Number(node.dataset.seconds));
  }
}

async function main() {
  await setupChrome();
  document.addEventListener("langchange", render);
  render();
}

main();
