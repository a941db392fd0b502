"""The virtual person's quiet stance under the four mCTSIB conditions sways as real people do in
the Santos & Duarte (2016) public data: the factors in rig.sim.sway are the data set's, and a
simulated person's COP velocity and spread change between conditions by the data set's ratios."""
from __future__ import annotations

import csv
from collections import defaultdict

import numpy as np
import pytest

from rig.sim.sway import DOUBLE_STANCE_CONDITIONS, double_stance_factor

VISION = {"Open": "open", "Closed": "closed"}
SURFACE = {"Firm": "firm", "Foam": "foam"}


def _ratios(bds):
    """Per person aged 18-39: each condition's mean COPvelo and √COParea over firm, eyes open;
    the median over people (an independent reading of BDSinfoCOP.txt)."""
    with open(bds / "BDSinfoCOP.txt", newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if float(r["Age"]) < 40]
    per = defaultdict(lambda: defaultdict(list))
    for r in rows:
        per[r["Subject"]][(VISION[r["Vision"]], SURFACE[r["Surface"]])].append((float(r["COPvelo"]), float(r["COParea"])))
    out = {}
    for cond in DOUBLE_STANCE_CONDITIONS:
        sd, sp = [], []
        for d in per.values():
            if d[cond] and d[("open", "firm")]:
                base = np.mean(d[("open", "firm")], axis=0)
                here = np.mean(d[cond], axis=0)
                sp.append(here[0] / base[0])
                sd.append(np.sqrt(here[1] / base[1]))
        out[cond] = (float(np.median(sd)), float(np.median(sp)))
    return out


def test_the_factors_are_the_data_sets(validation_dir):
    got = _ratios(validation_dir / "santos_duarte_2016_bds")
    for cond, (sd, sp) in DOUBLE_STANCE_CONDITIONS.items():
        assert sd == pytest.approx(got[cond][0], abs=0.006), cond
        assert sp == pytest.approx(got[cond][1], abs=0.006), cond


def test_a_simulated_person_follows_the_conditions(validation_dir):
    """Five seeds per condition through the quick sampling path: the mean COP velocity and the
    95 % area against firm, eyes open are the data set's ratios within 20 %."""
    from rig.analysis import metrics
    from rig.analysis.protocols import get as get_protocol
    from rig.constants import SAMPLE_COLUMNS
    from rig.sim.protocols import perform, person_for, sample_performance
    want = _ratios(validation_dir / "santos_duarte_2016_bds")
    proto = get_protocol("quiet_stance_mctsib")
    col = {c: i for i, c in enumerate(SAMPLE_COLUMNS)}
    vel, area = defaultdict(list), defaultdict(list)
    for c in proto.conditions:
        for seed in range(5):
            perf = perform(proto, "both", c.id, seed=seed)
            s = sample_performance(perf, person_for(perf, seed=seed), seed=seed)
            m = metrics.compute_all(s[:, col["t_s"]], s[:, col["cop_ml_mm"]] / 1000, s[:, col["cop_ap_mm"]] / 1000)["metrics"]
            vel[(c.vision, c.surface)].append(m["mean_velocity_mm_s"])
            area[(c.vision, c.surface)].append(m["ellipse95_area_mm2"])
    base_v, base_a = np.mean(vel[("open", "firm")]), np.mean(area[("open", "firm")])
    for cond, (sd, sp) in want.items():
        assert np.mean(vel[cond]) / base_v == pytest.approx(sp, rel=0.2), (cond, np.mean(vel[cond]) / base_v, sp)
        assert np.sqrt(np.mean(area[cond]) / base_a) == pytest.approx(sd, rel=0.2), cond


def test_unknown_conditions_are_refused():
    with pytest.raises(ValueError, match="surface must be"):
        double_stance_factor("open", "sand")
    with pytest.raises(ValueError, match="eyes must be"):
        double_stance_factor("shut", "firm")
