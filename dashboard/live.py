"""Live page: the COP trail over the plate outline, Fz and the rig's health.

Routes: ``/`` (the page), ``/api/status`` (JSON), ``/api/live/stream`` (Server-Sent Events,
docs/live-stream.md: an unnamed ``message`` with the samples since the last one, at most every
``LIVE_SSE_INTERVAL_S`` and as soon as a batch arrives after that; ``event: health`` once a
second; a comment line as keep-alive; ``retry: 2000``), ``POST /api/live/tare``.

``/api/live/stream?protocol=<id>`` (the run page) also gets the events of the protocol's
causal event detector (``rig.analysis.events.EventDetector``, mode = the protocol's kind) run on the
batches in this process (never in the acquisition): one detector per protocol run, shared by
every stream that watches that run (:class:`EventHub`), created fresh when the first of them
opens and dropped when the last closes. Confirmed events (foot lift, touch-down, landing
contact …) are added to the next message as ``events``.

Each SSE client subscribes to the live source with its own bounded drop-oldest queue, so a
slow tablet never slows the others or the acquisition; it unsubscribes when it goes away.
Each open stream holds one waitress thread: at most ``LIVE_SSE_MAX_VIEWERS`` streams are
served (503 beyond), so page requests always find a free thread (``waitress_threads``).
"""
from __future__ import annotations

import json
import math
import threading
import time

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request

from rig.acquire.ipc import DropOldestQueue

bp = Blueprint("live", __name__)

#: SSE viewers served at once by default (LIVE_SSE_MAX_VIEWERS; each holds a waitress thread).
MAX_VIEWERS = 32
#: Threads left for pages and the JSON API when every live viewer is connected.
PAGE_THREADS = 16


def waitress_threads(app) -> int:
    """Waitress threads for `rig serve` / `rig demo`: every live viewer plus PAGE_THREADS."""
    return int(app.config["LIVE_SSE_MAX_VIEWERS"]) + PAGE_THREADS


def live_source():
    return current_app.extensions["stepplate_live"]


def _sse(data: dict, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


def _event_json(e) -> dict:
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {str(k): clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return clean({"name": e.name, "t_s": e.t_s, "detected_t_s": e.detected_t_s,
                  "confidence": e.confidence, "details": dict(e.details)})


class EventHub:
    """Causal event detection per protocol run in the web process, shared by its viewers.

    ``watch(live, kind, body_weight_n, callback)`` → unwatch: the first watcher of a run
    subscribes one EventDetector to the live source; every watcher's ``callback`` gets
    ``{"type": "events", "events": [...]}`` when the detector confirms events.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.runs: dict = {}

    def watch(self, live, kind: str, body_weight_n: float | None, callback):
        from rig.analysis.events import EventDetector
        key = (kind, body_weight_n)
        with self.lock:
            run = self.runs.get(key)
            if run is None:
                rate = (getattr(live, "hello", None) or {}).get("rate_hz")
                run = {"detector": EventDetector(kind, body_weight_n=body_weight_n, rate_hz=rate), "watchers": [],
                       "lock": threading.Lock()}
                run["unsubscribe"] = live.subscribe(lambda msg, run=run: self._on(run, msg))
                self.runs[key] = run
            run["watchers"].append(callback)

        def unwatch() -> None:
            with self.lock:
                if callback in run["watchers"]:
                    run["watchers"].remove(callback)
                if not run["watchers"] and self.runs.get(key) is run:
                    del self.runs[key]
                    run["unsubscribe"]()
        return unwatch

    @staticmethod
    def _on(run, msg: dict) -> None:
        if msg.get("type") != "batch" or not msg.get("samples"):
            return
        rows = msg["samples"]
        nan = float("nan")
        col = lambda i: [nan if r[i] is None else r[i] for r in rows]  # noqa: E731
        with run["lock"]:
            found = run["detector"].feed(col(0), col(5), col(6), col(7), col(8))
        if found:
            out = {"type": "events", "events": [_event_json(e) for e in found]}
            for cb in list(run["watchers"]):
                cb(out)


def _run_kind() -> tuple[str, float | None] | None:
    """(protocol kind, body weight N) for ``?protocol=<id>[&body_weight_n=]``, else None."""
    pid = request.args.get("protocol")
    if not pid:
        return None
    from rig.analysis.protocols import ProtocolError, get
    try:
        proto = get(pid)
    except (KeyError, ProtocolError, ValueError):
        abort(404)
    try:
        bw = float(request.args["body_weight_n"]) if request.args.get("body_weight_n") else None
    except ValueError:
        abort(400)
    return proto.kind, bw


class _Viewers:
    """How many SSE streams are open (per app)."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def enter(self, limit: int) -> bool:
        with self.lock:
            if self.n >= limit:
                return False
            self.n += 1
            return True

    def leave(self) -> None:
        with self.lock:
            self.n -= 1


@bp.get("/")
def index():
    return render_template("live/index.html")


@bp.get("/api/status")
def status():
    return jsonify(live_source().status())


@bp.post("/api/live/tare")
def tare():
    reply = live_source().command("tare")
    return jsonify(reply), (200 if reply.get("ok") else 503)


@bp.get("/api/live/stream")
def stream():
    live = live_source()
    cfg = current_app.config
    interval = float(cfg["LIVE_SSE_INTERVAL_S"])
    keepalive = float(cfg["LIVE_SSE_KEEPALIVE_S"])
    max_s = cfg["LIVE_SSE_MAX_SECONDS"]
    run = _run_kind()
    viewers = current_app.extensions.setdefault("stepplate_live_viewers", _Viewers())
    if not viewers.enter(int(cfg["LIVE_SSE_MAX_VIEWERS"])):
        return jsonify({"error": "too many live viewers; close a live page on another tablet"}), 503
    queue = DropOldestQueue(256)
    done = threading.Event()
    unsubs: list = []

    def cleanup() -> None:          # once, whether or not the generator ever ran
        if not done.is_set():
            done.set()
            for u in unsubs:
                u()
            viewers.leave()
    try:
        unsubs.append(live.subscribe(queue.put))
        if run is not None:
            hub = current_app.extensions.setdefault("stepplate_event_hub", EventHub())
            unsubs.append(hub.watch(live, run[0], run[1], queue.put))
        first_status = live.status()
    except BaseException:
        cleanup()
        raise

    def events():
        try:
            yield "retry: 2000\n\n"
            yield _sse(first_status, "status")
            t_start = last_any = time.monotonic()
            last_sent = t_start - interval
            cols = {"t_s": [], "fz_n": [], "cop_ml_mm": [], "cop_ap_mm": [], "flags": []}
            found: list[dict] = []
            while max_s is None or time.monotonic() - t_start < max_s:
                now = time.monotonic()
                if cols["t_s"] or found:     # something to send: wait no longer than the rate limit
                    wait = max(0.0, last_sent + interval - now)
                else:
                    wait = min(keepalive - (now - last_any), 0.5)
                msg = queue.get(timeout=max(wait, 0.0))
                if msg is not None:
                    kind = msg.get("type")
                    if kind == "batch":
                        if not cols["t_s"]:
                            first_in = time.monotonic()      # the oldest sample waiting to be sent
                        rows = msg["samples"]
                        for r in rows:
                            cols["t_s"].append(r[0])
                            cols["fz_n"].append(r[5])
                            cols["cop_ml_mm"].append(r[6])
                            cols["cop_ap_mm"].append(r[7])
                            cols["flags"].append(r[8])
                    elif kind == "events":
                        found.extend(msg["events"])
                    elif kind == "health":
                        yield _sse(msg, "health")
                        last_any = time.monotonic()
                    elif kind in ("hello", "disconnected"):
                        yield _sse(live.status(), "status")
                        last_any = time.monotonic()
                    if len(queue):          # drain what is already queued before deciding to send
                        continue
                now = time.monotonic()
                if (cols["t_s"] or found) and now - last_sent >= interval:
                    out = dict(cols, dropped=queue.dropped)
                    if cols["t_s"]:                           # how long its oldest sample waited here
                        out["server_wait_ms"] = round(1000 * (now - first_in), 1)
                    if found:
                        out["events"] = found
                        found = []
                    yield _sse(out)
                    cols = {k: [] for k in cols}
                    last_sent = last_any = now
                elif now - last_any >= keepalive:
                    yield ": keep-alive\n\n"
                    last_any = now
        finally:
            cleanup()

    resp = Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    resp.call_on_close(cleanup)
    return resp
