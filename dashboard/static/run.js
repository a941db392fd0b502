// Guided protocol run: instructions -> countdown -> live view while recording -> result.
// Live data: Server-Sent Events from the live blueprint (docs/live-stream.md). EventSource
// reconnects by itself; the page shows the stream state. Rendering is decoupled from the
// network: batches update state, requestAnimationFrame draws (at most the display rate).
(function () {
  "use strict";
  var el = document.getElementById("run");
  if (!el) return;
  var $ = function (id) { return document.getElementById(id); };
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var side = el.dataset.side, duration = parseFloat(el.dataset.duration), countdown = parseFloat(el.dataset.countdown);
  var bodyN = parseFloat(el.dataset.bodyMass) * 9.80665;
  var plot = new CopPlot($("live"), { side: side });
  var cols = ["t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "fz_n", "cop_ml_mm", "cop_ap_mm", "flags"];
  var state = { fz: null, recording: false, t0: null, dirty: true, lastResult: null };
  window.stepplateRun = state; // for the browser test: how many samples reached the page

  state.samplesSeen = 0; state.eventsSeen = []; state.lastT = null; state.streamT0 = null;
  function onSamples(rows) {
    var ix = cols.indexOf("cop_ml_mm"), iy = cols.indexOf("cop_ap_mm"), iz = cols.indexOf("fz_n");
    rows.forEach(function (r) { plot.push(r[ix], r[iy]); state.fz = r[iz]; });
    state.samplesSeen += rows.length; state.dirty = true;
  }
  // t: stream time of a detected event; shown from the start of the recording when recording
  function addEvent(name, t, cls) {
    var li = document.createElement("li");
    if (t != null && state.streamT0 != null) t = t - state.streamT0;
    li.textContent = name.replace(/_/g, " ") + (t != null ? " @ " + Number(t).toFixed(2) + " s" : "");
    if (cls) li.className = cls;
    li.dataset.event = name;
    $("events").prepend(li);
  }
  function handle(msg) {
    if (!msg) return;
    if (msg.type === "status" && msg.geometry && msg.geometry.cell_x_m) { msg = Object.assign({}, msg, { type: "hello", columns: null }); }
    if (msg.type === "hello") {
      if (msg.columns && msg.columns.length) cols = msg.columns;
      if (msg.geometry && msg.geometry.cell_x_m) {
        plot.halfX = 1000 * Math.max.apply(null, msg.geometry.cell_x_m.map(Math.abs));
        plot.halfY = 1000 * Math.max.apply(null, msg.geometry.cell_y_m.map(Math.abs));
      }
    } else if (msg.samples) {
      onSamples(msg.samples);
    } else if (msg.t_s && msg.cop_ml_mm) {
      // the live blueprint's columnar batch: {t_s: [...], fz_n: [...], cop_ml_mm: [...], cop_ap_mm: [...], flags: [...]}
      for (var i = 0; i < msg.t_s.length; i++) { plot.push(msg.cop_ml_mm[i], msg.cop_ap_mm[i]); state.fz = msg.fz_n[i]; }
      if (msg.t_s.length) state.lastT = msg.t_s[msg.t_s.length - 1];
      state.samplesSeen += msg.t_s.length; state.dirty = true;
    }
    // events of the protocol's detector, run in the web process on the live batches (docs/live-stream.md)
    (msg.events || (msg.type === "event" ? [msg] : [])).forEach(function (ev) {
      state.eventsSeen.push(ev.name); addEvent(ev.name || ev.event || "event", ev.t_s, "detected");
    });
  }
  function connect() {
    if (!window.EventSource) { $("stream-state").textContent = "not supported"; return; }
    var es = new EventSource(el.dataset.streamUrl);
    es.onopen = function () { $("stream-state").textContent = "live"; };
    es.onerror = function () { $("stream-state").textContent = "reconnecting…"; };
    es.onmessage = function (e) { try { handle(JSON.parse(e.data)); } catch (err) { /* ignore bad line */ } };
    ["hello", "batch", "event", "health", "status"].forEach(function (t) {
      es.addEventListener(t, function (e) { try { var m = JSON.parse(e.data); if (!m.type) m.type = t; handle(m); } catch (err) {} });
    });
  }
  function frame() {
    if (state.dirty) {
      plot.draw();
      $("bw").textContent = state.fz != null && bodyN > 0 ? Math.round(100 * state.fz / bodyN) : "–";
      state.dirty = false;
    }
    if (state.recording && state.t0 != null) $("elapsed").textContent = ((performance.now() - state.t0) / 1000).toFixed(1);
    requestAnimationFrame(frame);
  }
  function showResult(d) {
    state.lastResult = d;
    var body = $("result-body");
    body.innerHTML = "";
    var tbl = document.createElement("table"); tbl.className = "list"; tbl.id = "result-table";
    Object.keys(d.display).forEach(function (k) {
      var v = d.display[k].value;
      if (v == null) return;
      var tr = document.createElement("tr");
      tr.innerHTML = "<td></td><td class='num'></td>";
      tr.children[0].textContent = d.display[k].label; tr.children[1].textContent = Math.abs(v) < 100 ? v.toPrecision(3) : v.toFixed(0);
      tbl.appendChild(tr);
    });
    body.appendChild(tbl);
    var an = d.analysis || {}, ap = document.createElement("p");
    ap.id = "analysis-state";
    if (!an.ok) { ap.className = "warn"; ap.textContent = an.error || "analysis failed"; }
    else if (!an.scored) { ap.className = "warn"; ap.textContent = "Not scored: " + (an.faults || []).join(", ").replace(/_/g, " "); }
    else ap.textContent = "Scored";
    body.appendChild(ap);
    var q = document.createElement("p");
    q.className = d.quality.warnings.length ? "warn" : "";
    q.textContent = d.quality.warnings.length ? "Quality: " + d.quality.warnings.join("; ") : "Quality: ok";
    body.appendChild(q);
    var a = document.createElement("a"); a.href = d.url; a.textContent = "Open trial " + d.trial_id; body.appendChild(a);
    var sides = el.dataset.sides.split(","), done = el.dataset.done ? el.dataset.done.split(",") : [];
    done.push(side);
    var next = sides.filter(function (s) { return done.indexOf(s) < 0; })[0];
    $("next-btn").textContent = next ? "Next: " + next : "Left/right comparison";
    $("next-btn").href = next ? "?side=" + next : el.dataset.sessionUrl + "#left-right";
    $("redo-btn").onclick = function () {
      fetch(d.url + "/redo", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
        body: new URLSearchParams({ csrf_token: csrf }) }).then(function () { location.search = "?side=" + side; });
    };
    $("result").hidden = false;
  }
  function record() {
    state.recording = true; state.t0 = performance.now(); plot.clear(); $("events").innerHTML = "";
    state.streamT0 = state.lastT;
    addEvent("recording started");
    fetch(el.dataset.recordUrl, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ side: side, seconds: duration }) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; }); })
      .then(function (d) { state.recording = false; addEvent("trial stored"); showResult(d); })
      .catch(function (e) { state.recording = false; addEvent("error: " + e.message); $("start").disabled = false; });
  }
  $("start").addEventListener("click", function () {
    $("start").disabled = true; $("result").hidden = true;
    $("instructions").classList.add("compact");   // keep the live view on screen on a tablet
    var left = Math.ceil(countdown), cd = $("countdown");
    cd.hidden = false; cd.textContent = left;
    var timer = setInterval(function () {
      left -= 1;
      if (left > 0) { cd.textContent = left; return; }
      clearInterval(timer); cd.hidden = true; record();
    }, 1000);
    if (left <= 0) { clearInterval(timer); cd.hidden = true; record(); }
  });
  connect();
  requestAnimationFrame(frame);
})();
