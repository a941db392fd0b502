// StepPlate live page: COP trail over the plate outline, fed by Server-Sent Events.
// No framework, no CDN. EventSource reconnects by itself (the server sends retry: 2000).
"use strict";
(function () {
  const canvas = document.getElementById("plate");
  const ctx = canvas.getContext("2d");
  const $ = (id) => document.getElementById(id);
  const TRAIL_S = 5;
  let geometry = { cell_x_m: [-0.22, 0.22, -0.22, 0.22], cell_y_m: [0.17, 0.17, -0.17, -0.17] };
  let trail = [];            // [t_s, ml_mm, ap_mm]
  let last = null;

  function halfSizes() {
    const hx = Math.max(...geometry.cell_x_m.map(Math.abs)) * 1000;
    const hy = Math.max(...geometry.cell_y_m.map(Math.abs)) * 1000;
    return [hx, hy];
  }

  function toPx(ml, ap) {
    const [hx, hy] = halfSizes();
    const margin = 40;
    const s = Math.min((canvas.width - 2 * margin) / (2 * hx * 1.15), (canvas.height - 2 * margin) / (2 * hy * 1.15));
    return [canvas.width / 2 + ml * s, canvas.height / 2 - ap * s];   // forward is up
  }

  // diagnostics: frames drawn per second, and web + page delay of the newest samples
  const diag = { frames: 0, since: performance.now(), arrived: null, serverMs: 0, delays: [] };
  function noteFrame() {
    const now = performance.now();
    diag.frames++;
    if (diag.arrived !== null) { diag.delays.push(diag.serverMs + (now - diag.arrived)); diag.arrived = null; }
    if (now - diag.since >= 1000) {
      const fps = diag.frames * 1000 / (now - diag.since);
      const d = diag.delays.length ? diag.delays.reduce((a, b) => a + b, 0) / diag.delays.length : null;
      $("diagnostics").textContent = `${fps.toFixed(0)} frames/s` + (d === null ? "" : ` · ${d.toFixed(0)} ms web + page`);
      diag.frames = 0; diag.since = now; diag.delays = [];
    }
  }

  function draw() {
    noteFrame();
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const [hx, hy] = halfSizes();
    const [x0, y0] = toPx(-hx * 1.15, hy * 1.15);
    const [x1, y1] = toPx(hx * 1.15, -hy * 1.15);
    ctx.strokeStyle = "#556"; ctx.lineWidth = 2;
    ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
    ctx.fillStyle = "#889";
    for (let i = 0; i < 4; i++) {
      const [cx, cy] = toPx(geometry.cell_x_m[i] * 1000, geometry.cell_y_m[i] * 1000);
      ctx.fillRect(cx - 6, cy - 6, 12, 12);
    }
    const [ox, oy] = toPx(0, 0);
    ctx.strokeStyle = "#dde"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(ox - 15, oy); ctx.lineTo(ox + 15, oy); ctx.moveTo(ox, oy - 15); ctx.lineTo(ox, oy + 15); ctx.stroke();
    ctx.fillStyle = "#667"; ctx.font = "12px system-ui"; ctx.fillText("front", ox - 14, y0 - 8);
    ctx.strokeStyle = "#1e88e5"; ctx.lineWidth = 1.5; ctx.beginPath();
    let pen = false;
    for (const [, ml, ap] of trail) {
      if (ml === null || ap === null) { pen = false; continue; }
      const [px, py] = toPx(ml, ap);
      if (pen) ctx.lineTo(px, py); else ctx.moveTo(px, py);
      pen = true;
    }
    ctx.stroke();
    if (last && last[1] !== null && last[2] !== null) {
      const [px, py] = toPx(last[1], last[2]);
      ctx.fillStyle = "#d81b60"; ctx.beginPath(); ctx.arc(px, py, 7, 0, 2 * Math.PI); ctx.fill();
    }
  }

  function showStatus(st) {
    if (st.geometry && st.geometry.cell_x_m) geometry = st.geometry;
    $("backend").textContent = st.backend || "—";
    $("nominal").textContent = st.rate_hz || "—";
    showHealth(st);
    const c = $("conn");
    c.textContent = st.connected ? "connected" : (st.state === "reconnecting" ? "plate reconnecting…" : "acquisition not reachable");  // reliability
    c.className = "pill " + (st.connected ? "ok" : "bad");
  }

  function showHealth(h) {
    if (h.achieved_sps !== undefined && h.achieved_sps !== null) $("rate").textContent = h.achieved_sps;
    if (h.invalid_frames !== undefined && h.invalid_frames !== null) $("invalid").textContent = h.invalid_frames;
    if (h.spike_replacements !== undefined && h.spike_replacements !== null) $("spikes").textContent = h.spike_replacements;
    const chips = $("chips"); chips.textContent = "";
    for (const ch of h.chips || []) {
      const li = document.createElement("li");
      li.textContent = `${ch.corner || ch.name}: ${ch.message || ch.state}`;
      if (ch.message) li.className = "bad";
      chips.appendChild(li);
    }
    const msgs = $("messages"); msgs.textContent = "";
    for (const m of h.messages || []) {
      const li = document.createElement("li"); li.textContent = m; msgs.appendChild(li);
    }
  }

  function onData(d) {
    if (!d.t_s.length) return;
    diag.arrived = performance.now(); diag.serverMs = d.server_wait_ms || 0;
    for (let i = 0; i < d.t_s.length; i++) trail.push([d.t_s[i], d.cop_ml_mm[i], d.cop_ap_mm[i]]);
    const n = d.t_s.length - 1;
    last = [d.t_s[n], d.cop_ml_mm[n], d.cop_ap_mm[n]];
    const tMin = last[0] - TRAIL_S;
    while (trail.length && trail[0][0] < tMin) trail.shift();
    $("fz").textContent = d.fz_n[n].toFixed(0);
    $("ml").textContent = last[1] === null ? "—" : last[1].toFixed(1);
    $("ap").textContent = last[2] === null ? "—" : last[2].toFixed(1);
    requestAnimationFrame(draw);
  }

  const es = new EventSource("/api/live/stream");
  es.onmessage = (e) => onData(JSON.parse(e.data));
  es.addEventListener("health", (e) => {
    const h = JSON.parse(e.data);
    showHealth(h);
    document.dispatchEvent(new CustomEvent("stepplate:health", { detail: h }));  // the status bar, at once
  });
  es.addEventListener("status", (e) => showStatus(JSON.parse(e.data)));
  es.onerror = () => { const c = $("conn"); c.textContent = "reconnecting…"; c.className = "pill bad"; };
  const csrf = document.querySelector('meta[name="csrf-token"]');
  $("tare").addEventListener("click", () => fetch("/api/live/tare", {
    method: "POST", headers: csrf ? { "X-CSRFToken": csrf.content } : {},
  }));
  fetch("/api/status").then((r) => r.json()).then(showStatus);
  draw();
})();
