"""A trial's timeline, owned by the protocol: how long it is recorded from Start (after the
countdown; each kind's ``record_s``, rig.analysis.protocols.kinds) and, for a lateral step-down,
when the metronome cues each repetition. The run page, ``rig simulate`` and the virtual person
read it from here, so they agree.

The patient is in the starting position when Start is pressed: standing still on the plate
(single-leg stance, quiet stance, the landing's weighing) or on the stance leg (step-down,
squat). Each length leaves room for what the analysis needs before the task (``settle_s`` of
stillness), the task itself, and a spare second."""
from __future__ import annotations

import math

#: Metronome beats between two step-down cues: ~1.5 beats lowering, ~1.5 returning, 1 still.
STEPDOWN_BEATS_PER_CUE = 4
MAX_RECORD_S = 120.0          #: the longest live recording (the record API's maximum)
CUE_MARGIN_S = 1.0            #: recorded after the last repetition's cue window


def cue_period_s(protocol) -> float | None:
    """The interval between a lateral step-down protocol's cues (from its cadence)."""
    bpm = protocol.params.get("cadence_bpm") if protocol.kind == "lateral_step_down" else None
    return STEPDOWN_BEATS_PER_CUE * 60.0 / bpm if bpm else None


def metronome_plan(protocol) -> dict | None:
    """A lateral step-down's metronome (None for other protocols): a click every beat
    (``cadence_bpm``), a cue every ``STEPDOWN_BEATS_PER_CUE`` beats (``period_s``),
    ``lead_beats`` count-in beats (at least ``settle_s``: the detector wants a still moment
    before the first cue), cue k at ``lead_s + k·period_s`` from Start, and the recording's
    length: lead + repetitions × period + margin, never shorter than ``duration_s``."""
    period = cue_period_s(protocol)
    if not period:
        return None
    params = protocol.params
    reps = int(params.get("repetitions", 5))
    beat = period / STEPDOWN_BEATS_PER_CUE
    lead_beats = max(1, math.ceil(float(params.get("settle_s", 2.0)) / beat - 1e-9))
    lead = lead_beats * beat
    seconds = min(MAX_RECORD_S, max(float(protocol.duration_s), lead + reps * period + CUE_MARGIN_S))
    return {"period_s": period, "beat_s": beat, "beats_per_cue": STEPDOWN_BEATS_PER_CUE, "repetitions": reps,
            "lead_beats": lead_beats, "lead_s": lead, "seconds": round(seconds, 3)}


__all__ = ["STEPDOWN_BEATS_PER_CUE", "MAX_RECORD_S", "CUE_MARGIN_S", "cue_period_s", "metronome_plan"]
