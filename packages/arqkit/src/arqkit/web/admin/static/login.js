// Trades the admin token for the HttpOnly session cookie, then shows the dashboard.
"use strict";

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.hidden = true;
  const response = await fetch("/admin/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: document.getElementById("token").value }),
  });
  if (response.ok) {
    window.location.reload();
    return;
  }
  const body = await response.json().catch(() => ({}));
  error.textContent = typeof body.detail === "string" ? body.detail : "could not sign in";
  error.hidden = false;
});
