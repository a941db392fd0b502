// Plate status bar on every page: polls the live blueprint's /api/status (JSON; see
// docs/live-stream.md) every 2 s and says clearly when a load cell stops answering.
(function () {
  "use strict";
  var bar = document.getElementById("statusbar");
  if (!bar) return;
  var url = bar.getAttribute("data-url");
  function item(k) { return bar.querySelector('[data-k="' + k + '"]'); }
  function ageText(s) {
    if (s == null) return "";
    if (s < 3600) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }
  function render(st) {
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
      .then(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
