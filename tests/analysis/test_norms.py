"""The reference values (rig.analysis.norms, ``rig norms``): the shipped table is what the code
computes from the public data set, its medians are the data set's, the bias tables in
docs/reference-values.md are what the replay through the simulated rig measures."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from rig.analysis import norms
from rig.cli import main
from rig.cli.norms import doc_block, doc_tables, rebuild_table
from tests import ROOT

DOC = ROOT / "docs" / "reference-values.md"


@pytest.fixture
def bds(validation_dir):
    return validation_dir / "santos_duarte_2016_bds"


def _published(bds, vision, surface, lo, hi, column="COPvelo"):
    """An independent reading of BDSinfoCOP.txt: the column's values for one condition and age band."""
    with open(bds / "BDSinfoCOP.txt", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [float(r[column]) for r in rows if r["Vision"] == vision and r["Surface"] == surface
            and lo <= float(r["Age"]) and (hi is None or float(r["Age"]) < hi)]


def test_cli_json_median_is_the_published_median(bds):
    r = CliRunner().invoke(main, ["norms", "--protocol", "quiet_stance_mctsib", "--condition", "eyes_closed_foam",
                                  "--age", "72", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert (out["condition"], out["age_band"]) == ("foam_eyes_closed", "70+")
    velo = _published(bds, "Closed", "Foam", 70, None)
    assert out["n_trials"] == len(velo) == 120
    assert out["n_people"] == 40
    assert f"{out['published']['COPvelo (cm/s)']['p50']:.4g}" == f"{np.median(velo):.4g}"
    assert out["percentiles"]["mean_velocity_mm_s"]["p50"] == pytest.approx(10 * np.median(velo), rel=1e-12)
    assert out["source"]["licence"] == "CC BY 4.0" and "10.7717/peerj.2648" == out["source"]["doi"]
    assert set(out["conventions"]) == {m.key for m in norms.MEASURES}
    # the 30-s mCTSIB: no measure gets a percentile, each says why
    assert out["trial_seconds"] == 30.0 and not any(out["shown_on_screen"].values())
    assert all("30-s trial" in w and "percentile points" in w for w in out["why"].values())
    r60 = json.loads(CliRunner().invoke(main, ["norms", "--protocol", "quiet_stance_mctsib_60", "--condition",
                                               "firm_eyes_closed", "--age", "72", "--json"]).output)
    table = norms.load_table()
    assert r60["trial_seconds"] == 60.0
    assert r60["shown_on_screen"] == {m.key: table["comparability"][m.key]["durations"]["60"]["shown"]
                                      ["firm_eyes_closed"]["70+"] for m in norms.MEASURES}


@pytest.mark.parametrize("cond, vision, surface", [("firm_eyes_open", "Open", "Firm"),
                                                    ("eyes_closed_firm", "Closed", "Firm"),
                                                    ("foam_eyes_open", "Open", "Foam")])
@pytest.mark.parametrize("age, lo, hi", [(25, 18, 40), (65, 60, 70), (85.5, 70, None)])
def test_every_cell_matches_the_data_set(bds, cond, vision, surface, age, lo, hi):
    cell = norms.cell_for(norms.load_table(), cond, age)
    for column, key, factor in (("COPvelo", "mean_velocity_mm_s", 10), ("COParea", "ellipse95_area_prediction_mm2", 100),
                                ("COPmfreq", "mean_power_frequency_hz", 1)):
        vals = np.array(_published(bds, vision, surface, lo, hi, column))
        want = np.percentile(vals * factor, [5, 25, 50, 75, 95])
        got = [cell["measures"][key][f"p{p}"] for p in (5, 25, 50, 75, 95)]
        assert np.allclose(got, want, rtol=1e-12), (cond, age, key)
    assert cell["n_trials"] == len(vals) and not cell["too_few"]


def test_the_shipped_percentiles_are_what_the_code_computes(bds):
    built = norms.build_table(bds / "BDSinfoCOP.txt")
    shipped = norms.load_table()
    for key in ("schema", "source", "cells", "measures", "age_bands", "age_range", "percentiles", "min_people"):
        assert built[key] == shipped[key], key


def test_middle_age_is_too_few_and_shown_as_such():
    table = norms.load_table()
    cell = norms.cell_for(table, "foam_eyes_closed", 50)
    assert cell["too_few"] and cell["n_people"] < norms.MIN_PEOPLE
    out = norms.compare({"mean_velocity_mm_s": 30.0}, "foam_eyes_closed", 50, table)
    assert out["rows"] == [] and "too few" in out["note"]


def test_compare_gives_a_band_only_where_the_bias_allows():
    table = norms.load_table()
    comp = table["comparability"]
    # find a cell where the 60-s velocity is shown, and one where it is not
    cells = [(c, b) for c in norms.CONDITIONS.values() for b in ("18-39", "60-69", "70+")]
    yes = [cb for cb in cells if comp["mean_velocity_mm_s"]["durations"]["60"]["shown"][cb[0]][cb[1]]]
    no = [cb for cb in cells if not comp["mean_velocity_mm_s"]["durations"]["60"]["shown"][cb[0]][cb[1]]]
    assert yes and no
    age = {"18-39": 25, "60-69": 65, "70+": 75}
    cond, band = yes[0]
    pct = norms.cell_for(table, cond, age[band])["measures"]["mean_velocity_mm_s"]
    value = (pct["p25"] + pct["p50"]) / 2
    out = norms.compare({"mean_velocity_mm_s": value, "mean_power_frequency_hz": float("nan")}, cond,
                        age[band], table, scored_s=58.0)
    rows = {r["key"]: r for r in out["rows"]}
    assert rows["mean_velocity_mm_s"]["band"] == (25, 50) and rows["mean_velocity_mm_s"]["shown"]
    assert rows["mean_velocity_mm_s"]["words"] == "25th–50th percentile"
    assert "mean_power_frequency_hz" not in rows          # no finite value: no row
    # the same value from a 30-s trial, or in a cell over the threshold: no band, and why
    for c, b, secs in ((cond, band, 30.0), (no[0][0], no[0][1], 58.0)):
        r = norms.compare({"mean_velocity_mm_s": value}, c, age[b], table, scored_s=secs)["rows"][0]
        assert r["band"] is None and not r["shown"] and "percentile points" in r["why"] and "−0 %" not in r["why"]
    short = norms.compare({"mean_velocity_mm_s": value}, cond, age[band], table, scored_s=12.0)["rows"][0]
    assert not short["shown"] and "shorter than the 30 s" in short["why"]
    assert norms.compare({"mean_velocity_mm_s": value}, cond, None, table)["note"].startswith("Add")


def test_percentile_band_edges():
    pct = {"p5": 1.0, "p25": 2.0, "p50": 3.0, "p75": 4.0, "p95": 5.0}
    assert norms.percentile_band(0.5, pct) == (None, 5)
    assert norms.percentile_band(1.0, pct) == (5, 25)
    assert norms.percentile_band(3.5, pct) == (50, 75)
    assert norms.percentile_band(5.0, pct) == (95, None)
    assert norms.band_words((None, 5)) == "below the 5th percentile"
    assert norms.band_words((95, None)) == "above the 95th percentile"


def test_bad_questions_get_clear_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["norms", "--condition", "eyes_shut", "--age", "72"])
    assert r.exit_code != 0 and "eyes_shut" in r.output and "foam_eyes_closed" in r.output
    for age, words in (("12", "start at 18"), ("95", "end at 85")):
        r = runner.invoke(main, ["norms", "--condition", "foam_eyes_open", "--age", age])
        assert r.exit_code != 0 and words in r.output, r.output
    r = runner.invoke(main, ["norms", "--protocol", "single_leg_stance", "--condition", "eyes_open", "--age", "30"])
    assert r.exit_code != 0 and "reference-values.md" in r.output
    assert norms.condition_id("Closed/Foam") == "foam_eyes_closed"
    with pytest.raises(norms.NormsError, match="not JSON"):
        norms.load_table(DOC)
    (tmp_path / "t.json").write_text('{"schema": "other/1"}')
    with pytest.raises(norms.NormsError, match="not a stepplate-norms/1 file"):
        norms.load_table(tmp_path / "t.json")


def test_cell_shift_against_an_independent_rank():
    """_cell_shift: the largest move in percentile rank of any interquartile value, recomputed
    here by brute force with a different rank rule (searchsorted midpoints)."""
    rng = np.random.default_rng(3)
    pop = rng.lognormal(0.0, 0.4, 401)
    srt = np.sort(pop)

    def rank(x):
        return 100.0 * (np.searchsorted(srt, x, "left") + np.searchsorted(srt, x, "right")) / 2 / pop.size
    q1, q3 = np.percentile(pop, [25, 75])
    for bias in (-0.3, -0.05, 0.0, 0.1):
        want = max(abs(rank(v * (1 + bias)) - rank(v)) for v in pop if q1 <= v <= q3)
        assert norms._cell_shift(pop, bias) == pytest.approx(want, abs=1e-9)
    assert norms._cell_shift(pop, 0.0) == 0.0 and norms._cell_shift(pop, 0.2) > norms._cell_shift(pop, 0.05)


def test_the_bias_bound_is_two_standard_errors_away_from_zero():
    b = norms._bias(np.array([-0.10, -0.02, -0.06, -0.04]))
    se = np.std([-0.10, -0.02, -0.06, -0.04], ddof=1) / 2
    assert b["bias_pct"] == pytest.approx(-5.5) and b["applied_pct"] == pytest.approx(100 * (-0.055 - 2 * se), abs=0.01)


@pytest.mark.soak
def test_rebuilt_table_and_doc_tables_are_the_shipped_ones(bds):
    """The whole regeneration (about 30 s): percentiles and the replay of every raw trial through
    the simulated rig. The shipped comparability and both tables in the docs must be what it gives."""
    table, study = rebuild_table(bds)
    shipped = norms.load_table()
    assert table == shipped
    text = DOC.read_text(encoding="utf-8")
    for name, body in doc_tables(table, study).items():
        assert doc_block(text, name) == body, f"docs/reference-values.md: run `rig norms --rebuild` ({name})"
    # the instrument itself reads all three within 2 % on the same 60 s; the 30-s window is what
    # differs: no cell is shown for a 30-s trial, some are for the 60-s protocol
    for m in norms.MEASURES:
        c = table["comparability"][m.key]
        assert abs(c["instrument_bias_pct"]) < 2.0, m.key
        assert not any(v for cells in c["durations"]["30"]["shown"].values() for v in cells.values())
        assert abs(c["durations"]["60"]["bias_pct"]) < abs(c["durations"]["30"]["bias_pct"])
