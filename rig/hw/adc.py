"""What the acquisition needs from a converter: frames of four corner counts, its rate, its
health. The HX711 array (rig.hw.hx711) is one; the simulator's chips are read through it.

The sample rate is the converter's (``rate_sps``): the acquisition announces it in its hello,
every recording carries it (``# rate_hz``), and the analysis takes it from there. Nothing
downstream hard-codes or re-estimates it.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from rig.hw.frame import Frame


@runtime_checkable
class FrameReader(Protocol):
    rate_sps: float                  #: conversions per second of every corner

    def read_frame(self) -> Frame:
        """The next frame: its time, four counts in corner order and its flags."""

    def health(self) -> dict:
        """Per-chip state and counters (docs/live-stream.md, ``driver``)."""
