"""The dashboard's two colour codes, kept apart so no colour means two things.

- Sides (web trends, L/R bars, PDF traces): left blue, right orange, both grey (the
  Okabe-Ito pair, readable with the common colour-vision deficiencies).
- Change labels (trend dots, chips, PDF marks): green for a real improvement, red for a real
  decline; "within noise" stays white. The labels are rig.analysis.change's vocabulary.

Every page, SVG and PDF takes its colours from here; a test checks the two codes share none.
"""
from __future__ import annotations

from rig.analysis.change import REAL_DECLINE, REAL_IMPROVEMENT

SIDE_COLOURS = {"left": "#0072b2", "right": "#e69f00", "both": "#555555"}
LABEL_COLOURS = {REAL_IMPROVEMENT: "#2ca02c", REAL_DECLINE: "#d62728"}
NEUTRAL = "#888888"


def side(name: str | None) -> str:
    """The colour of a side (left/right/both); grey for anything else."""
    return SIDE_COLOURS.get(name or "", NEUTRAL)
