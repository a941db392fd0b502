"""Clinic units for display. Storage and keys are SI-ish with the unit in the key's name
(``_mm``, ``_mm_s``, ``_mm2``, ``_n``, ``_s``, ``_hz``); the UI shows cm, cm/s, cm², % body
weight. Unknown suffixes are shown as stored."""
from __future__ import annotations

import functools
import math

from rig.signal.plate import G

# suffix -> (factor, display unit); longest suffix wins
_SUFFIXES = {
    "_mm_s2": (0.1, "cm/s²"),
    "_mm_s": (0.1, "cm/s"),
    "_mm2_s": (0.01, "cm²/s"),
    "_mm2": (0.01, "cm²"),
    "_mm": (0.1, "cm"),
    "_m": (100.0, "cm"),
    "_n_s": (None, "%BW/s"),      # N/s, a rate (an impulse's N·s: see PRODUCT_PREFIXES)
    "_n": (None, "%BW"),
    "_bw_s": (100.0, "%BW/s"),
    "_bw": (100.0, "%BW"),
    "_s": (1.0, "s"),
    "_ms": (1.0, "ms"),
    "_hz": (1.0, "Hz"),
    "_pct": (1.0, "%"),
    "_ratio": (1.0, ""),
    "_deg": (1.0, "°"),
}


_BY_LENGTH = sorted(_SUFFIXES, key=len, reverse=True)
#: Measures whose ``_s`` suffix multiplies instead of dividing: an impulse is N·s (``_n_s``)
#: or BW·s (``_bw_s``), where a loading rate's ``_n_s`` is N/s.
PRODUCT_PREFIXES = ("impulse",)
#: Measures that count things: shown as whole numbers, without a unit.
COUNT_SUFFIXES = ("_count", "_n_peaks")


def is_count(key: str) -> bool:
    return key.endswith(COUNT_SUFFIXES)


def _unit_of(key: str) -> tuple[float | None, str]:
    base, suf = split_key(key)
    factor, unit = _SUFFIXES.get(suf, (1.0, ""))
    if base.startswith(PRODUCT_PREFIXES) and unit.endswith("/s"):
        unit = unit[:-2] + "·s"
    return factor, unit


@functools.lru_cache(maxsize=1024)
def split_key(key: str) -> tuple[str, str]:
    """('mean_velocity', '_mm_s') for 'mean_velocity_mm_s'."""
    for suf in _BY_LENGTH:
        if key.endswith(suf):
            return key[: -len(suf)], suf
    return key, ""


#: What a clinician calls the headline measures (rig.analysis.protocols.kinds); other keys are
#: spelled out from their names.
NAMES = {
    "mean_velocity_mm_s": "Sway velocity",
    "mean_velocity_ml_mm_s": "Side-to-side sway velocity",
    "ellipse95_area_mm2": "Sway area (95 % ellipse)",
    "rms_ml_mm": "Side-to-side sway (RMS)",
    "rms_ap_mm": "Front-to-back sway (RMS)",
    "sd_ml_mm": "Side-to-side sway (SD)",
    "touch_down_count": "Touch-downs",
    "time_to_first_touch_down_s": "Time to first touch-down",
    "repetition_count": "Repetitions",
    "mean_ml_medial_mm": "Knee-in COP shift (medial)",
    "mean_cop_velocity_lowering_mm_s": "COP velocity while lowering",
    "mean_fz_smoothness_rms_bw_s": "Force jerkiness",
    "peak_force_bw": "Peak landing force",
    "loading_rate_bw_s": "Loading rate",
    "tts_seq_avg_s": "Time to stabilise",
    "post_sway_mean_velocity_mm_s": "Sway after landing",
    # patient-reported outcomes (dashboard.pros): scores, no unit
    "pain_week_nrs": "Worst pain, past week (0–10)",
    "pain_test_nrs": "Pain during the test (0–10)",
    "lefs_total": "LEFS (0–80)",
}


def name(key: str) -> str:
    """What a clinician calls the measure, without its unit: "Sway velocity"."""
    return NAMES.get(key) or split_key(key)[0].replace("_", " ").strip().capitalize()


def label(key: str) -> str:
    """The measure's name with its clinic unit: "Sway velocity (cm/s)"."""
    unit = _unit_of(key)[1]
    return f"{name(key)} ({unit})" if unit else name(key)


def unit(key: str) -> str:
    return _unit_of(key)[1]


def shown(keys) -> list[str]:
    """``keys`` without the newton twins of body-weight measures: ``peak_force_n`` and
    ``peak_force_bw`` are both "% BW" on screen, so only the ``_bw`` one is shown."""
    keys = list(keys)
    have = set(keys)
    twin = {"_n": "_bw", "_n_s": "_bw_s"}
    out = []
    for k in keys:
        base, suf = split_key(k)
        if suf in twin and base + twin[suf] in have:
            continue
        out.append(k)
    return out


def to_display(key: str, value: float | None, body_mass_kg: float | None = None) -> float | None:
    """Value in clinic units; newtons become % body weight (needs the body mass)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    factor = _unit_of(key)[0]
    if factor is None:
        if not body_mass_kg:
            return None
        return 100.0 * value / (body_mass_kg * G)
    return value * factor


def from_display(key: str, value: float) -> float:
    """A value typed in clinic units back in the key's stored unit (cm/s → mm/s). Newtons
    shown as % body weight cannot come back without a body mass: ValueError."""
    factor = _unit_of(key)[0]
    if factor is None:
        raise ValueError(f"{label(key)} is shown per body weight; it cannot be set without a body mass")
    return value / factor


def fmt(key: str, value: float | None, body_mass_kg: float | None = None) -> str:
    v = to_display(key, value, body_mass_kg)
    if v is None:
        return "–"
    if is_count(key):
        return f"{round(v):d}"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
