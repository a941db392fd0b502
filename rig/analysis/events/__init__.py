"""Causal event detection on the plate's sample stream (live and offline, same code).

:class:`EventDetector` is fed batches of samples (``t_s, fz_n, cop_ml_mm, cop_ap_mm, flags``)
as they arrive (the dashboard calls it per ~100 ms batch) and returns the events it became
sure of in that batch. Every decision uses only samples up to the current one, so
:func:`detect` (the whole array at once) returns exactly the same events as any batching.
An event may be *dated* earlier than the sample that confirmed it (``t_s`` <
``detected_t_s``): e.g. a touch-down is confirmed after 3 samples below the threshold and
dated back to where the force started to fall. ``detected_t_s - t_s`` is the live latency.

Events (``name``: when, dated at)
  step_on            load rises above the load threshold (first sample above it)
  weight_settled     1 s of Fz with SD below 1.5 % of its mean; details body_weight_n
                     (dated at the start of that quiet second)
  foot_lift          single-leg stance begins: COP moved sideways > 35 mm from the double-
                     stance COP and stayed 0.3 s; dated where it reached 90 % of the shift;
                     details stance_side, lifted_side, region centre. A kind that starts on
                     the stance leg (single-leg squat) has it where the weight settled, when
                     that COP is over one foot (details already_lifted)
  touch_down         the lifted foot touches the floor (Fz < BW·(1 − 10 %) for 3 samples) or
                     the plate (the COP leaves the single-foot region towards the lifted foot,
                     45 mm ML, or front/back, 110 mm AP, for 3 samples; the region's centre
                     follows the median of the last 4 s of calm samples, so slow sway over the
                     foot is not a touch); dated back to the onset; details via = "fz" | "cop".
                     Also in a landing's hold, once the force has stabilised
  hop                plate unloaded for less than 0.6 s, then loaded again; dated at take-off
  step_off           plate unloaded for 0.6 s or more; dated at the first unloaded sample
  stepdown_lowering_start / stepdown_lowest / stepdown_return
                     lateral step-down repetition phases from the vertical velocity of the
                     centre of mass, v = ∫(Fz − BW)/m dt (reset to 0 after each return);
                     with the metronome's cue times (``cues=`` / :meth:`EventDetector.add_cue`)
                     each repetition is looked for in its cue's window (:func:`cued_repetition`)
  stepdown_not_performed   a cue whose window shows no repetition (dated at the cue)
  stepdown_uncued_movement Fz movement outside every cue's window (e.g. a wobble)
  landing_contact    first sample above the unloaded mean + 5 SD of the unloaded Fz noise
                     (measured on the plate while it was unloaded, not a fixed newton value);
                     dated one sample earlier when that sample was already above mean + 3 SD
                     (the contact fell late in its conversion)
  landing_peak       the largest Fz within 0.25 s of contact (emitted when that window ends)
  stabilised         Fz stays within BW ± 5 % for 1 s (dated at the start of that second)

Confidence is a number in [0, 1]; how each is computed is in docs/protocols.md. Samples
with the INVALID flag are skipped (they carry no forces).
"""
from __future__ import annotations

from rig.analysis.events.base import MODES, DetectorParams, Event, first, sample_interval_s
from rig.analysis.events.detector import EventDetector, detect
from rig.analysis.events.stepdown import cued_repetition

__all__ = ["MODES", "sample_interval_s", "DetectorParams", "Event", "EventDetector", "cued_repetition", "detect", "first"]
