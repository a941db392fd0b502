"""The exercise library: shipped exercises (``exercises.toml``, our own words) plus the
clinic's own, added or edited.

An :class:`Exercise` has a purpose, how-to steps, common faults and ordered
:class:`Level` s (the progression), each with its dosage. Clinic exercises come as TOML
files with the same ``[[exercise]]`` layout or as dicts (the dashboard keeps them in its
database); an entry whose ``id`` matches a shipped exercise replaces it, and
``extends = "<id>"`` starts from another exercise and changes only the keys given.

A wrong key, type or value raises :class:`LibraryError` naming the source and the key.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from importlib import resources

from rig import strict_toml

PLATE_KINDS = ("", "balance", "reps", "shift")
ROUTINES = ("activation", "main")
#: seconds one repetition takes when a level does not say (session-time estimate only)
DEFAULT_REP_S = 3.0


class LibraryError(ValueError):
    """An exercise definition is wrong; the message names the source and key."""


@dataclass(frozen=True)
class Level:
    name: str
    sets: int
    reps: int | None = None        #: repetitions per set (or hold_s)
    hold_s: float | None = None    #: hold per set (s)
    per_side: bool = False         #: each side does the sets
    rest_s: float = 30.0
    rep_s: float = DEFAULT_REP_S
    load: str = ""

    def dosage(self) -> str:
        """'3 × 12 each side, 30 s rest' / '3 × 20 s hold each side'."""
        what = f"{self.reps}" if self.reps is not None else f"{self.hold_s:g} s hold"
        side = " each side" if self.per_side else ""
        load = f" ({self.load})" if self.load else ""
        return f"{self.sets} × {what}{side}{load}, {self.rest_s:g} s rest"

    def work_s(self) -> float:
        """Estimated time of all its sets with the rests between them (s). Sides alternate
        within a set (one side rests while the other works), so ``rest_s`` falls between sets."""
        per_set = (self.reps * self.rep_s) if self.reps is not None else float(self.hold_s)
        sides = 2 if self.per_side else 1
        return self.sets * sides * per_set + (self.sets - 1) * self.rest_s


@dataclass(frozen=True)
class Exercise:
    id: str
    name: str
    purpose: str
    how_to: tuple[str, ...]
    common_faults: tuple[str, ...]
    levels: tuple[Level, ...]
    targets: tuple[str, ...] = ()
    plate: str = ""                       #: "", "balance", "reps", "shift"
    routine: tuple[str, ...] = ("main",)  #: where it may go: "activation", "main"
    source: str = field(default="builtin", compare=False)

    def level(self, i: int) -> Level:
        """Level ``i`` (0-based), clamped to the last one."""
        return self.levels[max(0, min(int(i), len(self.levels) - 1))]

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("source")
        d["level"] = [{k: v for k, v in lv.items() if v is not None} for lv in d.pop("levels")]
        for k in ("how_to", "common_faults", "targets", "routine"):
            d[k] = list(d[k])
        return d


_LEVEL_FIELDS = {"name": str, "sets": int, "reps": int, "hold_s": float, "per_side": bool,
                 "rest_s": float, "rep_s": float, "load": str}
_FIELDS = {"id", "name", "purpose", "how_to", "common_faults", "level", "targets", "plate", "routine",
           "extends"}


def _err(src, key, msg) -> LibraryError:
    return LibraryError(f"{src}: {key}: {msg}")


def _typed(src, key, v, typ):
    return strict_toml.typed(v, typ, f"{src}: {key}", LibraryError)


def _strings(src, key, v, *, allow_empty=False) -> tuple[str, ...]:
    if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) and s.strip() for s in v):
        raise _err(src, key, "must be a list of non-empty texts")
    if not v and not allow_empty:
        raise _err(src, key, "must not be empty")
    return tuple(s.strip() for s in v)


def _level(src, i, d) -> Level:
    key = f"level[{i}]"
    if not isinstance(d, dict):
        raise _err(src, key, "must be a table")
    for k in d:
        if k not in _LEVEL_FIELDS:
            raise _err(src, f"{key}.{k}", f"unknown key (known: {', '.join(sorted(_LEVEL_FIELDS))})")
    kw = {k: _typed(src, f"{key}.{k}", v, _LEVEL_FIELDS[k]) for k, v in d.items()}
    if not str(kw.get("name", "")).strip():
        raise _err(src, f"{key}.name", "missing")
    if "sets" not in kw or not 1 <= kw["sets"] <= 10:
        raise _err(src, f"{key}.sets", "must be an integer in [1, 10]")
    if ("reps" in kw) == ("hold_s" in kw):
        raise _err(src, key, "give either reps or hold_s")
    if "reps" in kw and not 1 <= kw["reps"] <= 100:
        raise _err(src, f"{key}.reps", "must be in [1, 100]")
    if "hold_s" in kw and not 1 <= kw["hold_s"] <= 600:
        raise _err(src, f"{key}.hold_s", "must be in [1, 600] s")
    if not 0 <= kw.get("rest_s", 30.0) <= 600:
        raise _err(src, f"{key}.rest_s", "must be in [0, 600] s")
    if not 0.5 <= kw.get("rep_s", DEFAULT_REP_S) <= 30:
        raise _err(src, f"{key}.rep_s", "must be in [0.5, 30] s")
    return Level(**kw)


def from_dict(d: dict, source: str = "<dict>") -> Exercise:
    """Validate one exercise table (``level`` is the list of level tables) and build it."""
    if not isinstance(d, dict):
        raise LibraryError(f"{source}: exercise must be a table")
    src = f"{source} [{d.get('id', '?')}]"
    for k in d:
        if k not in _FIELDS:
            raise _err(src, k, f"unknown key (known: {', '.join(sorted(_FIELDS))})")
    for k in ("id", "name", "purpose", "how_to", "level"):
        if k not in d:
            raise _err(src, k, "missing")
    eid = _typed(src, "id", d["id"], str).strip()
    if not eid or not all(c.isalnum() or c in "_-" for c in eid) or len(eid) > 60:
        raise _err(src, "id", "letters, digits, '_' and '-' only, at most 60 characters")
    name = _typed(src, "name", d["name"], str).strip()
    purpose = _typed(src, "purpose", d["purpose"], str).strip()
    if not name or not purpose:
        raise _err(src, "name" if not name else "purpose", "must not be empty")
    levels = d["level"]
    if not isinstance(levels, list) or not levels:
        raise _err(src, "level", "at least one level")
    plate = _typed(src, "plate", d.get("plate", ""), str)
    if plate not in PLATE_KINDS:
        raise _err(src, "plate", f"must be one of {PLATE_KINDS}")
    routine = _strings(src, "routine", d.get("routine", ["main"]))
    for r in routine:
        if r not in ROUTINES:
            raise _err(src, "routine", f"{r!r} is not one of {ROUTINES}")
    return Exercise(id=eid, name=name, purpose=purpose, how_to=_strings(src, "how_to", d["how_to"]),
                    common_faults=_strings(src, "common_faults", d.get("common_faults", []), allow_empty=True),
                    levels=tuple(_level(src, i, lv) for i, lv in enumerate(levels)),
                    targets=_strings(src, "targets", d.get("targets", []), allow_empty=True),
                    plate=plate, routine=routine, source=source)


def _tables(doc: dict, source: str) -> list:
    return strict_toml.tables(doc, "exercise", source, LibraryError)


def builtin_library() -> dict[str, Exercise]:
    """The exercises shipped with StepPlate, by id, in file order."""
    text = resources.files("rig.programme").joinpath("exercises.toml").read_text(encoding="utf-8")
    out = {}
    for t in _tables(strict_toml.loads(text, LibraryError, "exercises.toml"), "exercises.toml"):
        e = from_dict(t, "exercises.toml")
        out[e.id] = e
    return out


def merge(library: dict[str, Exercise], tables, source: str) -> dict[str, Exercise]:
    """A new library: ``tables`` (dicts) added to ``library``; same id replaces; ``extends``
    starts from the named exercise (levels replaced as a whole when given)."""
    out = dict(library)
    for t in tables:
        if isinstance(t, dict) and "extends" in t:
            base = t["extends"]
            if base not in out:
                raise _err(source, "extends", f"no exercise {base!r} to extend")
            t = {**out[base].to_dict(), **{k: v for k, v in t.items() if k != "extends"}}
        e = from_dict(t, source)
        out[e.id] = e
    return out


def load_library(*paths: str | os.PathLike, clinic: list[dict] | None = None) -> dict[str, Exercise]:
    """Shipped exercises, then each clinic TOML file (``$RIG_EXERCISES`` when no paths), then
    ``clinic`` dicts (the dashboard's stored exercises)."""
    lib = builtin_library()
    if not paths and os.environ.get("RIG_EXERCISES"):
        paths = tuple(p for p in os.environ["RIG_EXERCISES"].split(os.pathsep) if p)
    for p in paths:
        doc = strict_toml.read(p, LibraryError, "exercise file")
        lib = merge(lib, _tables(doc, str(p)), str(p))
    if clinic:
        lib = merge(lib, clinic, "clinic")
    return lib
