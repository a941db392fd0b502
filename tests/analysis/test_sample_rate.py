"""The sample rate has one source: the converter. It reaches the hello, the recording's
``# rate_hz`` and the analysis, and is not re-estimated from time stamps on the way."""
from __future__ import annotations

import numpy as np
import pytest

from rig.acquire.loop import Acquisition
from rig.analysis.events import sample_interval_s
from rig.analysis.protocols import default_protocols
from rig.analysis.protocols.analysis import analyse_trial
from rig.signal.plate import ForceModel
from tests.fake_frames import GEOM, FakeReader


def test_the_acquisition_announces_its_converters_rate():
    assert Acquisition(FakeReader(rate=160), ForceModel.nominal(GEOM, 50, 2.0)).hello()["rate_hz"] == 160.0
    assert Acquisition(FakeReader(rate=160), ForceModel.nominal(GEOM, 50, 2.0), rate_hz=80).rate_hz == 80.0


def test_sample_interval_comes_from_the_rate_and_only_bare_arrays_are_measured():
    jittered = np.cumsum(np.full(200, 1 / 80) + np.random.default_rng(1).normal(0, 5e-4, 200))
    assert sample_interval_s(80.0, jittered) == 1 / 80
    assert sample_interval_s(None, np.arange(0, 1, 1 / 600)) == pytest.approx(1 / 600)
    with pytest.raises(ValueError, match="no sample rate"):
        sample_interval_s(None, [1.0])


def test_a_trial_result_carries_the_recordings_rate_not_an_estimate():
    proto = default_protocols()["quiet_stance_mctsib"]
    t = np.cumsum(np.full(2400, 1 / 80) * (1 + 0.01 * np.abs(np.sin(np.arange(2400)))))  # a slow clock
    fz = np.full(t.size, 700.0)
    ml, ap = np.sin(t), np.cos(t)
    given = analyse_trial(proto, t, fz, ml, ap, None, rate_hz=80.0)
    measured = analyse_trial(proto, t, fz, ml, ap, None)
    assert given.sample_rate_hz == 80.0
    assert measured.sample_rate_hz == pytest.approx(1 / np.median(np.diff(t)), rel=1e-3)
    assert measured.sample_rate_hz != 80.0
