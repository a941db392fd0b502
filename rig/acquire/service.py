"""The acquisition process: `build_acquisition` (backend + driver + Acquisition),
`AcquisitionService` (one Acquisition, the IPC server, the calibration watch) and
`serve_forever`, the process itself with its signal handling. Its one entry point is
``rig acquire`` (stepplate-acquire.service; `rig demo` spawns the same command), and it always
starts from `default_force_model`: the plate's calibration when there is a valid one.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from calibration.loader import CalibrationWatch, load_force_model
from rig.acquire.ipc import Server
from rig.acquire.loop import Acquisition
from rig.acquire.perform import perform_command
from rig.hw.gpio.select import PlateNotConnected, open_backend
from rig.hw.hx711 import HX711Array
from rig.signal.plate import nominal_force_model
from rig.sim.rig import make_sim_backend

log = logging.getLogger("rig.acquire")


def default_force_model(config):
    """The plate's calibration when there is a valid one, else the datasheet model.

    This is the ``force_model_factory`` the commands hand to the acquisition; an invalid
    calibration file is not silently ignored: its error ends up in the model's ``source``
    (shown by ``rig doctor`` and in every health report).
    """
    try:
        return load_force_model(config=config)
    except FileNotFoundError:
        return nominal_force_model(config)
    except ValueError as exc:
        model = nominal_force_model(config)
        model.source = f"nominal (calibration refused: {exc})"
        return model


def build_acquisition(config, *, backend: str | None = None, realtime: bool = True,
                      force_model_factory: Callable | None = None, sim_kwargs: dict | None = None,
                      **acq_kwargs) -> tuple[Acquisition, object, str]:
    """Open the configured GPIO backend and driver; return (acquisition, gpio backend, reason).

    ``force_model_factory(config) -> ForceModel`` is where a calibration plugs in. Zero
    tracking is on unless ``zero_tracking=False`` is passed (a dict sets its limits).
    """
    force_model_factory = force_model_factory or default_force_model

    def sim_factory(cfg=None, **kw):
        return make_sim_backend(cfg if cfg is not None else config,
                                **{"realtime": realtime, **(sim_kwargs or {}), **kw})
    gpio, reason = open_backend(backend, config, sim_factory=sim_factory)
    hx = config.hx711
    reader = HX711Array(gpio, rate_sps=hx.rate_sps, gain=hx.gain, max_clock_high_us=hx.max_clock_high_us)
    acq_kwargs.setdefault("batch_ms", getattr(getattr(config, "acquisition", None), "batch_ms", 100))
    acq_kwargs.setdefault("zero_tracking", True)
    acq = Acquisition(reader, force_model_factory(config), plate=config.plate.name,
                      geometry=config.geometry(), backend=getattr(gpio, "name", str(backend)),
                      max_clock_high_us=hx.max_clock_high_us, **acq_kwargs)
    return acq, gpio, reason


class AcquisitionService:
    """The acquisition process without its signal handling: one Acquisition, the IPC server on
    ``path`` and, with a ``config``, the calibration watch (a saved, restored or removed
    calibration is picked up within a second; ``reload_calibration`` does it at once).
    `serve_forever` runs one; tests run one in-process."""

    def __init__(self, acq: Acquisition, path, *, config=None, force_model_factory: Callable | None = None,
                 hello: dict | None = None, sim_rig=None):
        self.acq = acq
        self.sim_rig = sim_rig               # the simulated rig, whose virtual person takes "perform"
        self.watch = None
        if config is not None and force_model_factory is not None:
            self.watch = CalibrationWatch(acq, config, force_model_factory)
        self.server = Server(path, hello={**acq.hello(), **(hello or {})}, on_command=self.command)
        self._unsubscribe = None

    def start(self) -> "AcquisitionService":
        self.server.start()
        self._unsubscribe = self.acq.subscribe(lambda ev: self.server.publish(ev.to_message()))
        self.acq.start()
        return self

    def poll(self) -> None:
        """Housekeeping from the main thread, about once a second."""
        if self.watch is not None and self.watch.poll():
            self._hello_calibration()

    def _hello_calibration(self) -> None:
        self.server.hello = {**self.server.hello, "calibration": self.acq.calibration_source}

    def command(self, cmd: dict) -> dict:
        """A client's command (called from its IPC reader thread)."""
        name = cmd.get("command")
        if name == "tare":
            self.acq.request_tare()
            return {"ok": True, "command": "tare"}
        if name == "ping":
            return {"ok": True, "command": "ping"}
        if name == "reload_calibration":
            if self.watch is None:
                return {"ok": False, "command": name, "error": "this acquisition has no calibration file"}
            source = self.watch.reload()
            self._hello_calibration()
            return {"ok": True, "command": name, "calibration": source}
        if name == "perform":
            return perform_command(self.sim_rig, cmd)
        return {"ok": False, "error": f"unknown command {name!r}"}

    def close(self) -> None:
        self.acq.stop()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.server.close()


#: How often the acquisition without a plate tries to open the GPIO backend again.
NO_PLATE_RETRY_S = 10.0


def no_plate_health(message: str, config) -> dict:
    """The health report served while the plate cannot be read (PlateNotConnected)."""
    from rig.acquire.health import HealthCode, problem
    return {"type": "health", "ok": False, "backend": "none", "rate_hz": config.hx711.rate_sps, "achieved_sps": 0.0,
            "chips": [], "messages": [message], "problems": [problem(HealthCode.PLATE_NOT_CONNECTED, message)]}


class NoPlateServer:
    """The socket while the plate cannot be read (PlateNotConnected): a hello without a backend,
    a health report every second with the message, every command answered with it. One server
    across the retries, so the dashboard stays connected and its status bar says "plate not
    connected: …" steadily instead of "acquisition not reachable" or "reconnecting"."""

    def __init__(self, config, path, message: str):
        self.config = config
        self.message = message
        hello = {"backend": "none", "backend_reason": message, "plate": config.plate.name,
                 "rate_hz": config.hx711.rate_sps, "plate_error": message}
        self.server = Server(path, hello=hello, on_command=lambda _cmd: {"ok": False, "error": self.message})

    def start(self) -> "NoPlateServer":
        self.server.start()
        return self

    def wait(self, stop: threading.Event, t_end: float | None, seconds: float) -> bool:
        """Serve for ``seconds``: True when it is time to try the plate again, False when stopped
        (signal) or out of time (``t_end``)."""
        until = time.monotonic() + seconds
        while not stop.is_set():
            now = time.monotonic()
            if t_end is not None and now >= t_end:
                return False
            if now >= until:
                return True
            self.server.publish(no_plate_health(self.message, self.config))
            stop.wait(1.0)
        return False

    def close(self) -> None:
        self.server.close()


def serve_forever(config, *, socket=None, backend: str | None = None, realtime: bool = True,
                  max_seconds: float | None = None, ready: Callable[[str], None] | None = None,
                  force_model_factory: Callable | None = None, no_plate_retry_s: float = NO_PLATE_RETRY_S) -> int:
    """The acquisition process: an AcquisitionService until SIGTERM/SIGINT.

    On a Raspberry Pi whose pins no GPIO library can open (PlateNotConnected) it serves that
    message instead of samples (NoPlateServer) and tries again every ``no_plate_retry_s``.
    Returns 0 on SIGTERM/SIGINT, 1 when ``max_seconds`` ran out before a plate was ever read."""
    force_model_factory = force_model_factory or default_force_model
    path = socket if socket is not None else config.socket_path
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    acq = None

    def _signal(signum, _frame):
        stop.set()
        if acq is not None:
            acq.stop(timeout=0)

    old = {s: signal.signal(s, _signal) for s in (signal.SIGTERM, signal.SIGINT)}
    t_end = None if max_seconds is None else time.monotonic() + max_seconds
    try:
        no_plate = None
        try:
            while True:
                try:
                    acq, gpio, reason = build_acquisition(config, backend=backend, realtime=realtime,
                                                          force_model_factory=force_model_factory)
                    break
                except PlateNotConnected as exc:
                    if no_plate is None or str(exc) != no_plate.message:
                        log.error("%s", exc)
                    if no_plate is None:
                        no_plate = NoPlateServer(config, path, str(exc)).start()
                        if ready is not None:
                            ready(str(path))
                    no_plate.message = str(exc)
                    if not no_plate.wait(stop, t_end, no_plate_retry_s):
                        return 0 if stop.is_set() else 1      # stopped by the service manager: a clean stop
        finally:
            if no_plate is not None:
                no_plate.close()                              # the real service binds the socket next
        log.info("GPIO backend %s (%s)", getattr(gpio, "name", "?"), reason)
        service = AcquisitionService(acq, path, config=config, force_model_factory=force_model_factory,
                                     hello={"backend_reason": reason}, sim_rig=getattr(gpio, "sim_rig", None))
        try:
            service.start()
            if ready is not None:
                ready(str(path))
            next_poll = time.monotonic() + 1.0
            while not stop.is_set() and acq.running:
                if t_end is not None and time.monotonic() >= t_end:
                    break
                if time.monotonic() >= next_poll:
                    service.poll()
                    next_poll = time.monotonic() + 1.0
                stop.wait(0.2)
        finally:
            service.close()
            try:
                gpio.close()
            except Exception:  # pragma: no cover
                pass
    finally:
        for s, h in old.items():
            signal.signal(s, h)
    return 0
