"""Typical error, SEM, MDC95, "real change" labels and the documented balance score."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from rig.analysis.change import (balance_score, compare_sessions, mdc95, sem_from_icc, sem_from_trials,
                        typical_error)


def test_formulas():
    a, b = [10.0, 12.0, 14.0], [11.0, 13.0, 15.0]
    assert typical_error(a) == pytest.approx(2.0)
    assert sem_from_trials(a, b) == pytest.approx(2.0 / math.sqrt(3))
    assert mdc95(1.0) == pytest.approx(1.96 * math.sqrt(2))
    assert sem_from_icc(10.0, 0.91) == pytest.approx(3.0)


def test_labels():
    before = [20.0, 21.0, 19.0]                              # TE 1, SEM 0.577, MDC95 1.60
    c = compare_sessions(before, [20.5, 21.5, 19.5], measure="mean_velocity_ml_mm_s")
    assert c["label"] == "within noise" and c["mdc95"] == pytest.approx(1.96 * math.sqrt(2) / math.sqrt(3))
    c = compare_sessions(before, [15.0, 16.0, 14.0], measure="mean_velocity_ml_mm_s")
    assert c["label"] == "real improvement" and c["change"] == pytest.approx(-5.0)
    c = compare_sessions(before, [25.0, 26.0, 24.0], measure="mean_velocity_ml_mm_s")
    assert c["label"] == "real decline"
    # a published SEM larger than the within-session one wins (conservative)
    c = compare_sessions(before, [23.0, 24.0, 22.0], measure="mean_velocity_ml_mm_s", published_sem=2.0)
    assert c["mdc_source"] == "published SEM" and c["label"] == "within noise"
    assert compare_sessions([1.0], [2.0])["label"] == "insufficient data"


@given(st.floats(0, 200), st.floats(0, 200), st.floats(0, 10), st.floats(0.01, 50))
def test_balance_score_is_monotonic_and_explained(v, sd, td, dv):
    a = balance_score({"mean_velocity_ml_mm_s": v, "sd_ml_mm": sd, "touch_down_count": td})
    b = balance_score({"mean_velocity_ml_mm_s": v + dv, "sd_ml_mm": sd, "touch_down_count": td})
    assert 0 < b["balance_score"] < a["balance_score"] <= 100
    assert len(a["components"]) == 3 and all(c["sub_score"] is not None for c in a["components"])
    subs = [c["sub_score"] for c in a["components"]]
    assert a["balance_score"] == pytest.approx(np.mean(subs))


def test_balance_score_anchor_scores_50():
    s = balance_score({"mean_velocity_ml_mm_s": 20.0, "sd_ml_mm": 5.0, "touch_down_count": 1.0})
    assert s["balance_score"] == pytest.approx(50.0)
    s = balance_score({"mean_velocity_ml_mm_s": 20.0})
    assert s["balance_score"] == pytest.approx(50.0) and s["components"][1]["sub_score"] is None


def test_a_published_sem_reaches_the_dashboards_mdc(monkeypatch):
    """The dashboard's MDC comes from the clinic's setting, else a published SEM, else the
    placeholder (before, a check that could never be true made it always the placeholder)."""
    from dashboard import measures
    from rig.analysis import change
    key = "mean_velocity_mm_s"
    assert measures.mdc_for(key) == measures.DEFAULT_MDC[key]
    monkeypatch.setitem(change.PUBLISHED, key, [{"icc": 0.9, "sem": 1.5, "source": "test"},
                                                {"icc": 0.8, "sem": 2.0, "source": "test"}])
    assert measures.mdc_for(key) == (pytest.approx(1.96 * 2 ** 0.5 * 2.0), True)
    assert measures.mdc_for(key, {key: [4.0, True]}) == (4.0, True)
