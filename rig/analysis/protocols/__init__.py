"""Clinical test protocols: what a trial is, declared in TOML, not hard-coded as flows.

A protocol says what the patient is told, how long a trial lasts, how many practice and
scored trials there are, which sides and in what order, the countdown, and which detected
events end a trial early. The defaults (``rig/analysis/protocols/defaults/*.toml``) follow the
literature; a clinic adds or overrides protocols in its own TOML file (``[[protocol]]``
tables, optionally ``extends = "<id>"`` to start from another protocol). Option-by-option
documentation: docs/protocols.md.

A wrong key, type or value is a :class:`ProtocolError` that names the file and the key.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

from rig import strict_toml
from rig.analysis.protocols import kinds, timing

KINDS = ("single_leg_stance", "quiet_stance", "lateral_step_down", "step_down_landing", "single_leg_squat")
SIDES = ("left", "right", "both")
#: Events (rig.analysis.events names) a protocol may list in ``end_early_on``.
ENDING_EVENTS = ("touch_down", "hop", "step_off", "foot_lift", "landing_contact")

#: Per-kind parameters: name -> (type, default, check, meaning). Unknown params are errors.
PARAMS: dict[str, dict[str, tuple]] = {
    "single_leg_stance": {
        "settle_s": (float, 2.0, lambda v: 0.5 <= v <= 30, "quiet double stance before the lift (s)"),
        "lift_within_s": (float, 5.0, lambda v: 0 < v <= 60, "the foot must lift within this time (s)"),
        "scored_window_start_s": (float, 1.0, lambda v: 0 <= v <= 10, "skip this much after the lift (s)"),
    },
    "quiet_stance": {
        "settle_s": (float, 2.0, lambda v: 0.5 <= v <= 30, "settling before the scored window (s)"),
    },
    "lateral_step_down": {
        "repetitions": (int, 5, lambda v: 1 <= v <= 50, "repetitions per trial"),
        "cadence_bpm": (float, 60.0, lambda v: 10 <= v <= 240, "metronome: one beat down, one up"),
        "settle_s": (float, 2.0, lambda v: 0.5 <= v <= 30, "quiet single-leg stance before the first repetition (s)"),
    },
    "single_leg_squat": {
        "repetitions": (int, 5, lambda v: 1 <= v <= 50, "repetitions per trial"),
        "cadence_bpm": (float, 40.0, lambda v: 10 <= v <= 240, "metronome: one beat down, one up"),
        "settle_s": (float, 2.0, lambda v: 0.5 <= v <= 30, "quiet single-leg stance before the first repetition (s)"),
    },
    "step_down_landing": {
        "box_height_cm": (float, 30.0, lambda v: 5 <= v <= 100, "box height (cm), recorded with every landing"),
        "hold_s": (float, 20.0, lambda v: 2 <= v <= 60, "hold still after contact (s)"),
        "max_landings": (int, 5, lambda v: 1 <= v <= 20, "landings allowed per side"),
        "tts_window_s": (float, 10.0, lambda v: 1 <= v <= 60, "fixed time-to-stabilisation window (s)"),
        "sway_window_s": (list, [5.0, 20.0], lambda v: len(v) == 2 and 0 <= v[0] < v[1], "post-landing sway window (s after contact)"),
    },
}


class ProtocolError(ValueError):
    """A protocol definition is wrong; the message names the file and key."""


@dataclass(frozen=True)
class Condition:
    id: str
    vision: str = "open"      #: open | closed
    surface: str = "firm"     #: firm | foam

    @property
    def label(self) -> str:
        """How a clinic names it: "eyes closed", "eyes open, on foam"."""
        return f"eyes {self.vision}" + (", on foam" if self.surface == "foam" else "")


@dataclass(frozen=True)
class Protocol:
    id: str
    name: str
    kind: str
    instructions: str
    duration_s: float
    practice_trials: int = 0
    scored_trials: int = 1
    sides: tuple[str, ...] = ("left", "right")
    alternate_sides: bool = True
    countdown_s: float = 3.0
    end_early_on: tuple[str, ...] = ()
    conditions: tuple[Condition, ...] = (Condition("default"),)
    params: dict = field(default_factory=dict)
    source: str = field(default="<dict>", compare=False)

    def schedule(self) -> list[dict]:
        """The ordered trials for one session: per condition, practice first, then scored.

        With ``alternate_sides`` the sides take turns trial by trial (L, R, L, R, ...); else
        each side does all its trials before the next side (L, L, L, R, R, R).
        """
        out = []
        for cond in self.conditions:
            blocks = [("practice", self.practice_trials), ("scored", self.scored_trials)]
            for phase, n in blocks:
                if self.alternate_sides:
                    order = [(i, s) for i in range(n) for s in self.sides]
                else:
                    order = [(i, s) for s in self.sides for i in range(n)]
                for i, side in order:
                    out.append({"condition": cond.id, "side": side, "practice": phase == "practice",
                                "trial": i + 1})
        return out

    @property
    def record_s(self) -> float:
        """Seconds recorded from Start for one trial (its kind's, rig.analysis.protocols.kinds)."""
        return kinds.record_s(self)

    def metronome(self) -> dict | None:
        """A lateral step-down's metronome plan (timing.metronome_plan); None for other kinds."""
        return timing.metronome_plan(self)

    def instructions_for(self, side: str, condition: str | None = None) -> str:
        """The instructions with {side}, {other}, {duration_s}, params and condition filled in."""
        other = {"left": "right", "right": "left"}.get(side, "")
        cond = next((c for c in self.conditions if c.id == condition), self.conditions[0])
        values = {"side": side, "other": other, "duration_s": f"{self.duration_s:g}",
                  "vision": cond.vision, "surface": cond.surface}
        values.update({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in self.params.items()})
        try:
            return self.instructions.format(**values)
        except (KeyError, IndexError, ValueError):
            return self.instructions

    def to_dict(self) -> dict:
        """The protocol as JSON-shaped data (lists, not tuples): ``from_dict`` takes it back."""
        d = asdict(self)
        d.pop("source")
        for k in ("sides", "end_early_on", "conditions"):
            d[k] = list(d[k])
        return d

    @property
    def has_named_conditions(self) -> bool:
        """Whether the protocol names its conditions (eyes open/closed, foam), rather than the
        one implicit ``default``: then each trial records which one it was."""
        return len(self.conditions) > 1 or (len(self.conditions) == 1 and self.conditions[0].id != "default")


def _err(src: str, key: str, msg: str) -> ProtocolError:
    return ProtocolError(f"{src}: {key}: {msg}")


def _typed(src, key, value, typ):
    value = strict_toml.typed(value, typ, f"{src}: {key}", ProtocolError, nonempty=True)
    if typ is list:        # numbers in a list are floats, as single numbers are
        return [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


_FIELDS = {"id": str, "name": str, "kind": str, "instructions": str, "duration_s": float,
           "practice_trials": int, "scored_trials": int, "alternate_sides": bool,
           "countdown_s": float}


def from_dict(data: dict, source: str = "<dict>") -> Protocol:
    """Validate one protocol table and build it."""
    if not isinstance(data, dict):
        raise ProtocolError(f"{source}: protocol must be a table")
    pid = data.get("id", "?")
    src = f"{source} [{pid}]"
    known = set(_FIELDS) | {"sides", "end_early_on", "conditions", "params", "extends"}
    for key in data:
        if key not in known:
            raise _err(src, key, f"unknown key (known: {', '.join(sorted(known))})")
    for key in ("id", "name", "kind", "instructions", "duration_s"):
        if key not in data:
            raise _err(src, key, "missing")
    kw = {k: _typed(src, k, data[k], t) for k, t in _FIELDS.items() if k in data}
    if kw["kind"] not in KINDS:
        raise _err(src, "kind", f"must be one of {', '.join(KINDS)} (got {kw['kind']!r})")
    if not 1 <= kw["duration_s"] <= 600:
        raise _err(src, "duration_s", "must be in [1, 600] s")
    for k in ("practice_trials", "scored_trials"):
        if k in kw and not 0 <= kw[k] <= 20:
            raise _err(src, k, "must be in [0, 20]")
    if kw.get("scored_trials", 1) < 1:
        raise _err(src, "scored_trials", "at least one scored trial")
    if not 0 <= kw.get("countdown_s", 3.0) <= 30:
        raise _err(src, "countdown_s", "must be in [0, 30] s")
    sides = tuple(_typed(src, "sides", data.get("sides", ["left", "right"]), list))
    if not sides or any(s not in SIDES for s in sides) or len(set(sides)) != len(sides):
        raise _err(src, "sides", f"must be distinct values from {SIDES} (got {list(sides)})")
    ends = tuple(_typed(src, "end_early_on", data.get("end_early_on", []), list))
    for e in ends:
        if e not in ENDING_EVENTS:
            raise _err(src, "end_early_on", f"{e!r} is not one of {', '.join(ENDING_EVENTS)}")
    conds = []
    for i, c in enumerate(data.get("conditions", [{"id": "default"}])):
        if not isinstance(c, dict) or not isinstance(c.get("id"), str):
            raise _err(src, f"conditions[{i}]", "must be a table with an id")
        extra = set(c) - {"id", "vision", "surface"}
        if extra:
            raise _err(src, f"conditions[{i}].{sorted(extra)[0]}", "unknown key (known: id, surface, vision)")
        cond = Condition(**c)
        if cond.vision not in ("open", "closed"):
            raise _err(src, f"conditions[{i}].vision", "must be open or closed")
        if cond.surface not in ("firm", "foam"):
            raise _err(src, f"conditions[{i}].surface", "must be firm or foam")
        conds.append(cond)
    if len({c.id for c in conds}) != len(conds):
        raise _err(src, "conditions", "condition ids must be distinct")
    spec = PARAMS[kw["kind"]]
    raw = data.get("params", {})
    if not isinstance(raw, dict):
        raise _err(src, "params", "must be a table")
    params = {}
    for k, v in raw.items():
        if k not in spec:
            raise _err(src, f"params.{k}", f"unknown for kind {kw['kind']} (known: {', '.join(sorted(spec))})")
    for k, (typ, default, check, _meaning) in spec.items():
        v = _typed(src, f"params.{k}", raw[k], typ) if k in raw else default
        if not check(v):
            raise _err(src, f"params.{k}", f"value {v!r} out of range")
        params[k] = v
    return Protocol(**kw, sides=sides, end_early_on=ends, conditions=tuple(conds), params=params,
                    source=source)


def _tables(doc: dict, source: str) -> list[dict]:
    return strict_toml.tables(doc, "protocol", source, ProtocolError)


def _read(path: Path) -> list[dict]:
    return _tables(strict_toml.read(path, ProtocolError, "protocol file"), str(path))


def default_protocols() -> dict[str, Protocol]:
    """The protocols shipped with the package."""
    out = {}
    for entry in sorted(resources.files("rig.analysis.protocols").joinpath("defaults").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            for table in _tables(strict_toml.loads(entry.read_text(encoding="utf-8"), ProtocolError, entry.name),
                                 f"defaults/{entry.name}"):
                p = from_dict(table, f"defaults/{entry.name}")
                out[p.id] = p
    return out


def load_protocols(*paths: str | os.PathLike) -> dict[str, Protocol]:
    """Defaults, then each clinic file in turn (later ids replace earlier ones).

    With no paths, ``$RIG_PROTOCOLS`` (``os.pathsep``-separated) is used if set.
    A table with ``extends = "<id>"`` starts from that protocol's definition.
    """
    protos = default_protocols()
    raw = {pid: p.to_dict() for pid, p in protos.items()}
    if not paths and os.environ.get("RIG_PROTOCOLS"):
        paths = tuple(p for p in os.environ["RIG_PROTOCOLS"].split(os.pathsep) if p)
    for path in paths:
        path = Path(path)
        for table in _read(path):
            if isinstance(table, dict) and "extends" in table:
                base = table["extends"]
                if base not in raw:
                    raise _err(str(path), "extends", f"no protocol {base!r} to extend")
                merged = {**raw[base], **{k: v for k, v in table.items() if k != "extends"}}
                merged["params"] = {**raw[base].get("params", {}), **table.get("params", {})}
                if merged["kind"] != raw[base]["kind"]:
                    merged["params"] = table.get("params", {})
                table = merged
            p = from_dict(table, str(path))
            protos[p.id] = p
            raw[p.id] = {**p.to_dict(), "conditions": [asdict(c) for c in p.conditions],
                         "sides": list(p.sides), "end_early_on": list(p.end_early_on)}
    return protos


def get(protocol_id: str, *paths) -> Protocol:
    protos = load_protocols(*paths)
    try:
        return protos[protocol_id]
    except KeyError:
        raise ProtocolError(f"no protocol {protocol_id!r} (known: {', '.join(sorted(protos))})") from None


__all__ = ["KINDS", "PARAMS", "Condition", "Protocol", "ProtocolError", "default_protocols",
           "from_dict", "get", "load_protocols"]
