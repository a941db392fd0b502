"""Calibration file -> ForceModel, and the age check. Re-exported by ``calibration``."""
from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from calibration.fileformat import CalibrationFileError, default_path, load


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
    from rig.signal.plate import ForceModel
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


def max_age_days(config=None) -> float:
    """``calibration.max_age_days`` from the config; without a config, that option's default."""
    if config is None:
        from rig.config import CalibrationConfig
        return float(CalibrationConfig().max_age_days)
    return float(config.calibration.max_age_days)


def age_days(cal: dict, now: datetime | None = None) -> float:
    t = datetime.fromisoformat(cal["created_utc"].replace("Z", "+00:00"))
    return ((now or datetime.now(timezone.utc)) - t).total_seconds() / 86400


def age_warning(cal: dict, config=None, now: datetime | None = None) -> str | None:
    """A message when the calibration is older than ``calibration.max_age_days``."""
    limit = max_age_days(config)
    age = age_days(cal, now)
    if age > limit:
        return f"calibration is {age:.0f} days old (limit {limit:g} days): run `rig calibrate`"
    return None


def file_signature(path) -> tuple[int, int, int] | None:
    """(mtime ns, size, inode) of ``path``, None when it does not exist: changes whenever the
    file is saved (fileformat.save renames a new file into place), restored or removed."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class CalibrationWatch:
    """Keeps a running acquisition on the calibration in force, and its age advisory current.

    ``poll()`` (the acquisition process's main thread, about once a second): when the file was
    saved, restored or removed since the model in use was built, builds the model again with
    ``factory(config)`` (the same factory the process started with, so the result is what a
    restart would give) and hands it to ``acquisition.set_force_model``. ``reload()`` does the
    same at once (the ``reload_calibration`` command). Both set the acquisition's
    ``calibration_age`` advisory (``age_warning``: older than ``calibration.max_age_days``).
    """

    def __init__(self, acquisition, config, factory, path=None):
        self.acquisition = acquisition
        self.config = config
        self.factory = factory
        self.path = Path(path) if path is not None else default_path(config)
        self._lock = threading.Lock()
        self._sig = file_signature(self.path)     # what the model in use was built from
        self._cal = self._read_if_used(acquisition.force_model)
        self.reloads = 0
        self.advise()

    def _read_if_used(self, model) -> dict | None:
        """The file's content when ``model`` came from it (its age matters), else None."""
        if not str(model.source).startswith("calibration"):
            return None
        try:
            return load(self.path)
        except (OSError, ValueError):             # CalibrationFileError is a ValueError
            return None

    def advise(self, now: datetime | None = None) -> str | None:
        msg = age_warning(self._cal, self.config, now) if self._cal is not None else None
        self.acquisition.set_advisory("calibration_age", msg)
        return msg

    def poll(self, now: datetime | None = None) -> bool:
        """Reload when the file changed; returns True when it did."""
        if file_signature(self.path) != self._sig:
            self.reload(now)
            return True
        self.advise(now)
        return False

    def reload(self, now: datetime | None = None) -> str:
        """Build the model from the file now and hand it over; returns its ``source``."""
        with self._lock:
            self._sig = file_signature(self.path)
            model = self.factory(self.config)
            self._cal = self._read_if_used(model)
            self.acquisition.set_force_model(model)
            self.reloads += 1
            self.advise(now)
        return model.source


__all__ = ["CalibrationWatch", "age_days", "file_signature", "age_warning", "check_plate", "force_model_from_dict",
           "load_force_model", "max_age_days"]
