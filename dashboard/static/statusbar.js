// Plate status bar on every page: says clearly when a load cell stops answering.
// Two feeds (docs/live-stream.md): pages with a live stream (run, live, training) pass on
// each SSE `health` message as a `stepplate:health` document event (~once a second, and at
// once when a fault starts), which is shown immediately; every page also polls the live
// blueprint's /api/status every POLL_MS as the fallback (and for the connection state).
(function () {
  "use strict";
  var POLL_MS = 500;
  var bar = document.getElementById("statusbar");
  if (!bar) return;
  var url = bar.getAttribute("data-url");
  var last = {};
  function item(k) { return bar.querySelector('[data-k="' + k + '"]'); }
  function ageText(s) {
    if (s == null) return "";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }
  function render(st) {
    last = st;
    var cal = st.calibration;
    var calText = typeof cal === "object" && cal ? (cal.source || "") + (cal.age_s != null ? ", " + ageText(cal.age_s) + " old" : "") : (cal || "?");
    item("backend").textContent = "plate: " + (st.backend || "?") +
      (st.state === "reconnecting" ? " (plate reconnecting…)" : st.connected === false ? " (not connected)" : "");
    item("calibration").textContent = "calibration: " + calText;
    var chips = st.chips || [];
    var dead = chips.filter(function (c) { return c.ok === false || c.ready === false || c.answering === false; });
    item("chips").textContent = "load cells: " + (chips.length ? (chips.length - dead.length) + "/" + chips.length + " ok" : "?");
    var rate = st.achieved_sps != null ? st.achieved_sps : st.achieved_rate_hz;
    item("rate").textContent = "rate: " + (rate != null ? Number(rate).toFixed(1) + " Hz" : "?") + (st.rate_hz ? " / " + st.rate_hz : "");
    var msgs = (st.messages || []).slice();
    dead.forEach(function (c) { var m = c.message || ("Load cell " + (c.corner || c.name || "?") + " is not answering — check its cable and HX711 board."); if (msgs.indexOf(m) < 0) msgs.unshift(m); });
    item("message").textContent = msgs.join(" ");
    bar.classList.toggle("bad", !st.ok || dead.length > 0 || st.connected === false);
    bar.classList.toggle("good", !!st.ok && dead.length === 0);
  }
  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(render)
      .catch(function () {
        item("message").textContent = "Plate status unavailable (dashboard cannot reach the acquisition process).";
        bar.classList.add("bad");
      })
      .then(function () { setTimeout(poll, POLL_MS); });
  }
  // a health message from the acquisition (via a page's SSE stream): the plate is connected
  function onHealth(h) {
    if (!h || typeof h !== "object") return;
    render(Object.assign({}, last, {
      connected: true, state: "connected", ok: !!h.ok, chips: h.chips || [], messages: h.messages || [],
      achieved_sps: h.achieved_sps, rate_hz: h.rate_hz || last.rate_hz, backend: h.backend || last.backend,
      tared: h.tared
    }));
  }
  document.addEventListener("stepplate:health", function (e) { onHealth(e.detail); });
  document.addEventListener("stepplate:status", function (e) { if (e.detail) render(e.detail); });
  poll();
})();
