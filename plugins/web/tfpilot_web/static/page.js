// Small progressive enhancements (a file: the CSP allows scripts from this origin only).
// 1. <time datetime> in the reader's time zone, with the zone named and a relative time.
// 2. After a failed submit, focus the first invalid field.
(function () {
  "use strict";
  function relative(ms) {
    var s = Math.round(ms / 1000), a = Math.abs(s), unit, n;
    if (a < 60) { n = s; unit = "second"; }
    else if (a < 3600) { n = Math.round(s / 60); unit = "minute"; }
    else if (a < 86400) { n = Math.round(s / 3600); unit = "hour"; }
    else { n = Math.round(s / 86400); unit = "day"; }
    try { return new Intl.RelativeTimeFormat(undefined, { numeric: "auto" }).format(n, unit); }
    catch (e) { return ""; }
  }
  function localise(root) {
    var nodes = (root || document).querySelectorAll("time[datetime]:not([data-local])");
    nodes.forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) { return; }
      var text = d.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
        timeZoneName: "short"
      });
      t.title = t.textContent;
      t.textContent = text + " (" + relative(d.getTime() - Date.now()) + ")";
      t.setAttribute("data-local", "1");
    });
  }
  function focusFirstError() {
    var bad = document.querySelector("[aria-invalid='true']");
    if (bad) { bad.focus(); }
  }
  document.addEventListener("DOMContentLoaded", function () { localise(); focusFirstError(); });
  document.addEventListener("htmx:afterSettle", function (e) { localise(e.target); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { localise(e.target); });
})();
