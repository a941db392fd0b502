"""Type stub for the compiled core (rig/signal/_core.pyx). Use rig.signal.core for the public API."""
import numpy as np
import numpy.typing as npt

def counts_to_cop(
    counts: npt.NDArray[np.int32],
    offsets: npt.NDArray[np.float64],
    scales: npt.NDArray[np.float64],
    matrix: npt.NDArray[np.float64],
    min_fz: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...

SWAY_SUMMARY_FIELDS: tuple[str, ...]

def sway_summary(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]: ...
SAMPEN_CHECKPOINT_BYTES: int

def sample_entropy_counts(x: npt.NDArray[np.float64], m: int, r: float, stride: int = 0, method: int = 0) -> tuple[int, int]: ...
def sway_density_counts(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64], radius: float) -> npt.NDArray[np.int64]: ...
def mean_square_displacement(x: npt.NDArray[np.float64], lags: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]: ...
def dfa_fluctuations(profile: npt.NDArray[np.float64], sizes: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]: ...
