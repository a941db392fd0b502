"""Trials: storing from samples/uploads/the live source, the protocol analysis (events, scored
window, measures, faults; a failed analysis stored and shown), results page, redo, left/right, API."""
import functools
import re
import threading
import time
from io import BytesIO

import numpy as np
import pytest

from dashboard.db import get_db
from dashboard.models import Trial
from rig.recording.format import RAW_COLUMNS
from rig.recording.reader import read_recording
from rig.signal.plate import SAMPLE_COLUMNS
from rig.analysis.protocols import get as get_protocol
from rig.analysis.protocols.analysis import analyse_trial
from rig.recording.writer import write_recording
from tests.dashboard_support import HELLO, circle_samples, post_trial, sls_samples


def new_session(client, patient, protocol):
    r = client.post(f"/patients/{patient}/sessions", data={"protocol": protocol})
    assert r.status_code == 302
    return int(r.headers["Location"].split("/")[-2])


def test_stored_trial_carries_the_protocol_analysis_of_its_recording(app, client, session_id, tmp_path):
    r = post_trial(client, session_id, "left", sls_samples(1, stance="left"))
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert d["analysis"]["ok"] and d["analysis"]["scored"] and d["analysis"]["faults"] == []
    names = [e["name"] for e in d["analysis"]["events"]]
    assert "foot_lift" in names and "weight_settled" in names
    assert d["n_samples"] == 2079 and d["sample_rate_hz"] == pytest.approx(80.0, rel=1e-3)
    with app.app_context():
        t = get_db().get(Trial, d["trial_id"])
        path = tmp_path / "data" / t.recording_path
        assert path.exists() and len(t.recording_sha256) == 64 and t.body_mass_kg == pytest.approx(71.4)
    # exactly what the protocol analysis gives on the stored file (what `rig analyze` reads)
    rec = read_recording(path)
    want = analyse_trial(get_protocol("single_leg_stance"), rec.t_s, rec.fz_n, rec.ml_m * 1000, rec.ap_m * 1000,
                         rec.flags, side="left")
    assert d["results"]["mean_velocity_mm_s"] == pytest.approx(want.measures["mean_velocity_mm_s"], rel=1e-9)
    assert d["results"]["ellipse95_area_mm2"] == pytest.approx(want.measures["ellipse95_area_mm2"], rel=1e-9)
    assert d["analysis"]["scored_window_s"] == pytest.approx(want.scored_window_s)
    assert "stance_side" not in d["results"]                                 # strings stay in the analysis
    assert d["display"]["mean_velocity_mm_s"]["value"] == pytest.approx(want.measures["mean_velocity_mm_s"] / 10)
    page = client.get(d["url"]).get_data(as_text=True)
    assert "Scored" in page and "foot lift @" in page and "Sway velocity (cm/s)" in page


def test_a_trial_whose_analysis_fails_is_stored_and_says_why(app, client, patient):
    sid = new_session(client, patient, "quiet_stance_mctsib")
    n = 2400                                       # 30 s on the plate, COP frozen: no sway to analyse
    s = np.zeros((n, len(SAMPLE_COLUMNS)))
    s[:, 0] = np.arange(n) / 80
    s[:, 5] = 700 + np.random.default_rng(0).normal(0, 0.5, n)
    s[:, 1:5] = s[:, 5:6] / 4
    s[:, 6], s[:, 7] = 3.0, -2.0
    r = post_trial(client, sid, "both", s)
    assert r.status_code == 201, r.get_json()                                # samples kept
    d = r.get_json()
    assert d["analysis"] == {"ok": False, "error": "analysis failed: cop_ml: constant signal (no sway to analyse)"}
    assert d["results"] == {} and not d["quality"]["ok"] and d["analysis"]["error"] in d["quality"]["warnings"]
    page = client.get(d["url"]).get_data(as_text=True)
    assert 'id="analysis-error"' in page and "analysis failed: cop_ml: constant signal" in page
    assert "analysis failed" in client.get(f"/sessions/{sid}").get_data(as_text=True)
    samples = client.get(f"/api/trials/{d['trial_id']}/samples?max_points=100000").get_json()
    assert len(samples["samples"]) == n                                      # nothing lost


def test_faulted_trial_keeps_its_faults(client, session_id):
    d = post_trial(client, session_id, "left", circle_samples(801)).get_json()   # never lifts a foot
    assert d["analysis"]["ok"] and not d["analysis"]["scored"] and d["analysis"]["faults"] == ["no_foot_lift"]
    assert "Not scored: no foot lift" in client.get(d["url"]).get_data(as_text=True)


def test_bad_trial_payloads_are_rejected(client, session_id):
    assert post_trial(client, session_id, "middle", circle_samples(10)).status_code == 400
    assert client.post(f"/api/sessions/{session_id}/trials", json={"side": "left"}).status_code == 400
    r = client.post(f"/api/sessions/{session_id}/trials", json={"side": "left", "columns": ["t_s", "fz_n"],
                                                               "samples": [[0, 1], [1, 2]]})
    assert r.status_code == 400 and "lack columns" in r.get_json()["error"]
    assert post_trial(client, 999, "left", circle_samples(10)).status_code == 404
    r = client.post(f"/api/sessions/{session_id}/trials", data={"side": "left", "file": (BytesIO(b"t_s,x\n0,1\n"), "x.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "columns must be" in r.get_json()["error"]


def test_upload_a_recording_file(client, session_id, tmp_path):
    meta = {"plate": "x", "rate_hz": 80, "geometry_cell_x_m": HELLO["geometry"]["cell_x_m"],
            "geometry_cell_y_m": HELLO["geometry"]["cell_y_m"], "calibration": "nominal"}
    rec = write_recording(tmp_path / "rec.csv", meta, sls_samples(2, stance="right"))
    r = client.post(f"/api/sessions/{session_id}/trials",
                    data={"side": "right", "file": (BytesIO(rec.path.read_bytes()), "rec.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 201 and r.get_json()["side"] == "right" and r.get_json()["analysis"]["scored"]


def test_trial_page_shows_measures_quality_and_redo(app, client, session_id):
    flags = np.zeros(801, int)
    flags[100:110] = 64
    tid = post_trial(client, session_id, "left", circle_samples(801, flags=flags)).get_json()["trial_id"]
    page = client.get(f"/trials/{tid}").get_data(as_text=True)
    assert "stopped answering" in page and 'id="redo"' in page
    assert "export.c3d" in page and "export.json" in page
    r = client.post(f"/trials/{tid}/redo")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/sessions/{session_id}/run?side=left")
    assert client.get(f"/api/trials/{tid}").get_json()["status"] == "redo"
    assert client.get("/trials/424242").status_code == 404


def test_session_page_left_right_comparison(app, client, session_id):
    left = post_trial(client, session_id, "left", sls_samples(3, stance="left", sway_ml_mm=3.0)).get_json()
    right = post_trial(client, session_id, "right", sls_samples(4, stance="right", sway_ml_mm=6.0)).get_json()
    from rig.analysis.protocols.session import summarise_session
    from rig.analysis.symmetry import limb_symmetry
    lv, rv = left["results"]["mean_velocity_mm_s"], right["results"]["mean_velocity_mm_s"]
    lsi = limb_symmetry(lv, rv, measure="mean_velocity_mm_s")["lsi_pct"]
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert 'id="left-right"' in page and f"{lsi:.0f} %" in page
    with app.app_context():                        # the comparison is rig.analysis.protocols.session's
        from dashboard.trials import left_right
        s = get_db().get(Trial, left["trial_id"]).session
        rows = {r["key"]: r for r in left_right(s)}
        want = summarise_session([t.quality["analysis"] for t in s.trials])
        g = want["protocols"]["single_leg_stance"]
        assert rows["mean_velocity_mm_s"]["left"] == g["sides"]["left"]["measures"]["mean_velocity_mm_s"]["mean"]
        assert rows["mean_velocity_mm_s"]["lsi_pct"] == g["lsi"]["mean_velocity_mm_s"]["lsi_pct"]
    # L/R bars for the protocol's headline measures: the larger side fills its track, the
    # other is drawn to scale, each in its side's colour; everything else behind "All measures"
    from dashboard import palette, protocols
    bars = page.split('id="lr-bars"')[1].split("</details>")[0]
    drawn = re.findall(r'data-key="([a-z0-9_]+)"', bars.split("<details>")[0])
    assert drawn and set(drawn) <= set(protocols.headline_for("single_leg_stance"))
    vel = bars.split('data-key="mean_velocity_mm_s"')[1].split('class="lr-row"')[0]
    widths = [float(w) for w in re.findall(r"width: ([0-9.]+)%", vel)]
    assert widths == pytest.approx([100 * min(lv, rv) / max(lv, rv) if lv < rv else 100.0,
                                    100.0 if lv < rv else 100 * rv / lv], abs=0.06)
    assert palette.side("left") in vel and palette.side("right") in vel
    assert "<details><summary>All measures" in page and 'id="left-right-table"' in page.split("<details>")[1]
    r = client.post(f"/sessions/{session_id}", data={"notes": "tired today"})
    assert r.status_code == 302 and "tired today" in client.get(f"/sessions/{session_id}").get_data(as_text=True)
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
    assert d["analysis"]["ok"] and d["analysis"]["faults"] == ["no_foot_lift"]   # standing, never lifted a foot
    raw = client.get(f"/trials/{d['trial_id']}/export.csv?kind=raw").get_data(as_text=True).splitlines()
    assert raw[0] == ",".join(("t_s",) + RAW_COLUMNS + ("flags",)) and raw[1].endswith(",1000,1001,1002,1003,0")
    assert live.subscriber_count == 0                                                      # unsubscribed


def test_record_without_a_running_acquisition_is_503(app, client, session_id):
    r = client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": 0.2})
    assert r.status_code == 503 and "no samples" in r.get_json()["error"]
    assert client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": 500}).status_code == 400


# --- the lateral step-down's metronome cues (cues_s; docs/dashboard.md) ----------------------

@functools.lru_cache(maxsize=2)
def _step_down_trial(seed=2):
    """The virtual person's five lateral step-downs (tests/analysis/test_stepdown.py) with the cue times
    a metronome gave (each repetition's start minus a 150-350 ms reaction), as SAMPLE_COLUMNS rows."""
    from tests.sim_support import sample_person, sd_cues, sd_person
    p = sd_person(seed)
    d = sample_person(p, seed=seed + 100)
    s = np.zeros((len(d["t_s"]), len(SAMPLE_COLUMNS)))
    s[:, 0], s[:, 5], s[:, 6], s[:, 7], s[:, 8] = d["t_s"], d["fz_n"], d["cop_ml_mm"], d["cop_ap_mm"], d["flags"]
    s[:, 1:5] = d["fz_n"][:, None] / 4
    return s, [round(c, 4) for c in sd_cues(p, seed)]


def _body(side, samples, **extra):
    return {"side": side, "columns": list(SAMPLE_COLUMNS),
            "samples": [[None if not np.isfinite(v) else float(v) for v in r] for r in samples], **extra}


def _stored(app, tmp_path, trial_id):
    from rig.recording.reader import read_table
    with app.app_context():
        t = get_db().get(Trial, trial_id)
        text = (tmp_path / "data" / t.recording_path).read_text()
        return t.quality, text, read_table(text)[2]


def test_step_down_trial_with_cues_is_stored_and_analysed_cue_guided(app, client, patient, tmp_path):
    from rig.analysis.protocols.analysis import cues_from_metadata
    sid = new_session(client, patient, "lateral_step_down")
    samples, cues = _step_down_trial()
    r = client.post(f"/api/sessions/{sid}/trials", json=_body("left", samples, cues_s=cues))
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    quality, text, meta = _stored(app, tmp_path, d["trial_id"])
    assert "\n# cues_s: " + ",".join(f"{c:.4f}" for c in cues) + "\n" in text
    assert cues_from_metadata(meta) == pytest.approx(cues, abs=1e-9)
    m = quality["analysis"]["measures"]
    assert m["cue_guided"] is True and m["repetition_count"] == 5 and m["not_performed_count"] == 0
    assert d["results"]["repetition_count"] == 5 and "incomplete_repetitions" not in d["analysis"]["faults"]
    # the same samples without cues: the blind detector (the fallback)
    r = client.post(f"/api/sessions/{sid}/trials", json=_body("left", samples))
    quality, text, meta = _stored(app, tmp_path, r.get_json()["trial_id"])
    assert "cues_s" not in meta and quality["analysis"]["measures"]["cue_guided"] is False


def test_run_page_plays_a_metronome_only_for_the_step_down(client, patient, session_id):
    import json
    sid = new_session(client, patient, "lateral_step_down")
    page = client.get(f"/sessions/{sid}/run").get_data(as_text=True)
    plan = json.loads(re.search(r"data-metronome='([^']+)'", page).group(1))
    # 60 bpm, a cue every 4 beats; 2 count-in beats (settle_s); 2 + 5 × 4 + 1 s recorded (> duration_s 20)
    assert plan == {"period_s": 4.0, "beat_s": 1.0, "beats_per_cue": 4, "repetitions": 5, "lead_beats": 2,
                    "lead_s": 2.0, "seconds": 23.0}
    assert 'data-duration="23.0"' in page and 'id="beat-dot"' in page and 'id="metronome-sound"' in page
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)      # single-leg stance
    assert "data-metronome" not in page and 'id="beat-dot"' not in page


def test_run_page_records_the_whole_test_not_only_its_hold(client, session_id):
    """A single-leg stance holds 20 s after a still moment and the lift: recording only 20 s from
    Start could never be scored (the hold would end after the recording)."""
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)      # single-leg stance
    # settle_s 2 + lift_within_s 5 + the 20 s hold + 1 s spare
    assert 'data-duration="28.0"' in page and "20 s test, 28 s recorded" in page


@pytest.mark.parametrize("cues, why", [        # the raw JSON text of cues_s
    ("[5.0, NaN]", "finite"), ("[1.0, Infinity]", "finite"), ('"3.2"', "must be array"), ("4.0", "must be array"),
    ('[{"t": 1}]', "must be number"), ("[true]", "must be number"),
    ("[" + ",".join(f"{4 + 0.01 * i:.2f}" for i in range(257)) + "]", "at most 256"),
    ("[-1.0]", "outside the trial"), ("[9999.0]", "outside the trial"), ("[6.0, 5.0]", "increasing"),
])
def test_bad_cues_are_rejected_and_nothing_is_written(app, client, patient, tmp_path, cues, why):
    import json
    from sqlalchemy import func, select
    sid = new_session(client, patient, "lateral_step_down")
    samples, _ = _step_down_trial()
    raw = json.dumps(_body("left", samples[:800]))[:-1] + ', "cues_s": ' + cues + "}"
    r = client.post(f"/api/sessions/{sid}/trials", data=raw, content_type="application/json")
    assert r.status_code == 400 and "cues_s" in r.get_json()["error"] and why in r.get_json()["error"], r.get_json()
    with app.app_context():
        assert get_db().scalar(select(func.count()).select_from(Trial)) == 0
    assert not list((tmp_path / "data").rglob("*.csv*"))


def _feed_from(live, stop, t_start, rate=80, batch=8):
    """Standing still; the first batch after the recorder subscribed starts at ``t_start``."""
    while not live.subscriber_count and not stop.is_set():
        time.sleep(0.001)
    t = t_start
    while not stop.is_set():
        rows = []
        for _ in range(batch):
            rows.append([round(t, 5), 175.0, 175.0, 175.0, 175.0, 700.0, 5 * np.cos(t), 5 * np.sin(t), 0])
            t += 1 / rate
        live.publish({"type": "batch", "samples": rows, "counts": [[1, 2, 3, 4]] * batch})
        time.sleep(0.002)


def test_record_live_with_cues_keeps_the_recorded_ones(app, client, live, patient, tmp_path):
    from rig.analysis.protocols.analysis import cues_from_metadata
    sid = new_session(client, patient, "lateral_step_down")
    stop = threading.Event()
    th = threading.Thread(target=_feed_from, args=(live, stop, 100.0), daemon=True)
    th.start()
    try:
        r = client.post(f"/api/sessions/{sid}/trials/record",
                        json={"side": "left", "seconds": 2, "cues_s": [99.5, 100.5, 101.25]})
    finally:
        stop.set()
        th.join()
    assert r.status_code == 201, r.get_json()
    quality, text, meta = _stored(app, tmp_path, r.get_json()["trial_id"])
    # 99.5 s is before the first sample (stream time 100 s, where the recording's clock starts)
    assert float(meta["stream_t0_s"]) == 100.0 and cues_from_metadata(meta) == [0.5, 1.25]
    t = [float(line.split(",")[0]) for line in text.splitlines() if line[:1].isdigit()]
    assert t[0] == 0.0 and t[-1] == pytest.approx(2.0, abs=0.02)           # trial time, not stream time
    assert meta["cues_note"].startswith("1 of 3 metronome cues outside the recorded samples")
    assert meta["cues_note"] in quality["warnings"]
    assert quality["analysis"]["ok"] and quality["analysis"]["measures"]["cue_guided"]   # nobody moved: not performed


@pytest.mark.parametrize("cues, why", [
    ([float("nan")], "finite"), ("1", "must be array"), ([-0.5], "at least 0"), ([1.0] * 257, "at most 256"),
    ([10.0, 13.0], "spans 3 s"), ([2.0, 2.0], "increasing"),
])
def test_record_with_bad_cues_is_400_before_recording(app, client, live, patient, cues, why):
    import json
    sid = new_session(client, patient, "lateral_step_down")
    r = client.post(f"/api/sessions/{sid}/trials/record",
                    data=json.dumps({"side": "left", "seconds": 2, "cues_s": cues}), content_type="application/json")
    assert r.status_code == 400 and why in r.get_json()["error"], r.get_json()
    assert live.subscriber_count == 0                                       # never subscribed: nothing recorded
    assert client.get(f"/sessions/{sid}").status_code == 200


@pytest.mark.parametrize("column, raw, why", [
    ("flags", "Infinity", "flags must be a finite number or null, got inf"),
    ("flags", "2.5", "flags must be a whole number"),
    ("f_fl_n", "Infinity", "f_fl_n must be a finite number or null, got inf"),
    ("fz_n", "-Infinity", "fz_n must be a finite number or null, got -inf"),
    ("cop_ml_mm", "NaN", "cop_ml_mm must be a finite number or null, got nan"),
    ("t_s", "Infinity", "t_s must be a finite number of seconds"),
])
def test_a_sample_that_is_not_a_number_is_a_400_and_nothing_is_stored(app, client, session_id, column, raw, why):
    """JSON's Infinity and NaN (Python's parser accepts them) are never a sample: flags of
    Infinity were a 500 (OverflowError), an infinite force was stored as a trial."""
    import json
    from dashboard.db import get_db
    from dashboard.models import Trial
    rows = circle_samples(81).tolist()
    k = list(SAMPLE_COLUMNS).index(column)
    marker = 987654.25
    rows[5][k] = marker
    body = json.dumps({"side": "left", "columns": list(SAMPLE_COLUMNS), "samples": rows}).replace(str(marker), raw)
    r = client.post(f"/api/sessions/{session_id}/trials", data=body, content_type="application/json")
    assert r.status_code == 400 and why in r.get_json()["error"] and f"samples[5][{k}]" in r.get_json()["error"]
    with app.app_context():
        assert get_db().query(Trial).count() == 0



def test_a_trial_reads_as_a_result_card_with_everything_else_one_tap_away(client, session_id):
    """The protocol's few headline measures first (its kind's, rig.analysis.protocols.kinds),
    the rest behind "All measures"; the protocol by its name, not its id."""
    from rig.analysis.protocols.kinds import headline
    r = post_trial(client, session_id, "left", sls_samples())
    assert r.status_code == 201
    d = r.get_json()
    assert d["analysis"]["scored"]
    assert d["headline"] == [k for k in headline("single_leg_stance") if k in d["results"]]
    assert d["headline"][:2] == ["mean_velocity_mm_s", "mean_velocity_ml_mm_s"] and len(d["headline"]) >= 3
    page = client.get(d["url"]).get_data(as_text=True)
    card = re.search(r'<table class="list" id="headline">(.*?)</table>', page, re.S).group(1)
    assert card.count("<tr>") == len(d["headline"]) and "Sway velocity (cm/s)" in card
    assert '<details id="all-measures"' in page and "Sample entropy" in page.split('id="all-measures"')[1]
    h1 = re.search(r"<h1>(.*?)</h1>", page, re.S).group(1)
    assert "Single-leg stance" in h1 and "single_leg_stance" not in h1


def test_the_lsi_is_referenced_to_the_involved_side_the_session_recorded(app, client):
    """The patient's involved side is recorded (form, patient page) and copied into each session;
    the session's LSI is involved ÷ uninvolved, and positions get no index."""
    r = client.post("/patients/new", data={"code": "INV-1", "body_mass_kg": "70", "dominant_leg": "left",
                                           "involved_side": "right", "notes": ""})
    pid = int(r.headers["Location"].rstrip("/").split("/")[-1])
    assert "involved side: right" in client.get(f"/patients/{pid}").get_data(as_text=True)
    sid = new_session(client, pid, "single_leg_stance")
    left = post_trial(client, sid, "left", sls_samples(3, stance="left", sway_ml_mm=3.0)).get_json()
    right = post_trial(client, sid, "right", sls_samples(4, stance="right", sway_ml_mm=6.0)).get_json()
    lv, rv = left["results"]["sd_ml_mm"], right["results"]["sd_ml_mm"]          # ML sway SD about 3 vs 6 mm
    with app.app_context():
        from dashboard.trials import left_right
        s = get_db().get(Trial, left["trial_id"]).session
        assert s.involved_side == "right"
        rows = {r["key"]: r for r in left_right(s)}
    assert rows["sd_ml_mm"]["lsi_pct"] == pytest.approx(100 * rv / lv) and rv > 1.5 * lv   # involved right ÷ left
    assert rows["sd_ml_mm"]["worse_side"] == "right"
    assert "mean_ml_mm" not in rows and "foot_lift_t_s" not in rows                        # positions, times
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "involved right ÷ uninvolved" in page
    assert re.search(r"Mean ml \(cm\)", page.split('id="left-right-table"')[1].split("</table>")[0]) is None


def _record(client, live, sid, **body):
    stop = threading.Event()
    th = threading.Thread(target=_feed_from, args=(live, stop, 10.0), daemon=True)
    th.start()
    try:
        return client.post(f"/api/sessions/{sid}/trials/record", json={"seconds": 2, **body})
    finally:
        stop.set()
        th.join()


def test_mctsib_is_one_guided_session_of_its_four_conditions(app, client, live, patient):
    """The run page walks the protocol's schedule: firm/foam × eyes open/closed in order, each
    trial stored with its condition (which the analysis gets), the next one offered after it."""
    sid = new_session(client, patient, "quiet_stance_mctsib")
    page = client.get(f"/sessions/{sid}/run").get_data(as_text=True)
    assert 'data-condition="firm_eyes_open"' in page and "Trial 1 of 4" in page and "eyes open" in page
    assert "condition=firm_eyes_closed" in page and "Next: eyes closed · both" in page
    r = _record(client, live, sid, side="both", condition="firm_eyes_open")
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["analysis"]["condition"] == "firm_eyes_open"
    with app.app_context():
        assert get_db().get(Trial, r.get_json()["trial_id"]).condition == "firm_eyes_open"
    page = client.get(f"/sessions/{sid}/run").get_data(as_text=True)
    assert 'data-condition="firm_eyes_closed"' in page and "Trial 2 of 4" in page and "eyes closed" in page
    page = client.get(f"/sessions/{sid}/run?condition=foam_eyes_closed").get_data(as_text=True)
    assert "on foam" in page and "Trial 4 of 4" in page and "Left/right comparison" not in page
    assert client.get(f"/sessions/{sid}/run?condition=upside_down").status_code == 400
    r = _record(client, live, sid, side="both", condition="upside_down")
    assert r.status_code == 400 and "foam_eyes_closed" in r.get_json()["error"]


def test_single_leg_stance_starts_with_a_practice_trial_that_is_not_scored(app, client, live, session_id):
    """1 practice + 3 scored trials per side and per condition (eyes open, then closed), sides
    alternating; the practice trial is stored and shown as practice, never scored."""
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert 'data-practice="true"' in page and "Trial 1 of 16" in page and "practice" in page
    assert 'data-condition="eyes_open"' in page and 'data-side="left"' in page
    r = _record(client, live, session_id, side="left", condition="eyes_open", practice=True)
    assert r.status_code == 201
    an = r.get_json()["analysis"]
    assert an["practice"] is True and an["scored"] is False
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert 'data-side="right"' in page and 'data-practice="true"' in page and "Trial 2 of 16" in page


def test_a_practice_trial_can_be_skipped(app, client, live, session_id):
    """A patient who knows the test goes straight to the scored trials (?practice=skip); the
    practice trials' places stay open, the scored ones fill in order, and the skip carries on
    to the next trial's link."""
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert 'id="skip-practice"' in page and "practice=skip" in page
    page = client.get(f"/sessions/{session_id}/run?practice=skip").get_data(as_text=True)
    assert 'data-practice="false"' in page and "Trial 3 of 16" in page and 'id="skip-practice"' not in page
    nxt = re.search(r'data-next-url="([^"]+)"', page).group(1)
    assert "side=right" in nxt and "practice=skip" in nxt
    r = _record(client, live, session_id, side="left", condition="eyes_open")
    assert r.status_code == 201 and r.get_json()["analysis"]["practice"] is False
    page = client.get(f"/sessions/{session_id}/run?side=left&condition=eyes_open&practice=skip").get_data(as_text=True)
    assert "Trial 5 of 16" in page                        # the second scored left trial
    page = client.get(f"/sessions/{session_id}/run").get_data(as_text=True)
    assert "Trial 1 of 16" in page and 'data-practice="true"' in page    # the practice is still open


def test_the_cop_picture_gets_its_window_ellipse_and_plate(client, session_id):
    """The trial page's COP picture draws the scored window with the measures' own 95 % ellipse
    and the plate's outline from the recording: the API gives all three."""
    import math
    d = post_trial(client, session_id, "left", sls_samples()).get_json()
    p = client.get(f"/api/trials/{d['trial_id']}/samples").get_json()
    assert p["window_s"] == d["analysis"]["scored_window_s"]
    e = p["ellipse"]
    assert math.pi * e["a_mm"] * e["b_mm"] == pytest.approx(d["results"]["ellipse95_area_mm2"], rel=1e-6)
    assert p["plate"] == {"half_ml_mm": pytest.approx(220.0), "half_ap_mm": pytest.approx(170.0)}
    assert p["stream_t0_s"] == 0.0          # a posted trial keeps its own times (a live one: its first sample)


def test_each_scored_trial_gets_one_plain_line_in_clinic_units(app, client, session_id):
    """Under the card: what was done and the measure that matters, in cm/s and body weights;
    nothing for a trial that was not scored (the card already says why)."""
    from dashboard import plain
    d = post_trial(client, session_id, "left", sls_samples()).get_json()
    v = d["results"]["mean_velocity_mm_s"] / 10
    assert d["summary"].startswith("Held 20 s on the left leg without touching down; sway ")
    assert f"sway {v:.1f} cm/s" in d["summary"]
    assert f'<p id="summary-line">{d["summary"]}</p>' in client.get(d["url"]).get_data(as_text=True)
    with app.app_context():
        ok = {"ok": True, "scored": True}
        land = plain.line("step_down_landing", "right", {"peak_force_bw": 3.24, "tts_seq_avg_s": 1.53}, ok)
        assert land == "Landed on the right leg at 3.2 times body weight and was steady 1.5 s after touching the plate."
        sd = plain.line("lateral_step_down", "left", {"repetition_count": 5.0, "mean_ml_medial_mm": 12.0}, ok)
        assert sd == "5 step-downs on the left leg; the knee-in COP shift was 1.2 cm on average."
        assert plain.line("single_leg_stance", "left", {"mean_velocity_mm_s": 30.0}, ok) == ""   # a measure missing
        assert plain.line("single_leg_stance", "left", d["results"], {"ok": True, "scored": False}) == ""
