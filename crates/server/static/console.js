// Robot Accounts console: small enhancements. Every flow works without this
// file except the copy buttons.
"use strict";

// Copy buttons: <button data-copy="input-id">.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector(".copy-status");
  const label = field.labels && field.labels[0] ? field.labels[0].textContent : "Value";
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (_) {
    field.select();
    document.execCommand("copy");
  }
  if (status) status.textContent = "Copied the " + label + " to the clipboard.";
});

// The credentials screen: the Token must never be shown again. Make this
// history entry point at the robot's page, so reloading or coming back
// loads that page instead, and blank the secret when the page is left, in
// case the browser keeps it in its back/forward cache.
const credentials = document.getElementById("credentials");
if (credentials) {
  history.replaceState(null, "", credentials.dataset.leaveTo);
  window.addEventListener("pagehide", () => {
    document.querySelectorAll("[data-secret]").forEach((input) => { input.value = ""; });
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) location.reload();
  });
}

// The account menu (a details disclosure) closes with Escape, returning
// focus to its button, and with a click or focus anywhere outside it.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.account-menu[open]").forEach((menu) => {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });
});
const closeMenusOutside = (event) => {
  document.querySelectorAll("details.account-menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
};
document.addEventListener("click", closeMenusOutside);
document.addEventListener("focusin", closeMenusOutside);

// A refused form: an error summary at its top, focused so it is read out
// first, with a link to each field in error. (The messages are beside their
// fields, tied to them with aria-describedby, with or without this script.)
const refused = [...document.querySelectorAll("form")].find((form) => form.querySelector(".field-error"));
if (refused) {
  const summary = document.createElement("div");
  summary.className = "error-summary";
  summary.tabIndex = -1;
  summary.setAttribute("aria-labelledby", "error-summary-title");
  const title = document.createElement("h2");
  title.id = "error-summary-title";
  const errors = [...refused.querySelectorAll(".field-error")];
  title.textContent = errors.length === 1 ? "There is a problem" : `There are ${errors.length} problems`;
  const list = document.createElement("ul");
  for (const error of errors) {
    const field = refused.querySelector(`[aria-describedby~="${error.id}"]`);
    const label = field && field.labels && field.labels[0] ? field.labels[0].textContent.trim() : "";
    const link = document.createElement("a");
    link.href = field ? `#${field.id}` : "#";
    link.textContent = label ? `${label}: ${error.textContent}` : error.textContent;
    link.addEventListener("click", (event) => {
      if (!field) return;
      event.preventDefault();
      field.focus();
    });
    const item = document.createElement("li");
    item.append(link);
    list.append(item);
  }
  summary.append(title, list);
  refused.prepend(summary);
  summary.focus();
}
