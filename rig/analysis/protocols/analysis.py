"""One trial, analysed: events → scored window → measures, with faults flagged, not hidden.

:func:`analyse_trial` runs rig.analysis.events over the trial's samples (the same detector the live
view runs), picks the scored window the protocol defines, computes the protocol's measures
and lists the faults (``balance_lost``, ``stepped_off_early``, ``no_foot_lift``,
``wrong_side``, ``bad_quiet_phase``, ``no_contact``, ``incomplete_repetitions``,
``data_quality``). A faulted trial keeps its measures but is not ``scored``.

:class:`TrialResult` round-trips through JSON: as one ``# trial_result: {...}`` metadata line
of a recording (rig.recording.writer) or as a sidecar file ``<recording>.result.json``.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rig.analysis.events import Event, detect, sample_interval_s
from rig.analysis.protocols.timing import STEPDOWN_BEATS_PER_CUE, cue_period_s  # noqa: F401 - part of this API
from rig.hw.flags import Flag

RESULT_KEY = "trial_result"
CUES_KEY = "cues_s"            #: recording metadata: the metronome's cue times (s, sample clock)
SIDECAR_SUFFIX = ".result.json"


@dataclass
class TrialResult:
    protocol: str
    kind: str
    side: str | None
    sample_rate_hz: float
    measures: dict = field(default_factory=dict)
    events: list = field(default_factory=list)
    faults: list = field(default_factory=list)
    scored_window_s: list | None = None
    condition: str | None = None
    trial: int | None = None
    practice: bool = False

    @property
    def scored(self) -> bool:
        return not self.practice and not self.faults

    def to_dict(self) -> dict:
        d = asdict(self)
        d["events"] = [e.to_dict() if isinstance(e, Event) else e for e in self.events]
        return _clean(d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict) -> "TrialResult":
        d = dict(d)
        d["events"] = [Event.from_dict(e) for e in d.get("events", [])]
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "TrialResult":
        return cls.from_dict(json.loads(text))

    def metadata(self) -> dict:
        """Recording metadata (rig.recording.writer.TrialRecorder) carrying this result on one line."""
        return {RESULT_KEY: self.to_json()}

    @classmethod
    def from_metadata(cls, meta: dict) -> "TrialResult":
        return cls.from_json(meta[RESULT_KEY])

    def write_sidecar(self, recording_path) -> Path:
        p = Path(str(recording_path) + SIDECAR_SUFFIX)
        p.write_text(json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n", encoding="utf-8")
        return p

    @classmethod
    def read_sidecar(cls, recording_path) -> "TrialResult":
        return cls.from_dict(json.loads(Path(str(recording_path) + SIDECAR_SUFFIX).read_text(encoding="utf-8")))


def _clean(x):
    """JSON-safe: NaN/inf → None, numpy scalars → Python, tuples → lists."""
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _sway(t, ml_mm, ap_mm, t0, t1) -> dict:
    """The sway suite (rig.analysis.metrics) on [t0, t1], ML measures first."""
    m = (t >= t0) & (t <= t1) & np.isfinite(ml_mm) & np.isfinite(ap_mm)
    if m.sum() < 20:
        return {}
    from rig.analysis.metrics import compute_all
    res = compute_all(t[m], ml_mm[m] / 1000.0, ap_mm[m] / 1000.0)
    flat = res.get("metrics", res)
    flat = {k: v for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    ml = {k: v for k, v in flat.items() if "_ml" in k}
    return {**ml, **{k: v for k, v in flat.items() if k not in ml}}


def _data_quality(t, flags, t0, t1) -> bool:
    bad = int(Flag.INVALID) | int(Flag.SATURATED) | int(Flag.FAULT)
    m = (t >= t0) & (t <= t1)
    return bool(np.any(flags[m] & bad))


def cues_from_metadata(meta: dict) -> list[float] | None:
    """The cue times of a recording's ``# cues_s: …`` metadata line (JSON list or numbers
    separated by commas/spaces); None when the recording has none."""
    raw = meta.get(CUES_KEY) if meta else None
    if raw is None:
        return None
    if isinstance(raw, (list, tuple)):
        return [float(x) for x in raw]
    text = str(raw).strip()
    if text.startswith("["):
        return [float(x) for x in json.loads(text)]
    return [float(x) for x in text.replace(",", " ").split()]


def analyse_trial(protocol, t_s, fz_n, cop_ml_mm, cop_ap_mm, flags=None, *, side=None,
                  body_weight_n=None, condition=None, trial=None, practice=False,
                  cues=None, rate_hz=None) -> TrialResult:
    """``cues``: the metronome's cue times of a lateral step-down (from the protocol run, or
    :func:`cues_from_metadata` offline); with them each repetition is looked for in its cue's
    window (docs/protocols.md), without them the blind detector runs. ``rate_hz``: the
    converter's rate, from the recording (``# rate_hz``); measured from ``t_s`` only for bare
    arrays without one."""
    t = np.asarray(t_s, float)
    fz = np.asarray(fz_n, float)
    ml = np.asarray(cop_ml_mm, float)
    ap = np.asarray(cop_ap_mm, float)
    fl = np.zeros(len(t), np.int64) if flags is None else np.asarray(flags).astype(np.int64)
    fs = 1.0 / sample_interval_s(rate_hz, t)
    use_cues = cues is not None and protocol.kind == "lateral_step_down"
    ev = detect(t, fz, ml, ap, fl, mode=protocol.kind, body_weight_n=body_weight_n, rate_hz=fs,
                cues=list(cues) if use_cues else None, cue_period_s=cue_period_s(protocol) if use_cues else None)
    res = TrialResult(protocol.id, protocol.kind, side, round(fs, 3), events=ev, condition=condition,
                      trial=trial, practice=practice)
    fn = {"single_leg_stance": _single_leg, "quiet_stance": _quiet, "lateral_step_down": _stepdown,
          "step_down_landing": _landing, "single_leg_squat": _squat}[protocol.kind]
    if protocol.kind == "step_down_landing":
        _landing(protocol, res, ev, t, fz, ml, ap, fl, side, body_weight_n)
    else:
        fn(protocol, res, ev, t, fz, ml, ap, fl, side)
    res.measures = _clean(res.measures)
    return res


def _names(ev, name, t0=-math.inf, t1=math.inf):
    return [e for e in ev if e.name == name and t0 <= e.t_s <= t1]


def _single_leg(p, res, ev, t, fz, ml, ap, fl, side):
    lifts = _names(ev, "foot_lift")
    if not lifts:
        res.faults.append("no_foot_lift")
        return
    lift = lifts[0]
    if not _names(ev, "weight_settled", t1=lift.t_s):
        res.faults.append("bad_quiet_phase")
    if side is not None and lift.details.get("stance_side") != side:
        res.faults.append("wrong_side")
    t0 = lift.t_s + p.params["scored_window_start_s"]
    t1 = lift.t_s + p.duration_s
    res.scored_window_s = [t0, t1]
    touches = _names(ev, "touch_down", lift.t_s, t1) + _names(ev, "hop", lift.t_s, t1)
    touches.sort(key=lambda e: e.t_s)
    offs = _names(ev, "step_off", lift.t_s, t1)
    m = res.measures
    m["stance_side"] = lift.details.get("stance_side")
    m["foot_lift_t_s"] = lift.t_s
    m["touch_down_count"] = len(touches)
    first_td = touches[0].t_s if touches else None
    m["time_to_first_touch_down_s"] = (first_td - lift.t_s) if first_td is not None else p.duration_s
    m["touch_down_censored"] = first_td is None
    if touches:
        res.faults.append("balance_lost")
    if offs:
        res.faults.append("stepped_off_early")
    if t[-1] < t1 - 0.05 and not offs:
        res.faults.append("stepped_off_early")
    end = min(t1, first_td if first_td is not None else t1)
    m["sway_window_s"] = [t0, end]
    if end - t0 >= 5.0:
        m.update(_sway(t, ml, ap, t0, end))
    if _data_quality(t, fl, t0, t1):
        res.faults.append("data_quality")


def _quiet(p, res, ev, t, fz, ml, ap, fl, side):
    ws = _names(ev, "weight_settled")
    if not ws:
        res.faults.append("bad_quiet_phase")
        return
    t0 = ws[0].t_s + p.params["settle_s"]
    t1 = t0 + p.duration_s
    res.scored_window_s = [t0, t1]
    if _names(ev, "step_off", t1=t1) or t[-1] < t1 - 0.05:
        res.faults.append("stepped_off_early")
    res.measures.update(_sway(t, ml, ap, t0, min(t1, t[-1])))
    if _data_quality(t, fl, t0, t1):
        res.faults.append("data_quality")


def _squat(p, res, ev, t, fz, ml, ap, fl, side):
    """Single-leg squat: rig.analysis.squat's drift-corrected repetitions and measures (same keys as
    the step-down's), with touch-downs of the free foot from the stance events."""
    from rig.analysis.squat import squat_measures
    ws = _names(ev, "weight_settled")
    lifts = _names(ev, "foot_lift")
    t0 = lifts[0].t_s if lifts else (ws[0].t_s if ws else float(t[0]))
    bw = ws[0].details["body_weight_n"] if ws else float(np.nanmedian(fz[t >= t0]))
    stance = side if side in ("left", "right") else (
        lifts[0].details.get("stance_side") if lifts else ("left" if np.nanmedian(ml) < 0 else "right"))
    seg = t >= t0
    res.measures.update(squat_measures(t[seg], fz[seg], ml[seg], ap[seg], stance, body_weight_n=bw))
    res.measures["body_weight_n"] = bw
    res.scored_window_s = [t0, float(t[-1])]
    if not ws:
        res.faults.append("bad_quiet_phase")
    if _names(ev, "touch_down", t0) or _names(ev, "hop", t0):
        res.faults.append("balance_lost")
    if _data_quality(t, fl, t0, float(t[-1])):
        res.faults.append("data_quality")


def _stepdown(p, res, ev, t, fz, ml, ap, fl, side):
    from rig.analysis.stepdown import stepdown_measures
    ws = _names(ev, "weight_settled")
    if not ws:
        res.faults.append("bad_quiet_phase")
        return
    bw = ws[0].details["body_weight_n"]
    stance = side
    if stance not in ("left", "right"):
        med = float(np.nanmedian(ml[t >= ws[0].t_s]))
        stance = "left" if med < 0 else "right"
    m = stepdown_measures(t, fz, ml, ap, bw, ev, stance)
    res.measures.update(m)
    res.measures["not_performed_count"] = len(_names(ev, "stepdown_not_performed"))
    res.measures["uncued_movement_count"] = len(_names(ev, "stepdown_uncued_movement"))
    res.measures["cue_guided"] = any(e.details.get("via") == "cue" for e in _names(ev, "stepdown_lowest")) \
        or res.measures["not_performed_count"] > 0
    res.measures["body_weight_n"] = bw
    res.scored_window_s = [ws[0].t_s, float(t[-1])]
    if m["repetition_count"] < p.params["repetitions"]:
        res.faults.append("incomplete_repetitions")
    if _names(ev, "hop"):
        res.faults.append("balance_lost")
    if _names(ev, "step_off") and m["repetition_count"] < p.params["repetitions"]:
        res.faults.append("stepped_off_early")
    if _data_quality(t, fl, ws[0].t_s, t[-1]):
        res.faults.append("data_quality")


def _landing(p, res, ev, t, fz, ml, ap, fl, side, body_weight_n=None):
    from rig.analysis.landing import landing_metrics
    contacts = _names(ev, "landing_contact")
    bw = body_weight_n or next((e.details["body_weight_n"] for e in ev if e.name == "weight_settled"), None)
    if bw is None:
        res.faults.append("bad_quiet_phase")       # never weighed: no landing can be scored
        return
    if not contacts:
        res.faults.append("no_contact")
        return
    c = contacts[0]
    hold = p.params["hold_s"]
    res.scored_window_s = [c.t_s, c.t_s + hold]
    res.measures.update(landing_metrics(t, fz, bw, c.t_s, cop_ml_mm=ml, cop_ap_mm=ap,
                                        tts_window_s=p.params["tts_window_s"],
                                        sway_window_s=tuple(p.params["sway_window_s"]),
                                        box_height_cm=p.params["box_height_cm"]))
    res.measures["contact_confidence"] = c.confidence
    if _names(ev, "step_off", c.t_s, c.t_s + hold) or t[-1] < c.t_s + hold - 0.05:
        res.faults.append("stepped_off_early")
    if _data_quality(t, fl, c.t_s, c.t_s + hold):
        res.faults.append("data_quality")
