"""A trial recorded during a fault is flagged: with the simulator's fault injection, a trial
recorded while a load cell fails is stored, marked and not scored.

The simulated plate (a real Acquisition on the sim backend, real time) feeds the real app
through an InProcessLiveSource; the trial is recorded through the run page's API
(``POST /api/sessions/<id>/trials/record``, dashboard.durable.record_trial) and a fault is
switched on in the simulated back-right chip two seconds (of stream time) into the trial.
The stored trial must carry the fault: ``quality.faults_during_recording``, the warning
"recorded during a fault: …" (on the trial page too), and the analysis fault
``recorded_during_fault`` (not scored)."""
from __future__ import annotations

import threading

import pytest

from rig.acquire import health
from rig.acquire.health import HealthCode, problem

from dashboard import durable

pytestmark = pytest.mark.databases("sqlite")   # about the acquisition's faults, not the database

BR = 3                     # rig.hw.frame.CORNERS: fl, fr, bl, br
HANG_GUARD_S = 90          # only so a regression (the request never returning) cannot hang the suite


@pytest.fixture
def live(sim_rig):
    """The app is fed by the simulated rig, not by a source the test publishes into."""
    return sim_rig[2]


class Injector:
    """Switches a fault on in the back-right chip once a batch ``after_s`` (stream time) into the
    trial arrives, and (``for_s``) off again that much stream time later."""

    def __init__(self, live, chip, kind, value=True, after_s=2.0, for_s=None):
        self.chip, self.kind, self.value, self.after_s, self.for_s = chip, kind, value, after_s, for_s
        self.t_on = self.t_off = None
        self.armed_at = None
        self.first = threading.Event()
        self.unsubscribe = live.subscribe(self._on)

    def arm(self):
        self.armed_at = None
        self.armed = True

    def _on(self, msg):                     # runs in the acquisition thread: only flips switches
        if msg.get("type") != "batch" or not msg.get("samples"):
            return
        t = float(msg["samples"][-1][0])
        self.first.set()
        if not getattr(self, "armed", False):
            return
        if self.armed_at is None:
            self.armed_at = t
        elif self.t_on is None and t >= self.armed_at + self.after_s:
            setattr(self.chip.faults, self.kind, self.value)
            self.t_on = t
        elif self.for_s is not None and self.t_on is not None and self.t_off is None and t >= self.t_on + self.for_s:
            setattr(self.chip.faults, self.kind, type(self.value)())
            self.t_off = t


def _record(client, session_id, seconds):
    out = {}
    th = threading.Thread(target=lambda: out.setdefault(
        "r", client.post(f"/api/sessions/{session_id}/trials/record", json={"side": "left", "seconds": seconds})),
        daemon=True)
    th.start()
    th.join(HANG_GUARD_S)
    assert "r" in out, "the recording request never returned"
    return out["r"]


def _start(sim_rig, kind, value=True, for_s=None):
    _acq, gpio, live = sim_rig
    inj = Injector(live, gpio.chips[BR], kind, value, for_s=for_s)
    assert inj.first.wait(HANG_GUARD_S), "the simulated plate never tared"
    inj.arm()
    return inj


def _assert_flagged(client, body, message_part):
    q = body["quality"]
    assert q["ok"] is False
    assert any(message_part in m for m in q[durable.FAULTS_KEY]), q
    assert any(w.startswith("recorded during a fault: ") and message_part in w for w in q["warnings"]), q
    assert body["analysis"]["ok"] is True
    assert durable.FAULT in body["analysis"]["faults"] and body["analysis"]["scored"] is False
    page = client.get(body["url"]).get_data(as_text=True)
    assert "recorded during a fault: back-right load cell" in page
    assert "recorded during fault" in page            # "Not scored: …, recorded during fault"


def test_saturation_mid_trial_flags_the_trial(client, session_id, sim_rig):
    inj = _start(sim_rig, "saturate", for_s=1.0)
    r = _record(client, session_id, 6)
    inj.unsubscribe()
    assert inj.t_on is not None
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["status"] == "ok"
    assert body["quality"]["flag_counts"]["saturated"] > 0
    _assert_flagged(client, body, "back-right load cell reading full scale")
    assert client.get(f"/sessions/{session_id}").status_code == 200


def test_unplugged_until_the_end_is_interrupted_and_flagged_not_hung(client, session_id, sim_rig):
    """Before: health kept the recorder waiting for samples that never came (the request hung
    for as long as the chip stayed unplugged). Now: interrupted after STALL_S without samples,
    kept, and flagged with the chip's message."""
    inj = _start(sim_rig, "unplugged")
    r = _record(client, session_id, 8)
    inj.unsubscribe()
    sim_rig[1].chips[BR].faults.unplugged = False
    assert inj.t_on is not None
    body = r.get_json()
    assert r.status_code == 503 and body["status"] == durable.INTERRUPTED, body
    assert body["n_samples"] > 0
    assert "back-right load cell not responding" in body["quality"]["interrupted"]["reason"]
    assert body["error"].startswith("recording interrupted: back-right load cell not responding")
    _assert_flagged(client, body, "back-right load cell not responding")


def test_health_faults_are_typed_and_deduplicated_by_code_and_chip():
    noisy = problem(HealthCode.CHIP_NOISY, "front-left load cell signal is noisy (4 spikes removed)", "fl")
    h = {"type": "health", "ok": False, "warnings": ["zero drift 3 N"], "problems": [noisy],
         "messages": ["front-left load cell signal is noisy (4 spikes removed)",
                      "waiting to tare: step off the plate and keep it still for a second", "zero drift 3 N"]}
    assert health.faults(h) == [noisy]                  # advisories and the tare state are not faults
    assert health.faults({"type": "health", "ok": True, "problems": [noisy]}) == []
    known: list[str] = []
    seen: set = set()
    assert durable._add_faults(known, seen, h)
    h2 = dict(h, problems=[dict(noisy, message="front-left load cell signal is noisy (7 spikes removed)")])
    assert not durable._add_faults(known, seen, h2)     # same fault, another count
    h3 = dict(h, problems=[dict(noisy, chip="br", message="back-right load cell signal is noisy")])
    assert durable._add_faults(known, seen, h3)         # the same fault on another chip is new
    assert known == [noisy["message"], "back-right load cell signal is noisy"]
    q = durable.flag_faults({"ok": True, "warnings": [], "analysis": {"ok": True, "faults": [], "scored": True}}, known)
    assert q["ok"] is False and q["analysis"]["scored"] is False and q["analysis"]["faults"] == [durable.FAULT]
    assert q["warnings"] == [f"recorded during a fault: {m}" for m in known]
