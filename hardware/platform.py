"""The dimensioned top view of the platform (hardware/platform.svg), from a PlateConfig.

Shows the top board, the four load cells with the corner names the software uses (fl, fr,
bl, br), the axes (x right, y forward, origin at the centre of the cells) and the
dimensions. SVG user units are millimetres; each cell is a ``<g class="cell">`` with
``data-corner``, ``data-x-mm`` and ``data-y-mm`` so tests can check it against the config.
"""
from __future__ import annotations

from rig.config import PlateConfig
from rig.constants import CORNER_NAMES, CORNERS

from hardware.grid import GRID_EXTENT_AP_MM, GRID_EXTENT_ML_MM
from hardware.svg import document, el, line, num, text

#: Top board: 18 mm birch plywood, this size; the cells sit this far in from each edge.
BOARD_MARGIN_ML_MM = 30.0
BOARD_MARGIN_AP_MM = 30.0


def board_size(plate: PlateConfig) -> tuple[float, float]:
    return (plate.cell_spacing_ml_mm + 2 * BOARD_MARGIN_ML_MM,
            plate.cell_spacing_ap_mm + 2 * BOARD_MARGIN_AP_MM)


def cell_positions(plate: PlateConfig) -> dict[str, tuple[float, float]]:
    """Cell centres in plate axes (mm), CORNERS order: the same as Config.geometry()."""
    a, b = plate.cell_spacing_ml_mm / 2, plate.cell_spacing_ap_mm / 2
    xy = ((-a, b), (a, b), (-a, -b), (a, -b))
    return dict(zip(CORNERS, xy))


def _dim(x1, y1, x2, y2, label: str, offset: float, horizontal: bool) -> list[str]:
    """A dimension line with extension lines and arrows, ``offset`` away from the measured edge."""
    out = []
    if horizontal:
        y = y1 + offset
        out += [line(x1, y1, x1, y + 4 * (1 if offset > 0 else -1), class_="ext"),
                line(x2, y2, x2, y + 4 * (1 if offset > 0 else -1), class_="ext"),
                line(x1, y, x2, y, class_="dim", marker_start="url(#a)", marker_end="url(#a)"),
                text((x1 + x2) / 2, y - 3, label, class_="dimtxt", text_anchor="middle")]
    else:
        x = x1 + offset
        out += [line(x1, y1, x + 4 * (1 if offset > 0 else -1), y1, class_="ext"),
                line(x2, y2, x + 4 * (1 if offset > 0 else -1), y2, class_="ext"),
                line(x, y1, x, y2, class_="dim", marker_start="url(#a)", marker_end="url(#a)"),
                text(x - 3, (y1 + y2) / 2, label, class_="dimtxt", text_anchor="middle",
                     transform=f"rotate(-90 {num(x - 3)} {num((y1 + y2) / 2)})")]
    return out


def render(plate: PlateConfig | None = None) -> str:
    plate = plate or PlateConfig()
    plate.validate("plate")
    bw, bd = board_size(plate)
    m = 90.0  # margin for dimensions and notes
    W, H = bw + 2 * m, bd + 2 * m + 60
    cx, cy = m + bw / 2, m + bd / 2  # plate origin in drawing coordinates

    def P(x, y):
        return cx + x, cy - y

    body: list[str] = ['<defs><marker id="a" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="6" '
                       'markerHeight="6" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/>'
                       '</marker></defs>']
    add = body.append
    add(text(10, 20, "StepPlate platform, top view (dimensions in mm)", class_="title"))
    add(text(10, 34, "Seen from above, a person standing on it facing FRONT (top of the drawing).",
             class_="note"))
    x0, y0 = P(-bw / 2, bd / 2)
    add(el("rect", x=x0, y=y0, width=bw, height=bd, class_="board"))
    add(text(cx, y0 - 8, "FRONT", class_="front", text_anchor="middle"))
    # calibration grid area
    gx, gy = P(-GRID_EXTENT_ML_MM / 2, GRID_EXTENT_AP_MM / 2)
    add(el("rect", x=gx, y=gy, width=GRID_EXTENT_ML_MM, height=GRID_EXTENT_AP_MM, class_="grid"))
    add(text(gx + 4, gy + 12, f"calibration grid area {num(GRID_EXTENT_ML_MM)} x "
             f"{num(GRID_EXTENT_AP_MM)} (hardware/calibration-grid-*.svg)", class_="note"))
    # axes
    add(line(*P(-bw / 2 + 10, 0), *P(bw / 2 - 10, 0), class_="axis", marker_end="url(#a)"))
    add(line(*P(0, -bd / 2 + 10), *P(0, bd / 2 - 10), class_="axis", marker_end="url(#a)"))
    ax, ay = P(bw / 2 - 10, 0)
    add(text(ax - 4, ay - 6, "+x (ML, right)", class_="axtxt", text_anchor="end"))
    ax, ay = P(0, bd / 2 - 10)
    add(text(ax + 6, ay + 10, "+y (AP, forward)", class_="axtxt"))
    ox, oy = P(0, 0)
    add(text(ox + 6, oy + 16, "origin (0, 0): centre of the cells", class_="note"))
    for corner, (x, y) in cell_positions(plate).items():
        px, py = P(x, y)
        add(f'<g class="cell" data-corner="{corner}" data-x-mm="{num(x)}" data-y-mm="{num(y)}">')
        add(el("circle", cx=px, cy=py, r=14.0, class_="cellmark"))
        add(line(px - 18, py, px + 18, py, class_="centre"))
        add(line(px, py - 18, px, py + 18, class_="centre"))
        dy = 30 if y > 0 else -22
        add(text(px, py + dy, f"{corner} ({CORNER_NAMES[corner]})", class_="corner", text_anchor="middle"))
        add(text(px, py + dy + (12 if y > 0 else -16), f"x {num(x)}, y {num(y)}", class_="note",
                 text_anchor="middle"))
        add("</g>")
    fl, fr, bl = (P(*cell_positions(plate)[c]) for c in ("fl", "fr", "bl"))
    bx1, by1 = P(-bw / 2, -bd / 2)
    body += _dim(fl[0], y0, fr[0], y0, f"{num(plate.cell_spacing_ml_mm)} (cell spacing ML)", -40, True)
    body += _dim(x0, by1, x0 + bw, by1, f"{num(bw)} (board)", 40, True)
    body += _dim(x0 + bw, fr[1], x0 + bw, P(*cell_positions(plate)["br"])[1],
                 f"{num(plate.cell_spacing_ap_mm)} (cell spacing AP)", 40, False)
    body += _dim(x0, y0, x0, y0 + bd, f"{num(bd)} (board)", -40, False)
    notes = [
        f"Cells: {num(plate.cell_capacity_kg)} kg each, full bridge, {num(plate.cell_sensitivity_mv_v)} mV/V "
        "(config [plate]). Cell centres = the points where the top board bears on each cell.",
        "Stack: base board, cells bolted to it, top board bearing on the cells only; "
        "nothing else may touch it (3 mm gap all round).",
    ]
    for k, s in enumerate(notes):
        add(text(10, H - 40 + k * 14, s, class_="note"))
    style = (".title{font:bold 16px sans-serif}.note{font:10px sans-serif}.front{font:bold 14px sans-serif}"
             ".board{fill:#f3e5c0;stroke:#8d6e63;stroke-width:2}.grid{fill:none;stroke:#1565c0;"
             "stroke-dasharray:6 3}.axis{stroke:#c62828;stroke-width:1.5}.axtxt{font:bold 11px sans-serif;"
             "fill:#c62828}.cellmark{fill:#90a4ae;stroke:#37474f}.centre{stroke:#37474f}"
             ".corner{font:bold 12px sans-serif}.dim{stroke:#000}.ext{stroke:#666;stroke-width:0.5}"
             ".dimtxt{font:11px sans-serif}")
    return document(num(W), num(H), f"0 0 {num(W)} {num(H)}", body,
                    "StepPlate platform: dimensions, load cells, axes", style)
