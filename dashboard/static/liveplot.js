// Canvas drawing of the plate: outline, feet outline, COP trail and current point.
// Plain canvas, no library. Coordinates in mm, plate frame (x right, y forward).
(function (root) {
  "use strict";
  function CopPlot(canvas, opts) {
    opts = opts || {};
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.halfX = opts.halfX || 220; this.halfY = opts.halfY || 170;
    this.side = opts.side || "both";
    this.trail = []; this.maxTrail = opts.maxTrail || 240; // 3 s at 80 Hz
  }
  CopPlot.prototype.toPx = function (x, y) {
    var w = this.canvas.width, h = this.canvas.height, m = 12;
    var s = Math.min((w - 2 * m) / (2 * this.halfX), (h - 2 * m) / (2 * this.halfY));
    return [w / 2 + x * s, h / 2 - y * s, s];
  };
  CopPlot.prototype.push = function (x, y) {
    if (x == null || y == null || !isFinite(x) || !isFinite(y)) return;
    this.trail.push([x, y]);
    if (this.trail.length > this.maxTrail) this.trail.splice(0, this.trail.length - this.maxTrail);
  };
  CopPlot.prototype.clear = function () { this.trail = []; };
  CopPlot.prototype.foot = function (cx, left) {
    var c = this.ctx, p = this.toPx(cx, 0), s = p[2];
    c.beginPath();
    c.ellipse(p[0], p[1], 45 * s, 120 * s, left ? 0.06 : -0.06, 0, 2 * Math.PI);
    c.stroke();
  };
  CopPlot.prototype.draw = function () {
    var c = this.ctx, w = this.canvas.width, h = this.canvas.height;
    c.clearRect(0, 0, w, h);
    var a = this.toPx(-this.halfX, this.halfY), b = this.toPx(this.halfX, -this.halfY);
    c.strokeStyle = "#8795a1"; c.lineWidth = 2;
    c.strokeRect(a[0], a[1], b[0] - a[0], b[1] - a[1]);
    c.strokeStyle = "#c3ccd5"; c.setLineDash([6, 5]); c.lineWidth = 1.5;
    if (this.side !== "right") this.foot(-90, true);
    if (this.side !== "left") this.foot(90, false);
    c.setLineDash([]);
    var o = this.toPx(0, 0);
    c.strokeStyle = "#e1e6eb"; c.beginPath(); c.moveTo(o[0], a[1]); c.lineTo(o[0], b[1]); c.moveTo(a[0], o[1]); c.lineTo(b[0], o[1]); c.stroke();
    var t = this.trail;
    if (t.length > 1) {
      c.strokeStyle = "rgba(11,107,203,0.7)"; c.lineWidth = 1.5; c.beginPath();
      for (var i = 0; i < t.length; i++) { var p = this.toPx(t[i][0], t[i][1]); if (i) c.lineTo(p[0], p[1]); else c.moveTo(p[0], p[1]); }
      c.stroke();
    }
    if (t.length) {
      var q = this.toPx(t[t.length - 1][0], t[t.length - 1][1]);
      c.fillStyle = "#d62728"; c.beginPath(); c.arc(q[0], q[1], 7, 0, 2 * Math.PI); c.fill();
    }
  };
  root.CopPlot = CopPlot;
})(window);
