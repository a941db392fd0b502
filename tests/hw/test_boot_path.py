"""The first boot on a real Pi: the GPIO backend either reads the plate or says plainly why not.

- On a Raspberry Pi, auto-detection never ends on the simulator (PlateNotConnected instead),
  and the acquisition serves "plate not connected: …" for the dashboard instead of samples.
- The real lgpio wheel (test extras) imports from a directory it cannot write to, because
  StepPlate points LG_WD at one it can; without a /dev/gpiochip* it is an error naming that.
- DOUT lines are claimed with pull-ups: a missing board reads "not responding".
- The fake lgpio module the other tests use has the real module's names, parameters and flags.
"""
from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import time

import pytest

from rig.config import Config
from rig.hw.gpio.base import VirtualClock
from rig.hw.gpio.select import PlateNotConnected, open_backend
from rig.hw.hx711 import HX711Array
from rig.sim.chip import EmulatedHX711, volts_for_code
from rig.sim.gpio import SimGpioChip
from tests import ROOT
from tests.fakes import FakeLgpio, FakeRPiGPIO

CLK, DATA = 5, (6, 13, 19, 26)
RIG = str(ROOT / ".venv" / "bin" / "rig") if (ROOT / ".venv" / "bin" / "rig").exists() else "rig"


@pytest.fixture
def on_a_pi(monkeypatch, tmp_path):
    import rig.hw.gpio.select as select
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\x00")
    monkeypatch.setattr(select, "MODEL_PATH", model)
    monkeypatch.setenv("LG_WD", str(tmp_path))
    monkeypatch.delenv("RIG_GPIO", raising=False)
    return "Raspberry Pi 4 Model B Rev 1.4"


@pytest.fixture
def no_libs(monkeypatch):
    for name in ("lgpio", "RPi", "RPi.GPIO"):
        monkeypatch.setitem(sys.modules, name, None)


def _sim_factory(made):
    def factory():
        made.append("sim")
        raise AssertionError("the simulator must not be opened here")
    return factory


def test_on_a_pi_auto_never_picks_the_simulator(on_a_pi, no_libs):
    made = []
    with pytest.raises(PlateNotConnected) as err:
        open_backend(None, Config(), sim_factory=_sim_factory(made))
    msg = str(err.value)
    assert msg.startswith("plate not connected: this is a Raspberry Pi 4 Model B Rev 1.4")
    assert "lgpio:" in msg and "RPi.GPIO:" in msg and "python3-lgpio" in msg and "--backend sim" in msg
    assert made == []


def test_on_a_pi_the_simulator_only_on_request(on_a_pi, no_libs, monkeypatch):
    class Sim:
        name = "sim"
    b, why = open_backend("sim", Config(), sim_factory=Sim)
    assert b.name == "sim" and why == "explicit backend sim"
    monkeypatch.setenv("RIG_GPIO", "sim")
    assert open_backend(None, Config(), sim_factory=Sim)[1] == "RIG_GPIO=sim"


def test_on_a_pi_lgpio_without_a_gpiochip_is_named(on_a_pi, monkeypatch):
    state = FakeLgpio({})
    monkeypatch.setitem(sys.modules, "lgpio", state.module())
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)
    monkeypatch.setattr("rig.hw.gpio.lgpio.chip_devices", lambda: [])
    with pytest.raises(PlateNotConnected, match=r"/dev/gpiochip\*"):
        open_backend(None, Config(), sim_factory=_sim_factory([]))
    monkeypatch.setenv("RIG_GPIO", "lgpio")
    with pytest.raises(Exception, match=r"RIG_GPIO=lgpio, but it cannot be opened: no GPIO character device"):
        open_backend(None, Config(), sim_factory=_sim_factory([]))


# --- pull-ups: a missing board reads "not responding" ------------------------------------------

def _three_boards(clock):
    """Boards on BCM 6, 19 and 26; the one for BCM 13 is missing (a Pi 3/4 pulls 13 down)."""
    pins = SimGpioChip(clock)
    for pin in (6, 19, 26):
        pins.attach(EmulatedHX711(lambda t: volts_for_code(1000), noise_nv_rms=0), CLK, pin)
    return pins


def test_lgpio_claims_dout_with_pull_ups(monkeypatch, tmp_path):
    from rig.hw.gpio.lgpio import LgpioBackend
    monkeypatch.setenv("LG_WD", str(tmp_path))
    clock = VirtualClock()
    pins = _three_boards(clock)
    state = FakeLgpio({0: ("pinctrl-bcm2711", pins)})
    monkeypatch.setitem(sys.modules, "lgpio", state.module())
    b = LgpioBackend(CLK, DATA, clock=clock, chip_numbers=[0])
    assert pins.pulls == {6: "up", 13: "up", 19: "up", 26: "up"}
    drv = HX711Array(b)
    frames = [drv.read_frame() for _ in range(3)]
    assert not any(f.valid for f in frames)
    chips = {c["name"]: c for c in drv.health()["chips"]} if isinstance(drv.health()["chips"], list) \
        else drv.health()["chips"]
    states = {name: c.get("state") for name, c in chips.items()}
    assert list(states.values()).count("not responding") == 1, states
    b.close()
    # what the firmware's pull-down on BCM 13 would have given: a "ready" line that never is
    pins.set_pull(13, "none")
    assert pins.read(13) == 0 and pins.read(6) in (0, 1)


def test_rpigpio_claims_dout_with_pull_ups(monkeypatch):
    from rig.hw.gpio.rpigpio import RPiGPIOBackend
    clock = VirtualClock()
    pins = _three_boards(clock)
    state = FakeRPiGPIO(pins)
    pkg, mod = state.module()
    monkeypatch.setitem(sys.modules, "RPi", pkg)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", mod)
    b = RPiGPIOBackend(CLK, DATA, clock=clock)
    assert pins.pulls == {6: "up", 13: "up", 19: "up", 26: "up"}
    assert b.read_data() & 0b0010                  # BCM 13, nothing on it: high, not ready
    b.close()


# --- the acquisition without a plate ----------------------------------------------------------

def _serve_without_plate(monkeypatch, tmp_path, max_seconds):
    """serve_forever in a thread (its signal handlers captured, not installed: only the main
    thread may), an IPC live source on its socket; returns (thread, result, live, handlers)."""
    import signal
    import threading

    from rig.acquire.ipc import IpcLiveSource
    from rig.acquire.service import serve_forever
    sock = tmp_path / "acquire.sock"
    out, handlers = {}, {}
    monkeypatch.setattr(signal, "signal", lambda s, h: handlers.__setitem__(s, h) or signal.SIG_DFL)
    th = threading.Thread(target=lambda: out.setdefault("code", serve_forever(
        Config(), socket=sock, max_seconds=max_seconds, no_plate_retry_s=1.0)), daemon=True)
    th.start()
    deadline = time.monotonic() + 3
    while not handlers and time.monotonic() < deadline:
        time.sleep(0.01)
    return th, out, IpcLiveSource(sock, retry_s=0.1).start(), handlers


def test_the_acquisition_serves_plate_not_connected(on_a_pi, no_libs, tmp_path, monkeypatch):
    """On a Pi without a working GPIO library `rig acquire` stays up and says why, steadily across
    its retries, on the socket the dashboard reads: hello without a backend, health with the
    problem code, commands refused; out of time without a plate it exits 1."""
    th, out, live, _ = _serve_without_plate(monkeypatch, tmp_path, max_seconds=4.5)
    deadline = time.monotonic() + 3.0
    st = live.status()
    while time.monotonic() < deadline and not (st["connected"] and st["messages"]):
        time.sleep(0.05)
        st = live.status()
    assert st["connected"] and st["backend"] == "none" and not st["ok"], st
    assert st["messages"][0].startswith("plate not connected: this is a Raspberry Pi 4"), st
    reply = live.command("tare", timeout_s=2.0)
    assert reply["ok"] is False and "plate not connected" in reply["error"]
    seen = set()
    while th.is_alive() and time.monotonic() < deadline + 3.5:    # three retries: never a reconnect
        st = live.status()
        if th.is_alive():
            seen.add((st["state"], (st["messages"] or [""])[0][:19]))
        time.sleep(0.05)
    th.join(5)
    seen.discard(("not reachable", "acquisition process"))      # after the process has exited
    assert seen == {("connected", "plate not connected")}, seen
    assert out["code"] == 1                        # out of time before any plate was read


def test_a_stop_without_a_plate_is_a_clean_exit(on_a_pi, no_libs, tmp_path, monkeypatch):
    """systemctl stop (SIGTERM) while waiting for the plate: exit 0, not a failed unit."""
    import signal
    th, out, live, handlers = _serve_without_plate(monkeypatch, tmp_path, max_seconds=30)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not live.status()["connected"]:
        time.sleep(0.05)
    handlers[signal.SIGTERM](signal.SIGTERM, None)
    th.join(5)
    assert not th.is_alive() and out["code"] == 0


# --- the real lgpio wheel ------------------------------------------------------------------------

def _real_lgpio_available() -> bool:
    code = "import importlib.util, sys; sys.exit(0 if importlib.util.find_spec('lgpio') else 1)"
    return subprocess.run([sys.executable, "-c", code]).returncode == 0


needs_lgpio = pytest.mark.skipif(not _real_lgpio_available(), reason="the lgpio wheel is not installed (test extras)")


def _read_only_run(tmp_path, argv, env_extra=None):
    """Run ``argv`` with a read-only working directory, as under ProtectSystem=strict: for a
    normal user a 0555 directory; for root (who may write anywhere) a read-only tmpfs in a
    private mount namespace (``unshare``). Skips when neither is possible here."""
    env = {k: v for k, v in os.environ.items() if k not in ("LG_WD", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR")}
    env.update(TMPDIR=str(tmp_path), **(env_extra or {}))
    ro = tmp_path / "read-only"
    ro.mkdir()
    if os.geteuid() != 0:
        ro.chmod(0o555)
        return subprocess.run(argv, cwd=ro, env=env, capture_output=True, text=True, timeout=120)
    import shlex
    import shutil
    if shutil.which("unshare") is None:
        pytest.skip("running as root without unshare: no way to make a read-only directory")
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(ro))}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {probe.stderr.strip()}")
    cmd = (f"mount -t tmpfs -o ro tmpfs {shlex.quote(str(ro))} && cd {shlex.quote(str(ro))} && "
           f"exec {' '.join(shlex.quote(a) for a in argv)}")
    return subprocess.run(["unshare", "-m", "sh", "-c", cmd], env=env, capture_output=True, text=True, timeout=120)


@needs_lgpio
def test_plain_import_lgpio_fails_where_it_cannot_write(tmp_path):
    """The hazard itself, with the real wheel: `import lgpio` from an unwritable directory."""
    r = _read_only_run(tmp_path, [sys.executable, "-c", "import lgpio"])
    assert r.returncode != 0 and "lgd-nfy" in r.stderr, r.stderr[-500:]


@needs_lgpio
def test_import_lgpio_works_from_anywhere(tmp_path):
    code = ("import os\n"
            "from rig.hw.gpio.lgpio import import_lgpio\n"
            "before = os.getcwd()\n"
            "lg = import_lgpio()\n"
            "print(os.environ['LG_WD'])\n"
            "print(os.getcwd() == before)\n"
            "try:\n    lg.gpiochip_open(99)\nexcept lg.error as e:\n    print('error:', e)\n")
    r = _read_only_run(tmp_path, [sys.executable, "-c", code])
    assert r.returncode == 0, r.stderr[-800:]
    wd, same_cwd, err = r.stdout.split("\n")[:3]
    assert same_cwd == "True"                      # lgpio chdir()s to LG_WD; the working directory is put back
    assert wd == str(tmp_path / f"stepplate-lgpio-{os.getuid()}") and os.path.isdir(wd)
    assert oct(os.stat(wd).st_mode & 0o777) == "0o700"
    assert err.startswith("error:") and "can not open gpiochip" in err


@needs_lgpio
@pytest.mark.skipif(any(os.path.exists(f"/dev/gpiochip{i}") for i in range(8)), reason="this machine has GPIO chips")
@pytest.mark.parametrize("args", [["doctor", "--seconds", "1"], ["stream", "--backend", "lgpio", "--seconds", "1"]])
def test_rig_with_lgpio_and_no_gpiochip_exits_naming_it(tmp_path, args):
    r = _read_only_run(tmp_path, [RIG, *args], env_extra={"RIG_GPIO": "lgpio"})
    text = r.stdout + r.stderr
    assert r.returncode != 0, text
    assert "no GPIO character device" in text and "/dev/gpiochip*" in text, text
    assert "FIFO" not in text and "lgd-nfy" not in text
    assert "t_s," not in r.stdout and '"fz_n"' not in r.stdout       # not one sample


@needs_lgpio
def test_doctor_json_reports_the_missing_chip_as_the_problem(tmp_path):
    r = _read_only_run(tmp_path, [RIG, "doctor", "--seconds", "1", "--json"], env_extra={"RIG_GPIO": "lgpio"})
    report = json.loads(r.stdout)
    assert r.returncode == 1 and report["ok"] is False and report["backend"]["name"] is None
    assert any("no GPIO character device" in p for p in report["problems"]), report["problems"]


@needs_lgpio
def test_the_fake_lgpio_has_the_real_modules_calls():
    """Every call the backend makes on the fake exists in the real wheel with the same
    parameters, and the pull flags have the real values: the fake cannot drift."""
    from rig.hw.gpio.lgpio import import_lgpio
    real = import_lgpio()              # with a writable LG_WD: never a FIFO in the checkout
    fake = FakeLgpio({}).module()
    for name in ("gpiochip_open", "gpiochip_close", "gpio_get_chip_info", "gpio_claim_output",
                 "group_claim_input", "group_read", "gpio_write", "gpio_free", "group_free"):
        want = list(inspect.signature(getattr(real, name)).parameters)
        got = list(inspect.signature(getattr(fake, name)).parameters)
        assert got == want, (name, got, want)
    for flag in ("SET_PULL_UP", "SET_PULL_DOWN", "SET_PULL_NONE"):
        assert getattr(fake, flag) == getattr(real, flag), flag
    assert issubclass(real.error, Exception)
    with pytest.raises(real.error, match="can not open gpiochip"):
        real.gpiochip_open(99)

