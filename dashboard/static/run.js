// Guided protocol run: instructions -> countdown -> live view while recording -> result.
// Live data: Server-Sent Events from the live blueprint (docs/live-stream.md). EventSource
// reconnects by itself; the page shows the stream state. Rendering is decoupled from the
// network: batches update state, requestAnimationFrame draws (at most the display rate).
// Cue time on the stream's time base (docs/live-stream.md, "Metronome cues"): the latest
// sample's t_s, plus the time since that sample reached the page, plus the audio output
// latency. All times in seconds except the two performance.now() readings (ms). A pure
// function (window.stepplateCueTime) so the browser test can check it; the same formula is
// written out in docs/live-stream.md.
function stepplateCueTime(lastSampleT, lastArrivalMs, cueAtMs, outputLatencyS) {
  return lastSampleT + (cueAtMs - lastArrivalMs) / 1000 + (outputLatencyS > 0 ? outputLatencyS : 0);
}
window.stepplateCueTime = stepplateCueTime;
// An event's line in the run page's list: its time from the start of the recording (t0, stream
// time of the first sample after Start); one detected before Start has no trial time.
function stepplateEventLabel(name, t, t0) {
  var label = String(name).replace(/_/g, " ");
  if (t == null) return label;
  if (t0 == null || t < t0) return label + " (before start)";
  return label + " @ " + Number(t - t0).toFixed(2) + " s";
}
window.stepplateEventLabel = stepplateEventLabel;

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
    if (rows.length) { state.lastT = rows[rows.length - 1][cols.indexOf("t_s")]; state.lastArrival = performance.now(); }
    state.samplesSeen += rows.length; state.dirty = true;
  }
  // t: stream time of a detected event; shown from the start of the recording when recording
  function addEvent(name, t, cls) {
    var li = document.createElement("li");
    li.textContent = stepplateEventLabel(name, t, state.streamT0);
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
      if (msg.t_s.length) { state.lastT = msg.t_s[msg.t_s.length - 1]; state.lastArrival = performance.now(); }
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
      es.addEventListener(t, function (e) {
        try {
          var m = JSON.parse(e.data); if (!m.type) m.type = t;
          if (t === "health") document.dispatchEvent(new CustomEvent("stepplate:health", { detail: m }));  // the status bar, at once
          handle(m);
        } catch (err) {}
      });
    });
  }
  // --- metronome (lateral step-down): WebAudio clicks scheduled ahead, a visible beat, and
  // each cue's time on the stream's time base, sent with the recording request (cues_s).
  var met = el.dataset.metronome ? JSON.parse(el.dataset.metronome) : null;
  var audio = null, metRun = null;
  var LOOKAHEAD_S = 0.12, TICK_MS = 25, START_DELAY_MS = 250, FLASH_MS = 180;
  function audioContext() {               // created/resumed in the Start click (a user gesture)
    var AC = window.AudioContext || window.webkitAudioContext;
    if (!AC || !met) return null;
    if (!audio) { try { audio = new AC(); } catch (e) { audio = null; } }
    if (audio && audio.state === "suspended" && audio.resume) audio.resume();
    return audio;
  }
  function outputLatencyS(ctx) {
    if (!ctx) return 0;
    var l = (typeof ctx.outputLatency === "number" ? ctx.outputLatency : 0) || (typeof ctx.baseLatency === "number" ? ctx.baseLatency : 0);
    return isFinite(l) && l > 0 ? l : 0;
  }
  function clickAt(ctx, at, kind) {
    var osc = ctx.createOscillator(), g = ctx.createGain();
    osc.frequency.value = kind === "cue" ? 1760 : (kind === "lead" ? 660 : 880);
    g.gain.setValueAtTime(0.0001, at);
    g.gain.exponentialRampToValueAtTime(kind === "cue" ? 0.9 : 0.4, at + 0.003);
    g.gain.exponentialRampToValueAtTime(0.0001, at + 0.07);
    osc.connect(g); g.connect(ctx.destination);
    osc.start(at); osc.stop(at + 0.08);
    return osc;
  }
  // beats: lead_beats count-in, then repetitions × beats_per_cue, a cue on the first of each group
  function startMetronome() {
    var ctx = audio && audio.state === "running" && $("metronome-sound") && $("metronome-sound").checked ? audio : null;
    var p0 = performance.now(), a0 = ctx ? ctx.currentTime : 0, lat = outputLatencyS(ctx);
    var beatMs = 1000 * met.beat_s, n = met.lead_beats + met.repetitions * met.beats_per_cue, beats = [];
    for (var k = 0; k < n; k++) {
      var i = k - met.lead_beats, at = p0 + START_DELAY_MS + k * beatMs;     // when the click leaves the audio graph
      beats.push({ at: at, heard: at + 1000 * lat, kind: i < 0 ? "lead" : (i % met.beats_per_cue === 0 ? "cue" : "beat"),
                   rep: i < 0 ? null : Math.floor(i / met.beats_per_cue) + 1, n: i < 0 ? i : i % met.beats_per_cue + 1 });
    }
    var cues = null;
    if (state.lastT != null && state.lastArrival != null) {
      cues = beats.filter(function (b) { return b.kind === "cue"; }).map(function (b) {
        return Math.round(1e4 * stepplateCueTime(state.lastT, state.lastArrival, b.at, lat)) / 1e4;
      });
    }
    metRun = { ctx: ctx, p0: p0, a0: a0, beats: beats, next: 0, nodes: [], timer: null, latencyS: lat };
    state.metronome = { cues: cues, latencyS: lat, audio: !!ctx, beats: n };
    if (ctx) {
      var tick = function () {
        if (!metRun) return;
        var horizon = ctx.currentTime + LOOKAHEAD_S;
        while (metRun.next < beats.length) {
          var b = beats[metRun.next], atAudio = a0 + (b.at - p0) / 1000;
          if (atAudio > horizon) break;
          if (atAudio >= ctx.currentTime) metRun.nodes.push(clickAt(ctx, atAudio, b.kind));
          metRun.next++;
        }
        if (metRun.next >= beats.length) { clearInterval(metRun.timer); metRun.timer = null; }
      };
      metRun.timer = setInterval(tick, TICK_MS); tick();
    }
    if (!cues) addEvent("metronome not aligned to the plate (no live samples): step-downs found without cues", null, "warn");
    return cues;
  }
  function stopMetronome() {
    if (!metRun) return;
    if (metRun.timer) clearInterval(metRun.timer);
    metRun.nodes.forEach(function (o) { try { o.stop(0); } catch (e) { /* already stopped */ } });
    metRun = null;
    if ($("beat-dot")) { $("beat-dot").className = "beat-dot"; $("beat-label").textContent = "–"; $("rep-label").textContent = ""; }
  }
  function drawBeat() {                  // the visible beat, for noisy clinics
    if (!metRun) return;
    var now = performance.now(), cur = null;
    for (var k = 0; k < metRun.beats.length && metRun.beats[k].heard <= now; k++) cur = metRun.beats[k];
    var dot = $("beat-dot");
    if (!cur) { dot.className = "beat-dot"; $("beat-label").textContent = "get ready"; return; }
    dot.className = "beat-dot" + (now - cur.heard < FLASH_MS ? (cur.kind === "cue" ? " on cue" : " on") : "");
    $("beat-label").textContent = cur.kind === "lead" ? "get ready " + (-cur.n) : (cur.n === 1 ? "DOWN" : (cur.n === met.beats_per_cue ? "still" : cur.n));
    $("rep-label").textContent = cur.rep ? cur.rep + " / " + met.repetitions : "";
  }
  function frame() {
    drawBeat();
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
    // the result card: the protocol's headline measures; every other measure one tap away
    function table(id, keys) {
      var tbl = document.createElement("table"); tbl.className = "list"; tbl.id = id;
      keys.forEach(function (k) {
        var m = d.display[k], v = m && m.value;
        if (v == null) return;
        var tr = document.createElement("tr");
        tr.innerHTML = "<td></td><td class='num'></td>";
        tr.children[0].textContent = m.label; tr.children[1].textContent = m.count ? String(Math.round(v)) : (Math.abs(v) < 100 ? v.toPrecision(3) : v.toFixed(0));
        tbl.appendChild(tr);
      });
      return tbl;
    }
    if (d.summary) { var sl = document.createElement("p"); sl.id = "summary-line"; sl.textContent = d.summary; body.appendChild(sl); }
    var head = (d.headline || []).filter(function (k) { return d.display[k]; });
    var rest = Object.keys(d.display).filter(function (k) { return head.indexOf(k) < 0; });
    body.appendChild(table("result-table", head.length ? head : rest));
    if (head.length && rest.length) {
      var more = document.createElement("details"); more.id = "all-measures";
      var sum = document.createElement("summary"); sum.textContent = "All measures (" + (head.length + rest.length) + ")";
      more.appendChild(sum); more.appendChild(table("all-measures-table", head.concat(rest))); body.appendChild(more);
    }
    var an = d.analysis || {}, ap = document.createElement("p");
    ap.id = "analysis-state";
    if (!an.ok) { ap.className = "warn"; ap.textContent = an.error || "analysis failed"; }
    else if (an.practice && !(an.faults || []).length) { ap.textContent = "Practice trial (not scored)"; }
    else if (!an.scored) { ap.className = "warn"; ap.textContent = "Not scored: " + (an.faults || []).join(", ").replace(/_/g, " ") + " — redo?"; }
    else ap.textContent = "Scored";
    body.appendChild(ap);
    if (d.simulated_fault) {           // the demo's virtual person was told to make this mistake
      var sf = document.createElement("p"); sf.id = "simulated-fault"; sf.className = "meta";
      sf.textContent = "Simulated plate: the virtual person was set to make a fault (" + d.simulated_fault.replace(/_/g, " ") + ").";
      body.appendChild(sf);
    }
    var q = document.createElement("p");
    q.className = d.quality.warnings.length ? "warn" : "";
    q.textContent = d.quality.warnings.length ? "Quality: " + d.quality.warnings.join("; ") : "Quality: ok";
    body.appendChild(q);
    var a = document.createElement("a"); a.href = d.url; a.textContent = "Open trial " + d.trial_id; body.appendChild(a);
    // the next trial of the protocol's schedule (conditions, practice, scored, sides), from the server
    $("next-btn").textContent = el.dataset.nextLabel;
    $("next-btn").href = el.dataset.nextUrl;
    if (!an.ok || (!an.scored && !an.practice) || (an.practice && (an.faults || []).length)) $("redo-btn").classList.add("primary");
    $("redo-btn").onclick = function () {
      fetch(d.url + "/redo", { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrf },
        body: new URLSearchParams({ csrf_token: csrf }) }).then(function () { location.reload(); });
    };
    $("result").hidden = false;
  }
  function record() {
    state.recording = true; state.t0 = performance.now(); plot.clear(); $("events").innerHTML = "";
    state.streamT0 = state.lastT;
    addEvent("recording started");
    var body = { side: side, seconds: duration };
    if (el.dataset.condition) body.condition = el.dataset.condition;
    if (el.dataset.practice === "true") body.practice = true;
    if (met) { var cues = startMetronome(); if (cues && cues.length) body.cues_s = cues; }
    state.requestBody = body;
    fetch(el.dataset.recordUrl, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.status); return j; }); })
      .then(function (d) { stopMetronome(); state.recording = false; addEvent("trial stored"); showResult(d); })
      .catch(function (e) { stopMetronome(); state.recording = false; addEvent("error: " + e.message); $("start").disabled = false; });
  }
  $("start").addEventListener("click", function () {
    $("start").disabled = true; $("result").hidden = true;
    audioContext();                                 // browsers allow audio only from a user gesture
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
