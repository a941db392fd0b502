"""An emulated HX711 that answers PD_SCK edges the way the datasheet describes.

The chip is evaluated lazily: it keeps a little state (when its conversions complete, which
conversion was last read, how many PD_SCK pulses the current read has had) and works out
everything else from the time stamp of each call. There is no per-tick loop, so a 60 s trial
simulates far faster than real time and the result does not depend on how often it is polled.

Model (datasheet behaviour, plus the choices the datasheet leaves open, marked *model*):

* Conversions complete at ``t0 + k * period`` where ``period`` is 12.5 ms (80 SPS) or 100 ms
  (10 SPS) scaled by ``1 + skew_ppm * 1e-6`` and ``t0`` is ``phase_ns`` at start-up.
* DOUT is high while no data is ready and goes low when a conversion completes.
* *model*: data that is not read is withdrawn ``WITHDRAW_NS`` (100 µs) before the next
  conversion completes (DOUT high), then DOUT goes low again with the new data. 100 µs is
  longer than a whole read (~80 µs on the simulated bus), so a read that starts while DOUT is
  low always ends before the next conversion.
* Each PD_SCK rising edge shifts the next bit (MSB first) onto DOUT. The output word is
  latched when shifting starts, so a conversion completing mid-read cannot corrupt it.
  After the 24th bit, pulse 25 pulls DOUT high; the total pulse count (25, 26, 27) selects
  channel A/128, channel B/32 or channel A/64 for the next conversion.
* *model*: the first conversion completed under a new input/gain is a settling conversion:
  its code is the mean of the codes the old and the new setting would give (a digital filter
  half-way between). Conversions after that are fully settled.
* PD_SCK high for more than 60 µs powers the chip down (DOUT high). When PD_SCK goes low
  again the chip resets to channel A gain 128 and its first data is ready after the output
  settling time (4 periods: 50 ms at 80 SPS, 400 ms at 10 SPS).
* Pulses while no data is ready are ignored (except for power-down timing). *model*: once the
  24 data bits of a read are out and a new conversion is ready, the next pulse starts
  shifting the new word instead of counting as a gain pulse.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

POWER_DOWN_NS = 60_000          #: PD_SCK high longer than this powers the chip down
WITHDRAW_NS = 100_000           #: unread data is withdrawn this long before the next conversion
SETTLING_PERIODS = 4            #: output settling time after power-up, in conversion periods
CODE_MAX = 0x7FFFFF             #: positive saturation code
CODE_MIN = 0x800000             #: negative saturation code (as the raw 24-bit word)

#: pulse count -> (input channel, gain) for the next conversion
SELECTION = {25: ("A", 128), 26: ("B", 32), 27: ("A", 64)}

#: datasheet input-referred noise (gain 128, AVDD 5 V): 90 nV rms at 80 SPS, 50 nV at 10 SPS
DATASHEET_NOISE_V = {80: 90e-9, 10: 50e-9}


@dataclass
class ChipFaults:
    """Fault switches; set any of them at any time."""

    unplugged: bool = False               #: DOUT wire open: reads high forever
    stuck_low: bool = False               #: DOUT shorted to ground: reads low forever
    bit_flip_rate: float = 0.0            #: probability per read that one bit of the word flips
    saturate: bool = False                #: every conversion returns the positive saturation code
    zero_drift_counts_per_s: float = 0.0  #: offset drift added to every conversion


class EmulatedHX711:
    def __init__(self, analog_a: Callable[[int], float], *, analog_b: Callable[[int], float] | None = None,
                 avdd_v: float = 4.3, rate_sps: int = 80, skew_ppm: float = 0.0, noise_nv_rms: float | None = None,
                 phase_ns: int = 0, seed: int | None = None, name: str = ""):
        if rate_sps not in (10, 80):
            raise ValueError(f"rate_sps must be 10 or 80 (got {rate_sps})")
        self.analog_a = analog_a
        self.analog_b = analog_b if analog_b is not None else (lambda t: 0.0)
        self.avdd_v = float(avdd_v)
        self.rate_sps = rate_sps
        self.skew_ppm = float(skew_ppm)
        self.period_ns = int(round(1e9 / rate_sps * (1.0 + self.skew_ppm * 1e-6)))
        self.settle_ns = SETTLING_PERIODS * self.period_ns
        self.noise_v_rms = DATASHEET_NOISE_V[rate_sps] if noise_nv_rms is None else noise_nv_rms * 1e-9
        self.name = name
        self.faults = ChipFaults()
        self._rng = np.random.default_rng(seed)
        self._t0 = int(phase_ns)      # completion time of conversion index 0
        self._clk_high = False
        self._t_high = 0
        self._drift = 0.0
        self._drift_t = 0
        self.conversions_read = 0     #: words latched for shifting (for tests and benches)
        self.power_ups = 0            #: resets after a power-down
        self._reset_state()

    # --- state -------------------------------------------------------------------------------
    def _reset_state(self) -> None:
        self._consumed = -1           # highest conversion index read (or being read)
        self._count = 0               # PD_SCK pulses in the current read; 0: not reading
        self._word = 0
        self._sel = 25                # selection in effect
        self._prev_sel = 25
        self._sel_from = 0            # first conversion index using _sel (settling if changed)
        self._pending: tuple[int, int] | None = None  # (selection, from conversion index)

    def _last_index(self, t: int) -> int:
        """Index of the last conversion completed at time t (-1: none yet)."""
        if t < self._t0:
            return -1
        return (t - self._t0) // self.period_ns

    def _ready(self, t: int) -> bool:
        """New, unread data available and not inside the withdraw window."""
        if t < self._t0:
            return False
        k = (t - self._t0) // self.period_ns
        if k <= self._consumed:
            return False
        return t < self._t0 + (k + 1) * self.period_ns - WITHDRAW_NS

    def _powered_down(self, t: int) -> bool:
        return self._clk_high and t - self._t_high > POWER_DOWN_NS

    @property
    def selection(self) -> tuple[str, int]:
        """(channel, gain) of the setting currently in effect."""
        return SELECTION[self._sel]

    def next_ready_ns(self, t: int) -> int:
        """When the next conversion after time t completes (for tests and the bench)."""
        k = max(self._last_index(t) + 1, 0)
        return self._t0 + k * self.period_ns

    # --- conversion ------------------------------------------------------------------------
    def _ideal_code(self, sel: int, t: int) -> float:
        channel, gain = SELECTION[sel]
        v = self.analog_a(t) if channel == "A" else self.analog_b(t)
        return v * gain / (0.5 * self.avdd_v) * (1 << 23)

    def _convert(self, k: int) -> int:
        """The 24-bit word of conversion k (two's complement, as shifted out)."""
        t = self._t0 + k * self.period_ns
        if self._pending is not None and k >= self._pending[1]:
            sel, start = self._pending
            self._pending = None
            if sel != self._sel:
                self._prev_sel, self._sel, self._sel_from = self._sel, sel, start
        f = self.faults
        if f.zero_drift_counts_per_s:
            self._drift += f.zero_drift_counts_per_s * (t - self._drift_t) / 1e9
        self._drift_t = t
        if f.saturate:
            word = CODE_MAX
        else:
            x = self._ideal_code(self._sel, t)
            if k == self._sel_from and self._prev_sel != self._sel:
                x = 0.5 * (x + self._ideal_code(self._prev_sel, t))
            gain = SELECTION[self._sel][1]
            if self.noise_v_rms > 0:
                x += self._rng.standard_normal() * self.noise_v_rms * gain / (0.5 * self.avdd_v) * (1 << 23)
            x += self._drift
            code = int(round(x))
            if code >= CODE_MAX:
                word = CODE_MAX
            elif code <= -(1 << 23):
                word = CODE_MIN
            else:
                word = code & 0xFFFFFF
        if f.bit_flip_rate > 0 and self._rng.random() < f.bit_flip_rate:
            word ^= 1 << int(self._rng.integers(24))
        return word

    def _start_read(self, t: int) -> None:
        k = (t - self._t0) // self.period_ns
        self._consumed = k
        self._word = self._convert(k)
        self._count = 1
        self.conversions_read += 1

    # --- the bus side ----------------------------------------------------------------------
    def clock_edge(self, t_ns: int, high: bool) -> None:
        if high:
            if self._clk_high:
                return
            self._clk_high = True
            self._t_high = t_ns
            c = self._count
            if 1 <= c <= 23:
                self._count = c + 1
            elif c >= 24 and self._ready(t_ns):
                self._start_read(t_ns)          # a new word is waiting: this pulse shifts it
            elif 24 <= c <= 26:
                self._count = c + 1
                k_now = self._last_index(t_ns)
                self._pending = (c + 1, max(self._consumed + 1, k_now + 1))
            elif c == 0 and self._ready(t_ns):
                self._start_read(t_ns)
            # else: no data ready, pulse ignored
        else:
            if not self._clk_high:
                return
            self._clk_high = False
            if t_ns - self._t_high > POWER_DOWN_NS:
                # powered down while high; reset on the way back up
                self._reset_state()
                self._t0 = t_ns + self.settle_ns
                self.power_ups += 1

    def dout(self, t_ns: int) -> int:
        f = self.faults
        if f.unplugged:
            return 1
        if f.stuck_low:
            return 0
        if self._clk_high and t_ns - self._t_high > POWER_DOWN_NS:
            return 1
        c = self._count
        if 1 <= c <= 23:
            return (self._word >> (24 - c)) & 1
        if self._ready(t_ns):
            return 0
        if c == 24:
            return self._word & 1                # LSB stays until pulse 25
        return 1

    def __repr__(self) -> str:
        return f"EmulatedHX711({self.name!r}, {self.rate_sps} SPS, skew {self.skew_ppm:+g} ppm)"


def volts_for_code(code: int, gain: int = 128, avdd_v: float = 4.3) -> float:
    """The differential input voltage that converts exactly to ``code`` (noise off)."""
    return code * (0.5 * avdd_v) / gain / (1 << 23)
