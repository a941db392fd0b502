"""Type stub for the compiled core (rig/_core.pyx). Use rig.core for the public API."""
import numpy as np
import numpy.typing as npt

def counts_to_cop(
    counts: npt.NDArray[np.int32],
    offsets: npt.NDArray[np.float64],
    scales: npt.NDArray[np.float64],
    matrix: npt.NDArray[np.float64],
    min_fz: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...
