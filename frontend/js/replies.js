// The saved replies of a desk on the moderator console (docs/desk.md): list, add, edit and
// delete them. The server checks them (its 422 names the field: title, variables, text);
// each error shows under its field, which is marked invalid.

import { api, fieldErrors } from "./api.js";
import { $, askDialog, el } from "./dom.js";
import { t } from "./i18n.js";

const FIELDS = ["title", "variables", "text"];
let editing = null; // the id of the reply in the form, or null: a new one

function showErrors(fields) {
  for (const name of FIELDS) {
    const message = Object.entries(fields).find(([loc]) => loc.split(".")[0] === name)?.[1];
    const box = $(`#reply-${name}-error`);
    box.textContent = message ? `${t(`replies.field.${name}`)}: ${message}` : "";
    box.hidden = !message;
    $(`#reply-${name}`).toggleAttribute("aria-invalid", Boolean(message));
  }
  const first = FIELDS.find((name) => $(`#reply-${name}`).hasAttribute("aria-invalid"));
  if (first) $(`#reply-${first}`).focus();
}

function fill(reply) {
  editing = reply ? reply.id : null;
  $("#reply-title").value = reply ? reply.title : "";
  $("#reply-variables").value = reply ? reply.variables.join(", ") : "";
  $("#reply-text").value = reply ? reply.text : "";
  $("#reply-form-title").textContent = reply ? t("replies.edit.title", { title: reply.title }) : t("replies.new");
  $("#reply-cancel").hidden = !reply;
  showErrors({});
}

/** Wire the form of the saved replies of session ``sid``; ``say`` tells the outcome. */
export function setupReplies(sid, say) {
  const base = `/api/sessions/${encodeURIComponent(sid)}/saved-replies`;
  $("#reply-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      title: $("#reply-title").value,
      variables: $("#reply-variables").value.split(/[\s,]+/).filter(Boolean),
      text: $("#reply-text").value,
    };
    try {
      const saved = editing
        ? await api("PUT", `${base}/${encodeURIComponent(editing)}`, body)
        : await api("POST", base, body);
      say(t("replies.saved", { title: saved.title }), "ok");
      fill(null);
    } catch (error) {
      const fields = fieldErrors(error);
      if (Object.keys(fields).length) showErrors(fields);
      else say(t("error.action", { detail: error.message }), "error");
    }
  });
  $("#reply-cancel").addEventListener("click", () => {
    fill(null);
    $("#reply-title").focus();
  });
  document.addEventListener("langchange", () => {
    if (!editing) $("#reply-form-title").textContent = t("replies.new");
  });
  return async (reply) => {
    $("#reply-delete-text").textContent = reply.title;
    if ((await askDialog($("#reply-delete-dialog"))) !== "delete") return;
    try {
      await api("DELETE", `${base}/${encodeURIComponent(reply.id)}`);
      say(t("replies.deleted", { title: reply.title }), "ok");
      if (editing === reply.id) fill(null);
    } catch (error) {
      say(t("error.action", { detail: error.message }), "error");
    }
  };
}

/** The list of ``session``'s saved replies (a desk's; hidden otherwise), each with its
 * edit and delete buttons (``remove``: what setupReplies returned). */
export function showReplies(session, remove) {
  const section = $("#saved-replies");
  section.hidden = session.kind !== "desk";
  const replies = session.saved_replies || [];
  $("#replies-list").replaceChildren(
    ...(replies.length ? [] : [el("li", { class: "hint", text: t("replies.none") })]),
    ...replies.map((reply) => el("li", { class: "saved-reply" },
      el("strong", { text: reply.title }),
      el("p", { class: "saved-reply-text", text: reply.text }),
      el("div", { class: "row" },
        el("button", {
          type: "button",
          text: t("replies.edit"),
          "aria-label": t("replies.edit.label", { title: reply.title }),
          onclick: () => {
            fill(reply);
            $("#reply-title").focus();
          },
        }),
        el("button", {
          type: "button",
          class: "danger",
          text: t("replies.delete"),
          "aria-label": t("replies.delete.label", { title: reply.title }),
          onclick: () => remove(reply),
        })))));
}
