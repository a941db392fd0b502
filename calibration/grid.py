"""The calibration grid: the marked spots of the printed template, in plate coordinates.

One definition, used by the calibration flow (installed with the package, so a Pi has it) and
by hardware/grid.py, which draws the 1:1 printable templates from it.

Coordinates are the software's plate axes (rig/signal/plate.py): x medio-lateral, right positive;
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

GRID_EXTENT_ML_MM = 320.0
GRID_EXTENT_AP_MM = 240.0


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
