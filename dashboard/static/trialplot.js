// Trial page: statokinesigram of the stored samples on a canvas.
(function () {
  "use strict";
  var cv = document.getElementById("cop");
  if (!cv) return;
  fetch(cv.getAttribute("data-url") + "?max_points=3000", { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (d) {
      var ix = d.columns.indexOf("cop_ml_mm"), iy = d.columns.indexOf("cop_ap_mm");
      var xs = [], ys = [];
      d.samples.forEach(function (r) { if (r[ix] != null && r[iy] != null) { xs.push(r[ix]); ys.push(r[iy]); } });
      if (!xs.length) return;
      var c = cv.getContext("2d"), W = cv.width, H = cv.height, m = 24;
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var span = Math.max(x1 - x0, y1 - y0, 10), cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, s = (W - 2 * m) / span;
      c.strokeStyle = "#0b6bcb"; c.lineWidth = 1; c.beginPath();
      xs.forEach(function (x, i) { var px = W / 2 + (x - cx) * s, py = H / 2 - (ys[i] - cy) * s; if (i) c.lineTo(px, py); else c.moveTo(px, py); });
      c.stroke();
      c.fillStyle = "#5b6470"; c.font = "12px sans-serif";
      c.fillText((span / 10).toFixed(1) + " cm across", 8, H - 8);
    });
})();
