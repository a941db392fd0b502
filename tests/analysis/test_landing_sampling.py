"""The numbers in docs/landing-sampling.md are what rig.analysis.landing computes on the real files."""
from __future__ import annotations


import numpy as np
import pytest

from rig.analysis.landing import hx711_resample, landing_from_force, load_validation_landing, resampling_study
from tests import ROOT

DOC = ROOT / "docs" / "landing-sampling.md"


def doc_table():
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- landing-sampling-table")[1].split("<!-- end landing-sampling-table")[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[0] in ("GRFZjump", "BFR007"):
            rows[(cells[0], cells[1])] = [float(c) for c in cells[2:]]
    return rows


_CACHE: dict = {}


@pytest.fixture
def studies(validation_dir):
    if _CACHE:
        return _CACHE
    out = _CACHE
    for name in ("GRFZjump", "BFR007"):
        t, f, bw, _ = load_validation_landing(validation_dir, name)
        out[name] = resampling_study(t, f, bw, tts_window_s=10.0)
    return out


def test_the_doc_table_is_what_the_code_computes(studies):
    rows = doc_table()
    assert len(rows) == 6
    for (name, model), want in rows.items():
        s = studies[name]["models"][model]["summary"]
        got = [s["peak_error_pct"]["mean"], s["peak_error_pct"]["min"], s["peak_error_pct"]["max"],
               s["loading_rate_error_pct"]["mean"], s["loading_rate_error_pct"]["min"],
               s["loading_rate_error_pct"]["max"], s["time_to_peak_error_s"]["mean"] * 1000,
               s["contact_error_s"]["mean"] * 1000]
        assert np.allclose(np.round(got, 1), want, atol=0.051), (name, model, np.round(got, 1), want)


def test_reference_landings(studies):
    g, b = studies["GRFZjump"]["reference"], studies["BFR007"]["reference"]
    assert g["sample_rate_hz"] == 600 and b["sample_rate_hz"] == 1000
    assert g["peak_force_n"] == pytest.approx(3632.8, abs=0.1) and g["time_to_peak_s"] == pytest.approx(0.070)
    assert b["peak_force_n"] == pytest.approx(2766.2, abs=0.1) and b["time_to_peak_s"] == pytest.approx(0.085)
    assert g["contact_threshold_n"] == pytest.approx(34.92, abs=0.01)   # 5 SD of the flight noise
    assert b["contact_threshold_n"] == pytest.approx(0.5)                # zeroed flight: the SD floor
    assert g["tts_bw5_s"] is None and b["tts_bw5_s"] is None
    assert b["tts_window_truncated"] and b["tts_window_s"] == pytest.approx(1.918)


def test_every_80hz_result_records_its_rate_and_underreads(studies):
    for name, s in studies.items():
        for model in ("boxcar", "sinc4"):
            for r in s["models"][model]["per_phase"]:
                assert r["sample_rate_hz"] == pytest.approx(80.0, abs=0.01)
                assert r["peak_error_pct"] < 0                        # an averaging chip never over-reads


def test_sinc4_smooths_more_than_a_boxcar(studies):
    for s in studies.values():
        assert s["models"]["sinc4"]["summary"]["peak_error_pct"]["mean"] < s["models"]["boxcar"]["summary"]["peak_error_pct"]["mean"]


def test_tts_depends_on_the_window(validation_dir):
    t, f, bw, _ = load_validation_landing(validation_dir, "BFR007")
    got = [landing_from_force(t, f, bw, tts_window_s=w)["tts_seq_avg_s"] for w in (0.5, 1.0, 1.5, 1.9)]
    assert np.round(got, 3).tolist() == [0.374, 0.474, 0.823, 0.931]       # the doc's figures
    tk, fk = hx711_resample(t, f, 80.0, 0.0, "boxcar")
    assert landing_from_force(tk, fk, bw, tts_window_s=10.0)["tts_seq_avg_s"] == pytest.approx(0.9125)
    text = DOC.read_text(encoding="utf-8")
    for fig in ("0.374 s", "0.474 s", "0.823 s", "0.931 s", "0.9125 s"):
        assert fig in text


def test_resampling_models_on_a_known_signal():
    # a 40 ms half-sine of height 1000 N: a 12.5 ms boxcar centred on the top reads
    # 1000·sinc-average = 1000·(2/π)·sin(π·12.5/80)/(12.5/40)… computed numerically here
    t = np.arange(0, 0.2, 1e-4)
    f = np.where((t > 0.05) & (t < 0.09), 1000 * np.sin(np.pi * (t - 0.05) / 0.04), 0.0)
    tk, fk = hx711_resample(t, f, 80.0, phase_s=0.07 + 0.00625 - 0.0125 - 0.0, model="boxcar")
    centre = 0.07 + 0.00625                                  # a conversion centred on the top
    k = int(np.argmin(np.abs(tk - centre)))
    m = (t > centre - 0.0125) & (t <= centre)
    assert fk[k] == pytest.approx(f[m].mean(), rel=2e-3)
    _, fp = hx711_resample(t, f, 80.0, phase_s=0.07 - 0.0, model="point")
    assert fp.max() == pytest.approx(1000, rel=1e-3)
