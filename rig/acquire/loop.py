"""The acquisition loop: frames -> spike filter -> forces/COP -> ~100 ms batches -> subscribers.

`Acquisition` owns one frame reader (an ``HX711Array``, or anything with ``read_frame()``
and ``health()``) and runs the read loop in its own thread (``start``/``stop``) or in the
caller's (``run``). Every valid frame goes through the spike filter and
``ForceModel.samples``; an INVALID frame is never converted: it is counted and shows in the
health report. Subscribers get `Batch` objects about every ``batch_ms`` of stream time and a
`Health` report about once a second, by callback from the acquisition thread
(``subscribe(callback) -> unsubscribe``). Callbacks must return quickly: the IPC server and
the dashboard put messages on bounded drop-oldest queues (rig.acquire.ipc.DropOldestQueue).

With ``zero_tracking`` a `calibration.zero.ZeroTracker` watches every converted batch and
re-tares in place while the plate is unloaded and still (never under a load); its drift
events and warnings are in the health report (``zero_tracking``, ``messages``).
``set_force_model`` swaps the model (a new calibration) at the next frame, in the
acquisition thread; ``set_advisory`` adds a standing warning (e.g. the calibration's age).

There is no module-level state: everything lives on the Acquisition instance. This module
never imports Flask (the web lives in another process; tests/acquire/test_acquire.py checks).

The acquisition *process* (``rig acquire``) is `rig.acquire.service.serve_forever`.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from rig.hw.flags import Flag
from rig.constants import CORNER_NAMES, CORNERS
from rig.signal.plate import SAMPLE_COLUMNS, ForceModel
from rig.signal.spike import SpikeFilter
from rig.acquire.fanout import Subscribers
from rig.acquire.health import OK_STATES, Health, HealthCode, chip_list, chip_problem, problem

log = logging.getLogger("rig.acquire.loop")

@dataclass
class Batch:
    """About ``batch_ms`` of calibrated samples (rows of SAMPLE_COLUMNS) and their raw counts."""

    seq: int
    samples: np.ndarray          #: (n, 9) float: t_s, f_fl_n … f_br_n, fz_n, cop_ml_mm, cop_ap_mm, flags
    counts: np.ndarray           #: (n, 4) int64: filtered counts (what was converted)
    t_ns: int                    #: monotonic source time of the last sample
    type: str = "batch"

    def to_message(self, raw: bool = True) -> dict:
        """The JSON form (docs/live-stream.md): NaN becomes null, numbers rounded to resolution."""
        rows = []
        for r in self.samples:
            rows.append([round(float(r[0]), 5),
                         *(round(float(v), 3) for v in r[1:6]),
                         *(None if math.isnan(v) else round(float(v), 2) for v in r[6:8]),
                         int(r[8])])
        msg = {"type": "batch", "seq": self.seq, "t_ns": int(self.t_ns), "samples": rows}
        if raw:
            msg["counts"] = self.counts.astype(int).tolist()
        return msg


def _calibrated(model: ForceModel) -> bool:
    """A calibration's model knows the cells' zero; a datasheet model ("nominal…") does not."""
    return not str(model.source).startswith("nominal")


class Acquisition:
    """Read loop + spike filter + conversion + batching + health, for one plate."""

    def __init__(self, reader, force_model: ForceModel, *, batch_ms: float = 100,
                 spike_filter: SpikeFilter | None | bool = True, rate_hz: float | None = None,
                 health_interval_s: float = 1.0, auto_tare: bool = True, tare_s: float = 1.0,
                 still_n: float = 0.5, names=CORNERS, plate: str = "", geometry=None,
                 backend: str = "", max_clock_high_us: float | None = None,
                 zero_tracking: bool | dict = False):
        self.reader = reader
        self.force_model = dataclasses.replace(force_model)
        #: ZeroTracker keyword arguments (limits), or None when zero tracking is off
        self._zero_kw = (None if zero_tracking is False or zero_tracking is None
                         else dict(zero_tracking) if isinstance(zero_tracking, dict) else {})
        self._pending_model: ForceModel | None = None
        self._advisories: dict[str, str] = {}
        self._zero_measured = False          # an acquisition tare has set the offsets
        self.batch_ns = int(batch_ms * 1e6)
        if spike_filter is True:
            spike_filter = SpikeFilter(len(names))
        self.spike_filter: SpikeFilter | None = spike_filter or None
        #: the converter's rate (rig.hw.adc.FrameReader.rate_sps) unless given
        self.rate_hz = float(rate_hz if rate_hz is not None else reader.rate_sps)
        self.health_ns = int(health_interval_s * 1e9)
        self.tare_ns = int(tare_s * 1e9)
        self.still_n = float(still_n)
        self.names = tuple(names)
        self.plate = plate
        self.geometry = geometry
        self.backend = backend
        self.max_clock_high_us = max_clock_high_us
        self.zero_tracker = self._new_tracker()
        self._subscribers = Subscribers()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tare_request = threading.Event()
        # loop state (touched only by the acquisition thread)
        self._t0_ns: int | None = None
        self._seq = 0
        self._rows: list[np.ndarray] = []
        self._raw: list[np.ndarray] = []
        self._flags: list[int] = []
        self._times: list[int] = []
        self._batch_start_ns: int | None = None
        self._tare_buf: list[np.ndarray] = []
        self._tare_start_ns: int | None = None
        self.tared = not auto_tare
        self.tare_info: dict = {}
        self._last_t_ns: int | None = None
        self._next_health_ns: int | None = None
        self._win = self._new_window()
        self.frames = 0
        self.invalid_frames = 0
        self.converted = 0
        self.resyncs = 0
        self.read_errors = 0
        self.last_error = ""
        self.max_clock_high_ns = 0
        self.latest_health: dict = {}
        self._chip_bad_run: list[int] | None = None   # consecutive frames each chip failed
        self._chip_bad_since: list[int | None] = []    # t_ns of the first frame of that run
        self._faults_reported: frozenset = frozenset()  # fault signature of the last health report
        self._last_health_ns: int | None = None

    # --- subscribers --------------------------------------------------------------------
    def subscribe(self, callback: Callable) -> Callable[[], None]:
        """Call ``callback(event)`` for every Batch and Health; returns the unsubscribe function."""
        return self._subscribers.subscribe(callback)

    def _publish(self, event) -> None:
        self._subscribers.publish(event)

    @property
    def subscriber_errors(self) -> int:
        """Subscriber callbacks that raised (each is logged; acquisition goes on)."""
        return self._subscribers.errors

    def hello(self) -> dict:
        """What a subscriber needs before the first batch (the IPC ``hello`` message)."""
        geom = self.geometry
        g = ({"cell_x_m": list(geom.cell_x_m), "cell_y_m": list(geom.cell_y_m)} if geom is not None
             else {"cell_x_m": self.force_model.matrix[1].tolist(), "cell_y_m": self.force_model.matrix[2].tolist()})
        return {"type": "hello", "rate_hz": self.rate_hz, "columns": list(SAMPLE_COLUMNS),
                "raw_columns": [f"c_{n}" for n in self.names], "plate": self.plate, "geometry": g,
                "backend": self.backend, "calibration": self.force_model.source,
                "min_fz_n": self.force_model.min_fz_n}

    # --- control ------------------------------------------------------------------------
    def request_tare(self) -> None:
        """Tare again on the next second during which the plate is empty and still."""
        self._tare_request.set()

    def set_force_model(self, model: ForceModel) -> None:
        """Use ``model`` from the next frame on (any thread; the swap happens in the
        acquisition thread). Once the acquisition has measured the zero itself, the live
        offsets are kept (the cells' zero in counts does not depend on the model); the zero
        tracker starts again with the new calibration's zero as its reference."""
        self._pending_model = dataclasses.replace(model)

    @property
    def calibration_source(self) -> str:
        """Where the force model comes from: the one waiting to be swapped in, else the current."""
        return (self._pending_model or self.force_model).source

    def set_advisory(self, key: str, message: str | None) -> None:
        """A standing warning shown in every health report until cleared with None."""
        if message:
            self._advisories[key] = message
        else:
            self._advisories.pop(key, None)

    def _new_tracker(self):
        if self._zero_kw is None:
            return None
        from calibration.zero import ZeroTracker
        return ZeroTracker(self.force_model, rate_sps=self.rate_hz, **self._zero_kw)

    def _apply_model(self, t: int) -> None:
        model, self._pending_model = self._pending_model, None
        self._flush_batch(t)                 # what was read so far converts with the old model
        live = np.array(self.force_model.offsets_counts, float)
        self.force_model = model
        self.zero_tracker = self._new_tracker()   # reference: the new calibration's zero
        if self._zero_measured:
            model.offsets_counts = live
            if self.zero_tracker is not None and not _calibrated(model):
                self.zero_tracker.rebase(self.stream_s)
        log.info("force model now %s", model.source)

    def start(self) -> "Acquisition":
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("acquisition already running")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="acquisition", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stream_s(self) -> float:
        """Seconds of stream time read so far."""
        if self._t0_ns is None or self._last_t_ns is None:
            return 0.0
        return (self._last_t_ns - self._t0_ns) / 1e9

    def run(self, max_seconds: float | None = None, until: Callable[[], bool] | None = None) -> None:
        """The read loop, in the calling thread, until stop(), ``max_seconds`` of stream time
        or ``until()`` becomes true. Publishes what is pending when it ends."""
        consecutive_errors = 0
        try:
            while not self._stop.is_set():
                try:
                    frame = self.reader.read_frame()
                    consecutive_errors = 0
                except Exception as exc:
                    consecutive_errors += 1
                    self.read_errors += 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    log.warning("read failed (%s); resynchronising", self.last_error)
                    if consecutive_errors >= 50:
                        raise
                    self._resync()
                    continue
                self.process_frame(frame)
                if max_seconds is not None and self.stream_s >= max_seconds:
                    break
                if until is not None and until():
                    break
        finally:
            self._finish()

    def _resync(self) -> None:
        resync = getattr(self.reader, "resync", None)
        if resync is not None:
            try:
                resync()
            except Exception as exc:  # pragma: no cover - driver specific
                self.last_error = f"resync failed: {exc}"
        if self.spike_filter is not None:
            self.spike_filter.reset()

    # --- per frame ----------------------------------------------------------------------
    @staticmethod
    def _new_window() -> dict:
        return {"frames": 0, "invalid": 0, "chip_bad": None, "t_first": None, "spikes0": 0, "intervals": -1}

    def process_frame(self, frame) -> None:
        """Handle one frame (the loop calls this; tests may too)."""
        t = int(frame.t_ns)
        if self._pending_model is not None:
            self._apply_model(t)
        if self._t0_ns is None:
            self._t0_ns = t
            self._next_health_ns = t + self.health_ns
            self._win["t_first"] = t
            self._win["spikes0"] = self._spikes()
            self._win["spikes0_ch"] = self._spikes_per_channel()
        self._last_t_ns = t
        self.frames += 1
        self._win["frames"] += 1
        self.max_clock_high_ns = max(self.max_clock_high_ns, int(getattr(frame, "max_clock_high_ns", 0) or 0))
        chip_ok = tuple(getattr(frame, "chip_ok", ()) or ())
        if chip_ok:
            bad = self._win["chip_bad"] or [0] * len(chip_ok)
            self._win["chip_bad"] = [b + (not ok) for b, ok in zip(bad, chip_ok)]
            runs = self._chip_bad_run or [0] * len(chip_ok)
            self._chip_bad_run = [0 if ok else r + 1 for r, ok in zip(runs, chip_ok)]
            since = self._chip_bad_since or [None] * len(chip_ok)
            self._chip_bad_since = [None if ok else (s if s is not None else t) for s, ok in zip(since, chip_ok)]
        flags = int(frame.flags)
        if flags & Flag.RESYNC:
            self.resyncs += 1
        if flags & Flag.INVALID:
            self.invalid_frames += 1
            self._win["invalid"] += 1
        else:
            if self.spike_filter is not None:
                if flags & Flag.RESYNC:
                    self._emit_sample(self.spike_filter.flush())
                    self.spike_filter.reset()
                self._emit_sample(self.spike_filter.push(t, frame.counts, flags))
            else:
                self._emit_sample((t, np.asarray(frame.counts, dtype=np.int64), flags))
        if self._batch_start_ns is not None and t - self._batch_start_ns >= self.batch_ns:
            self._flush_batch(t)
        if t >= self._next_health_ns or self._new_fault(t):
            self._health(t)
            self._next_health_ns = t + self.health_ns

    # A fault is reported at once, not at the next periodic report: the status bar must show
    # it within a second of its start (docs/faults table in docs/security.md).
    EARLY_HEALTH_MIN_NS = 200_000_000

    @property
    def _dead_after(self) -> int:
        """Frames a chip must fail in a row to be 'not responding' (~100 ms)."""
        return max(2, int(self.rate_hz * 0.1))

    #: A chip failing every read for this long is "not responding", however few frames that
    #: took: a missing chip makes each frame wait out the driver's timeout and a resync, so
    #: frames come several times slower than the rate (the simulated unplugged cell: ~60 ms).
    DEAD_AFTER_NS = 100_000_000

    def _chip_dead(self, i: int) -> bool:
        runs = self._chip_bad_run or ()
        if i >= len(runs):
            return False
        if runs[i] >= self._dead_after:
            return True
        since = self._chip_bad_since[i] if i < len(self._chip_bad_since) else None
        return (runs[i] >= 2 and since is not None and self._last_t_ns is not None
                and self._last_t_ns - since >= self.DEAD_AFTER_NS)

    def _fault_signature(self) -> frozenset:
        """Chips that stopped answering (unplugged, stuck line: every read fails). Occasional
        invalid frames wait for the periodic report, which counts them per second."""
        return frozenset(i for i in range(len(self._chip_bad_run or ())) if self._chip_dead(i))

    def _new_fault(self, t: int) -> bool:
        """A fault not in the last report appeared (rate-limited to one early report per 200 ms)."""
        if self._last_health_ns is not None and t - self._last_health_ns < self.EARLY_HEALTH_MIN_NS:
            return False
        return bool(self._fault_signature() - self._faults_reported)

    def _emit_sample(self, item) -> None:
        if item is None:
            return
        t, counts, flags = item
        if self._tare_request.is_set() and self.tared:
            self._tare_request.clear()
            self.tared = False
            self._tare_buf, self._tare_start_ns = [], None
        if not self.tared:
            self._tare_sample(t, counts)
            return
        if self._batch_start_ns is None:
            self._batch_start_ns = t
        self._times.append(t)
        self._raw.append(np.asarray(counts, dtype=np.int64))
        self._flags.append(flags)

    def _tare_sample(self, t: int, counts) -> None:
        if self._tare_start_ns is None:
            self._tare_start_ns = t
        self._tare_buf.append(np.asarray(counts, dtype=np.int64))
        if t - self._tare_start_ns < self.tare_ns:
            return
        c = np.array(self._tare_buf, dtype=float)
        self._tare_buf, self._tare_start_ns = [], None
        m = self.force_model
        forces_std = c.std(axis=0) * m.n_per_count
        fz_std = float((c * m.n_per_count).sum(axis=1).std())
        still = bool(np.all(forces_std < self.still_n) and fz_std < self.still_n)
        fz_now = float(((c.mean(axis=0) - m.offsets_counts) * m.n_per_count).sum())
        # a nominal model has no idea of the cells' zero: stillness is all we can check;
        # once a tare (or a calibration) exists, "empty" also means Fz below the minimum
        known_zero = _calibrated(m) or self._zero_measured
        empty = (not known_zero) or abs(fz_now) < m.min_fz_n
        if still and empty:
            t_s = (t - self._t0_ns) / 1e9
            if self.zero_tracker is not None and known_zero:
                self.zero_tracker.retare(t_s, c.mean(axis=0))    # logged as a drift event
            else:
                m.offsets_counts = c.mean(axis=0)
                if self.zero_tracker is not None:
                    self.zero_tracker.rebase(t_s)               # drift counts from this first tare
            self._zero_measured = True
            sigma = c.std(axis=0)
            if self.spike_filter is not None:
                self.spike_filter.set_noise(np.maximum(sigma, 1.0))
            self.tared = True
            self.tare_info = {"offsets_counts": [round(float(v), 1) for v in m.offsets_counts],
                              "noise_counts": [round(float(v), 1) for v in sigma],
                              "at_s": round((t - self._t0_ns) / 1e9, 3), "n": len(c)}
            log.info("tared: offsets %s, noise %s counts", self.tare_info["offsets_counts"],
                     self.tare_info["noise_counts"])
        else:
            self.tare_info = dict(self.tare_info, waiting=("plate not still" if not still else "plate not empty"))

    def _flush_batch(self, t_now: int) -> None:
        if not self._times:
            self._batch_start_ns = None
            return
        t_s = (np.array(self._times, dtype=np.int64) - self._t0_ns) / 1e9
        raw = np.array(self._raw, dtype=np.int64)
        rows = self.force_model.samples(t_s, raw, np.array(self._flags, dtype=np.int64))
        self.converted += len(rows)
        batch = Batch(seq=self._seq, samples=rows, counts=raw, t_ns=self._times[-1])
        self._seq += 1
        self._times, self._raw, self._flags = [], [], []
        self._batch_start_ns = None
        self._publish(batch)
        if self.zero_tracker is not None:
            # after the batch went out: a re-tare here applies from the next batch on
            self.zero_tracker.update(t_s, raw)

    def _finish(self) -> None:
        if self.spike_filter is not None:
            self._emit_sample(self.spike_filter.flush())
        if self._last_t_ns is not None:
            self._flush_batch(self._last_t_ns)

    def _spikes(self) -> int:
        return self.spike_filter.replacements if self.spike_filter is not None else 0

    def _spikes_per_channel(self) -> list[int]:
        if self.spike_filter is None:
            return [0] * len(self.names)
        return list(self.spike_filter.replacements_per_channel)

    #: Spike replacements per second on one cell from which it is reported as noisy. A
    #: healthy cell gives one now and then (a knock, EMI); several a second means a loose
    #: connector or a damaged cable, even though the filter keeps the forces clean.
    def _health(self, t: int) -> None:
        w = self._win
        dt = max((t - w["t_first"]) / 1e9, 1e-9)
        intervals = w["frames"] + w["intervals"]   # the first window's first frame opens it
        achieved = intervals / dt if intervals > 0 else 0.0
        try:
            driver = self.reader.health() if hasattr(self.reader, "health") else {}
        except Exception as exc:  # pragma: no cover - driver specific
            driver = {"error": str(exc)}
        chips = []
        problems = []
        chip_bad = w["chip_bad"] or [0] * len(self.names)
        driver_chips = {c.get("name"): c for c in chip_list(driver)}
        per_ch = self._spikes_per_channel()
        spikes0_ch = w.get("spikes0_ch") or [0] * len(per_ch)
        spikes_ch = [a - b for a, b in zip(per_ch, spikes0_ch)]
        for i, name in enumerate(self.names):
            d = driver_chips.get(name, {})
            bad = chip_bad[i] if i < len(chip_bad) else 0
            state = str(d.get("state", "ok"))
            ready = bool(d.get("ready", True))
            dead = self._chip_dead(i)
            spikes = spikes_ch[i] if i < len(spikes_ch) else 0
            prob = chip_problem(name, state, ready=ready, dead=dead, last_error=d.get("last_error") or "",
                                bad_reads=bad, spikes=spikes)
            if prob:
                problems.append(prob)
            chips.append({"name": name, "corner": CORNER_NAMES.get(name, name), "ready": ready and not dead,
                          "state": state if not prob or state.lower() not in OK_STATES else "fault",
                          "code": prob["code"] if prob else None,
                          "achieved_sps": d.get("achieved_sps", round(achieved, 2)),
                          "invalid_frames": d.get("invalid_frames", None),
                          "bad_reads_last_s": bad, "spikes_last_s": spikes,
                          "last_error": d.get("last_error", ""),
                          "message": prob["message"] if prob else ""})
        resyncs = max(self.resyncs, int(driver.get("resyncs", 0) or 0)) if isinstance(driver, dict) else self.resyncs
        max_high_us = max(self.max_clock_high_ns / 1000.0, float(driver.get("max_clock_high_us", 0) or 0))
        dead_chip = any(p["code"] == HealthCode.CHIP_NOT_RESPONDING for p in problems)  # explains rate loss
        if self.rate_hz and achieved < 0.9 * self.rate_hz and intervals > 0 and not dead_chip:
            problems.append(problem(HealthCode.RATE_LOW,
                                    f"achieved {achieved:.1f} of {self.rate_hz:g} samples/s — check the HX711 RATE "
                                    "pins (80 SPS needs RATE high) and that nothing else hogs the CPU"))
        if w["invalid"] and not dead_chip:
            problems.append(problem(HealthCode.INVALID_FRAMES,
                                    f"{w['invalid']} invalid frames in the last second — a read was interrupted or "
                                    "a chip misbehaved; see the per-chip state"))
        if self.max_clock_high_us and max_high_us > self.max_clock_high_us:
            problems.append(problem(HealthCode.CLOCK_HIGH,
                                    f"PD_SCK stayed high up to {max_high_us:.0f} µs (limit {self.max_clock_high_us:g} µs): "
                                    "the read loop was preempted — use the lgpio backend and real-time priority"))
        if self.read_errors and self.last_error:
            problems.append(problem(HealthCode.READ_ERRORS,
                                    f"read errors: {self.read_errors} (last: {self.last_error})"))
        messages = [p["message"] for p in problems]
        ok = not messages            # waiting to tare is a state, not a fault
        if not self.tared:
            messages.append("waiting to tare: step off the plate and keep it still for a second")
        # advice, not faults: drift/creep past their limits, an old calibration
        warnings = list(self.zero_tracker.warnings if self.zero_tracker is not None else [])
        warnings += list(self._advisories.values())
        messages += warnings
        spikes = self._spikes()
        data = {
            "t_s": round((t - self._t0_ns) / 1e9, 3), "ok": ok, "backend": self.backend,
            "rate_hz": self.rate_hz, "achieved_sps": round(achieved, 2), "frames": self.frames,
            "invalid_frames": self.invalid_frames, "invalid_frames_last_s": w["invalid"],
            "resyncs": resyncs, "max_clock_high_us": round(max_high_us, 1),
            "spike_replacements": spikes, "spike_replacements_last_s": spikes - w["spikes0"],
            "converted": self.converted, "tared": self.tared, "tare": self.tare_info,
            "calibration": self.force_model.source, "subscriber_errors": self.subscriber_errors,
            "chips": chips, "problems": problems, "messages": messages, "warnings": warnings, "driver": driver,
            "zero_tracking": self.zero_tracker.summary() if self.zero_tracker is not None else None,
        }
        self.latest_health = data
        self._faults_reported = self._fault_signature()
        self._last_health_ns = t
        self._win = self._new_window()
        self._win["t_first"] = t
        self._win["spikes0"] = spikes
        self._win["spikes0_ch"] = per_ch
        self._win["intervals"] = 0
        self._publish(Health(data))
