"""Calibration file -> ForceModel, and the age check. Re-exported by ``calibration``."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from calibration.fileformat import CalibrationFileError, default_path, load

#: Used when the config has no ``calibration.max_age_days`` option.
DEFAULT_MAX_AGE_DAYS = 90


def check_plate(cal: dict, config) -> None:
    """A calibration belongs to one plate: refuse another plate's file."""
    p = config.plate
    if cal["plate"]["name"] != p.name:
        raise CalibrationFileError("plate.name", f"calibration is for {cal['plate']['name']!r}, "
                                   f"this plate is {p.name!r} (plate.name in the config)")
    for k in ("cell_spacing_ml_mm", "cell_spacing_ap_mm"):
        if abs(cal["plate"][k] - getattr(p, k)) > 0.5:
            raise CalibrationFileError(f"plate.{k}", f"calibration was made with {cal['plate'][k]} mm, "
                                       f"the config says {getattr(p, k)} mm")


def force_model_from_dict(cal: dict, config=None):
    from calibration.model import PolyCorrection
    from rig.plate import ForceModel
    if config is not None:
        check_plate(cal, config)
    t = cal["tare"]
    offsets = t["end_offsets_counts"] if t["end_offsets_counts"] is not None else t["offsets_counts"]
    corr = cal["model"]["correction"]
    return ForceModel(offsets_counts=np.array(offsets, float),
                      n_per_count=np.array(cal["gains"]["n_per_count"], float),
                      matrix=np.array(cal["model"]["matrix"], float),
                      min_fz_n=float(cal["model"]["min_fz_n"]),
                      correction=PolyCorrection.from_dict(corr) if corr is not None else None,
                      source=f"calibration {cal['created_utc']}")


def load_force_model(path=None, config=None):
    """The calibrated ForceModel from ``path`` (default ``<data_dir>/calibration.json``).

    Raises FileNotFoundError when there is none and CalibrationFileError (naming the field)
    when it is invalid or belongs to another plate.
    """
    if path is None:
        if config is None:
            raise ValueError("give a path or a config")
        path = default_path(config)
    return force_model_from_dict(load(path), config)


def max_age_days(config) -> float:
    cal_cfg = getattr(config, "calibration", None)
    return float(getattr(cal_cfg, "max_age_days", DEFAULT_MAX_AGE_DAYS))


def age_days(cal: dict, now: datetime | None = None) -> float:
    t = datetime.fromisoformat(cal["created_utc"].replace("Z", "+00:00"))
    return ((now or datetime.now(timezone.utc)) - t).total_seconds() / 86400


def age_warning(cal: dict, config=None, now: datetime | None = None) -> str | None:
    """A message when the calibration is older than ``calibration.max_age_days``."""
    limit = max_age_days(config) if config is not None else DEFAULT_MAX_AGE_DAYS
    age = age_days(cal, now)
    if age > limit:
        return f"calibration is {age:.0f} days old (limit {limit:g} days): run `rig calibrate`"
    return None


__all__ = ["DEFAULT_MAX_AGE_DAYS", "age_days", "age_warning", "check_plate", "force_model_from_dict",
           "load_force_model", "max_age_days"]
