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
from rig.analysis.protocols.kinds import KINDS
from rig.analysis.protocols.timing import STEPDOWN_BEATS_PER_CUE, cue_period_s  # noqa: F401 - part of this API

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


def cues_metadata(cues) -> dict:
    """The recording metadata line :func:`cues_from_metadata` reads back (4 decimals, s)."""
    return {CUES_KEY: ",".join(f"{float(c):.4f}" for c in cues)}


def recording_rate_hz(meta) -> float | None:
    """The converter's rate a recording carries (``# rate_hz``), or None when it has none."""
    try:
        rate = float((meta or {}).get("rate_hz") or 0)
    except (TypeError, ValueError):
        return None
    return rate if math.isfinite(rate) and rate > 0 else None


def analyse_recording(protocol, t_s, fz_n, cop_ml_mm, cop_ap_mm, flags, meta, *, side=None,
                      body_weight_n=None) -> TrialResult:
    """:func:`analyse_trial` of a stored recording, with what its metadata says: the converter's
    rate, a step-down's metronome cues, the condition and whether it was a practice trial."""
    meta = meta or {}
    cues = cues_from_metadata(meta) if protocol.kind == "lateral_step_down" else None
    return analyse_trial(protocol, t_s, fz_n, cop_ml_mm, cop_ap_mm, flags,
                         side=side if side in ("left", "right") else None, body_weight_n=body_weight_n,
                         cues=cues, rate_hz=recording_rate_hz(meta), condition=meta.get("condition"),
                         practice=str(meta.get("practice", "")).lower() == "true")


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
                cues=list(cues) if use_cues else None, cue_period_s=cue_period_s(protocol) if use_cues else None,
                stance_side=side if side in ("left", "right") else None)
    res = TrialResult(protocol.id, protocol.kind, side, round(fs, 3), events=ev, condition=condition,
                      trial=trial, practice=practice)
    KINDS[protocol.kind].score(protocol, res, ev, t, fz, ml, ap, fl, side, body_weight_n)
    res.measures = _clean(res.measures)
    return res


