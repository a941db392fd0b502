"""The emulated HX711 alone, edge by edge, on explicit time stamps."""
from __future__ import annotations

import numpy as np
import pytest

from rig.sim.chip import (CODE_MAX, CODE_MIN, POWER_DOWN_NS, WITHDRAW_NS, EmulatedHX711, volts_for_code)

P80 = 12_500_000


def const(code: int, gain: int = 128):
    v = volts_for_code(code, gain)
    return lambda t: v


def shift(chip: EmulatedHX711, t: int, pulses: int = 25, half_ns: int = 1000) -> tuple[int, int]:
    """Clock a full read starting at t; returns (24-bit word, time after the last pulse)."""
    word = 0
    for i in range(pulses):
        chip.clock_edge(t, True)
        t += half_ns
        chip.clock_edge(t, False)
        t += half_ns
        if i < 24:
            word = (word << 1) | chip.dout(t)
    return word, t


def test_ready_at_conversion_and_withdrawn_before_the_next():
    chip = EmulatedHX711(const(1000), noise_nv_rms=0, phase_ns=2_000_000)
    assert chip.dout(0) == 1                       # before the first conversion
    assert chip.dout(1_999_999) == 1
    assert chip.dout(2_000_000) == 0               # conversion complete
    assert chip.dout(2_000_000 + P80 - WITHDRAW_NS - 1) == 0
    assert chip.dout(2_000_000 + P80 - WITHDRAW_NS) == 1   # withdrawn
    assert chip.dout(2_000_000 + P80 - 1) == 1
    assert chip.dout(2_000_000 + P80) == 0         # the next conversion


@pytest.mark.parametrize("code", [0, 1, -1, 0x5A5A5, -0x3C3C3C, 8_388_606, -8_388_607])
def test_word_shifts_out_msb_first(code):
    chip = EmulatedHX711(const(code), noise_nv_rms=0)
    word, t = shift(chip, 1000)
    assert word == code & 0xFFFFFF
    assert chip.dout(t) == 1                       # high after the 25th pulse until next conversion
    assert chip.dout(P80 - WITHDRAW_NS - 1) == 1   # already read: stays high
    assert chip.dout(P80) == 0


def test_each_rising_edge_presents_the_next_bit():
    chip = EmulatedHX711(const(0b101100111000111100001111 - (1 << 24)), noise_nv_rms=0)
    bits = []
    t = 100
    for _ in range(24):
        chip.clock_edge(t, True)
        bits.append(chip.dout(t + 500))            # valid while high too
        chip.clock_edge(t + 1000, False)
        assert chip.dout(t + 1500) == bits[-1]     # held after the falling edge
        t += 2000
    assert "".join(map(str, bits)) == "101100111000111100001111"


def test_word_is_latched_while_a_conversion_completes_mid_read():
    level = {"v": volts_for_code(0x123456)}
    chip = EmulatedHX711(lambda t: level["v"], noise_nv_rms=0)
    t = P80 - WITHDRAW_NS - 20_000
    word = 0
    for i in range(24):
        chip.clock_edge(t, True)
        chip.clock_edge(t + 1000, False)
        word = (word << 1) | chip.dout(t + 2000)
        if i == 10:
            level["v"] = volts_for_code(-5)
            t += P80 // 2                          # the next conversion completes mid-read
        t += 2000
    assert word == 0x123456


@pytest.mark.parametrize("pulses,channel,gain", [(25, "A", 128), (26, "B", 32), (27, "A", 64)])
def test_gain_pulses_select_input_for_the_next_conversion(pulses, channel, gain):
    a, b = 0.004, -0.03
    chip = EmulatedHX711(lambda t: a, analog_b=lambda t: b, noise_nv_rms=0)
    expect128 = round(a * 128 / 2.15 * 2**23)
    word, _ = shift(chip, 0, pulses)
    assert word == expect128                        # this read was converted at A/128
    assert chip.selection == ("A", 128)
    settling, _ = shift(chip, P80, 25 if pulses == 25 else pulses)
    v = a if channel == "A" else b
    new = round(v * gain / 2.15 * 2**23)
    raw = settling - (1 << 24) if settling & 0x800000 else settling
    assert chip.selection == (channel, gain)
    assert raw == round(0.5 * (new + expect128))    # first conversion after a change: settling
    settled, _ = shift(chip, 2 * P80, pulses)
    raw = settled - (1 << 24) if settled & 0x800000 else settled
    assert raw == new


def test_clock_high_over_60us_powers_down_and_settles_after_power_up():
    chip = EmulatedHX711(const(777), noise_nv_rms=0)
    assert chip.dout(10) == 0
    chip.clock_edge(1000, True)                      # starts a read: DOUT shows the MSB (0)
    assert chip.dout(1000 + POWER_DOWN_NS) == 0
    assert chip.dout(1000 + POWER_DOWN_NS + 1) == 1  # powered down
    up = 1000 + 100_000
    chip.clock_edge(up, False)
    assert chip.power_ups == 1
    assert chip.dout(up + 1) == 1
    assert chip.dout(up + 4 * P80 - 1) == 1         # 50 ms output settling time
    assert chip.dout(up + 4 * P80) == 0
    word, _ = shift(chip, up + 4 * P80)
    assert word == 777


def test_short_clock_high_does_not_power_down():
    chip = EmulatedHX711(const(-2), noise_nv_rms=0)
    word = 0
    t = 0
    for _ in range(24):
        chip.clock_edge(t, True)
        chip.clock_edge(t + POWER_DOWN_NS, False)     # exactly 60 µs: still on
        word = (word << 1) | chip.dout(t + POWER_DOWN_NS + 10)
        t += POWER_DOWN_NS + 1000
    assert word == (-2) & 0xFFFFFF
    assert chip.power_ups == 0


def test_power_up_resets_gain_to_a128():
    chip = EmulatedHX711(const(100), analog_b=lambda t: 0.01, noise_nv_rms=0)
    shift(chip, 0, 26)
    shift(chip, P80, 26)
    assert chip.selection == ("B", 32)
    chip.clock_edge(2 * P80, True)
    chip.clock_edge(2 * P80 + 80_000, False)
    up = 2 * P80 + 80_000
    word, _ = shift(chip, up + 4 * P80)
    assert chip.selection == ("A", 128)
    assert word == 100


def test_pulses_without_data_are_ignored():
    chip = EmulatedHX711(const(4242), noise_nv_rms=0, phase_ns=5_000_000)
    for t in range(0, 4_000_000, 100_000):          # not ready yet: ignored
        chip.clock_edge(t, True)
        chip.clock_edge(t + 1000, False)
    word, _ = shift(chip, 5_000_000)
    assert word == 4242
    assert chip.conversions_read == 1


@pytest.mark.parametrize("code,word", [(10**8, CODE_MAX), (-(10**8), CODE_MIN), (8_388_607, CODE_MAX),
                                       (-8_388_608, CODE_MIN)])
def test_saturation_codes(code, word):
    v = code * 2.15 / 128 / 2**23
    chip = EmulatedHX711(lambda t: v, noise_nv_rms=0)
    assert shift(chip, 0)[0] == word


def test_skew_changes_the_period():
    fast = EmulatedHX711(const(0), skew_ppm=-1000)
    slow = EmulatedHX711(const(0), skew_ppm=+1000)
    assert fast.period_ns == 12_487_500
    assert slow.period_ns == 12_512_500
    assert fast.next_ready_ns(1) == 12_487_500
    assert fast.dout(12_487_500) == 0 and slow.dout(12_400_000) == 0    # unread data
    assert slow.dout(12_500_000) == 1                                   # ... withdrawn
    assert slow.dout(12_512_499) == 1 and slow.dout(12_512_500) == 0    # conversion 1
    shift(slow, 12_512_500)
    assert slow.dout(2 * 12_512_500 - 1) == 1 and slow.dout(2 * 12_512_500) == 0


@pytest.mark.parametrize("rate,nv", [(80, 90), (10, 50)])
def test_noise_rms_matches_datasheet(rate, nv):
    chip = EmulatedHX711(lambda t: 0.0, rate_sps=rate, seed=1)
    period = chip.period_ns
    words = [shift(chip, k * period)[0] for k in range(1500)]
    codes = np.array([w - (1 << 24) if w & 0x800000 else w for w in words], dtype=float)
    lsb_v = 2.15 / 128 / 2**23
    rms_nv = codes.std() * lsb_v * 1e9
    assert rms_nv == pytest.approx(nv, rel=0.08)
    assert abs(codes.mean()) < 5


def test_faults_unplugged_stuck_low_saturate_drift_bitflip():
    chip = EmulatedHX711(const(1000), noise_nv_rms=0, seed=3)
    chip.faults.unplugged = True
    assert chip.dout(0) == 1
    chip.faults.unplugged = False
    chip.faults.stuck_low = True
    assert chip.dout(P80 - 1) == 0
    chip.faults.stuck_low = False
    chip.faults.saturate = True
    assert shift(chip, 0)[0] == CODE_MAX
    chip.faults.saturate = False
    chip.faults.zero_drift_counts_per_s = 800.0
    first = shift(chip, P80)[0]
    later = shift(chip, 81 * P80)[0]                 # 1 s later
    assert later - first == 800
    chip.faults.zero_drift_counts_per_s = 0.0
    chip.faults.bit_flip_rate = 1.0
    base = shift(chip, 82 * P80)[0]
    chip.faults.bit_flip_rate = 0.0
    diff = base ^ (1000 + later - 1000)             # drift offset is kept
    assert bin(diff).count("1") == 1
