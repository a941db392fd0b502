"""Health reports of the acquisition: typed problem codes, not free text.

Every report (``Health.data``, docs/live-stream.md) carries ``problems``: one entry per fault,
``{"code": HealthCode, "chip": "fl"|…|None, "message": "…"}``. ``messages`` is the same faults'
wording for people, followed by the state ("waiting to tare") and the advisories
(``warnings``). Consumers (``rig doctor``, the trial recorder, the status bar) decide on the
``code`` and show the ``message``; nobody parses the wording.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rig.constants import CORNER_NAMES


class HealthCode(str, Enum):
    """What a health problem is; its string value is what the JSON message carries."""

    CHIP_NOT_RESPONDING = "chip_not_responding"
    CHIP_STUCK_LOW = "chip_stuck_low"
    CHIP_SATURATED = "chip_saturated"
    CHIP_FAULT = "chip_fault"
    CHIP_BAD_READS = "chip_bad_reads"
    CHIP_NOISY = "chip_noisy"
    RATE_LOW = "rate_low"
    INVALID_FRAMES = "invalid_frames"
    CLOCK_HIGH = "clock_high_too_long"
    READ_ERRORS = "read_errors"
    PLATE_NOT_CONNECTED = "plate_not_connected"     # no GPIO backend can open the pins (on a Pi)


#: driver chip states that are healthy
OK_STATES = {"ok", "ready", "running", "reading", "good", "idle"}
#: driver chip state (rig.hw.hx711) -> (code, advice); anything else is CHIP_FAULT
CHIP_STATES = {
    "not responding": (HealthCode.CHIP_NOT_RESPONDING, "not responding — check its cable"),
    "stuck low": (HealthCode.CHIP_STUCK_LOW,
                  "data line stuck low — check the DOUT wire and the board's 3.3 V/GND"),
    "saturated": (HealthCode.CHIP_SATURATED,
                  "reading full scale — overloaded, or a cell wired with its signal pair reversed"),
}
#: a channel whose spike filter replaced at least this many samples in one second is noisy
NOISY_SPIKES_PER_S = 3


def problem(code: HealthCode, message: str, chip: str | None = None) -> dict:
    """One entry of a report's ``problems``."""
    return {"code": code.value, "chip": chip, "message": message}


def chip_problem(name: str, state: str, *, ready: bool, dead: bool, last_error: str = "",
                 bad_reads: int = 0, spikes: int = 0) -> dict | None:
    """The problem of one chip in the last health window, or None when it is healthy.

    A chip that failed every read for the dead-chip time, or that the driver reports not
    ready in a non-healthy state, is "not responding"; otherwise the driver's state decides,
    then bad reads in the window, then a noisy signal (spikes removed by the filter).
    """
    long = CORNER_NAMES.get(name, name)
    st = state.lower()
    if dead or (not ready and st not in OK_STATES):
        code, advice = CHIP_STATES["not responding"]
        return problem(code, f"{long} load cell {advice}", name)
    if st in CHIP_STATES:
        code, advice = CHIP_STATES[st]
        return problem(code, f"{long} load cell {advice}", name)
    if st not in OK_STATES:
        return problem(HealthCode.CHIP_FAULT,
                       f"{long} load cell: {last_error or state} — check its cable and solder joints", name)
    if bad_reads:
        return problem(HealthCode.CHIP_BAD_READS,
                       f"{long} load cell: {bad_reads} bad reads in the last second — check its cable and ground", name)
    if spikes >= NOISY_SPIKES_PER_S:
        return problem(HealthCode.CHIP_NOISY,
                       f"{long} load cell signal is noisy — check its cable and connector "
                       f"({spikes} spikes removed in the last second)", name)
    return None


def faults(report: dict) -> list[dict]:
    """The problems of a ``health`` message (empty for any other message or a healthy one)."""
    if report.get("type", "health") != "health" or report.get("ok") is not False:
        return []
    return [p for p in report.get("problems") or () if isinstance(p, dict)]


@dataclass
class Health:
    """One health report: a JSON-ready dict (docs/live-stream.md, ``health``)."""

    data: dict
    type: str = "health"

    def to_message(self) -> dict:
        return {"type": "health", **self.data}


def chip_list(driver: dict) -> list[dict]:
    chips = driver.get("chips") if isinstance(driver, dict) else None
    if isinstance(chips, dict):
        return [dict(v, name=v.get("name", k)) for k, v in chips.items()]
    if isinstance(chips, (list, tuple)):
        return [dict(c) for c in chips if isinstance(c, dict)]
    return []
