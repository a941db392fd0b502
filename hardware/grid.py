"""The 1:1 printable calibration-grid templates (SVG, mm units) and their CSV.

The spots themselves are defined once in calibration/grid.py (installed with the package, so
the calibration flow on a Pi uses exactly what this module prints); see its docstring for the
axes, labels and default extent.
"""
from __future__ import annotations

from calibration.grid import GRID_EXTENT_AP_MM, GRID_EXTENT_ML_MM, grid_positions
from hardware.svg import document, el, line, num, text

__all__ = ["GRID_EXTENT_AP_MM", "GRID_EXTENT_ML_MM", "grid_positions", "csv_text", "render_template"]
SHEET_MM = (420.0, 297.0)  # A3 landscape
SCALE_BAR_MM = 100.0


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
