"""Public entry to the kernels: the compiled core when it is built, else the NumPy reference.

``COMPILED`` says which one is loaded (``rig doctor`` reports it); ``IMPORT_ERROR`` says why
the compiled one is missing. Set ``RIG_PURE_PYTHON=1`` to force the reference.
"""
from __future__ import annotations

import os
import warnings

import numpy as np

from rig import reference

COMPILED = False
IMPORT_ERROR: str | None = None
_impl = reference

if os.environ.get("RIG_PURE_PYTHON", "") not in ("", "0"):
    IMPORT_ERROR = "RIG_PURE_PYTHON is set"
else:
    try:
        from rig import _core as _impl  # type: ignore[no-redef]
        COMPILED = True
    except ImportError as exc:  # pragma: no cover - exercised only on a broken install
        IMPORT_ERROR = str(exc)
        warnings.warn(
            f"rig: compiled core not available ({exc}); using the NumPy reference. "
            "Rebuild with `make build` (or `pip install -e .`).",
            RuntimeWarning,
            stacklevel=2,
        )


def implementation() -> str:
    """'compiled' or 'reference'."""
    return "compiled" if COMPILED else "reference"


def counts_to_cop(counts, offsets, scales, matrix, min_fz: float):
    """See rig.reference.counts_to_cop; arrays are coerced to the kernel's dtypes."""
    return _impl.counts_to_cop(
        np.ascontiguousarray(counts, dtype=np.int32),
        np.ascontiguousarray(offsets, dtype=np.float64),
        np.ascontiguousarray(scales, dtype=np.float64),
        np.ascontiguousarray(matrix, dtype=np.float64),
        float(min_fz),
    )
