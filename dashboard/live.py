"""Live page: the COP trail over the plate outline, Fz and the rig's health.

Routes: ``/`` (the page), ``/api/status`` (JSON), ``/api/live/stream`` (Server-Sent Events:
an unnamed ``message`` event about every 100 ms with the samples since the last one, a
``health`` event once a second, a comment line as keep-alive; the browser's EventSource
reconnects by itself, ``retry: 2000``), ``POST /api/live/tare``.

Each SSE client subscribes to the live source with its own bounded drop-oldest queue, so a
slow tablet never slows the others or the acquisition; it unsubscribes when it goes away.
"""
from __future__ import annotations

import json
import time

from flask import Blueprint, Response, current_app, jsonify, render_template

from rig.ipc import DropOldestQueue

bp = Blueprint("live", __name__)


def live_source():
    return current_app.extensions["stepplate_live"]


def _sse(data: dict, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'), allow_nan=False)}\n\n"


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
    queue = DropOldestQueue(256)
    unsubscribe = live.subscribe(queue.put)
    first_status = live.status()

    def events():
        try:
            yield "retry: 2000\n\n"
            yield _sse(first_status, "status")
            t_start = last_sent = last_any = time.monotonic()
            cols = {"t_s": [], "fz_n": [], "cop_ml_mm": [], "cop_ap_mm": [], "flags": []}
            dropped = 0
            while max_s is None or time.monotonic() - t_start < max_s:
                msg = queue.get(timeout=interval / 2)
                if msg is not None:
                    kind = msg.get("type")
                    if kind == "batch":
                        for r in msg["samples"]:
                            cols["t_s"].append(r[0])
                            cols["fz_n"].append(r[5])
                            cols["cop_ml_mm"].append(r[6])
                            cols["cop_ap_mm"].append(r[7])
                            cols["flags"].append(r[8])
                    elif kind == "health":
                        yield _sse(msg, "health")
                        last_any = time.monotonic()
                    elif kind in ("hello", "disconnected"):
                        yield _sse(live.status(), "status")
                        last_any = time.monotonic()
                now = time.monotonic()
                if cols["t_s"] and now - last_sent >= interval:
                    if queue.dropped != dropped:
                        dropped = queue.dropped
                    yield _sse(dict(cols, dropped=dropped))
                    cols = {k: [] for k in cols}
                    last_sent = last_any = now
                elif now - last_any >= keepalive:
                    yield ": keep-alive\n\n"
                    last_any = now
        finally:
            unsubscribe()

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
