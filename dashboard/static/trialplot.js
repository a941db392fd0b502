// Trial page: the statokinesigram of the stored samples. The main view is the COP trace of the
// scored window (the whole trial in grey), zoomed to the sway, with its 95 % ellipse (the
// measures' own, from the API), the mean's cross-hair and a 1 cm scale bar; the inset shows the
// plate's cell rectangle and where on it the sway happened. Axes as seen standing on the plate:
// right and forward positive.
(function () {
  "use strict";
  var cv = document.getElementById("cop");
  if (!cv) return;
  fetch(cv.getAttribute("data-url") + "?max_points=3000", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (d) {
      var it = d.columns.indexOf("t_s"), ix = d.columns.indexOf("cop_ml_mm"), iy = d.columns.indexOf("cop_ap_mm");
      var all = [], win = [];
      d.samples.forEach(function (r) {
        if (r[ix] == null || r[iy] == null) return;
        all.push([r[ix], r[iy]]);
        if (!d.window_s || (r[it] >= d.window_s[0] && r[it] <= d.window_s[1])) win.push([r[ix], r[iy]]);
      });
      if (!all.length) return;
      var pts = win.length ? win : all;
      var c = cv.getContext("2d"), W = cv.width, H = cv.height, m = 28;
      var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var e = d.ellipse;
      if (e) { var r = Math.max(e.a_mm, e.b_mm); x0 = Math.min(x0, e.cx_mm - r); x1 = Math.max(x1, e.cx_mm + r); y0 = Math.min(y0, e.cy_mm - r); y1 = Math.max(y1, e.cy_mm + r); }
      var span = Math.max(x1 - x0, y1 - y0, 10), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, s = (W - 2 * m) / span;
      function px(x) { return W / 2 + (x - cx) * s; }
      function py(y) { return H / 2 - (y - cy) * s; }
      function trace(list, colour, width) {
        c.strokeStyle = colour; c.lineWidth = width; c.beginPath();
        list.forEach(function (p, i) { if (i) c.lineTo(px(p[0]), py(p[1])); else c.moveTo(px(p[0]), py(p[1])); });
        c.stroke();
      }
      c.clearRect(0, 0, W, H);
      if (win.length && win.length < all.length) trace(all, "#d5dae0", 1);       // outside the scored window
      trace(pts, "#0b6bcb", 1);
      if (e) {                                                                      // 95 % ellipse and its centre
        c.save(); c.translate(px(e.cx_mm), py(e.cy_mm)); c.rotate(-e.angle_deg * Math.PI / 180);
        c.strokeStyle = "#c0392b"; c.lineWidth = 1.5; c.setLineDash([5, 3]);
        c.beginPath(); c.ellipse(0, 0, e.a_mm * s, e.b_mm * s, 0, 0, 2 * Math.PI); c.stroke(); c.restore();
        c.strokeStyle = "#5b6470"; c.lineWidth = 1; c.setLineDash([]);
        c.beginPath(); c.moveTo(px(e.cx_mm) - 6, py(e.cy_mm)); c.lineTo(px(e.cx_mm) + 6, py(e.cy_mm));
        c.moveTo(px(e.cx_mm), py(e.cy_mm) - 6); c.lineTo(px(e.cx_mm), py(e.cy_mm) + 6); c.stroke();
      }
      c.fillStyle = "#5b6470"; c.font = "12px sans-serif";                         // axes and scale
      c.fillText("← left · right →", W / 2 - 45, H - 8);
      c.save(); c.translate(12, H / 2 + 40); c.rotate(-Math.PI / 2); c.fillText("← back · front →", 0, 0); c.restore();
      c.strokeStyle = "#1b1f24"; c.lineWidth = 2; c.beginPath();
      c.moveTo(W - m - 10 * s, H - 22); c.lineTo(W - m, H - 22); c.stroke();
      c.fillStyle = "#1b1f24"; c.fillText("1 cm", W - m - 10 * s, H - 28);
      if (e) c.fillText("95 % ellipse " + (Math.PI * e.a_mm * e.b_mm / 100).toFixed(1) + " cm²", m, 16);
      if (d.plate) {                                                                // inset: the plate
        var iw = 84, ih = 84 * d.plate.half_ap_mm / d.plate.half_ml_mm, ox = W - iw - 6, oy = 6;
        var ks = iw / (2 * d.plate.half_ml_mm);
        c.fillStyle = "rgba(255,255,255,0.9)"; c.fillRect(ox - 2, oy - 2, iw + 4, ih + 4);
        c.strokeStyle = "#8a939e"; c.lineWidth = 1; c.strokeRect(ox, oy, iw, ih);
        c.fillStyle = "#0b6bcb";
        pts.forEach(function (p, i) { if (i % 10 === 0) c.fillRect(ox + iw / 2 + p[0] * ks, oy + ih / 2 - p[1] * ks, 1.5, 1.5); });
      }
      cv.dataset.drawn = e ? "ellipse" : "trace";
      if (d.landing) drawLanding(d, it);
    });

  // A landing: Fz in body weights over time, from 1 s before contact to 4 s after, with the
  // contact, the peak and the stabilisation the measures found.
  function drawLanding(d, it) {
    var fc = document.getElementById("force");
    if (!fc) return;
    var L = d.landing, iz = d.columns.indexOf("fz_n"), bw = L.body_weight_n;
    var t0 = L.contact_s - 1, t1 = L.contact_s + 4;
    var pts = d.samples.filter(function (r) { return r[it] >= t0 && r[it] <= t1 && r[iz] != null; })
      .map(function (r) { return [r[it], r[iz] / bw]; });
    if (pts.length < 2) return;
    var c = fc.getContext("2d"), W = fc.width, H = fc.height, ml = 34, mb = 24, mt = 10;
    var top = Math.max(2, Math.ceil(Math.max.apply(null, pts.map(function (p) { return p[1]; }))));
    function px(t) { return ml + (t - t0) / (t1 - t0) * (W - ml - 8); }
    function py(v) { return H - mb - v / top * (H - mb - mt); }
    c.clearRect(0, 0, W, H);
    c.strokeStyle = "#c9ced6"; c.fillStyle = "#5b6470"; c.font = "11px sans-serif"; c.lineWidth = 1;
    for (var v = 0; v <= top; v++) { c.beginPath(); c.moveTo(ml, py(v)); c.lineTo(W - 8, py(v)); c.stroke(); c.fillText(v + " BW", 2, py(v) + 4); }
    for (var s = -1; s <= 4; s++) c.fillText((s >= 0 ? "+" : "") + s + " s", px(L.contact_s + s) - 10, H - 6);
    c.strokeStyle = "#0b6bcb"; c.lineWidth = 1.5; c.beginPath();
    pts.forEach(function (p, i) { if (i) c.lineTo(px(p[0]), py(p[1])); else c.moveTo(px(p[0]), py(p[1])); });
    c.stroke();
    [["contact", L.contact_s, "#1b1f24"], ["peak " + (L.peak_bw ? L.peak_bw.toFixed(1) + " BW" : ""), L.peak_s, "#c0392b"],
     ["stable", L.stable_s, "#2e7d32"]].forEach(function (m, k) {
      if (m[1] == null || m[1] < t0 || m[1] > t1) return;
      c.strokeStyle = m[2]; c.setLineDash([4, 3]); c.beginPath(); c.moveTo(px(m[1]), mt); c.lineTo(px(m[1]), H - mb); c.stroke();
      c.setLineDash([]); c.fillStyle = m[2]; c.fillText(m[0], px(m[1]) + 3, mt + 10 + 13 * k);   // stacked: contact and peak are close
    });
    fc.dataset.drawn = "landing";
  }
})();
