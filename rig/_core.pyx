# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""StepPlate compiled core. Every kernel here has a NumPy twin in rig/reference.py,
and the tests compare the two. Public use goes through rig.core, not this module."""
import numpy as np
cimport numpy as cnp
from libc.math cimport NAN
from libc.stdint cimport int32_t

cnp.import_array()


def counts_to_cop(const int32_t[:, ::1] counts, const double[::1] offsets,
                  const double[::1] scales, const double[:, ::1] matrix, double min_fz):
    """Raw counts (n, 4) -> corner forces (n, 4) N, Fz (n,) N, COP x, y (n,) m.

    f_j = (counts_j - offsets_j) * scales_j;  [Fz, Fz·x, Fz·y] = matrix @ f;
    COP is NaN where Fz <= min_fz.
    """
    cdef Py_ssize_t n = counts.shape[0], i, j
    if counts.shape[1] != 4:
        raise ValueError(f"counts must have 4 columns (fl, fr, bl, br), got {counts.shape[1]}")
    if offsets.shape[0] != 4 or scales.shape[0] != 4:
        raise ValueError("offsets and scales must have 4 entries (fl, fr, bl, br)")
    if matrix.shape[0] != 3 or matrix.shape[1] != 4:
        raise ValueError(f"matrix must be 3x4, got {matrix.shape[0]}x{matrix.shape[1]}")
    forces = np.empty((n, 4), dtype=np.float64)
    fz = np.empty(n, dtype=np.float64)
    cx = np.empty(n, dtype=np.float64)
    cy = np.empty(n, dtype=np.float64)
    cdef double[:, ::1] F = forces
    cdef double[::1] FZ = fz, CX = cx, CY = cy
    cdef double f0, f1, f2, f3, s0, s1, s2
    with nogil:
        for i in range(n):
            f0 = (counts[i, 0] - offsets[0]) * scales[0]
            f1 = (counts[i, 1] - offsets[1]) * scales[1]
            f2 = (counts[i, 2] - offsets[2]) * scales[2]
            f3 = (counts[i, 3] - offsets[3]) * scales[3]
            F[i, 0] = f0; F[i, 1] = f1; F[i, 2] = f2; F[i, 3] = f3
            s0 = matrix[0, 0] * f0 + matrix[0, 1] * f1 + matrix[0, 2] * f2 + matrix[0, 3] * f3
            s1 = matrix[1, 0] * f0 + matrix[1, 1] * f1 + matrix[1, 2] * f2 + matrix[1, 3] * f3
            s2 = matrix[2, 0] * f0 + matrix[2, 1] * f1 + matrix[2, 2] * f2 + matrix[2, 3] * f3
            FZ[i] = s0
            if s0 > min_fz:
                CX[i] = s1 / s0
                CY[i] = s2 / s0
            else:
                CX[i] = NAN
                CY[i] = NAN
    return forces, fz, cx, cy
