"""Calibration grid positions and the 1:1 printable templates (SVG, mm units).

The calibration engineer and the printed sheet use the same coordinates: ``grid_positions``.
Coordinates are the software's plate axes (rig/plate.py): x medio-lateral, right positive;
y antero-posterior, forward positive; origin at the plate centre (the centre of the four
cells), in millimetres, as seen by a person standing on the plate facing forward.

Labels: a row letter and a column number. Row A is the front-most row (largest y), column 1
the left-most (most negative x); the list runs row by row from the front-left point, the
way the sheet reads with the front edge at the top. The 3x3 centre is B2, the 5x5 centre C3.

The default extent, 320 mm (ML) x 240 mm (AP), keeps every point 60 mm (ML) and 50 mm (AP)
inside the default cell rectangle (440 x 340 mm), where the COP is well conditioned, and
fits on one A3 sheet (420 x 297 mm) printed at 100 %.
"""
from __future__ import annotations

import string

from hardware.svg import document, el, line, num, text

GRID_EXTENT_ML_MM = 320.0
GRID_EXTENT_AP_MM = 240.0
SHEET_MM = (420.0, 297.0)  # A3 landscape
SCALE_BAR_MM = 100.0


def grid_positions(n: int, extent_ml_mm: float = GRID_EXTENT_ML_MM,
                   extent_ap_mm: float = GRID_EXTENT_AP_MM) -> list[tuple[str, float, float]]:
    """An n x n grid as ``(label, x_mm, y_mm)``, row A at the front, column 1 at the left."""
    if not 2 <= n <= 26:
        raise ValueError(f"grid size must be 2..26, got {n}")
    if extent_ml_mm <= 0 or extent_ap_mm <= 0:
        raise ValueError("grid extents must be positive")
    out = []
    for r in range(n):
        y = extent_ap_mm / 2 - r * extent_ap_mm / (n - 1)
        for c in range(n):
            x = -extent_ml_mm / 2 + c * extent_ml_mm / (n - 1)
            out.append((f"{string.ascii_uppercase[r]}{c + 1}", round(x, 3) + 0.0, round(y, 3) + 0.0))
    return out


def csv_text(sizes=(3, 5)) -> str:
    """hardware/calibration-grid.csv: grid, label, x_mm, y_mm for each grid size."""
    rows = ["grid,label,x_mm,y_mm"]
    for n in sizes:
        rows += [f"{n}x{n},{label},{num(x)},{num(y)}" for label, x, y in grid_positions(n)]
    return "\n".join(rows) + "\n"


def render_template(n: int) -> str:
    """A3 landscape sheet at 1:1 (1 SVG user unit = 1 mm): crosses with labels and coordinates,
    the axes, the front edge, and a 100 mm scale bar to check the print scale."""
    w, h = SHEET_MM
    cx, cy = w / 2, h / 2
    body: list[str] = []
    add = body.append
    add(el("rect", x=0.5, y=0.5, width=w - 1, height=h - 1, class_="frame"))
    # axes through the plate centre, with arrows
    add(line(8, cy, w - 8, cy, class_="axis"))
    add(line(cx, h - 8, cx, 8, class_="axis"))
    add(el("polygon", points=f"{num(w - 8)},{num(cy)} {num(w - 14)},{num(cy - 2.5)} {num(w - 14)},{num(cy + 2.5)}",
           class_="arrow"))
    add(el("polygon", points=f"{num(cx)},8 {num(cx - 2.5)},14 {num(cx + 2.5)},14", class_="arrow"))
    add(text(w - 30, cy - 4, "+x (right)", class_="lbl"))
    add(text(cx + 4, 14, "+y (forward)", class_="lbl"))
    add(text(cx - 25, 6, "FRONT of the plate: this edge", class_="lbl"))
    add(text(10, 14, f"StepPlate calibration grid {n}x{n}, print at 100 % (A3 landscape)", class_="title"))
    add(text(10, 20, "Align the axes with the plate's centre lines (cell centres 440 x 340 mm by default).",
             class_="lbl"))
    for label, x, y in grid_positions(n):
        px, py = cx + x, cy - y
        add(f'<g class="point" data-label="{label}" data-x-mm="{num(x)}" data-y-mm="{num(y)}">')
        add(line(px - 6, py, px + 6, py, class_="cross"))
        add(line(px, py - 6, px, py + 6, class_="cross"))
        add(el("circle", cx=float(px), cy=float(py), r=2.0, class_="ring"))
        add(text(px + 3, py - 3, label, class_="plabel"))
        add(text(px + 3, py + 6, f"{num(x)}, {num(y)}", class_="coord"))
        add("</g>")
    # scale bar
    sx, sy = 12.0, h - 14
    add(f'<g class="scale" data-length-mm="{num(SCALE_BAR_MM)}">')
    add(line(sx, sy, sx + SCALE_BAR_MM, sy, class_="bar"))
    add(line(sx, sy - 3, sx, sy + 3, class_="bar"))
    add(line(sx + SCALE_BAR_MM, sy - 3, sx + SCALE_BAR_MM, sy + 3, class_="bar"))
    add(text(sx, sy - 4, "this bar must measure 100 mm", class_="lbl"))
    add("</g>")
    style = (".frame{fill:none;stroke:#999;stroke-width:0.3}.axis{stroke:#888;stroke-width:0.3;stroke-dasharray:4 2}"
             ".arrow{fill:#888}.cross{stroke:#000;stroke-width:0.3}.ring{fill:none;stroke:#000;stroke-width:0.3}"
             ".bar{stroke:#000;stroke-width:0.5}.title{font:bold 5px sans-serif}.lbl{font:3px sans-serif}"
             ".plabel{font:bold 4px sans-serif}.coord{font:2.5px sans-serif;fill:#555}")
    return document(f"{num(w)}mm", f"{num(h)}mm", f"0 0 {num(w)} {num(h)}", body,
                    f"StepPlate calibration grid {n}x{n} (1:1)", style)
