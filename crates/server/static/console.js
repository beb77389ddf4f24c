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
  if (status) status.textContent = label + " copied to the clipboard.";
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

// Close the account menu with Escape and return focus to its button.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.account-menu[open]").forEach((menu) => {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });
});
