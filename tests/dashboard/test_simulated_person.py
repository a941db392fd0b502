"""On the simulator the virtual person does the test the clinician starts, so the run page's
trial is scored; on a real plate nobody is told what to do.

The app is fed by a real Acquisition on the simulated plate in virtual time (as fast as the
chips can be emulated), through the same record API the run page calls."""
from __future__ import annotations

import json

import pytest

from dashboard import simperson
from dashboard.models import ClinicSession, Patient
from rig.acquire.ipc import FakeLiveSource
from rig.acquire.perform import perform_command
from rig.analysis.protocols import default_protocols
from tests.dashboard_support import HELLO


@pytest.fixture
def live(fast_sim_rig):
    return fast_sim_rig[2]


@pytest.fixture
def app_config():
    return {"SIM_FAULT_RATE": 0.0}


def new_session(client, patient, protocol):
    r = client.post(f"/patients/{patient}/sessions", data={"protocol": protocol})
    assert r.status_code == 302
    return int(r.headers["Location"].split("/")[-2])


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("protocol, side", [("single_leg_stance", "left"), ("step_down_landing", "right")])
def test_a_trial_recorded_on_the_simulator_is_the_test_the_clinician_chose(client, patient, fast_sim_rig,
                                                                            protocol, side):
    sid = new_session(client, patient, protocol)
    seconds = default_protocols()[protocol].record_s
    r = client.post(f"/api/sessions/{sid}/trials/record", json={"side": side, "seconds": seconds})
    assert r.status_code == 201, r.get_json()
    an = r.get_json()["analysis"]
    assert an["ok"] and an["scored"] and an["faults"] == [], an.get("faults")
    m = r.get_json()["results"]
    if protocol == "single_leg_stance":
        assert m["touch_down_count"] == 0 and m["time_to_first_touch_down_s"] == 20.0
        assert 15 < m["mean_velocity_mm_s"] < 80
    else:
        assert 2.0 <= m["peak_force_bw"] <= 4.0
        # the patient was on the box for a while: an empty plate is part of this test, not a problem
        assert not any("nobody on the plate" in w for w in r.get_json()["quality"]["warnings"])
        # the force picture's marks: contact, then the peak, then the stabilisation, as measured
        lp = client.get(f"/api/trials/{r.get_json()['trial_id']}/samples").get_json()["landing"]
        assert lp["contact_s"] == pytest.approx(m["contact_t_s"]) and lp["peak_bw"] == pytest.approx(m["peak_force_bw"])
        assert lp["contact_s"] < lp["peak_s"] < lp["stable_s"] < lp["contact_s"] + 5
        assert 'id="force"' in client.get(r.get_json()["url"]).get_data(as_text=True)
    perf = fast_sim_rig[1].sim_rig.person.performing
    assert perf is not None and perf.fault is None


@pytest.mark.databases("sqlite")
def test_a_staged_fault_is_said_and_kept_with_the_recording(app, client, patient, fast_sim_rig):
    """When the demo's person is set to make a mistake, the trial is not scored for that fault,
    the answer says the fault was simulated (the run page shows it) and so does the recording."""
    app.config["SIM_FAULT_RATE"] = 1.0
    sid = new_session(client, patient, "single_leg_stance")
    r = client.post(f"/api/sessions/{sid}/trials/record",
                    json={"side": "left", "seconds": default_protocols()["single_leg_stance"].record_s})
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    staged = fast_sim_rig[1].sim_rig.person.performing.fault
    assert staged and d["simulated_fault"] == staged
    assert not d["analysis"]["scored"] and d["analysis"]["faults"], d["analysis"]
    text = client.get(d["url"] + "/export.csv?kind=recording").get_data(as_text=True)
    assert f"# simulated_fault: {staged}" in text.splitlines()
    app.config["SIM_FAULT_RATE"] = 0.0
    r = client.post(f"/api/sessions/{sid}/trials/record", json={"side": "right", "seconds": 2})
    assert r.get_json()["simulated_fault"] is None


@pytest.mark.databases("sqlite")
def test_through_the_acquisition_socket_the_person_answers_too(tmp_path, monkeypatch):
    """As `rig demo` runs it (the acquisition service on its socket, the web process's IPC
    live source): ``perform`` is answered over the socket with the trial's Start and the staged
    fault, so the recording starts there and the card can say the fault was staged."""
    from dashboard.db import create_clinician, get_db
    from dashboard.models import Patient
    from rig.acquire.ipc import IpcLiveSource
    from rig.acquire.service import AcquisitionService, build_acquisition
    from rig.config import Config
    from tests.dashboard_support import PASSWORD, login, make_app
    acq, gpio, _ = build_acquisition(Config().validate(), backend="sim", realtime=False)
    sock = tmp_path / "acq.sock"
    svc = AcquisitionService(acq, sock, sim_rig=gpio.sim_rig).start()
    live = IpcLiveSource(sock, retry_s=0.05).start()
    try:
        app = make_app(tmp_path, live, SIM_FAULT_RATE=1.0)
        with app.app_context():
            create_clinician(get_db(), "admin", PASSWORD, is_admin=True)
            p = Patient(code="IPC-1", body_mass_kg=70.0, dominant_leg="right", involved_side="left")
            get_db().add(p)
            get_db().commit()
            pid = p.id
        client = app.test_client()
        assert login(client).status_code == 302
        sid = new_session(client, pid, "single_leg_stance")
        r = client.post(f"/api/sessions/{sid}/trials/record",
                        json={"side": "left", "seconds": default_protocols()["single_leg_stance"].record_s})
        d = r.get_json()
        assert r.status_code == 201, d
        staged = gpio.sim_rig.person.performing.fault
        assert staged and d["simulated_fault"] == staged and not d["analysis"]["scored"]
    finally:
        live.close()
        svc.close()


@pytest.mark.databases("sqlite")
def test_the_person_is_stable_per_patient_and_the_weak_hip_improves_over_weeks(app):
    from datetime import datetime, timedelta, timezone
    t0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    p = Patient(code="P", body_mass_kg=70, dominant_leg="right")
    s1 = ClinicSession(patient=p, protocol="single_leg_stance", started_at=t0)
    s6 = ClinicSession(patient=p, protocol="single_leg_stance", started_at=t0 + timedelta(weeks=5))
    drops = [simperson.hip_drop(p, s, "left") for s in (s1, s6)]
    assert drops[0] == simperson.HIP_DROP_START and drops[1] < drops[0] - 0.3      # the weak (left) hip
    assert simperson.hip_drop(p, s1, "right") == simperson.OTHER_SIDE_HIP_DROP


@pytest.mark.databases("sqlite")
def test_only_the_simulator_is_told_what_to_do(app):
    with app.test_request_context():
        for backend, sent in (("sim", ["perform"]), ("lgpio", [])):
            src = FakeLiveSource(dict(HELLO, backend=backend))
            app.extensions["stepplate_live"] = src
            p = Patient(code=f"P-{backend}", body_mass_kg=70, dominant_leg="left")
            s = ClinicSession(patient=p, protocol="single_leg_stance")
            p.id, s.id = 1, 2
            simperson.direct(s, "left")
            assert src.commands == sent


def test_a_real_plate_refuses_perform_and_a_bad_command_is_a_clear_error(fast_sim_rig):
    proto = json.loads(json.dumps(default_protocols()["single_leg_stance"].to_dict()))   # as it travels
    r = perform_command(None, {"protocol": proto, "side": "left"})
    assert not r["ok"] and "person on this plate is real" in r["error"]
    r = perform_command(fast_sim_rig[1].sim_rig, {"protocol": {"id": "x"}, "side": "left"})
    assert not r["ok"] and r["error"].startswith("perform: ")
    r = perform_command(fast_sim_rig[1].sim_rig, {"protocol": proto, "side": "sideways"})
    assert not r["ok"] and "side must be 'left' or 'right'" in r["error"]
