"""Calibration: tare, per-cell gain, grid COP calibration, zero tracking; file format.

``load_force_model(path, config)`` turns a calibration file into the
:class:`rig.signal.plate.ForceModel` that acquisition uses. See docs/calibration.md.

(Modules inside this package import from ``calibration.loader`` rather than from here, so they
also work where an old editable install still treats ``calibration`` as a namespace package.)
"""
from calibration.fileformat import CalibrationFileError, default_path
from calibration.loader import (age_days, age_warning, check_plate, force_model_from_dict,
                                load_force_model, max_age_days)
from calibration.zero import DriftEvent, ZeroTracker

__all__ = ["CalibrationFileError", "DriftEvent", "ZeroTracker", "age_days", "age_warning",
           "check_plate", "default_path", "force_model_from_dict", "load_force_model", "max_age_days"]
