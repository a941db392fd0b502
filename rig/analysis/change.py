"""Is a change between sessions larger than the test's own noise?

- typical error (TE) of one trial: the SD of the patient's repeated scored trials within a
  session (ddof 1); pooled over two sessions as sqrt((SD1² + SD2²) / 2).
- SEM of the session score (the mean of k trials): TE / sqrt(k). ICC-based alternative, when a
  published ICC and sample SD are used: SEM = SD · sqrt(1 − ICC).
- MDC95 = 1.96 · sqrt(2) · SEM. A change is labelled "real" only when |change| > MDC95; the
  label also says whether it is better or worse when the measure has a direction. This is the
  one rule and the one vocabulary (LABELS) the dashboard, the PDF and the programme outcome use.
- When a published SEM exists (PUBLISHED), the larger of the two MDCs is used: within-session
  trials miss day-to-day variation, so they understate the test-retest error.

The balance score (balance_score) is documented in docs/protocols.md: each component x_i
(larger = worse) becomes a sub-score 100 · r_i / (r_i + x_i) — 100 at x = 0, 50 at the stated
anchor r_i, falling monotonically — and the score is the weighted mean of the sub-scores. It
is always returned with its components.
"""
from __future__ import annotations

import math

import numpy as np

Z95 = 1.96

#: Published test-retest figures we are confident of, per measure (see docs/protocols.md).
#: Each: {"icc": ..., "sem": ..., "unit": ..., "source": ...}; SEM None when not published there.
PUBLISHED: dict[str, list[dict]] = {
    "mean_velocity_mm_s": [
        {"icc": 0.91, "sem": None, "condition": "mCTSIB firm, eyes open, elderly women",
         "source": "Rugelj et al. 2015, Med Biol Eng Comput 6/2015 (ICC only)"},
        {"icc": 0.90, "sem": None, "condition": "mCTSIB foam, eyes closed, young women",
         "source": "Rugelj et al. 2015, Med Biol Eng Comput 6/2015 (ICC only)"},
    ],
}


#: The labels of a change, everywhere (web, PDF, programme outcome).
REAL_IMPROVEMENT, REAL_DECLINE, REAL_CHANGE = "real improvement", "real decline", "real change"
WITHIN_NOISE, INSUFFICIENT = "within noise", "insufficient data"
LABELS = (REAL_IMPROVEMENT, REAL_DECLINE, REAL_CHANGE, WITHIN_NOISE, INSUFFICIENT)


def label_change(change, mdc, direction, *, at_least: bool = False) -> str:
    """The label of ``change`` against its ``mdc`` (MDC95): "real …" only when |change| > MDC95
    (or reaches it, with ``at_least``).
    ``direction`` +1: a larger value is worse; −1: a larger value is better; 0/None: no direction.
    ``at_least``: a change equal to the threshold counts too, as for a published minimal
    clinically important difference (MCID), defined as the smallest change that matters."""
    if change is None or mdc is None:
        return INSUFFICIENT
    if abs(change) < mdc or (abs(change) == mdc and not at_least):
        return WITHIN_NOISE
    if not direction:
        return REAL_CHANGE
    return REAL_DECLINE if (change > 0) == (direction > 0) else REAL_IMPROVEMENT


def sem_from_mdc(mdc) -> float | None:
    """The SEM behind an MDC95 (a clinic's MDC setting used where a published SEM is expected)."""
    return None if mdc is None else float(mdc) / (Z95 * math.sqrt(2.0))


def published_sem(measure: str) -> float | None:
    """The largest published SEM of ``measure`` (PUBLISHED), or None where none is published."""
    sems = [p["sem"] for p in PUBLISHED.get(measure, ()) if p.get("sem") is not None]
    return max(sems) if sems else None


def typical_error(trials) -> float | None:
    x = np.asarray([v for v in trials if v is not None and math.isfinite(v)], float)
    return float(x.std(ddof=1)) if len(x) >= 2 else None


def sem_from_trials(*sessions) -> float | None:
    """SEM of a session's mean score, from within-session trial SDs pooled over sessions."""
    sds, ks = [], []
    for s in sessions:
        te = typical_error(s)
        if te is not None:
            sds.append(te)
            ks.append(len([v for v in s if v is not None]))
    te = pooled_typical_error(sds)
    return None if te is None else te / math.sqrt(min(ks))


def pooled_typical_error(tes) -> float | None:
    """The typical error pooled over sessions, sqrt(mean(TE²)); None when there is none."""
    tes = [te for te in tes if te is not None]
    return math.sqrt(float(np.mean(np.square(tes)))) if tes else None


def sem_from_icc(sd, icc) -> float:
    return float(sd) * math.sqrt(max(0.0, 1.0 - float(icc)))


def mdc95(sem) -> float | None:
    return None if sem is None else Z95 * math.sqrt(2.0) * sem


def larger_mdc95(sem_trials, published_sem) -> tuple[float | None, str | None]:
    """(MDC95, source): the larger of the within-session trials' and the published SEM's
    MDC95, or (None, None) when neither SEM is known."""
    cands = [(mdc95(sem_trials), "within-session trials"), (mdc95(published_sem), "published SEM")]
    cands = [c for c in cands if c[0] is not None]
    return max(cands) if cands else (None, None)


def compare_sessions(before, after, *, measure=None, higher_is_worse=None, published_sem=None) -> dict:
    """Change in the mean score of repeated trials between two sessions, with its MDC95 label."""
    from rig.analysis.symmetry import DIRECTIONS
    b = [v for v in before if v is not None]
    a = [v for v in after if v is not None]
    out = {"measure": measure, "before": float(np.mean(b)) if b else None,
           "after": float(np.mean(a)) if a else None, "change": None,
           "sem_trials": sem_from_trials(b, a), "sem_published": published_sem,
           "mdc95": None, "mdc_source": None, "label": INSUFFICIENT}
    if not b or not a:
        return out
    out["change"] = out["after"] - out["before"]
    out["mdc95"], out["mdc_source"] = larger_mdc95(out["sem_trials"], published_sem)
    d = higher_is_worse if higher_is_worse is not None else DIRECTIONS.get(measure, 0)
    out["label"] = label_change(out["change"], out["mdc95"], d)
    return out


#: Balance score components (single-leg stance): measure, anchor r (value scoring 50), weight.
#: Anchors are round numbers near typical healthy-adult single-leg values; they are not norms.
BALANCE_COMPONENTS = (
    ("mean_velocity_ml_mm_s", 20.0, 1.0, "ML COP velocity"),
    ("sd_ml_mm", 5.0, 1.0, "ML COP SD"),
    ("touch_down_count", 1.0, 1.0, "touch-downs per trial"),
)


def balance_score(measures: dict, components=BALANCE_COMPONENTS) -> dict:
    """The documented, monotonic balance score with its components (higher = better)."""
    comps, num, den = [], 0.0, 0.0
    for key, ref, w, label in components:
        x = measures.get(key)
        if x is None or not math.isfinite(x):
            comps.append({"measure": key, "label": label, "value": None, "anchor": ref, "weight": w, "sub_score": None})
            continue
        sub = 100.0 * ref / (ref + max(0.0, float(x)))
        comps.append({"measure": key, "label": label, "value": float(x), "anchor": ref, "weight": w, "sub_score": sub})
        num += w * sub
        den += w
    return {"balance_score": (num / den) if den else None, "components": comps,
            "formula": "weighted mean of 100·r/(r+x) over components (x: value, r: anchor)"}
