"""On the simulated plate, the virtual person does the test the clinician starts.

When the live source is the simulator (its ``hello`` says ``backend: sim``), recording a trial
first sends the acquisition a ``perform`` command (rig.acquire.perform): this session's
protocol, the side, the run page's metronome cues, and a person that is stable for each
patient: the patient's body mass, a seed from the patient and the trial, and a hip drop on
the involved side (else the non-dominant one: the side a hip-strengthening block works on) that eases week by week
since the patient's first session. Faults happen at ``SIM_FAULT_RATE`` (default 0.1), so a
demo also shows "not scored" and the redo prompt. On a real plate nothing is sent.
"""
from __future__ import annotations

import logging

from flask import current_app

from dashboard import livefeed, protocols

log = logging.getLogger("dashboard")

HIP_DROP_START = 0.6        #: the weak side's hip drop at the first session (0-1)
HIP_DROP_PER_WEEK = 0.1     #: how much it eases per week of the programme
HIP_DROP_FLOOR = 0.1        #: what is left after the block
OTHER_SIDE_HIP_DROP = 0.05


def hip_drop(patient, session, side: str | None) -> float:
    """The simulated hip drop of ``patient`` on ``side`` at ``session``."""
    weak = patient.involved_side if patient.involved_side in ("left", "right") else (
        "left" if patient.dominant_leg == "right" else "right")
    if side != weak:
        return OTHER_SIDE_HIP_DROP
    starts = [s.started_at for s in patient.sessions if s.started_at is not None]
    first = min(starts) if starts else session.started_at
    weeks = max(0.0, (session.started_at - first).total_seconds() / (7 * 86400)) if first else 0.0
    return round(max(HIP_DROP_FLOOR, HIP_DROP_START - HIP_DROP_PER_WEEK * weeks), 3)


def direct(session, side: str | None, cues=None, condition: str | None = None) -> dict | None:
    """Ask the simulated person to perform this session's test now; None on a real plate.
    Returns the command's answer (``ok`` and, on the simulator, what will be performed)."""
    src = livefeed.live_source(current_app)
    hello = getattr(src, "hello", None) or {}
    if hello.get("backend") != "sim":
        return None
    info = protocols.get(session.protocol)
    proto = getattr(info, "_proto", None) if info is not None else None
    if proto is None:
        return None
    patient = session.patient
    seed = patient.id * 1009 + session.id * 31 + len(session.trials)
    reply = src.command("perform", protocol=proto.to_dict(),
                        side=side if side in ("left", "right") else None, condition=condition,
                        mass_kg=patient.body_mass_kg, seed=seed, hip_drop=hip_drop(patient, session, side),
                        fault_rate=float(current_app.config.get("SIM_FAULT_RATE", 0.1)), cues_s=cues)
    if not reply.get("ok"):
        log.warning("the simulated person was not told what to do: %s", reply.get("error"))
    return reply
