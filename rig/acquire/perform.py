"""The ``perform`` command: on the simulator, the virtual person does the test the clinician
started (rig.sim.protocols), so a demo gives real, scored results. On a real plate the
command is refused: nobody can be told what to do there."""
from __future__ import annotations

import logging

from rig.analysis.protocols import ProtocolError, from_dict
from rig.sim.protocols import perform, person_for

log = logging.getLogger("rig.acquire")


def perform_command(sim_rig, cmd: dict) -> dict:
    """``perform``: the simulator's virtual person does one trial of a protocol from now on
    (``protocol``: the protocol as JSON; ``side``, ``condition``, ``mass_kg``, ``seed``,
    ``hip_drop``, ``fault``, ``fault_rate``; ``cues_s``: the run page's metronome cues in
    stream time). The answer's ``start_t_s`` is the trial's Start on the stream's clock: a
    recording begins there. Refused on a real plate: nobody can be told what to do there."""
    person = getattr(sim_rig, "person", None)
    if not hasattr(person, "perform"):
        return {"ok": False, "command": "perform",
                "error": "not the simulator: the person on this plate is real"}
    asked = sim_rig.clock.now_ns() / 1e9      # the metronome's cues are relative to this moment
    try:
        proto = from_dict(cmd["protocol"], "perform command")
        seed = int(cmd.get("seed", 0))
        cues = cmd.get("cues_s")
        perf = perform(proto, cmd.get("side"), cmd.get("condition"), hip_drop=float(cmd.get("hip_drop", 0.0)),
                       seed=seed, fault=cmd.get("fault"), fault_rate=float(cmd.get("fault_rate", 0.0)),
                       cues_s=[float(c) - asked for c in cues] if cues else None)
        vp = person_for(perf, mass_kg=float(cmd.get("mass_kg") or person.mass_kg), seed=seed)
    except (KeyError, TypeError, ValueError, ProtocolError) as exc:
        return {"ok": False, "command": "perform", "error": f"perform: {exc}"}
    # Start is now, after the person was built (which takes a while beside a busy read loop),
    # unless the run page's metronome sets the timing: then the cues' own clock
    now = asked if cues else sim_rig.clock.now_ns() / 1e9
    person.perform(perf, vp, now)
    log.info("simulated person performs %s (%s%s) from t=%.2f s", proto.id, cmd.get("side"),
             f", fault {perf.fault}" if perf.fault else "", now)
    return {"ok": True, "command": "perform", "protocol": proto.id, "fault": perf.fault,
            "record_s": perf.record_s, "start_t_s": now}
