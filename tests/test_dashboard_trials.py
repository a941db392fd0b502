"""Trials: storing from samples/uploads/the live source, results page, redo, left/right, API."""
import threading
import time

import numpy as np
import pytest

from dashboard.db import get_db
from dashboard.models import Trial
from dashboard.recordings import RAW_COLUMNS, encode
from rig.plate import SAMPLE_COLUMNS
from tests.dashboard_support import (admin, app, circle_samples, client, live, patient,  # noqa: F401
                                     post_trial, session_id)


def test_store_trial_from_json_gives_results_and_a_durable_recording(app, client, session_id, tmp_path):
    r = post_trial(client, session_id, "left", circle_samples(801, radius_mm=5))
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert d["results"]["path_length_mm"] == pytest.approx(62.83, rel=1e-3)
    assert d["display"]["mean_velocity_mm_s"]["value"] == pytest.approx(0.6283, rel=1e-3)  # cm/s
    assert d["quality"]["ok"] and d["n_samples"] == 801 and d["sample_rate_hz"] == pytest.approx(80.0)
    with app.app_context():
        t = get_db().get(Trial, d["trial_id"])
        path = tmp_path / "data" / t.recording_path
        assert path.exists() and len(t.recording_sha256) == 64 and t.body_mass_kg == pytest.approx(71.4)
        assert {r.key for r in t.results} >= {"mean_velocity_mm_s", "ellipse_area_95_mm2", "rms_ml_mm"}
    # the stored file is a StepPlate recording the rig's own reader accepts (rig analyze)
    from rig.io import read_recording
    rec = read_recording(path)
    assert len(rec.t_s) == 801 and rec.rate_hz == 80
    assert np.allclose(rec.ml_m * 1000, circle_samples(801, radius_mm=5)[:, 6], atol=1e-4)


def test_bad_trial_payloads_are_rejected(client, session_id):
    assert post_trial(client, session_id, "middle", circle_samples(10)).status_code == 400
    assert client.post(f"/api/sessions/{session_id}/trials", json={"side": "left"}).status_code == 400
    r = client.post(f"/api/sessions/{session_id}/trials", json={"side": "left", "columns": ["t_s", "fz_n"],
                                                               "samples": [[0, 1], [1, 2]]})
    assert r.status_code == 400 and "lack columns" in r.get_json()["error"]
    assert post_trial(client, 999, "left", circle_samples(10)).status_code == 404


def test_upload_a_recording_file(client, session_id):
    blob = encode(circle_samples(200), SAMPLE_COLUMNS, {"plate": "x"})
    from io import BytesIO
    r = client.post(f"/api/sessions/{session_id}/trials", data={"side": "right", "file": (BytesIO(blob), "rec.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["side"] == "right"


def test_trial_page_shows_measures_quality_and_redo(app, client, session_id):
    flags = np.zeros(801, int)
    flags[100:110] = 64
    tid = post_trial(client, session_id, "left", circle_samples(801, flags=flags)).get_json()["trial_id"]
    page = client.get(f"/trials/{tid}").get_data(as_text=True)
    assert "Mean velocity (cm/s)" in page and "stopped answering" in page and 'id="redo"' in page
    assert "export.c3d" in page and "export.json" in page
    r = client.post(f"/trials/{tid}/redo")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/sessions/{session_id}/run?side=left")
    assert client.get(f"/api/trials/{tid}").get_json()["status"] == "redo"
    assert client.get("/trials/424242").status_code == 404


def test_session_page_left_right_comparison(client, session_id):
    post_trial(client, session_id, "left", circle_samples(801, radius_mm=5))
    post_trial(client, session_id, "right", circle_samples(801, radius_mm=10))
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'id="left-right"' in page and "-50 %" in page            # left velocity half the right: -50 %
    r = client.post(f"/sessions/{session_id}", data={"notes": "tired today"})
    assert r.status_code == 302 and "tired today" in client.get(f"/sessions/{session_id}").get_data(as_text=True)
    # the run page now knows both sides are done and offers the comparison
    run = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert 'data-done="left,right"' in run or 'data-done="right,left"' in run


def test_samples_api_decimates(client, session_id):
    tid = post_trial(client, session_id, "left", circle_samples(801)).get_json()["trial_id"]
    d = client.get(f"/api/trials/{tid}/samples?max_points=100").get_json()
    assert d["columns"] == list(SAMPLE_COLUMNS) and d["decimation"] == 9 and len(d["samples"]) == 89
    assert client.get(f"/api/trials/{tid}/samples?max_points=x").status_code == 400


def _feed(live, stop, rate=80, batch=8):
    t = 0.0
    seq = 0
    while not stop.is_set():
        rows, counts = [], []
        for _ in range(batch):
            rows.append([round(t, 5), 175.0, 175.0, 175.0, 175.0, 700.0, 5 * np.cos(t), 5 * np.sin(t), 0])
            counts.append([1000, 1001, 1002, 1003])
            t += 1 / rate
        live.publish({"type": "batch", "seq": seq, "t_ns": int(t * 1e9), "samples": rows, "counts": counts})
        seq += 1
        time.sleep(0.002)


def test_record_a_trial_from_the_live_source(app, client, live, session_id):
    stop = threading.Event()
    th = threading.Thread(target=_feed, args=(live, stop), daemon=True)
    th.start()
    try:
        r = client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": 2})
    finally:
        stop.set()
        th.join()
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert 158 <= d["n_samples"] <= 161 and d["duration_s"] == pytest.approx(2.0, abs=0.02)
    assert d["results"]["mean_velocity_mm_s"] == pytest.approx(5.0, rel=0.02)    # r·ω = 5 mm/s
    raw = client.get(f"/trials/{d['trial_id']}/export.csv?kind=raw").get_data(as_text=True).splitlines()
    assert raw[0] == ",".join(("t_s",) + RAW_COLUMNS + ("flags",)) and raw[1].endswith(",1000,1001,1002,1003,0")
    assert live._subs == []                                                      # unsubscribed


def test_record_without_a_running_acquisition_is_503(app, client, session_id):
    r = client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": 0.2})
    assert r.status_code == 503 and "no samples" in r.get_json()["error"]
    assert client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": 500}).status_code == 400
