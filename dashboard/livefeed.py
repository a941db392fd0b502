"""How the clinic pages reach the live source (the acquisition's batches; see rig.acquire.ipc).

The app factory injects the live source object; this module only finds it. Trials are
recorded from its ``batch`` messages by dashboard.durable.record_trial; the live view,
the events and the calibration page subscribe to it too. The web process never touches GPIO.
"""
from __future__ import annotations

from flask import Flask


class NoLiveSource(RuntimeError):
    pass


def live_source(app: Flask):
    src = app.extensions.get("stepplate_live") or app.config.get("LIVE_SOURCE")
    if src is None:
        raise NoLiveSource("no live source: is the acquisition process running (rig serve / rig demo)?")
    return src
