"""Keep the acquisition process running: restart it when it dies (crash, ``kill -9``, OOM).

On a Pi, systemd is the supervisor (``stepplate-acquire.service``: ``Restart=on-failure``,
which includes death by a signal). ``rig demo`` has no systemd, so it runs the acquisition
through a ``Supervisor``: the same restart policy in a thread of the demo process.

Policy (the systemd one): restart after ``restart_s`` (doubling up to ``max_backoff_s`` while
the child keeps dying within ``stable_s`` of its start), give up after ``burst`` starts within
``interval_s`` (a broken config would otherwise restart forever; ``poll()`` then returns the
last exit code, like ``StartLimitBurst``). A clean exit (code 0) is not restarted.

The object answers like the ``subprocess.Popen`` it replaces: ``poll``, ``wait``,
``terminate``, ``kill``, ``returncode``, ``pid`` (of the current child).
"""
from __future__ import annotations

import logging
import subprocess
import threading
import time
from collections import deque

log = logging.getLogger(__name__)


class Supervisor:
    def __init__(self, cmd: list[str], *, restart_s: float = 0.5, max_backoff_s: float = 10.0,
                 stable_s: float = 30.0, burst: int = 10, interval_s: float = 120.0, **popen_kw):
        self.cmd = list(cmd)
        self.restart_s, self.max_backoff_s, self.stable_s = restart_s, max_backoff_s, stable_s
        self.burst, self.interval_s = burst, interval_s
        self.popen_kw = {"stdin": subprocess.DEVNULL, **popen_kw}
        self.child: subprocess.Popen | None = None
        self.restarts = 0
        self.exits: list[int] = []          # exit codes seen (negative: killed by that signal)
        self.returncode: int | None = None  # set when supervision ended (stopped or gave up)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        c = self.child
        return None if c is None else c.pid

    def start(self) -> "Supervisor":
        self._thread = threading.Thread(target=self._run, name="acquire-supervisor", daemon=True)
        self._thread.start()
        self._started.wait(10)
        return self

    def _spawn(self) -> None:
        with self._lock:
            if not self._stop.is_set():
                self.child = subprocess.Popen(self.cmd, **self.popen_kw)
        self._started.set()

    def _run(self) -> None:
        starts: deque[float] = deque()
        backoff = self.restart_s
        while not self._stop.is_set():
            t0 = time.monotonic()
            starts.append(t0)
            self._spawn()
            child = self.child
            if child is None:
                break
            code = child.wait()
            if self._stop.is_set():
                break
            self.exits.append(code)
            if code == 0:
                log.info("acquisition process exited cleanly; not restarting")
                self.returncode = 0
                return
            while starts and starts[0] < time.monotonic() - self.interval_s:
                starts.popleft()
            if len(starts) >= self.burst:
                log.error("acquisition process failed %d times in %g s; giving up (last code %s)",
                          len(starts), self.interval_s, code)
                self.returncode = code
                return
            if time.monotonic() - t0 >= self.stable_s or not self.restarts:
                backoff = self.restart_s                 # ran a while (or first crash): quick restart
            else:
                backoff = min(backoff * 2, self.max_backoff_s)
            log.warning("acquisition process died (code %s); restarting in %.1f s", code, backoff)
            if self._stop.wait(backoff):
                break
            self.restarts += 1
        self._started.set()

    # --- the Popen subset rig demo uses ---------------------------------------------------
    def poll(self) -> int | None:
        return self.returncode

    def terminate(self) -> None:
        self._stop.set()
        with self._lock:
            c = self.child
        if c is not None and c.poll() is None:
            c.terminate()

    def kill(self) -> None:
        self._stop.set()
        c = self.child
        if c is not None and c.poll() is None:
            c.kill()

    def wait(self, timeout: float | None = None) -> int | None:
        c = self.child
        if c is not None:
            code = c.wait(timeout)          # raises subprocess.TimeoutExpired like Popen.wait
            if self._stop.is_set() and self.returncode is None:
                self.returncode = code
        if self._thread is not None:
            self._thread.join(timeout)
        return self.returncode
