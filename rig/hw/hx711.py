"""HX711 driver: N chips on one shared PD_SCK line, read in parallel, every frame checked.

One ``read_frame()`` waits until every DOUT is low, clocks 24 bits MSB first (one
``read_data()`` after each falling edge samples all chips at once), gives 25/26/27 pulses for
the configured gain and checks that every DOUT went high afterwards. A frame is returned with
``Flag.INVALID`` (and ``chip_ok`` naming the chip(s) at fault) when

* PD_SCK stayed high longer than ``max_clock_high_us`` on any pulse (the chips may have
  powered down mid-word: the process was pre-empted with the clock high),
* a DOUT was still low after the last pulse (stuck low, or the chip lost count),
* the frame took longer than half a conversion period (a conversion completed mid-read, so a
  chip may have started shifting the new word), or
* a chip never became ready within two conversion periods ("not responding"). All chips share
  the clock, so the others cannot be read without it: the driver returns an INVALID frame
  with ``FAULT`` set and zero counts instead of stalling, then resynchronises and tries again.

After an INVALID frame the driver resynchronises: PD_SCK high for 100 µs (power-down), low
again, waits the output settling time (4 periods), discards the first conversion (and, for
gain 64/32, the settling conversion after the gain pulses) and flags the next good frame
``RESYNC``. A frame is never abandoned half-way and continued.

The driver never raises PD_SCK unless the read immediately before showed every DOUT low; when
the data of one chip is withdrawn while others are still being waited for, it just keeps
waiting (nothing was clocked, so nothing needs repairing).
"""
from __future__ import annotations

from collections import deque
from typing import Sequence

from rig.hw.flags import Flag
from rig.constants import CORNERS
from rig.hw.frame import Frame
from rig.hw.gpio.base import GPIOBackend

PULSES = {128: 25, 32: 26, 64: 27}
SAT_POS = 0x7FFFFF
SAT_NEG = -0x800000
POWER_DOWN_HOLD_NS = 100_000       #: PD_SCK high this long to power the chips down (> 60 µs)
SETTLING_PERIODS = 4               #: output settling time after power-up, in periods
WINDOW = 64                        #: frames in the sliding window of health statistics
GLITCH_COUNTS = 2048               #: single-sample jump (counts) reported as a glitch
ASSUMED_WITHDRAW_NS = 100_000      #: how long before a conversion unread data may disappear
MIN_FRAME_GUARD_NS = 300_000       #: a frame is assumed to take at most this (or 2x the last one)
PERIOD_TOLERANCE = 0.10            #: oscillator tolerance before the period has been measured
PERIOD_TOLERANCE_MEASURED = 0.005  #: ... and around the measured period


def _signed24(v: int) -> int:
    return v - (1 << 24) if v & 0x800000 else v


class _ChipStats:
    __slots__ = ("name", "ready", "state", "frames", "invalid_frames", "last_error", "times",
                 "history", "glitches", "last_counts")

    def __init__(self, name: str):
        self.name = name
        self.ready = False
        self.state = "ok"
        self.frames = 0
        self.invalid_frames = 0
        self.last_error = ""
        self.times: deque[int] = deque(maxlen=WINDOW)
        self.history: deque[tuple[int, int]] = deque(maxlen=WINDOW)
        self.glitches = 0
        self.last_counts: int | None = None


def _rate(times: deque[int]) -> float:
    if len(times) < 2 or times[-1] == times[0]:
        return 0.0
    return (len(times) - 1) * 1e9 / (times[-1] - times[0])


def _slope_per_s(history: deque[tuple[int, int]]) -> float:
    n = len(history)
    if n < 8:
        return 0.0
    t0 = history[0][0]
    ts = [(t - t0) / 1e9 for t, _ in history]
    ys = [c for _, c in history]
    mt = sum(ts) / n
    my = sum(ys) / n
    den = sum((t - mt) ** 2 for t in ts)
    if den == 0:
        return 0.0
    return sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / den


class HX711Array:
    def __init__(self, backend: GPIOBackend, rate_sps: int = 80, gain: int = 128, max_clock_high_us: float = 50.0,
                 names: Sequence[str] = CORNERS):
        if rate_sps not in (10, 80):
            raise ValueError(f"rate_sps must be 10 or 80 (got {rate_sps})")
        if gain not in PULSES:
            raise ValueError(f"gain must be 128, 64 or 32 (got {gain})")
        if not 0 < max_clock_high_us < 60:
            raise ValueError("max_clock_high_us must be above 0 and below the 60 µs power-down time")
        n = backend.n_data
        names = tuple(names)
        if len(names) != n:
            if names == CORNERS and n < len(CORNERS):
                names = names[:n]
            else:
                raise ValueError(f"{len(names)} names for {n} data lines")
        self.backend = backend
        self.rate_sps = rate_sps
        self.gain = gain
        self.names = names
        self.n = n
        self.period_ns = 1_000_000_000 // rate_sps
        self.settle_ns = SETTLING_PERIODS * self.period_ns
        self.timeout_ns = 2 * self.period_ns
        self.max_clock_high_ns = int(round(max_clock_high_us * 1000))
        self.max_frame_ns = self.period_ns // 2
        self.poll_ns = 80_000 if rate_sps == 80 else 500_000
        self.deferred_starts = 0
        self._high_seen: list[int] = [0] * n
        self._last_frame_ns = 0
        self._pulses = PULSES[gain]
        self._all = (1 << n) - 1
        self._started = False
        self._powered = True
        self._discard = 0
        self._resync_pending = False
        self._flag_resync = False
        self._last_good_t: int | None = None
        # statistics
        self._chips = [_ChipStats(nm) for nm in names]
        self._times: deque[int] = deque(maxlen=WINDOW)
        self.frames = 0
        self.invalid_frames = 0
        self.resyncs = 0
        self.missed_conversions = 0
        self.gap_frames = 0
        self.saturated_frames = 0
        self.discarded = 0
        self.max_high_seen_ns = 0
        self.last_error = ""
        backend.set_clock(False)

    # --- public API -----------------------------------------------------------------------
    def read_frame(self) -> Frame:
        """Block until a frame is available: valid, or flagged INVALID (never a stall)."""
        if not self._powered:
            raise RuntimeError("HX711Array is powered down: call power_up() first")
        if not self._started:
            self._restart(counted=False)
            self._started = True
        while True:
            if self._resync_pending:
                self._restart(counted=True)
            frame = self._read_once()
            if frame.flags & Flag.INVALID:
                self._resync_pending = True
                self.invalid_frames += 1
                return frame
            if self._discard:
                self._discard -= 1
                self.discarded += 1
                continue
            return self._accept(frame)

    def resync(self) -> None:
        """Power-cycle the chips now and discard the settling conversion(s)."""
        self._restart(counted=True)
        self._started = True

    def power_down(self) -> None:
        """PD_SCK high: the chips power down (and stay down until power_up())."""
        self.backend.set_clock(True)
        self.backend.sleep_ns(POWER_DOWN_HOLD_NS)
        self._powered = False

    def power_up(self) -> None:
        """PD_SCK low: the chips reset; wait for them to settle, discard the first data."""
        self.backend.set_clock(False)
        self._powered = True
        self.backend.sleep_ns(self.settle_ns)
        self._discard = 1 + (self.gain != 128)
        self._resync_pending = False
        self._started = True
        self._last_good_t = None

    def health(self) -> dict:
        chips = []
        for c in self._chips:
            chips.append({
                "name": c.name, "ready": c.ready, "state": c.state, "frames": c.frames,
                "invalid_frames": c.invalid_frames, "achieved_sps": round(_rate(c.times), 2),
                "last_error": c.last_error, "glitches": c.glitches, "last_counts": c.last_counts,
                "drift_counts_per_s": round(_slope_per_s(c.history), 1),
            })
        return {
            "backend": self.backend.name, "rate_sps": self.rate_sps, "gain": self.gain,
            "chips": chips, "frames": self.frames, "resyncs": self.resyncs,
            "invalid_frames": self.invalid_frames, "max_clock_high_us": round(self.max_high_seen_ns / 1000, 3),
            "achieved_sps": round(_rate(self._times), 2), "missed_conversions": self.missed_conversions,
            "gap_frames": self.gap_frames, "saturated_frames": self.saturated_frames,
            "deferred_starts": self.deferred_starts, "discarded_conversions": self.discarded,
            "last_error": self.last_error,
        }

    def close(self) -> None:
        self.backend.close()

    # --- internals ------------------------------------------------------------------------
    def _restart(self, counted: bool) -> None:
        b = self.backend
        b.set_clock(True)
        b.sleep_ns(POWER_DOWN_HOLD_NS)
        b.set_clock(False)
        b.sleep_ns(self.settle_ns)
        self._discard = 1 + (self.gain != 128)
        self._resync_pending = False
        if counted:
            self.resyncs += 1
            self._flag_resync = True

    def _period_bounds(self) -> tuple[int, int]:
        """Shortest and longest conversion period the chips may have right now."""
        ts = self._times
        if len(ts) >= 16:
            diffs = sorted(b - a for a, b in zip(list(ts)[:-1], list(ts)[1:]))
            p = diffs[len(diffs) // 2]
            if 0.8 * self.period_ns < p < 1.25 * self.period_ns:
                return int(p * (1 - PERIOD_TOLERANCE_MEASURED)), int(p * (1 + PERIOD_TOLERANCE_MEASURED))
        return int(self.period_ns * (1 - PERIOD_TOLERANCE)), int(self.period_ns * (1 + PERIOD_TOLERANCE))

    def _wait_ready(self) -> tuple[bool, int]:
        """Poll until every DOUT is low and no chip's data is about to be withdrawn.

        Returns (ready, chips seen low at least once). For each chip the driver keeps the
        last time it saw DOUT high (``_high_seen``) and the first time it saw it low after
        that (``_low_first``): the chip's conversion lies between the two. Its data is safe to
        clock only if the frame will end before the earliest possible withdrawal
        (conversion + shortest period - ASSUMED_WITHDRAW_NS); otherwise the driver waits for the
        chip's next conversion instead of racing it.
        """
        b = self.backend
        p_lo, p_hi = self._period_bounds()
        guard = ASSUMED_WITHDRAW_NS + max(MIN_FRAME_GUARD_NS, 2 * self._last_frame_ns)
        hs = self._high_seen
        n = self.n
        full = self._all
        seen = 0
        run = [None] * n           # start of the current unbroken run of low polls, this wait
        deferred = False
        prev = b.now_ns()
        deadline = prev + self.timeout_ns
        while True:
            mask = b.read_data()
            now = b.now_ns()
            if now - prev > self.period_ns:
                # this process was held up (not the chips): restart the timeout from here
                deadline = now + self.timeout_ns
            prev = now
            low = ~mask & full
            seen |= low
            for i in range(n):
                if mask >> i & 1:
                    hs[i] = now
                    run[i] = None
                elif run[i] is None:
                    run[i] = now
            if low == full:
                # chip i's conversion came after hs[i]: safe while the frame ends before
                # hs[i] + p_lo - ASSUMED_WITHDRAW_NS. A chip seen low for longer than a
                # period without a break withdraws faster than we poll (or is stuck low: the
                # post-check will tell); it is not waited for.
                unsafe = [i for i in range(n) if now >= hs[i] + p_lo - guard and now - run[i] <= p_hi]
                if not unsafe:
                    self._mark_ready(low)
                    return True, seen
                if not deferred:
                    deferred = True
                    self.deferred_starts += 1
            if now >= deadline:
                self._mark_ready(low)
                return False, seen
            b.sleep_ns(self.poll_ns)

    def _mark_ready(self, low: int) -> None:
        for i, c in enumerate(self._chips):
            c.ready = bool(low >> i & 1)

    def _invalid(self, t: int, counts, chip_ok, high_ns: int, error: str, extra: int = 0) -> Frame:
        self.last_error = error
        return Frame(t, tuple(counts), int(Flag.INVALID | extra), high_ns, tuple(chip_ok))

    def _read_once(self) -> Frame:
        b = self.backend
        ready, seen = self._wait_ready()
        n = self.n
        if not ready:
            t = b.now_ns()
            ok = [bool(seen >> i & 1) for i in range(n)]
            dead = [self.names[i] for i in range(n) if not ok[i]]
            for i, c in enumerate(self._chips):
                if not ok[i]:
                    c.state = "not responding"
                    c.invalid_frames += 1
                    c.last_error = f"DOUT never went low in {self.timeout_ns / 1e6:g} ms"
            if dead:
                err = f"not responding: {', '.join(dead)}"
            else:
                err = "chips never ready at the same time"
            return self._invalid(t, [0] * n, ok, 0, err, Flag.FAULT)

        now = b.now_ns
        set_clock = b.set_clock
        read = b.read_data
        masks = []
        max_high = 0
        t_frame = now()
        for _ in range(24):
            t0 = now()
            set_clock(True)
            set_clock(False)
            dt = now() - t0
            if dt > max_high:
                max_high = dt
            masks.append(read())
        for _ in range(self._pulses - 24):
            t0 = now()
            set_clock(True)
            set_clock(False)
            dt = now() - t0
            if dt > max_high:
                max_high = dt
        post = read()
        t_end = now()
        self._last_frame_ns = t_end - t_frame
        for i in range(n):
            if post >> i & 1:
                self._high_seen[i] = t_end
        if max_high > self.max_high_seen_ns:
            self.max_high_seen_ns = max_high

        counts = []
        for i in range(n):
            v = 0
            for m in masks:
                v = (v << 1) | ((m >> i) & 1)
            counts.append(_signed24(v))

        if max_high > self.max_clock_high_ns:
            err = f"PD_SCK high {max_high / 1000:.1f} µs > {self.max_clock_high_ns / 1000:g} µs"
            for c in self._chips:
                c.invalid_frames += 1
                c.last_error = err
            return self._invalid(t_frame, counts, [False] * n, max_high, err)
        if t_end - t_frame > self.max_frame_ns:
            err = f"frame took {(t_end - t_frame) / 1e6:.2f} ms (> half a conversion period)"
            for c in self._chips:
                c.invalid_frames += 1
                c.last_error = err
            return self._invalid(t_frame, counts, [False] * n, max_high, err)
        stuck = ~post & self._all
        if stuck:
            ok = [not (stuck >> i & 1) for i in range(n)]
            bad = []
            for i, c in enumerate(self._chips):
                if not ok[i]:
                    c.state = "stuck low"
                    c.invalid_frames += 1
                    c.last_error = "DOUT still low after the last pulse"
                    bad.append(c.name)
            return self._invalid(t_frame, counts, ok, max_high, f"DOUT stuck low: {', '.join(bad)}", Flag.FAULT)
        return Frame(t_frame, tuple(counts), 0, max_high, (True,) * n)

    def _accept(self, frame: Frame) -> Frame:
        flags = 0
        t = frame.t_ns
        if self._flag_resync:
            flags |= Flag.RESYNC
            self._flag_resync = False
        if self._last_good_t is not None:
            dt = t - self._last_good_t
            if dt > 1.5 * self.period_ns:
                flags |= Flag.GAP
                missed = max(1, round(dt / self.period_ns) - 1)
                self.missed_conversions += missed
                self.gap_frames += 1
                if not flags & Flag.RESYNC:
                    self.last_error = f"gap of {dt / 1e6:.1f} ms: {missed} conversion(s) missed"
        self._last_good_t = t
        for i, c in enumerate(self._chips):
            v = frame.counts[i]
            if v == SAT_POS or v == SAT_NEG:
                flags |= Flag.SATURATED
                c.state = "saturated"
                c.last_error = f"saturated ({'+' if v > 0 else '-'}full scale)"
            else:
                c.state = "ok"
            c.frames += 1
            c.times.append(t)
            h = c.history
            if len(h) >= 2:
                x0, x1 = h[-2][1], h[-1][1]
                if abs(x1 - x0) > GLITCH_COUNTS and abs(x1 - v) > GLITCH_COUNTS and abs(v - x0) < GLITCH_COUNTS // 2:
                    c.glitches += 1
                    c.last_error = f"single-sample glitch of {x1 - x0:+d} counts"
            h.append((t, v))
            c.last_counts = v
        if flags & Flag.SATURATED:
            self.saturated_frames += 1
        self.frames += 1
        self._times.append(t)
        if flags:
            return Frame(t, frame.counts, int(flags), frame.max_clock_high_ns, frame.chip_ok)
        return frame
