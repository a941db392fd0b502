"""`rig stream` and `rig doctor` through click's CliRunner on the simulator (fast virtual time)."""
import json
import math

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.signal.plate import SAMPLE_COLUMNS


@pytest.fixture
def runner(tmp_path, monkeypatch):
    # a private data folder: no calibration file, no running service socket
    cfg = tmp_path / "rig.toml"
    cfg.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n', encoding="utf-8")
    monkeypatch.setenv("RIG_CONFIG", str(cfg))
    monkeypatch.delenv("RIG_GPIO", raising=False)
    return CliRunner()


def test_stream_csv_columns_and_rate(runner):
    res = runner.invoke(main, ["stream", "--seconds", "2", "--format", "csv", "--backend", "sim", "--fast"])
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n,fz_n,cop_ml_mm,cop_ap_mm,flags"
    rows = [ln.split(",") for ln in lines[1:]]
    assert len(rows) == pytest.approx(160, abs=2)              # 2 s at 80 Hz
    t = [float(r[0]) for r in rows]
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert all(abs(g - 0.0125) < 0.0006 for g in gaps)          # the chips' own (skewed) clocks
    assert t[-1] - t[0] < 2.0
    for r in rows:
        assert len(r) == 9
        f = [float(v) for v in r[1:6]]
        assert abs(sum(f[:4]) - f[4]) < 0.01                     # Fz is the sum of the corners
        assert int(r[8]) >= 0


def test_stream_jsonl_keys(runner):
    res = runner.invoke(main, ["stream", "--seconds", "1", "--format", "jsonl", "--backend", "sim", "--fast"])
    assert res.exit_code == 0, res.output
    objs = [json.loads(ln) for ln in res.stdout.splitlines()]
    assert len(objs) == pytest.approx(80, abs=2)
    for o in objs:
        assert list(o) == list(SAMPLE_COLUMNS)
        assert isinstance(o["flags"], int)
        assert o["cop_ml_mm"] is None or math.isfinite(o["cop_ml_mm"])


def test_doctor_healthy_simulator(runner):
    res = runner.invoke(main, ["doctor", "--backend", "sim", "--seconds", "1"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "GPIO backend:  sim — explicit backend sim" in out
    assert "Compiled core: loaded (compiled)" in out
    assert out.count(" ready ") == 4 and out.rstrip().endswith("OK")
    assert "run `rig calibrate`" in out                        # no calibration: a warning, not a failure


def test_doctor_json_reports_an_unplugged_cell(runner):
    res = runner.invoke(main, ["doctor", "--backend", "sim", "--seconds", "1", "--json", "--sim-fault", "br:unplugged"])
    assert res.exit_code == 1
    rep = json.loads(res.stdout)
    assert rep["ok"] is False and rep["backend"]["name"] == "sim" and rep["core"]["compiled"] is True
    chips = {c["name"]: c for c in rep["chips"]}
    assert chips["br"]["ready"] is False and chips["fl"]["ready"] is True
    assert "back-right load cell not responding — check its cable" in rep["problems"]
    assert rep["health"]["invalid_frames"] > 0


def test_bad_fault_spec_is_a_usage_error(runner):
    res = runner.invoke(main, ["doctor", "--backend", "sim", "--sim-fault", "middle:gone"])
    assert res.exit_code == 2 and "CORNER:KIND" in res.output


def test_stream_reads_from_a_running_service(runner, tmp_path):
    """With an acquisition service on the socket, stream subscribes instead of opening pins."""
    import threading

    from rig.acquire.loop import Acquisition
    from rig.config import load
    from rig.acquire.ipc import Server
    from rig.signal.plate import ForceModel
    from tests.fake_frames import GEOM, FakeReader
    sock = load().socket_path
    acq = Acquisition(FakeReader(step_on_s=1.5), ForceModel.nominal(GEOM, 50, 2.0))
    srv = Server(sock, acq.hello()).start()
    acq.subscribe(lambda ev: srv.publish(ev.to_message()))
    stop = threading.Event()
    t = threading.Thread(target=acq.run, kwargs={"until": stop.is_set})
    # pace the fake a little so the client is connected before batches flow
    orig = acq.reader.read_frame
    acq.reader.read_frame = lambda: (stop.wait(0.001), orig())[1]
    t.start()
    try:
        res = runner.invoke(main, ["stream", "--seconds", "1", "--format", "csv"])
    finally:
        stop.set()
        t.join(10)
        srv.close()
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0] == ",".join(SAMPLE_COLUMNS) and len(lines) - 1 == 80
