# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""StepPlate compiled core. Every kernel here has a NumPy twin in rig/signal/reference.py,
and the tests compare the two. Public use goes through rig.signal.core, not this module."""
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


# --- sway metrics kernels (see rig/analysis/metrics/; NumPy twins in rig/signal/reference.py) -------------

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
    #include <stdlib.h>
    #include <string.h>
    #include <stdint.h>

    /* hardware popcount where the build targets it (aarch64, x86 with -mpopcnt); on
       baseline x86-64 GCC clones the kernel for CPUs with POPCNT (chosen at load time). */
    #if defined(__POPCNT__) || defined(__aarch64__) || (defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__))
    #define se_popcount(v) __builtin_popcountll(v)
    #else
    static inline int se_popcount(uint64_t v) {
        v = v - ((v >> 1) & 0x5555555555555555ULL);
        v = (v & 0x3333333333333333ULL) + ((v >> 2) & 0x3333333333333333ULL);
        v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0FULL;
        return (int)((v * 0x0101010101010101ULL) >> 56);
    }
    #endif
    /* mean forward window (templates) above which the bitset count beats the sweep */
    #define SE_BITSET_MIN_WINDOW 256.0
    #if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && !defined(__POPCNT__)
    #define SE_CLONES __attribute__((target_clones("popcnt", "default")))
    #else
    #define SE_CLONES
    #endif

    /* Window sweep (the plain algorithm, better for short windows): for each template
       a in x-order, compare the candidates (a, hx) on coordinates 1..m. For m = 2 a
       branch-free loop with 0/1 double accumulators (exact below 2^53) that the compiler
       vectorises on baseline SSE2 / NEON. */
    static void sampen_window(const double *col, Py_ssize_t nt, int m, double r,
                              long long *pB, long long *pA) {
        const double *c0 = col, *c1 = col + nt, *cm = col + (Py_ssize_t)m * nt;
        long long B = 0, A = 0;
        Py_ssize_t hx = 0;
        for (Py_ssize_t a = 0; a < nt; ++a) {
            double v0 = c0[a], vm = cm[a];
            if (hx <= a) hx = a + 1;
            while (hx < nt && !(c0[hx] - v0 > r)) ++hx;
            if (m == 2) {
                double v1 = c1[a], bb = 0.0, aa = 0.0;
                for (Py_ssize_t b = a + 1; b < hx; ++b) {
                    double ok1 = fabs(c1[b] - v1) <= r ? 1.0 : 0.0;
                    double ok2 = fabs(cm[b] - vm) <= r ? ok1 : 0.0;
                    bb += ok1;
                    aa += ok2;
                }
                B += (long long)bb;
                A += (long long)aa;
            } else {
                for (Py_ssize_t b = a + 1; b < hx; ++b) {
                    int ok = 1;
                    for (int k = 1; k < m; ++k)
                        if (fabs(col[k * nt + b] - col[k * nt + a]) > r) { ok = 0; break; }
                    if (ok) {
                        ++B;
                        A += fabs(cm[b] - vm) <= r;
                    }
                }
            }
        }
        *pB = B;
        *pA = A;
    }

    /* SampEn template-match counts by bitset range counting (exact; see the docstring of
       sample_entropy_counts). x: the series (n), m: template length, r: tolerance,
       order: argsort of x (all n samples), stride: checkpoint spacing (ranks).
       Returns 0, or -1 when out of memory. */
    SE_CLONES static int sampen_bitset(const double *x, Py_ssize_t n, int m, double r,
                             const Py_ssize_t *order, Py_ssize_t stride, int method,
                             long long *pB, long long *pA) {
        Py_ssize_t nt = n - m, nw = (nt + 63) / 64, nc = nt / stride + 1;
        Py_ssize_t i, j, k, t, w;
        int rc = -1;
        Py_ssize_t *xo = NULL, *pos = NULL, *ord = NULL, *lo = NULL, *hi = NULL;
        double *col = NULL;
        uint64_t *Q = NULL, *W = NULL;
        xo = malloc(nt * sizeof *xo);            /* x-order -> time of the template */
        pos = malloc(nt * sizeof *pos);          /* time -> x-order */
        ord = malloc((size_t)m * nt * sizeof *ord);   /* per coordinate j >= 1: x-order ids by value */
        lo = malloc((size_t)m * nt * sizeof *lo);     /* per coordinate, per x-order id: rank range */
        hi = malloc((size_t)m * nt * sizeof *hi);
        col = malloc((size_t)(m + 1) * nt * sizeof *col);  /* coordinates in x-order */
        if (!xo || !pos || !ord || !lo || !hi || !col) goto done;

        /* templates in x-order (by their 1st coordinate): the samples t < nt of `order` */
        for (i = 0, k = 0; i < n; ++i)
            if (order[i] < nt) { xo[k] = order[i]; pos[order[i]] = k; ++k; }
        for (j = 0; j <= m; ++j)
            for (k = 0; k < nt; ++k) col[j * nt + k] = x[xo[k] + j];
        if (method == 0) {   /* auto: the sweep while the windows are short */
            Py_ssize_t h = 0;
            double cand = 0.0;
            for (k = 0; k < nt; ++k) {
                if (h <= k) h = k + 1;
                while (h < nt && !(col[h] - col[k] > r)) ++h;
                cand += (double)(h - k - 1);
            }
            method = cand > SE_BITSET_MIN_WINDOW * (double)nt ? 2 : 1;
        }
        if (method == 1) {
            sampen_window(col, nt, m, r, pB, pA);
            rc = 0;
            goto done;
        }
        Q = calloc((size_t)m * nc * nw, sizeof *Q);   /* checkpoints: ids of ranks < c*stride */
        W = malloc((size_t)(m + 1) * nw * sizeof *W);
        if (!Q || !W) goto done;
        /* coordinate j of template s is x[s + j]: the templates sorted by it are the samples
           t = s + j, j <= t < nt + j, of `order`. Then, per template, the rank range
           [lo, hi) of values v' with |fl(v' - v)| <= r (contiguous: fl(v' - v) is monotone
           in v'), by two pointers, and the checkpoint bitsets. */
        for (j = 1; j <= m; ++j) {
            Py_ssize_t *oj = ord + (j - 1) * nt, *lj = lo + (j - 1) * nt, *hj = hi + (j - 1) * nt;
            const double *cj = col + j * nt;
            uint64_t *Qj = Q + (size_t)(j - 1) * nc * nw;
            Py_ssize_t p = 0, q = 0;
            for (i = 0, k = 0; i < n; ++i)
                if (order[i] >= j && order[i] < nt + j) oj[k++] = pos[order[i] - j];
            for (k = 0; k < nt; ++k) {
                double v = cj[oj[k]];
                while (cj[oj[p]] - v < -r) ++p;
                if (q < k) q = k;
                while (q < nt && !(cj[oj[q]] - v > r)) ++q;
                lj[oj[k]] = p;
                hj[oj[k]] = q;
            }
            for (Py_ssize_t c = 1; c < nc; ++c) {
                uint64_t *dst = Qj + c * nw;
                memcpy(dst, dst - nw, nw * sizeof *dst);
                for (k = (c - 1) * stride; k < c * stride; ++k)
                    dst[oj[k] >> 6] |= (uint64_t)1 << (oj[k] & 63);
            }
        }

        long long B = 0, A = 0;
        Py_ssize_t hx = 0;
        const double *c0 = col;
        for (Py_ssize_t a = 0; a < nt; ++a) {
            double v0 = c0[a];
            if (hx <= a) hx = a + 1;
            while (hx < nt && !(c0[hx] - v0 > r)) ++hx;
            if (hx <= a + 1) continue;
            /* candidates: x-order ids in (a, hx) */
            Py_ssize_t b0 = a + 1, w0 = b0 >> 6, w1 = (hx - 1) >> 6;
            for (j = 1; j <= m; ++j) {
                const uint64_t *Qj = Q + (size_t)(j - 1) * nc * nw;
                const Py_ssize_t *oj = ord + (j - 1) * nt;
                Py_ssize_t l = lo[(j - 1) * nt + a], h = hi[(j - 1) * nt + a];
                /* nearest checkpoints, then flip the ranks between checkpoint and bound */
                Py_ssize_t ch = (h + stride / 2) / stride, cl = (l + stride / 2) / stride;
                if (ch >= nc) ch = nc - 1;
                if (cl >= nc) cl = nc - 1;
                const uint64_t *qh = Qj + ch * nw, *ql = Qj + cl * nw;
                uint64_t *Wj = W + j * nw;
                for (w = w0; w <= w1; ++w) Wj[w] = qh[w] ^ ql[w];
                Py_ssize_t f0, f1, e;
                for (e = 0; e < 2; ++e) {
                    Py_ssize_t bound = e ? l : h, cp = (e ? cl : ch) * stride;
                    f0 = bound < cp ? bound : cp;
                    f1 = bound < cp ? cp : bound;
                    for (k = f0; k < f1; ++k) {
                        t = oj[k];
                        if (t >= b0 && t < hx) Wj[t >> 6] ^= (uint64_t)1 << (t & 63);
                    }
                }
            }
            for (w = w0; w <= w1; ++w) {
                uint64_t mask = ~(uint64_t)0;
                if (w == w0) mask &= ~(uint64_t)0 << (b0 & 63);
                if (w == w1 && (hx & 63)) mask &= ~(uint64_t)0 >> (64 - (hx & 63));
                for (j = 1; j < m; ++j) mask &= W[j * nw + w];
                B += se_popcount(mask);
                A += se_popcount(mask & W[m * nw + w]);
            }
        }
        *pB = B;
        *pA = A;
        rc = 0;
    done:
        free(xo); free(pos); free(ord); free(lo); free(hi); free(col); free(Q); free(W);
        return rc;
    }
    """
    int sampen_bitset(const double *x, Py_ssize_t n, int m, double r, const Py_ssize_t *order,
                      Py_ssize_t stride, int method, long long *pB, long long *pA) nogil


#: Memory budget (bytes) of the checkpoint bitsets of sample_entropy_counts, per coordinate.
SAMPEN_CHECKPOINT_BYTES = 1 << 22


def sample_entropy_counts(const double[::1] x, int m, double r, Py_ssize_t stride=0,
                          int method=0):
    """Richman & Moorman template-match counts (B, A) for SampEn, Chebyshev distance.

    Templates u_i = x[i:i+m], i = 0 … N-m-1 (the same N-m templates for lengths m and m+1).
    B = #{i<j : max_k |x[i+k]-x[j+k]| <= r, k < m};  A = the same with k <= m.

    Algorithm (exact range counting with bitsets, O(N log N + N·(w/64 + stride)) for a
    forward window of w templates):
    1. One argsort of x gives the templates ordered by each coordinate k (coordinate k of
       template i is sample i+k). Number the templates in the order of their 1st value.
    2. The predicate |fl(v' - v)| <= r is monotone in v', so for every template and every
       coordinate the matching templates form one contiguous range of ranks [lo, hi)
       (two pointers), and on the 1st coordinate a contiguous forward window (a, hx) of
       template numbers.
    3. The set of templates with coordinate-k rank in [lo, hi) is a bitset over template
       numbers: prefix bitsets ("ranks < c·stride") are kept at every `stride`-th rank, so
       the set is P(hi) xor P(lo) of the nearest checkpoints with at most 2·stride single
       bits flipped. Only the words of the window (a, hx) are built.
    4. B = popcount(window ∧ coords 1…m-1), A = popcount(… ∧ coord m).
    The cost per template is the window length / 64 plus the flips, instead of one
    comparison per candidate pair. `stride` = 0 picks 16, or more to keep the
    checkpoints under SAMPEN_CHECKPOINT_BYTES per coordinate.
    """
    cdef Py_ssize_t n = x.shape[0], nt = n - m, nw, st
    if m < 1:
        raise ValueError("m must be >= 1")
    if nt < 2:
        raise ValueError(f"need more than m+1 = {m + 1} samples, got {n}")
    if method not in (0, 1, 2):
        raise ValueError("method must be 0 (auto), 1 (window sweep) or 2 (bitset)")
    nw = (nt + 63) // 64
    st = stride
    if st <= 0:
        st = 16
        while (nt // st + 1) * nw * 8 > SAMPEN_CHECKPOINT_BYTES:
            st *= 2
    order_a = np.argsort(np.asarray(x)).astype(np.intp, copy=False)
    cdef const Py_ssize_t[::1] order = order_a
    cdef long long B = 0, A = 0
    cdef int rc
    with nogil:
        rc = sampen_bitset(&x[0], n, m, r, &order[0], st, method, &B, &A)
    if rc != 0:
        raise MemoryError("sample_entropy_counts: out of memory")
    return B, A


cdef extern from *:
    """
    /* Sway density: the farthest corner of a block's bounding box from p, under the same
       floating-point predicate as the per-sample test (dx*dx + dy*dy > r2): fl(dx) is
       monotone in x, so no member of the box is farther than its farthest corner. */
    static inline int sd_box_inside(const double *q, double px, double py, double r2) {
        double dx1 = fabs(q[0] - px), dx2 = fabs(q[1] - px);
        double dy1 = fabs(q[2] - py), dy2 = fabs(q[3] - py);
        double dx = dx1 > dx2 ? dx1 : dx2, dy = dy1 > dy2 ? dy1 : dy2;
        return !(dx * dx + dy * dy > r2);
    }
    #define SD_BS 16
    /* run of consecutive samples from i (exclusive) in direction dir that stay within r of
       p_i; whole blocks of SD_BS samples whose bounding box is inside are skipped */
    static Py_ssize_t sd_run(const double *x, const double *y, Py_ssize_t n, Py_ssize_t i,
                             int dir, double r2, const double *box) {
        double px = x[i], py = y[i], dx, dy;
        Py_ssize_t j = i + dir;
        while (j >= 0 && j < n) {
            Py_ssize_t k = j / SD_BS;
            if ((dir > 0 ? j % SD_BS == 0 && (k + 1) * SD_BS <= n : j % SD_BS == SD_BS - 1)
                    && sd_box_inside(box + 4 * k, px, py, r2)) {
                j += dir * SD_BS;
                continue;
            }
            dx = x[j] - px;
            dy = y[j] - py;
            if (dx * dx + dy * dy > r2) break;
            j += dir;
        }
        return dir > 0 ? j - i - 1 : i - j - 1;
    }
    /* msd[j] = mean (x[i+k] - x[i])^2 for k = lags[j]: four partial sums so the compiler
       vectorises the loop without reassociating (no -ffast-math) */
    static double msd_lag(const double *x, Py_ssize_t n, Py_ssize_t k) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, d;
        Py_ssize_t i, m = n - k, m4 = m - m % 4;
        const double *a = x, *b = x + k;
        for (i = 0; i < m4; i += 4) {
            double d0 = b[i] - a[i], d1 = b[i + 1] - a[i + 1];
            double d2 = b[i + 2] - a[i + 2], d3 = b[i + 3] - a[i + 3];
            s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
        }
        for (; i < m; ++i) { d = b[i] - a[i]; s0 += d * d; }
        return ((s0 + s1) + (s2 + s3)) / (double)m;
    }
    """
    Py_ssize_t sd_run(const double *x, const double *y, Py_ssize_t n, Py_ssize_t i, int dir,
                      double r2, const double *box) nogil
    double msd_lag(const double *x, Py_ssize_t n, Py_ssize_t k) nogil
    int SD_BS


def sway_density_counts(const double[::1] x, const double[::1] y, double radius):
    """For each sample i, the number of samples in the unbroken run around i (before and
    after, i itself excluded) that stay within `radius` of p_i (Baratto et al. 2002).

    The run is walked sample by sample, but a block of 16 samples whose bounding box lies
    inside the circle (its farthest corner within `radius`, the same floating-point test)
    is stepped over at once: O(N·run/16) for the long runs of a quiet COP, exact."""
    cdef Py_ssize_t n = x.shape[0], i, k, nb, lo, hi, j
    if y.shape[0] != n:
        raise ValueError(f"x and y differ in length ({n} vs {y.shape[0]})")
    out = np.zeros(n, dtype=np.int64)
    if n == 0:
        return out
    cdef long long[::1] c = out
    cdef double r2 = radius * radius
    nb = (n + SD_BS - 1) // SD_BS
    box_a = np.empty(4 * nb, dtype=np.float64)
    cdef double[::1] box = box_a
    with nogil:
        for k in range(nb):
            lo = k * SD_BS
            hi = min(lo + SD_BS, n)
            box[4 * k] = x[lo]; box[4 * k + 1] = x[lo]
            box[4 * k + 2] = y[lo]; box[4 * k + 3] = y[lo]
            for j in range(lo + 1, hi):
                if x[j] < box[4 * k]: box[4 * k] = x[j]
                if x[j] > box[4 * k + 1]: box[4 * k + 1] = x[j]
                if y[j] < box[4 * k + 2]: box[4 * k + 2] = y[j]
                if y[j] > box[4 * k + 3]: box[4 * k + 3] = y[j]
        for i in range(n):
            c[i] = sd_run(&x[0], &y[0], n, i, 1, r2, &box[0]) + sd_run(&x[0], &y[0], n, i, -1, r2, &box[0])
    return out


def mean_square_displacement(const double[::1] x, const Py_ssize_t[::1] lags):
    """Stabilogram-diffusion kernel: msd[j] = mean_i (x[i+k] - x[i])² for k = lags[j]."""
    cdef Py_ssize_t n = x.shape[0], nl = lags.shape[0], j
    for j in range(nl):
        if lags[j] < 1 or lags[j] >= n:
            raise ValueError(f"lags must be in 1 … {n - 1}, got {lags[j]}")
    out = np.empty(nl, dtype=np.float64)
    cdef double[::1] o = out
    with nogil:
        for j in range(nl):
            o[j] = msd_lag(&x[0], n, lags[j])
    return out


def dfa_fluctuations(const double[::1] profile, const Py_ssize_t[::1] sizes):
    """DFA: F[j] = sqrt(mean of the squared residuals of a least-squares line fitted to
    each non-overlapping box of sizes[j] samples of `profile` (the first k·sizes[j]
    samples, k = N // sizes[j])). Two passes per box (means, then residuals)."""
    cdef Py_ssize_t n = profile.shape[0], ns = sizes.shape[0], j, b, i, m, k
    for j in range(ns):
        if sizes[j] < 2 or sizes[j] > n:
            raise ValueError(f"box sizes must be in 2 … {n}, got {sizes[j]}")
    out = np.empty(ns, dtype=np.float64)
    cdef double[::1] o = out
    cdef double tc, tt, sy, sty, mean, slope, res, tot, t
    cdef const double *p
    with nogil:
        for j in range(ns):
            m = sizes[j]
            k = n // m
            tc = (m - 1) / 2.0
            tt = 0
            for i in range(m):
                tt += (i - tc) * (i - tc)
            tot = 0
            for b in range(k):
                p = &profile[b * m]
                sy = 0
                sty = 0
                for i in range(m):
                    sy += p[i]
                    sty += p[i] * (i - tc)
                mean = sy / m
                slope = sty / tt
                for i in range(m):
                    res = p[i] - mean - slope * (i - tc)
                    tot += res * res
            o[j] = sqrt(tot / (k * m))
    return out
