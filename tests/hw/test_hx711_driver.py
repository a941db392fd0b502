"""The driver against emulated chips on the simulated bus, on virtual time."""
from __future__ import annotations

import pytest

from rig.hw.flags import Flag
from rig.hw.gpio.base import VirtualClock
from rig.sim.gpio import SimBus
from rig.hw.hx711 import HX711Array
from rig.sim.chip import EmulatedHX711, volts_for_code

P80 = 12_500_000


def exact(code: int, gain: int = 128):
    v = volts_for_code(code, gain)
    return lambda t: v


def make(codes, *, skews=None, phases=None, gain=128, rate=80, noise=0.0, seed=None, analog_b=None):
    chips = []
    for i, code in enumerate(codes):
        chips.append(EmulatedHX711(exact(code, gain if gain != 32 else 128), analog_b=analog_b,
                                   noise_nv_rms=noise, rate_sps=rate,
                                   skew_ppm=(skews or [0] * len(codes))[i],
                                   phase_ns=(phases or [i * 1_000_000 for i in range(len(codes))])[i],
                                   seed=None if seed is None else seed + i, name=f"c{i}"))
    bus = SimBus(chips, VirtualClock())
    return chips, bus, HX711Array(bus, rate_sps=rate, gain=gain)


FULL_RANGE = [-8_388_607, -4_000_000, -1, 0, 1, 65_535, 4_194_304, 8_388_606]


@pytest.mark.parametrize("codes", [FULL_RANGE[:4], FULL_RANGE[4:]])
def test_values_over_the_full_range_read_back_exactly(codes):
    _, _, drv = make(codes)
    for _ in range(20):
        f = drv.read_frame()
        assert f.valid and f.flags == 0
        assert f.counts == tuple(codes)
        assert f.chip_ok == (True,) * 4


def test_saturation_both_ends_flagged_not_dropped():
    big = 0.05
    chips = [EmulatedHX711(lambda t, v=v: v, noise_nv_rms=0) for v in (big, -big, 0.0, 0.001)]
    drv = HX711Array(SimBus(chips, VirtualClock()))
    f = drv.read_frame()
    assert f.valid and f.flags & Flag.SATURATED
    assert f.counts[:3] == (0x7FFFFF, -0x800000, 0)
    h = drv.health()
    assert [c["state"] for c in h["chips"]] == ["saturated", "saturated", "ok", "ok"]


@pytest.mark.parametrize("gain", [128, 64, 32])
def test_gain_pulses_reach_the_chips(gain):
    a_code = 100_000
    b_volts = 0.01
    chips, _, drv = make([a_code] * 4, gain=gain, analog_b=lambda t: b_volts)
    frames = [drv.read_frame() for _ in range(5)]
    assert all(f.valid for f in frames)
    if gain == 32:
        expect = round(b_volts * 32 / 2.15 * 2**23)
    else:
        expect = a_code                           # the analog input was set for this gain
    assert {f.counts for f in frames} == {(expect,) * 4}   # the settling conversion was discarded
    assert chips[0].selection == (("B", 32) if gain == 32 else ("A", gain))


def test_stretched_clock_mid_frame_gives_invalid_then_resync_and_recovery():
    codes = [10, -20, 30, -40]
    chips, bus, drv = make(codes)
    for _ in range(5):
        assert drv.read_frame().counts == tuple(codes)
    bus.stretch_next_high_ns = 80_000             # pre-empted with PD_SCK high: chips power down
    bad = drv.read_frame()
    assert not bad.valid
    assert bad.max_clock_high_ns > 50_000
    assert bad.chip_ok == (False,) * 4
    assert all(c.power_ups >= 1 for c in chips)
    good = drv.read_frame()
    assert good.valid and good.flags & Flag.RESYNC
    assert good.counts == tuple(codes)
    nxt = drv.read_frame()
    assert nxt.valid and not nxt.flags & Flag.RESYNC and nxt.counts == tuple(codes)
    h = drv.health()
    assert h["resyncs"] == 1 and h["invalid_frames"] == 1
    assert h["max_clock_high_us"] > 50


def test_stretch_below_power_down_is_still_rejected():
    codes = [5, 6, 7, 8]
    chips, bus, drv = make(codes)
    drv.read_frame()
    bus.stretch_next_high_ns = 52_000             # 54 µs: over the 50 µs limit, under 60 µs
    f = drv.read_frame()
    assert not f.valid
    assert all(c.power_ups == 1 for c in chips)   # only the resync powered them down
    assert drv.read_frame().counts == tuple(codes)


def test_power_down_and_up():
    codes = [1, 2, 3, 4]
    chips, bus, drv = make(codes)
    drv.read_frame()
    drv.power_down()
    with pytest.raises(RuntimeError):
        drv.read_frame()
    bus.sleep_ns(2_000_000_000)
    assert all(c.dout(bus.now_ns()) == 1 for c in chips)
    drv.power_up()
    f = drv.read_frame()
    assert f.valid and f.counts == tuple(codes) and not f.flags & Flag.GAP


def test_four_skewed_chips_thousands_of_frames_without_invalid_frames():
    codes = [-3_000_000, -1, 0, 2_500_000]
    _, bus, drv = make(codes, skews=[200, -200, 120, -80], phases=[0, 3_100_000, 7_300_000, 11_900_000])
    n = 4000
    bad = 0
    t0 = bus.now_ns()
    for _ in range(n):
        f = drv.read_frame()
        if f.flags & Flag.INVALID or f.counts != tuple(codes):
            bad += 1
    h = drv.health()
    assert bad == 0
    assert h["invalid_frames"] == 0 and h["resyncs"] == 0
    assert h["missed_conversions"] <= n // 100
    elapsed_s = (bus.now_ns() - t0) / 1e9
    assert n / elapsed_s == pytest.approx(80, rel=0.02)
    assert h["achieved_sps"] == pytest.approx(80, rel=0.01)


def run_for(drv, bus, seconds):
    end = bus.now_ns() + int(seconds * 1e9)
    frames = []
    while bus.now_ns() < end:
        frames.append(drv.read_frame())
    return frames


def never_valid_when_invalid(frames):
    for f in frames:
        if not all(f.chip_ok):
            assert f.flags & Flag.INVALID


def test_fault_unplugged_shows_within_a_second_and_stream_continues():
    chips, bus, drv = make([1, 2, 3, 4])
    run_for(drv, bus, 0.2)
    chips[2].faults.unplugged = True
    frames = run_for(drv, bus, 1.0)
    never_valid_when_invalid(frames)
    assert len(frames) >= 5                              # never stalls
    assert all(not f.valid for f in frames[1:])
    assert all(f.chip_ok == (True, True, False, True) for f in frames[1:])
    h = drv.health()
    assert h["chips"][2]["state"] == "not responding"
    assert [c["state"] for i, c in enumerate(h["chips"]) if i != 2] == ["ok"] * 3
    chips[2].faults.unplugged = False
    frames = run_for(drv, bus, 0.5)
    assert frames[-1].valid and frames[-1].counts == (1, 2, 3, 4)
    assert drv.health()["chips"][2]["state"] == "ok"


def test_fault_stuck_low():
    chips, bus, drv = make([1, 2, 3, 4])
    run_for(drv, bus, 0.1)
    chips[1].faults.stuck_low = True
    frames = run_for(drv, bus, 1.0)
    never_valid_when_invalid(frames)
    assert not any(f.valid for f in frames)
    assert frames[-1].chip_ok == (True, False, True, True)
    h = drv.health()
    assert h["chips"][1]["state"] == "stuck low"
    assert h["chips"][1]["invalid_frames"] >= 5


def test_fault_bit_flips_show_as_glitches():
    chips, bus, drv = make([500_000] * 4, seed=7)
    chips[3].faults.bit_flip_rate = 0.3
    frames = run_for(drv, bus, 1.0)
    h = drv.health()
    assert h["chips"][3]["glitches"] >= 3
    assert all(c["glitches"] == 0 for c in h["chips"][:3])
    # flipped words are data-level faults: they stay valid frames, the other chips are exact
    assert all(f.counts[:3] == (500_000,) * 3 for f in frames)
    assert sum(f.counts[3] != 500_000 for f in frames) >= 10


def test_fault_late_read_shows_as_gap_and_missed_conversions():
    _, bus, drv = make([9, 9, 9, 9])
    run_for(drv, bus, 0.2)
    bus.inject_late_read(40_000_000)
    frames = run_for(drv, bus, 0.5)
    gaps = [f for f in frames if f.flags & Flag.GAP]
    assert len(gaps) == 1 and gaps[0].valid
    h = drv.health()
    assert h["missed_conversions"] >= 2
    assert "gap" in h["last_error"]


def test_fault_late_read_inside_a_frame_is_invalid_not_silent():
    codes = [11, 22, 33, 44]
    _, bus, drv = make(codes)
    run_for(drv, bus, 0.1)
    orig = bus.set_clock
    calls = {"n": 0}

    def late_mid_frame(high):
        orig(high)
        if high:
            calls["n"] += 1
            if calls["n"] == 10:              # the sample after the 10th bit of the next frame
                bus.inject_late_read(13_000_000)
    bus.set_clock = late_mid_frame
    frames = run_for(drv, bus, 0.5)
    assert any(not f.valid for f in frames)
    assert all(f.counts == tuple(codes) for f in frames if f.valid)


def test_fault_saturation_and_drift_show_in_health():
    chips, bus, drv = make([1000, 1000, 1000, 1000])
    chips[0].faults.saturate = True
    chips[1].faults.zero_drift_counts_per_s = 5000.0
    frames = run_for(drv, bus, 1.0)
    h = drv.health()
    assert h["chips"][0]["state"] == "saturated"
    assert all(f.flags & Flag.SATURATED for f in frames)
    assert h["chips"][1]["drift_counts_per_s"] == pytest.approx(5000, rel=0.05)
    assert abs(h["chips"][2]["drift_counts_per_s"]) < 1


def test_health_is_json_able():
    import json
    _, bus, drv = make([1, 2, 3, 4])
    run_for(drv, bus, 0.3)
    h = json.loads(json.dumps(drv.health()))
    assert set(h["chips"][0]) >= {"name", "ready", "state", "frames", "invalid_frames", "achieved_sps", "last_error"}
    assert set(h) >= {"resyncs", "invalid_frames", "max_clock_high_us", "achieved_sps", "missed_conversions"}
    assert h["chips"][0]["name"] == "fl"


def test_10_sps_with_noise():
    chips, bus, drv = make([200_000] * 4, rate=10, noise=None, seed=1)
    frames = run_for(drv, bus, 5.0)
    assert all(f.valid for f in frames)
    assert 42 <= len(frames) <= 46                # 0.4 s settling + one discarded conversion
    vals = [f.counts[0] for f in frames]
    assert all(abs(v - 200_000) < 200 for v in vals)
    assert len(set(vals)) > 5                    # noise is there
