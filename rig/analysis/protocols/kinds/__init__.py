"""One module per protocol kind, each holding what that kind is: how long a trial is recorded,
which events it needs, how it is scored and its headline measures. To add a kind: a module
here with a ``KIND``, listed in ``KINDS``; its events in rig.analysis.events if it needs new ones;
what the virtual person does for it in rig.sim.protocols."""
from __future__ import annotations

from rig.analysis.protocols.kinds import (lateral_step_down, quiet_stance, single_leg_squat, single_leg_stance,
                                          step_down_landing)
from rig.analysis.protocols import timing
from rig.analysis.protocols.kinds.base import Kind, Measure

KINDS: dict[str, Kind] = {m.KIND.name: m.KIND for m in (single_leg_stance, quiet_stance, lateral_step_down,
                                                          step_down_landing, single_leg_squat)}



def record_s(protocol) -> float:
    """Seconds recorded from Start for one trial of ``protocol``: its kind's need, never shorter
    than ``duration_s`` nor longer than the record API allows."""
    kind = KINDS.get(protocol.kind)
    need = kind.record_s(protocol) if kind is not None else float(protocol.duration_s)
    return round(min(timing.MAX_RECORD_S, max(float(protocol.duration_s), need)), 3)


def headline(kind: str) -> tuple[str, ...]:
    """The keys of a kind's headline measures (empty for an unknown kind)."""
    k = KINDS.get(kind)
    return tuple(m.key for m in k.headline) if k is not None else ()


__all__ = ["KINDS", "Kind", "Measure", "record_s", "headline"]
