"""A frame: one parallel read of every HX711 on the shared clock."""
from __future__ import annotations

from dataclasses import dataclass




@dataclass(frozen=True, slots=True)
class Frame:
    t_ns: int                      #: monotonic ns when the read started (first rising edge)
    counts: tuple[int, ...]        #: signed 24-bit code per chip, in CORNERS order
    flags: int = 0                 #: rig.hw.flags.Flag bits for the whole frame
    max_clock_high_ns: int = 0     #: longest PD_SCK high time seen during the frame
    chip_ok: tuple[bool, ...] = () #: per chip: passed every check in this frame

    @property
    def valid(self) -> bool:
        from rig.hw.flags import Flag
        return not (self.flags & Flag.INVALID)
