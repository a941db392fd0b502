// Training mode: live COP over the plate with a target zone; records a set and posts it.
// The browser's time in target is only feedback; the server recomputes every measure
// (rig.programme.biofeedback) from the samples it receives.
(function () {
  "use strict";
  const root = document.getElementById("trainer");
  if (!root) return;
  const canvas = document.getElementById("train-canvas");
  const ctx = canvas.getContext("2d");
  const target = JSON.parse(root.dataset.target);
  const durationS = parseFloat(root.dataset.durationS);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const HALF_MM = 250;                       // view: ±250 mm around the plate centre
  const MIN_FZ_N = 20;
  let trail = [], rec = null, origin = [0, 0], anchored = !target.relative;
  const els = { tit: document.getElementById("tit"), clock: document.getElementById("clock"),
    start: document.getElementById("start"), stop: document.getElementById("stop"),
    result: document.getElementById("result"), radius: document.getElementById("radius") };

  const px = (mm) => (mm + HALF_MM) / (2 * HALF_MM) * canvas.width;
  const py = (mm) => (HALF_MM - mm) / (2 * HALF_MM) * canvas.height;   // forward is up

  function centre(tRel) {
    let cx = origin[0] + target.centre_ml_mm, cy = origin[1] + target.centre_ap_mm;
    if (target.kind === "path") {
      const s = Math.sin(2 * Math.PI * tRel / target.period_s);
      cx += target.amplitude_ml_mm * s; cy += target.amplitude_ap_mm * s;
    }
    return [cx, cy];
  }

  function draw() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#ddd"; ctx.beginPath();
    ctx.moveTo(px(0), 0); ctx.lineTo(px(0), canvas.height); ctx.moveTo(0, py(0)); ctx.lineTo(canvas.width, py(0)); ctx.stroke();
    const tRel = rec && rec.rows.length ? rec.rows[rec.rows.length - 1][0] - rec.rows[0][0] : 0;
    if (anchored || !rec) {
      const [cx, cy] = centre(tRel);
      const r = target.radius_mm / (2 * HALF_MM) * canvas.width;
      ctx.fillStyle = "rgba(44,160,44,0.18)"; ctx.strokeStyle = "#2ca02c"; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(px(cx), py(cy), r, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    ctx.strokeStyle = "#1f77b4"; ctx.lineWidth = 1.5; ctx.beginPath();
    trail.forEach((p, i) => (i ? ctx.lineTo(px(p[0]), py(p[1])) : ctx.moveTo(px(p[0]), py(p[1]))));
    ctx.stroke();
    const last = trail[trail.length - 1];
    if (last) { ctx.fillStyle = "#d62728"; ctx.beginPath(); ctx.arc(px(last[0]), py(last[1]), 7, 0, 2 * Math.PI); ctx.fill(); }
  }

  function onBatch(b) {
    for (let i = 0; i < b.t_s.length; i++) {
      const ml = b.cop_ml_mm[i], ap = b.cop_ap_mm[i], fz = b.fz_n[i];
      if (ml !== null && ap !== null && fz > MIN_FZ_N) { trail.push([ml, ap]); if (trail.length > 160) trail.shift(); }
      if (rec) rec.rows.push([b.t_s[i], fz, ml, ap]);
    }
    if (rec && rec.rows.length) {
      const t0 = rec.rows[0][0], tNow = rec.rows[rec.rows.length - 1][0];
      if (!anchored && tNow - t0 >= target.anchor_s) {
        const a = rec.rows.filter((r) => r[2] !== null && r[1] > MIN_FZ_N && r[0] - t0 <= target.anchor_s);
        if (a.length) origin = [a.reduce((s, r) => s + r[2], 0) / a.length, a.reduce((s, r) => s + r[3], 0) / a.length];
        anchored = true;
      }
      if (anchored) {
        let tin = 0, tot = 0;
        for (let i = 1; i < rec.rows.length; i++) {
          const r = rec.rows[i], dt = r[0] - rec.rows[i - 1][0];
          tot += dt;
          const [cx, cy] = centre(r[0] - t0);
          if (r[2] !== null && r[1] > MIN_FZ_N && Math.hypot(r[2] - cx, r[3] - cy) <= target.radius_mm) tin += dt;
        }
        els.tit.textContent = tot > 0 ? Math.round(100 * tin / tot) : "–";
      }
      els.clock.textContent = Math.floor(tNow - t0);
      if (tNow - t0 >= durationS) finish();
    }
    draw();
  }

  async function finish() {
    if (!rec) return;
    const rows = rec.rows; rec = null;
    els.start.disabled = false; els.stop.disabled = true;
    if (rows.length < 2) { els.result.textContent = "No samples: is someone on the plate?"; return; }
    const body = { exercise_id: root.dataset.exercise, side: root.dataset.side, target: target,
      columns: ["t_s", "fz_n", "cop_ml_mm", "cop_ap_mm"], samples: rows };
    const r = await fetch(root.dataset.postUrl, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body) });
    const js = await r.json();
    if (!r.ok) { els.result.textContent = "Not saved: " + (js.error || r.status); return; }
    const m = js.measures;
    els.result.textContent = `Saved: ${m.time_in_target_pct.toFixed(0)} % in target, longest ${m.longest_in_target_s.toFixed(1)} s` +
      (m.error_speed_mm_s ? `, steadiness ${(m.error_speed_mm_s / 10).toFixed(1)} cm/s` : "") +
      (m.repetition_count !== undefined ? `, ${m.good_repetition_count}/${m.repetition_count} good repetitions` : "");
  }

  els.start.addEventListener("click", () => {
    target.radius_mm = 10 * parseFloat(els.radius.value || "2");
    anchored = !target.relative; origin = [0, 0];
    rec = { rows: [] }; els.result.textContent = ""; els.start.disabled = true; els.stop.disabled = false;
  });
  els.stop.addEventListener("click", finish);
  const es = new EventSource(root.dataset.streamUrl);
  es.onmessage = (ev) => onBatch(JSON.parse(ev.data));
  es.addEventListener("health", (ev) => {   // the status bar shows a fault at once (statusbar.js)
    try { document.dispatchEvent(new CustomEvent("stepplate:health", { detail: JSON.parse(ev.data) })); } catch (e) { /* ignore */ }
  });
  draw();
})();
