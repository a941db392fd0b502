"""Acquisition loop: batching, conversion, tare, health, subscribers, process isolation."""
import json
import subprocess
import sys
import threading

import numpy as np
import pytest

from rig.acquire.health import NOISY_SPIKES_PER_S
from rig.acquire.loop import Acquisition
from rig.hw.flags import Flag
from rig.signal.plate import SAMPLE_COLUMNS, ForceModel
from tests import ROOT
from tests.fake_frames import GEOM, FakeReader


def model():
    return ForceModel.nominal(GEOM, capacity_kg=50, sensitivity_mv_v=2.0)


def collect(acq):
    batches, health = [], []
    acq.subscribe(lambda ev: (batches if ev.type == "batch" else health).append(ev))
    return batches, health


def test_batches_forces_and_cop_after_auto_tare():
    reader = FakeReader(step_on_s=2.0, fz=700.0, x_m=0.05, y_m=-0.03)
    acq = Acquisition(reader, model(), batch_ms=100)
    batches, health = collect(acq)
    acq.run(max_seconds=5.0)
    assert acq.tared and acq.tare_info["n"] >= 79
    np.testing.assert_allclose(acq.force_model.offsets_counts, [12_000, -8_000, 3_000, 20_000], atol=10)
    rows = np.vstack([b.samples for b in batches])
    assert rows.shape[1] == len(SAMPLE_COLUMNS)
    # batches are ~100 ms: 8 samples at 80 Hz (the last one may be shorter)
    sizes = [len(b.samples) for b in batches[:-1]]
    assert set(sizes) <= {8, 9} and np.mean(sizes) == pytest.approx(8, abs=0.3)
    assert [b.seq for b in batches] == list(range(len(batches)))
    # stream time is monotonic, 12.5 ms apart, no sample lost after the tare second
    t = rows[:, 0]
    np.testing.assert_allclose(np.diff(t), 0.0125, atol=1e-9)
    on = t >= 2.0
    np.testing.assert_allclose(rows[on, 5], 700.0, atol=0.5)
    np.testing.assert_allclose(rows[on, 6], 50.0, atol=0.5)
    np.testing.assert_allclose(rows[on, 7], -30.0, atol=0.5)
    # before stepping on: Fz ~ 0, COP undefined and flagged
    assert np.all(np.abs(rows[~on, 5]) < 1.0)
    assert np.all(np.isnan(rows[~on, 6])) and np.all(rows[~on, 8].astype(int) & Flag.UNLOADED)
    # health once a second of stream time
    assert 4 <= len(health) <= 5
    h = health[-1].data
    assert h["achieved_sps"] == pytest.approx(80, abs=0.5) and h["ok"], h["messages"]


def test_invalid_frames_are_counted_never_converted():
    reader = FakeReader(invalid_every=10)
    acq = Acquisition(reader, model())
    batches, health = collect(acq)
    acq.run(max_seconds=4.0)
    rows = np.vstack([b.samples for b in batches])
    counts = np.vstack([b.counts for b in batches])
    assert not np.any(rows[:, 8].astype(int) & Flag.INVALID)
    assert not np.any(counts == 2**23 - 1)          # the garbage codes never reached the model
    assert np.all(rows[rows[:, 0] >= 2.0, 5] < 710)
    assert acq.invalid_frames == reader.invalid_sent
    assert acq.converted + acq.invalid_frames + acq.tare_info["n"] == acq.frames
    assert health[-1].data["invalid_frames"] == reader.invalid_sent
    assert health[-1].data["invalid_frames_last_s"] == 8
    assert any("invalid frames" in m for m in health[-1].data["messages"])


def test_dead_chip_shows_in_health_within_a_second():
    reader = FakeReader(dead_chip_from_s=2.5, dead_chip=3)
    acq = Acquisition(reader, model())
    _, health = collect(acq)
    acq.run(max_seconds=5.0)
    assert all(h.data["ok"] for h in health if h.data["t_s"] < 2.5)
    first_bad = next(h.data for h in health if any("back-right" in m for m in h.data["messages"]))
    # reported as soon as the chip counts as not responding (~100 ms of failed reads), not
    # at the next periodic report
    assert first_bad["t_s"] <= 2.5 + 0.2
    assert "back-right load cell not responding — check its cable" in first_bad["messages"]
    chip = {c["name"]: c for c in health[-1].data["chips"]}
    assert chip["br"]["ready"] is False and chip["fl"]["ready"] is True
    assert not health[-1].data["ok"]


def test_spikes_are_replaced_and_counted_in_health():
    reader = FakeReader(glitches={250: (1, 2**20), 300: (2, -(2**19))})
    acq = Acquisition(reader, model())
    batches, health = collect(acq)
    acq.run(max_seconds=5.0)
    rows = np.vstack([b.samples for b in batches])
    spikes = rows[rows[:, 8].astype(int) & Flag.SPIKE > 0]
    assert len(spikes) == 2
    np.testing.assert_allclose(spikes[:, 5], 700.0, atol=1.0)     # Fz is clean again
    assert health[-1].data["spike_replacements"] == 2


def test_waits_to_tare_while_someone_stands_on_the_plate():
    reader = FakeReader(step_on_s=0.0)
    reader.truth = lambda t_s: (700.0 + 20 * np.sin(2 * np.pi * 1.0 * t_s), 0.0, 0.0)
    acq = Acquisition(reader, model())
    batches, health = collect(acq)
    acq.run(max_seconds=3.0)
    assert not acq.tared and batches == []
    assert any("step off the plate" in m for m in health[-1].data["messages"])


def test_subscribe_unsubscribe_and_a_broken_subscriber():
    acq = Acquisition(FakeReader(), model())
    got = []
    unsub = acq.subscribe(got.append)
    acq.subscribe(lambda ev: 1 / 0)
    acq.run(max_seconds=2.0)
    n = len(got)
    assert n > 0 and acq.subscriber_errors == n
    unsub()
    acq.run(max_seconds=3.0)
    assert len(got) == n


def test_thread_start_stop_and_messages_are_strict_json():
    acq = Acquisition(FakeReader(), model())
    seen = threading.Event()
    msgs = []

    def on(ev):
        msgs.append(ev.to_message())
        if len(msgs) > 30:
            seen.set()
    acq.subscribe(on)
    acq.start()
    assert seen.wait(10)
    acq.stop()
    assert not acq.running
    for m in msgs:
        json.dumps(m, allow_nan=False)   # NaN COP went out as null
    b = next(m for m in msgs if m["type"] == "batch")
    assert len(b["samples"][0]) == len(SAMPLE_COLUMNS) and len(b["counts"][0]) == 4
    seqs = [m["seq"] for m in msgs if m["type"] == "batch"]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))     # none lost, none repeated
    health = [m for m in msgs if m["type"] == "health"]
    assert health and all(isinstance(h["problems"], list) for h in health), {m["type"] for m in msgs}


def test_acquisition_process_never_imports_flask(tmp_path):
    code = (
        "import sys, json\n"
        "from rig.acquire import loop as acquire, ipc, service\n"
        "from tests.fake_frames import FakeReader, GEOM\n"
        "from rig.signal.plate import ForceModel\n"
        "a = acquire.Acquisition(FakeReader(), ForceModel.nominal(GEOM, 50, 2.0))\n"
        "a.run(max_seconds=1.5)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug', 'jinja2', 'dashboard', 'waitress'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=str(ROOT))
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


# --- end to end on the real simulator (emulated HX711s, driver, virtual person) ------------

def test_simulator_end_to_end_with_injected_fault():
    from rig.acquire.service import build_acquisition
    from rig.config import Config
    acq, gpio, reason = build_acquisition(Config(), backend="sim", realtime=False)
    assert "sim" in reason and gpio.name == "sim"
    batches, health = [], []
    fault_at = {}

    def on(ev):
        if ev.type == "batch":
            batches.append(ev)
            if ev.samples[-1, 0] >= 3.0 and not fault_at:
                gpio.chips[3].faults.unplugged = True     # back-right DOUT wire comes off
                fault_at["t"] = float(ev.samples[-1, 0])
        else:
            health.append(ev.data)
    acq.subscribe(on)
    acq.run(max_seconds=5.5)
    assert acq.tared and max(acq.tare_info["noise_counts"]) < 200
    rows = np.vstack([b.samples for b in batches])
    assert not np.any(rows[:, 8].astype(int) & Flag.INVALID)
    assert acq.invalid_frames > 0 and acq.converted == len(rows)
    # before the fault: ~80 Hz, forces match the virtual person's truth
    before = rows[rows[:, 0] < fault_at["t"]]
    assert len(before) == pytest.approx((fault_at["t"] - 1.0) * 80, abs=3)
    fz_true, _, _ = gpio.sim_rig.truth_at(acq._t0_ns + before[:, 0] * 1e9)
    np.testing.assert_allclose(before[:, 5], fz_true, atol=10.0)
    ok_reports = [h for h in health if h["t_s"] < fault_at["t"]]
    assert all(h["achieved_sps"] == pytest.approx(80, abs=1) for h in ok_reports[1:])
    assert all(h["invalid_frames"] == 0 and h["max_clock_high_us"] < 50 for h in ok_reports)
    # the fault shows within one second of stream time, named by corner
    bad = [h for h in health if "back-right load cell not responding — check its cable" in h["messages"]]
    assert bad and bad[0]["t_s"] <= fault_at["t"] + 1.0
    assert not bad[0]["ok"] and {c["name"]: c["ready"] for c in bad[0]["chips"]}["br"] is False


def test_frequent_spikes_on_one_cell_get_a_clinician_message():
    # front-left: a spike every 10th frame (8/s) from 3 s to 4.5 s; back-left: two isolated spikes
    glitches = {i: (0, 2**20) for i in range(240, 360, 10)}
    glitches.update({250 + 5: (2, 2**19), 330 + 5: (2, -(2**19))})
    acq = Acquisition(FakeReader(glitches=glitches), model())
    _, health = collect(acq)
    acq.run(max_seconds=6.0)
    noisy = "front-left load cell signal is noisy — check its cable and connector"
    during = [h.data for h in health if any(m.startswith(noisy) for m in h.data["messages"])]
    assert during, [h.data["messages"] for h in health]
    assert all(3.0 <= h["t_s"] <= 5.0 + 1e-6 for h in during)
    first = during[0]
    assert not first["ok"]
    chips = {c["name"]: c for c in first["chips"]}
    assert chips["fl"]["spikes_last_s"] >= NOISY_SPIKES_PER_S and chips["fl"]["ready"]
    assert chips["bl"]["message"] == "" and chips["bl"]["spikes_last_s"] < NOISY_SPIKES_PER_S
    assert not any("back-left" in m for h in health for m in h.data["messages"])
    assert health[-1].data["ok"], health[-1].data["messages"]       # quiet again: cleared
    assert health[-1].data["spike_replacements"] == len(glitches)
