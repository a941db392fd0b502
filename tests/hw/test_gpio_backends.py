"""Real backends against fake lgpio / RPi.GPIO modules wired to emulated chips; selection."""
from __future__ import annotations

import os
import sys
import warnings

import pytest

from rig.config import Config, GpioConfig
from rig.hw.flags import Flag
from rig.hw.gpio.base import VirtualClock
from rig.sim.gpio import SimBus, SimGpioChip
from rig.hw.gpio.select import BackendError, open_backend
from rig.hw.hx711 import HX711Array
from rig.sim.chip import EmulatedHX711, volts_for_code
from tests.fakes import FakeLgpio, FakeRPiGPIO

CODES = (-123_456, 0, 77, 8_000_000)
CLK, DATA = 5, (6, 13, 19, 26)


@pytest.fixture
def clock():
    return VirtualClock()


@pytest.fixture
def pins(clock):
    """A gpiochip model with four emulated HX711s on the default pins."""
    p = SimGpioChip(clock)
    for i, (code, pin) in enumerate(zip(CODES, DATA)):
        v = volts_for_code(code)
        p.attach(EmulatedHX711(lambda t, v=v: v, noise_nv_rms=0, phase_ns=i * 2_000_000, skew_ppm=50 * i), CLK, pin)
    return p


@pytest.fixture(autouse=True)
def not_a_pi(monkeypatch, tmp_path):
    """This machine, as the selection sees it: not a Raspberry Pi (no device-tree model), and
    lgpio's work directory in the test's folder (import_lgpio sets LG_WD; undone afterwards)."""
    import rig.hw.gpio.select as select
    monkeypatch.setattr(select, "MODEL_PATH", tmp_path / "no-device-tree-model")
    monkeypatch.setenv("LG_WD", str(tmp_path))


@pytest.fixture
def no_gpio_libs(monkeypatch):
    """Neither library importable (a PC); restored afterwards by monkeypatch."""
    monkeypatch.setitem(sys.modules, "lgpio", None)
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)
    monkeypatch.delenv("RIG_GPIO", raising=False)


@pytest.fixture
def fake_lgpio(monkeypatch, pins):
    """A Pi 5: gpiochip0 is something else, the header chip is gpiochip4 ('pinctrl-rp1')."""
    state = FakeLgpio({0: ("gpio-brcmstb@107d508500", None), 1: ("gpio-brcmstb@107d517c00", None),
                       4: ("pinctrl-rp1", pins)})
    before = sys.modules.get("lgpio")
    monkeypatch.setitem(sys.modules, "lgpio", state.module())
    monkeypatch.setattr("rig.hw.gpio.lgpio.chip_devices", lambda: [0, 1, 2, 3, 4])   # a Pi 5's /dev/gpiochip*
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)
    monkeypatch.delenv("RIG_GPIO", raising=False)
    yield state
    monkeypatch.undo()
    assert sys.modules.get("lgpio") is before


@pytest.fixture
def fake_rpigpio(monkeypatch, pins):
    state = FakeRPiGPIO(pins)
    pkg, mod = state.module()
    monkeypatch.setitem(sys.modules, "lgpio", None)
    monkeypatch.setitem(sys.modules, "RPi", pkg)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", mod)
    monkeypatch.delenv("RIG_GPIO", raising=False)
    return state


def with_clock(backend, clock):
    backend.clock = clock              # the real backends' time source becomes virtual time
    return backend


def test_lgpio_finds_chip_by_label_and_reads_frames(fake_lgpio, clock):
    from rig.hw.gpio.lgpio import LgpioBackend
    b = LgpioBackend(CLK, DATA, clock=clock)
    assert b.chip_label == "pinctrl-rp1" and b.chip_number == 4
    assert fake_lgpio.opened == [0, 1, 4]            # gpiochip2 and 3 do not open: skipped
    assert len(fake_lgpio.handles) == 1              # the other chips were closed again
    drv = HX711Array(b)
    frames = [drv.read_frame() for _ in range(200)]
    assert all(f.valid and f.counts == CODES for f in frames)
    b.close()
    assert fake_lgpio.handles == {}
    assert all(not c for c in fake_lgpio.claimed.values())


def test_lgpio_named_label_and_missing_label(fake_lgpio, clock):
    from rig.hw.gpio.lgpio import LgpioBackend
    with pytest.raises(OSError, match="pinctrl-bcm2711.*pinctrl-rp1"):
        LgpioBackend(CLK, DATA, clock=clock, chip_label="pinctrl-bcm2711", chip_numbers=[0, 1, 4])
    assert fake_lgpio.handles == {}
    b = LgpioBackend(CLK, DATA, clock=clock, chip_label="pinctrl-rp1", chip_numbers=[0, 1, 4])
    with pytest.raises(RuntimeError, match="busy"):
        LgpioBackend(CLK, DATA, clock=clock, chip_numbers=[4])   # pins already claimed
    b.close()


def test_lgpio_missing_module_names_the_extra(no_gpio_libs):
    from rig.hw.gpio.lgpio import LgpioBackend
    with pytest.raises(ImportError, match=r"stepplate\[pi\]"):
        LgpioBackend(CLK, DATA)


def test_rpigpio_reads_frames_and_cleans_up(fake_rpigpio, clock):
    from rig.hw.gpio.rpigpio import RPiGPIOBackend
    b = with_clock(RPiGPIOBackend(CLK, DATA), clock)
    assert fake_rpigpio.mode == FakeRPiGPIO.BCM
    drv = HX711Array(b)
    frames = [drv.read_frame() for _ in range(100)]
    assert all(f.valid and f.counts == CODES for f in frames)
    b.close()
    assert sorted(fake_rpigpio.cleaned) == sorted(DATA)
    assert fake_rpigpio.pins.levels[CLK] == 0         # PD_SCK left low: chips stay powered


def test_rpigpio_on_a_pi5_says_so(monkeypatch, pins):
    state = FakeRPiGPIO(pins, pi5=True)
    pkg, mod = state.module()
    monkeypatch.setitem(sys.modules, "RPi", pkg)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", mod)
    from rig.hw.gpio.rpigpio import RPiGPIOBackend
    with pytest.raises(RuntimeError, match="Pi 5.*lgpio"):
        RPiGPIOBackend(CLK, DATA)


def sim_factory_for(clock, pins_seen):
    def factory():
        chips = [EmulatedHX711(lambda t: 0.0, noise_nv_rms=0) for _ in range(4)]
        b = SimBus(chips, clock)
        pins_seen.append(b)
        return b
    return factory


def cfg(backend="auto"):
    return Config(gpio=GpioConfig(backend=backend))


def test_selection_explicit_beats_env_beats_config(fake_lgpio, monkeypatch, clock):
    made = []
    monkeypatch.setenv("RIG_GPIO", "lgpio")
    b, why = open_backend("sim", cfg("rpigpio"), sim_factory=sim_factory_for(clock, made))
    assert b is made[0] and why == "explicit backend sim"
    b, why = open_backend(None, cfg("sim"), sim_factory=sim_factory_for(clock, made))
    assert b.name == "lgpio" and why == "RIG_GPIO=lgpio"
    b.close()
    monkeypatch.delenv("RIG_GPIO")
    b, why = open_backend(None, cfg("sim"), sim_factory=sim_factory_for(clock, made))
    assert b is made[1] and why == "config gpio.backend = sim"


def test_selection_auto_prefers_lgpio(fake_lgpio, clock):
    with warnings.catch_warnings():
        warnings.simplefilter("error")               # no fallback, no warning
        b, why = open_backend(None, cfg(), sim_factory=sim_factory_for(clock, []))
    assert b.name == "lgpio" and why == "auto: lgpio imported and found gpiochip 'pinctrl-rp1'"
    b.close()


def test_selection_auto_falls_back_to_rpigpio_with_warning(fake_rpigpio, clock):
    with pytest.warns(RuntimeWarning, match="lgpio not available"):
        b, why = open_backend(None, cfg(), sim_factory=sim_factory_for(clock, []))
    assert b.name == "rpigpio" and "RPi.GPIO" in why
    b.close()


def test_selection_auto_off_a_pi_uses_the_simulator_with_warnings(no_gpio_libs, clock):
    made = []
    with pytest.warns(RuntimeWarning) as rec:
        b, why = open_backend(None, Config(), sim_factory=sim_factory_for(clock, made))
    assert b is made[0]
    assert why == "auto: not a Raspberry Pi (no lgpio) — using the simulator"
    assert len(rec) == 2                             # one per fallback


def test_selection_named_backend_that_cannot_open_is_an_error(no_gpio_libs, monkeypatch):
    monkeypatch.setenv("RIG_GPIO", "lgpio")
    with pytest.raises(BackendError, match=r"RIG_GPIO=lgpio.*stepplate\[pi\]"):
        open_backend(None, Config())
    monkeypatch.setenv("RIG_GPIO", "bogus")
    with pytest.raises(BackendError, match="bogus"):
        open_backend(None, Config())


def test_selection_sim_without_factory_is_a_clear_error(no_gpio_libs):
    with pytest.raises(BackendError, match="no sim_factory"):
        open_backend("sim", Config())


@pytest.mark.realpins
@pytest.mark.skipif(os.environ.get("RIG_REAL_PINS") != "1", reason="real hardware: set RIG_REAL_PINS=1 on a Pi")
def test_real_pins_read_frames():
    from rig import config as config_mod
    conf = config_mod.load()
    b, why = open_backend(None, conf)
    assert b.name in ("lgpio", "rpigpio"), why
    try:
        drv = HX711Array(b, rate_sps=conf.hx711.rate_sps, gain=conf.hx711.gain)
        frames = [drv.read_frame() for _ in range(conf.hx711.rate_sps * 2)]
        valid = [f for f in frames if f.valid]
        assert len(valid) >= 0.9 * len(frames), drv.health()
        assert all(not f.flags & Flag.SATURATED for f in valid), "a load cell reads full scale"
    finally:
        b.close()
