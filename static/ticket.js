// The ticket page on a phone: refreshes the ticket's status in place every 15 seconds while it
// is live (no page reload, no lost scroll or focus), and stops once the ticket is final.
(function () {
  "use strict";
  var ticket = document.getElementById("ticket");
  if (!ticket || ticket.getAttribute("data-live") !== "true" || !window.fetch || !window.DOMParser) { return; }
  function update() {
    fetch(window.location.pathname, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("ticket");
        if (!fresh) { return; }
        ticket.innerHTML = fresh.innerHTML;
        ticket.setAttribute("data-live", fresh.getAttribute("data-live"));
        if (fresh.getAttribute("data-live") === "true") { window.setTimeout(update, 15000); }
      })
      .catch(function () { window.setTimeout(update, 30000); });
  }
  window.setTimeout(update, 15000);
})();
