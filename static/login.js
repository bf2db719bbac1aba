// Moves the waiting page on by itself; without JavaScript the continue button does it.
(function () {
  "use strict";
  var status = document.getElementById("status");
  if (!status) return;
  var form = document.getElementById("continue");
  // Answered before this page even loaded: carry on at once.
  if (status.dataset.status === "accepted") { form.submit(); return; }
  if (status.dataset.status !== "sent") return;
  var texts = {
    accepted: "Confirmed. Continuing…",
    denied: "You refused this login.",
    expired: "No answer in time.",
    unreachable: "Your XMPP address could not be reached."
  };
  function poll() {
    fetch(status.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.status === "sent") { setTimeout(poll, 1000); return; }
        status.textContent = texts[data.status] || data.status;
        status.className = "status status-" + data.status;
        if (data.status === "accepted") { form.submit(); }
        else { setTimeout(function () { window.location.reload(); }, 1200); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 1000);
})();
