// Moves a login page on by itself: once a request is accepted in the XMPP app, it
// continues; when the login changes otherwise (refused, expired, or the page's code sent
// from an app) the page reloads to say so. A code sent from an app is never continued
// without a click: the page first shows whose address sent it. Without JavaScript the
// buttons do the same. Its words come from the page (data-text-*), in the page's language;
// the request's countdown is formatted by the browser for that language.
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
    accepted: status.dataset.textAccepted,
    denied: status.dataset.textDenied,
    expired: status.dataset.textExpired,
    unreachable: status.dataset.textUnreachable
  };
  countDown(document.getElementById("expiry"));
  function show(data) {
    if (offline) {
      offline.hidden = !data.offline;
      if (data.offline && help) help.open = true;
    }
  }
  // The server answers when the status changes (or after a while, unchanged): a long poll.
  var url = status.dataset.url + "?wait=" + encodeURIComponent(initial);
  function poll() {
    var asked = Date.now();
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        // The page expired or was used elsewhere: nothing more to wait for.
        if (r.status >= 400 && r.status < 500) return null;
        if (!r.ok) throw new Error(r.status);
        return r.json();
      })
      .then(function (data) {
        if (!data) return;
        show(data);
        // Unchanged: ask again, at once after a long wait, else in a second.
        if (data.status === initial) { setTimeout(poll, Date.now() - asked < 1000 ? 1000 : 0); return; }
        status.textContent = texts[data.status] || "";
        status.className = "status status-" + data.status;
        if (data.status === "accepted" && initial === "sent" && !data.by_code) { form.submit(); }
        else { setTimeout(function () { window.location.reload(); }, 1200); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  poll();

  // "expires in 90 seconds", one second less each second, in the page's language.
  function countDown(expiry) {
    var shown = expiry && expiry.querySelector(".countdown");
    if (!shown || !window.Intl || !Intl.NumberFormat) return;
    var left = parseInt(expiry.dataset.remaining, 10);
    var started = Date.now();
    var format;
    try {
      format = new Intl.NumberFormat(document.documentElement.lang,
        { style: "unit", unit: "second", unitDisplay: "long" });
    } catch (e) { return; }
    function tick() {
      var now = Math.max(0, left - Math.floor((Date.now() - started) / 1000));
      shown.textContent = format.format(now);
      if (now > 0) setTimeout(tick, 1000);
    }
    setTimeout(tick, 1000);
  }
})();
