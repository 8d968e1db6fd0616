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
  // 3. Typing an opt-out's justification does not re-run the form's policy preview (it would
  //    replace the field being typed in); leaving the field (a change event) does.
  document.addEventListener("input", function (e) {
    if (e.target && e.target.closest && e.target.closest(".opt-out")) { e.stopPropagation(); }
  }, true);
  // 4. A form with data-stream (the chat's Ask) posts there and shows the server-sent events
  //    as they come: the model asked, its output as it writes it, the query, the answer.
  //    Anything unsupported or failing falls back to the plain post (one response).
  function part(live, name) { return live.querySelector("[data-part='" + name + "']"); }
  function show(live, name, text, append) {
    var el = part(live, name);
    if (!el) { return; }
    el.hidden = false;
    el.textContent = append ? el.textContent + text : text;
  }
  function onEvent(live, kind, data) {
    if (kind === "model") { show(live, "status", "Asking the model " + data.model + "…"); }
    else if (kind === "model_text") { show(live, "model", data.text, true); }
    else if (kind === "query") {
      show(live, "status", "Running the query (" + data.answered_by + ")…");
      show(live, "query", JSON.stringify(data.query, null, 2));
    } else if (kind === "answer") {
      // The finished turn joins the history as the page renders it; the live area keeps
      // only how it was made (the status, and what a model wrote).
      show(live, "status", data.answered_by ? "Answered (" + data.answered_by + ")." : "");
      ["question", "query"].forEach(function (n) { part(live, n).hidden = true; });
      addTurn(data);
    } else if (kind === "error") { show(live, "status", data.message); }
    else if (kind === "done") { live.setAttribute("data-done", "1"); }
  }
  function element(tag, attrs, text) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }
  function addTurn(data) {
    var log = document.querySelector("[data-testid='ask-log']");
    if (!log) { return; }
    var none = log.querySelector(":scope > p.muted");
    if (none) { none.remove(); }
    var turn = element("div", { "class": "turn" });
    var mine = element("p", { "class": "me" });
    mine.appendChild(element("span", { "class": "bubble" }, data.question));
    turn.appendChild(mine);
    var said = element("p");
    said.appendChild(element("span", { "class": "bubble", "data-testid": "answer" }, data.answer));
    (data.suggestions || []).forEach(function (s) {
      said.appendChild(element("br"));
      said.appendChild(element("span", { "class": "hint" }, s));
    });
    turn.appendChild(said);
    if ((data.requests || []).length) {
      var links = element("p", {}, "Requests: ");
      data.requests.forEach(function (id, i) {
        if (i) { links.appendChild(document.createTextNode(", ")); }
        links.appendChild(element("a", { href: "/requests/" + encodeURIComponent(id) }, id));
      });
      turn.appendChild(links);
    }
    if (data.query) {
      var details = element("details", { open: "" });
      details.appendChild(element("summary", {}, "Query it ran (" + data.answered_by + ")"));
      details.appendChild(element("pre", { "class": "query", "data-testid": "query" }, data.query));
      turn.appendChild(details);
    }
    log.insertBefore(turn, log.firstChild);
  }
  function streamed(form) {
    var live = document.getElementById("ask-live");
    if (!live || !window.fetch || !window.TextDecoder || !window.ReadableStream) { return false; }
    var body = new FormData(form);
    ["status", "model", "query"].forEach(function (n) {
      var el = part(live, n);
      if (el) { el.textContent = ""; if (n === "model" || n === "query") { el.hidden = true; } }
    });
    live.removeAttribute("data-done");
    live.hidden = false;
    show(live, "question", body.get("question") || "");
    show(live, "status", "Reading the question…");
    fetch(form.getAttribute("data-stream"), {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "text/event-stream" }
    }).then(function (response) {
      if (!response.ok || !response.body) { throw new Error("HTTP " + response.status); }
      var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        return reader.read().then(function (r) {
          if (r.done) { return; }
          buffer += decoder.decode(r.value, { stream: true });
          var at;
          while ((at = buffer.indexOf("\n\n")) >= 0) {
            var block = buffer.slice(0, at), kind = "message", data = "";
            buffer = buffer.slice(at + 2);
            block.split("\n").forEach(function (line) {
              if (line.indexOf("event: ") === 0) { kind = line.slice(7); }
              else if (line.indexOf("data: ") === 0) { data += line.slice(6); }
            });
            onEvent(live, kind, data ? JSON.parse(data) : {});
          }
          return pump();
        });
      }
      return pump();
    }).catch(function () { form.removeAttribute("data-stream"); form.submit(); });
    return true;
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (form && form.getAttribute && form.getAttribute("data-stream") && streamed(form)) {
      e.preventDefault();
    }
  });
  document.addEventListener("DOMContentLoaded", function () { localise(); focusFirstError(); });
  document.addEventListener("htmx:afterSettle", function (e) { localise(e.target); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { localise(e.target); });
})();
