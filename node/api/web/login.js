// login.js -- exchanges the one-time token in the URL's fragment (never
// sent in a request line, never logged) for a session cookie, removes it
// from the address bar and history, and opens the wallet.
"use strict";
(function () {
  const status = document.getElementById("login-status");
  const token = location.hash.slice(1);
  history.replaceState(null, "", "/login");
  if (!/^[0-9a-f]{64}$/.test(token)) {
    status.textContent = "This address holds no login token: copy the whole line that " +
      "'kula web' printed, or run it again.";
    return;
  }
  fetch("/web/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: token })
  }).then(function (r) {
    return r.json().then(function (j) { return { ok: r.ok, j: j }; });
  }).then(function (x) {
    if (x.ok) {
      location.replace("/");
    } else {
      status.textContent = "Not logged in: " + (x.j.error || "the node refused the token");
    }
  }).catch(function () {
    status.textContent = "Not logged in: the node does not answer. Is kulad running?";
  });
})();
