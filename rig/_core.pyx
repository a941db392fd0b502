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


# --- sway metrics kernels (see rig/metrics/; NumPy twins in rig/reference.py) -------------

from libc.math cimport sqrt, fabs, fmax as c_fmax

#: Order of the values returned by sway_summary (and reference.sway_summary).
SWAY_SUMMARY_FIELDS = (
    "mean_x", "mean_y", "sxx", "syy", "sxy", "min_x", "max_x", "min_y", "max_y",
    "path", "path_x", "path_y", "sum_dist", "max_dist", "sum_dist2", "sum_triangle",
    "sum_vx", "sum_vy", "svx", "svy", "sum_abs_x", "sum_abs_y", "max_abs_x", "max_abs_y",
)


def sway_summary(const double[::1] x, const double[::1] y):
    """Fused O(N) pass over a COP trajectory (x, y): one call, two sweeps, no temporaries.

    Sweep 1: sums, extrema and path lengths; sweep 2 (about the mean): co-moments
    sxx = Σ(x-x̄)², syy, sxy, distances d_i = |p_i - p̄| (Σd, max d, Σd²), the swept
    triangles Σ|x̃_i ỹ_{i+1} - x̃_{i+1} ỹ_i| and the increment moments Σdx, Σdy,
    Σ(dx - mean dx)², Σ(dy - mean dy)², and per axis Σ|x-x̄|, Σ|y-ȳ|, max|x-x̄|, max|y-ȳ|.  Returns a float64 array in SWAY_SUMMARY_FIELDS order.
    """
    cdef Py_ssize_t n = x.shape[0], i
    if y.shape[0] != n:
        raise ValueError(f"x and y differ in length ({n} vs {y.shape[0]})")
    if n < 2:
        raise ValueError("need at least 2 samples")
    out = np.zeros(len(SWAY_SUMMARY_FIELDS), dtype=np.float64)
    cdef double[::1] o = out
    cdef double sx = 0, sy = 0, mnx = x[0], mxx = x[0], mny = y[0], mxy = y[0]
    cdef double path = 0, px = 0, py = 0, dx, dy, mx, my, cx, cy, cx1, cy1
    cdef double sxx = 0, syy = 0, sxy = 0, sd = 0, md = 0, sd2 = 0, tri = 0, d2
    cdef double svx = 0, svy = 0, mvx, mvy, qvx = 0, qvy = 0
    cdef double sax = 0, say = 0, max_ax = 0, max_ay = 0
    with nogil:
        for i in range(n):
            sx += x[i]
            sy += y[i]
            if x[i] < mnx: mnx = x[i]
            if x[i] > mxx: mxx = x[i]
            if y[i] < mny: mny = y[i]
            if y[i] > mxy: mxy = y[i]
        for i in range(n - 1):
            dx = x[i + 1] - x[i]
            dy = y[i + 1] - y[i]
            path += sqrt(dx * dx + dy * dy)
            px += fabs(dx)
            py += fabs(dy)
            svx += dx
            svy += dy
        mx = sx / n
        my = sy / n
        mvx = svx / (n - 1)
        mvy = svy / (n - 1)
        for i in range(n):
            cx = x[i] - mx
            cy = y[i] - my
            sxx += cx * cx
            syy += cy * cy
            sxy += cx * cy
            sax += fabs(cx)
            say += fabs(cy)
            if fabs(cx) > max_ax: max_ax = fabs(cx)
            if fabs(cy) > max_ay: max_ay = fabs(cy)
            d2 = cx * cx + cy * cy
            sd2 += d2
            d2 = sqrt(d2)
            sd += d2
            if d2 > md: md = d2
            if i < n - 1:
                cx1 = x[i + 1] - mx
                cy1 = y[i + 1] - my
                tri += fabs(cx * cy1 - cx1 * cy)
                dx = (x[i + 1] - x[i]) - mvx
                dy = (y[i + 1] - y[i]) - mvy
                qvx += dx * dx
                qvy += dy * dy
    o[0] = mx; o[1] = my; o[2] = sxx; o[3] = syy; o[4] = sxy
    o[5] = mnx; o[6] = mxx; o[7] = mny; o[8] = mxy
    o[9] = path; o[10] = px; o[11] = py
    o[12] = sd; o[13] = md; o[14] = sd2; o[15] = tri
    o[16] = svx; o[17] = svy; o[18] = qvx; o[19] = qvy
    o[20] = sax; o[21] = say; o[22] = max_ax; o[23] = max_ay
    return out


cdef extern from *:
    """
    /* Branch-free window sweep for SampEn with m = 2: counts, over b in [lo, hi), the
       pairs whose 2nd coordinate (B) and 2nd and 3rd coordinates (A) are within r of
       template a's. Plain C with 0/1 double accumulators (exact below 2^53) so that the
       compiler vectorises it even on baseline SSE2 / NEON. */
    #include <math.h>
    static void sampen_sweep_m2(const double *c1, const double *c2, Py_ssize_t lo,
                                Py_ssize_t hi, double v1, double v2, double r,
                                long long *pb, long long *pa) {
        double bb = 0.0, aa = 0.0;
        for (Py_ssize_t b = lo; b < hi; ++b) {
            double ok1 = fabs(c1[b] - v1) <= r ? 1.0 : 0.0;
            double ok2 = fabs(c2[b] - v2) <= r ? ok1 : 0.0;
            bb += ok1;
            aa += ok2;
        }
        *pb += (long long)bb;
        *pa += (long long)aa;
    }
    """
    void sampen_sweep_m2(const double *c1, const double *c2, Py_ssize_t lo, Py_ssize_t hi,
                         double v1, double v2, double r, long long *pb, long long *pa) nogil


def sample_entropy_counts(const double[::1] x, int m, double r):
    """Richman & Moorman template-match counts (B, A) for SampEn, Chebyshev distance.

    Templates u_i = x[i:i+m], i = 0 … N-m-1 (the same N-m templates for lengths m and m+1).
    B = #{i<j : max_k |x[i+k]-x[j+k]| <= r, k < m};  A = the same with k <= m.
    Algorithm: sort the templates by their first value; for each template scan forward in
    that order only while the first values are within r (all other pairs fail the first
    coordinate), then compare the remaining coordinates with early exit. Counts are exact.
    """
    cdef Py_ssize_t n = x.shape[0], nt = n - m, a, b, k
    if m < 1:
        raise ValueError("m must be >= 1")
    if nt < 2:
        raise ValueError(f"need more than m+1 = {m + 1} samples, got {n}")
    order = np.argsort(np.asarray(x[:nt]), kind="stable")
    # the templates in sorted order, one contiguous row per coordinate (structure of arrays),
    # so that the inner loop is a branch-free sweep the compiler can vectorise
    cols = np.ascontiguousarray(
        np.lib.stride_tricks.sliding_window_view(np.asarray(x), m + 1)[:nt][order].T)
    cdef const double[:, ::1] C = cols
    cdef const double[::1] c0 = cols[0], c1 = cols[1 if m >= 1 else 0], cm = cols[m]
    cdef long long B = 0, A = 0, bb, aa
    cdef Py_ssize_t hi = 0
    cdef double v0, v1, vm
    cdef int ok
    with nogil:
        for a in range(nt):
            v0 = c0[a]
            if hi <= a:
                hi = a + 1
            # hi only moves forward: the window of first coordinates within r of c0[a]
            while hi < nt and not (c0[hi] - v0 > r):
                hi += 1
            bb = 0
            aa = 0
            if m == 1:
                vm = cm[a]
                for b in range(a + 1, hi):
                    aa += fabs(cm[b] - vm) <= r
                bb = hi - a - 1
            elif m == 2:
                sampen_sweep_m2(&c1[0], &cm[0], a + 1, hi, c1[a], cm[a], r, &bb, &aa)
            else:
                for b in range(a + 1, hi):
                    ok = 1
                    for k in range(1, m):
                        if fabs(C[k, b] - C[k, a]) > r:
                            ok = 0
                            break
                    if ok:
                        bb += 1
                        aa += fabs(C[m, b] - C[m, a]) <= r
            B += bb
            A += aa
    return B, A


def sway_density_counts(const double[::1] x, const double[::1] y, double radius):
    """For each sample i, the number of samples in the unbroken run around i (before and
    after, i itself excluded) that stay within `radius` of p_i (Baratto et al. 2002).
    Worst case O(N²) (a COP that never leaves the circle)."""
    cdef Py_ssize_t n = x.shape[0], i, j
    if y.shape[0] != n:
        raise ValueError(f"x and y differ in length ({n} vs {y.shape[0]})")
    out = np.zeros(n, dtype=np.int64)
    cdef long long[::1] c = out
    cdef double r2 = radius * radius, dx, dy
    cdef long long cnt
    with nogil:
        for i in range(n):
            cnt = 0
            j = i + 1
            while j < n:
                dx = x[j] - x[i]
                dy = y[j] - y[i]
                if dx * dx + dy * dy > r2:
                    break
                cnt += 1
                j += 1
            j = i - 1
            while j >= 0:
                dx = x[j] - x[i]
                dy = y[j] - y[i]
                if dx * dx + dy * dy > r2:
                    break
                cnt += 1
                j -= 1
            c[i] = cnt
    return out


def mean_square_displacement(const double[::1] x, const Py_ssize_t[::1] lags):
    """Stabilogram-diffusion kernel: msd[j] = mean_i (x[i+k] - x[i])² for k = lags[j]."""
    cdef Py_ssize_t n = x.shape[0], nl = lags.shape[0], j, k, i
    for j in range(nl):
        if lags[j] < 1 or lags[j] >= n:
            raise ValueError(f"lags must be in 1 … {n - 1}, got {lags[j]}")
    out = np.empty(nl, dtype=np.float64)
    cdef double[::1] o = out
    cdef double s, d
    with nogil:
        for j in range(nl):
            k = lags[j]
            s = 0
            for i in range(n - k):
                d = x[i + k] - x[i]
                s += d * d
            o[j] = s / (n - k)
    return out
