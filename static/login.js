// Moves a login page on by itself: once a request is accepted in the XMPP app, it
// continues; when the login changes otherwise (refused, expired, or the page's code sent
// from an app) the page reloads to say so. A code sent from an app is never continued
// without a click: the page first shows whose address sent it. Without JavaScript the
// buttons do the same.
(function () {
  "use strict";
  var status = document.getElementById("status");
  var form = document.getElementById("continue");
  if (!status || !form) return;
  var initial = status.dataset.status;
  // Confirmed before this page even loaded: carry on at once (after a request only).
  if (initial === "accepted") {
    if (status.dataset.auto !== "false") form.submit();
    return;
  }
  var offline = document.getElementById("offline");
  var help = document.getElementById("help");
  var texts = {
    accepted: "Confirmed. Continuing…",
    denied: "You refused this login.",
    expired: "No answer in time.",
    unreachable: "Your XMPP address could not be reached."
  };
  function show(data) {
    if (offline) {
      offline.hidden = !data.offline;
      if (data.offline && help) help.open = true;
    }
  }
  function poll() {
    fetch(status.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        // The page expired or was used elsewhere: nothing more to wait for.
        if (r.status >= 400 && r.status < 500) return null;
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (data) {
        if (!data) return;
        show(data);
        if (data.status === initial) { setTimeout(poll, 1000); return; }
        status.textContent = texts[data.status] || "";
        status.className = "status status-" + data.status;
        if (data.status === "accepted" && initial === "sent" && !data.by_code) { form.submit(); }
        else { setTimeout(function () { window.location.reload(); }, 1200); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
