"""Export (CSV, JSON, C3D, the stored recording) and the PDF reports."""
import hashlib
import io

import numpy as np
import pytest

from dashboard.db import get_db
from dashboard.models import Trial
from rig.signal.plate import SAMPLE_COLUMNS
from tests.dashboard_support import circle_samples, post_trial, sls_samples


@pytest.fixture
def trial(client, session_id):
    s = circle_samples(161, radius_mm=5)
    s[7, 6:8] = np.nan
    s[7, 8] = 16
    return post_trial(client, session_id, "left", s).get_json()["trial_id"], s


def test_csv_export_of_calibrated_samples(client, trial):
    tid, s = trial
    r = client.get(f"/trials/{tid}/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'attachment; filename="stepplate_P-001_trial' in r.headers["Content-Disposition"]
    lines = r.get_data(as_text=True).splitlines()
    assert lines[0] == ",".join(SAMPLE_COLUMNS) and len(lines) == 162
    row7 = lines[8].split(",")
    assert row7[6] == "" and row7[7] == "" and row7[8] == "16"
    back = np.genfromtxt(io.StringIO("\n".join(lines)), delimiter=",", skip_header=1)
    assert np.allclose(back, s, equal_nan=True, atol=0.005)     # the recording keeps COP to 0.01 mm
    assert client.get(f"/trials/{tid}/export.csv?kind=raw").status_code == 404     # stored without counts
    assert client.get(f"/trials/{tid}/export.csv?kind=bogus").status_code == 400


def test_recording_download_matches_its_checksum(app, client, trial):
    tid, _ = trial
    blob = client.get(f"/trials/{tid}/export.csv?kind=recording").data
    with app.app_context():
        assert hashlib.sha256(blob).hexdigest() == get_db().get(Trial, tid).recording_sha256


def test_json_export(client, trial):
    tid, s = trial
    d = client.get(f"/trials/{tid}/export.json").get_json()
    assert d["calibrated"]["columns"] == list(SAMPLE_COLUMNS) and len(d["calibrated"]["samples"]) == 161
    assert d["calibrated"]["samples"][7][6] is None
    assert d["trial"]["analysis"]["faults"] == ["no_foot_lift"] and d["patient"]["code"] == "P-001"
    assert "raw" not in d


def test_c3d_export_reads_back_as_a_force_plate(client, trial):
    import c3d
    tid, s = trial
    r = client.get(f"/trials/{tid}/export.c3d")
    assert r.status_code == 200
    rd = c3d.Reader(io.BytesIO(r.data))
    assert rd.point_rate == pytest.approx(80.0) and list(rd.point_labels) == ["COP"]
    labels = [x.strip() for x in rd.analog_labels]
    assert labels[:6] == ["Fx1", "Fy1", "Fz1", "Mx1", "My1", "Mz1"]
    assert rd.get("FORCE_PLATFORM:USED").int16_value == 1
    assert rd.get("FORCE_PLATFORM:TYPE").int16_array.tolist() == [2]
    # C3D's layout (first index fastest): CORNERS 3 x 4 x plates, ORIGIN 3 x plates, CHANNEL 6 x plates
    corners = rd.get("FORCE_PLATFORM:CORNERS")
    assert corners.dimensions == [3, 4, 1]
    xyz = np.frombuffer(corners.bytes, np.float32).reshape(4, 3)        # corner by corner, x y z
    a, b = np.abs(xyz[0, :2])
    assert a > 0 and b > 0 and xyz.tolist() == [[a, b, 0], [-a, b, 0], [-a, -b, 0], [a, -b, 0]]
    assert rd.get("FORCE_PLATFORM:ORIGIN").dimensions == [3, 1]
    channel = rd.get("FORCE_PLATFORM:CHANNEL")
    assert channel.dimensions == [6, 1] and np.frombuffer(channel.bytes, np.int16).tolist() == [1, 2, 3, 4, 5, 6]
    frames = list(rd.read_frames())
    assert len(frames) == 161
    for i in (0, 7, 50):
        _, pts, analog = frames[i]
        fz, mx, my = analog[2, 0], analog[3, 0], analog[4, 0]
        assert fz == pytest.approx(700.0, rel=1e-5)
        if i == 7:
            assert pts[0, 3] == -1                                   # COP undefined: invalid point
        else:
            assert pts[0, :2] == pytest.approx(s[i, 6:8], abs=6e-3)
            assert (-my / fz, mx / fz) == pytest.approx(tuple(s[i, 6:8]), abs=6e-3)   # type-2 COP


def _pdf_pages(data: bytes) -> int:
    assert data.startswith(b"%PDF")
    return data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") + data.count(b"/Type /Page>")


def test_patient_and_session_pdf_reports(app, client, patient, session_id):
    post_trial(client, session_id, "left", sls_samples(1, stance="left"))
    post_trial(client, session_id, "right", sls_samples(2, stance="right"))
    client.post(f"/patients/{patient}/notes", data={"text": "Referral: knee pain when landing"})
    r = client.get(f"/sessions/{session_id}/report.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert _pdf_pages(r.data) >= 3                       # cover, trials (statokinesigrams), left vs right
    r2 = client.get(f"/patients/{patient}/report.pdf?referral=1")
    assert r2.status_code == 200 and r2.data.startswith(b"%PDF")
    assert "referral" in r2.headers["Content-Disposition"]
    assert client.get("/patients/999/report.pdf").status_code == 404
    assert client.get("/sessions/999/report.pdf").status_code == 404


def test_report_survives_a_missing_recording(app, client, session_id, tmp_path):
    tid = post_trial(client, session_id, "left", circle_samples(200)).get_json()["trial_id"]
    with app.app_context():
        (tmp_path / "data" / get_db().get(Trial, tid).recording_path).unlink()
    assert client.get(f"/sessions/{session_id}/report.pdf").status_code == 200
    assert client.get(f"/trials/{tid}/export.csv").status_code == 500
