"""Per-sample quality flags, carried as an int bit field from the driver to every output.

The ``flags`` column of ``rig stream`` and of recordings holds these bits.
"""
from enum import IntFlag


class Flag(IntFlag):
    NONE = 0
    INVALID = 1       #: frame failed an integrity check; never converted to forces/COP
    SATURATED = 2     #: a chip returned 0x7FFFFF or 0x800000 (real overload of a cell)
    SPIKE = 4         #: a single-sample glitch on one channel was replaced by the spike filter
    GAP = 8           #: one or more conversions were missed just before this sample
    UNLOADED = 16     #: Fz below the plate's minimum: COP undefined (NaN)
    RESYNC = 32       #: first good sample after the driver resynchronised the chips
    FAULT = 64        #: sample recorded while a chip fault was active (e.g. a chip not answering)


def describe(flags: int) -> list[str]:
    """Names of the bits set in ``flags`` (for humans and JSON)."""
    return [f.name.lower() for f in Flag if f and flags & f]
