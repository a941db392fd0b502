"""The protocol menu the dashboard offers, from ``rig.analysis.protocols`` (defaults + the clinic's
files, ``$RIG_PROTOCOLS``). The dashboard only needs id, name, sides, duration, countdown and
the instructions text per side; the protocol definitions themselves live in rig/analysis/protocols/."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProtocolInfo:
    name: str                   #: protocol id (stored with sessions and trials)
    title: str
    kind: str                   #: rig.analysis.events mode (single_leg_stance, step_down_landing, …)
    sides: tuple[str, ...]      #: "left", "right" or "both"
    duration_s: float
    countdown_s: float
    scored_trials: int
    end_early_on: tuple[str, ...]
    _proto: object = None

    def instructions_for(self, side: str) -> str:
        return self._proto.instructions_for(side) if self._proto is not None else ""


def _files_key() -> tuple:
    """What the menu depends on: $RIG_PROTOCOLS and each of its files' modification time."""
    import os
    paths = tuple(p for p in os.environ.get("RIG_PROTOCOLS", "").split(os.pathsep) if p)
    stamps = []
    for p in paths:
        try:
            stamps.append(os.stat(p).st_mtime_ns)
        except OSError:
            stamps.append(None)             # load_protocols says what is wrong with it
    return paths, tuple(stamps)


_cache: dict = {}


def available() -> list[ProtocolInfo]:
    """The menu, read again only when $RIG_PROTOCOLS or one of its files changes (pages ask for
    a protocol's title, headline and kind many times per request)."""
    key = _files_key()
    if key not in _cache:
        _cache.clear()
        _cache[key] = _read_menu()
    return _cache[key]


def _read_menu() -> list[ProtocolInfo]:
    from rig.analysis.protocols import load_protocols
    out = []
    for pid, p in sorted(load_protocols().items()):
        out.append(ProtocolInfo(name=pid, title=p.name, kind=p.kind, sides=tuple(p.sides), duration_s=float(p.duration_s),
                                countdown_s=float(p.countdown_s), scored_trials=int(p.scored_trials),
                                end_early_on=tuple(p.end_early_on), _proto=p))
    return out


def get(name: str) -> ProtocolInfo | None:
    """The protocol ``name``; a session summary's group ("protocol/condition") names its protocol."""
    pid = name.split("/", 1)[0]
    return next((p for p in available() if p.name == pid), None)


def headline_for(protocol_id: str) -> tuple[str, ...]:
    """The few measures a clinician reads first for this protocol (its kind's headline,
    rig.analysis.protocols.kinds); empty for an unknown protocol."""
    from rig.analysis.protocols.kinds import headline
    info = get(protocol_id)
    return headline(info.kind) if info is not None else ()


def title_for(protocol_id: str) -> str:
    """The protocol's name as the clinic reads it (its id only when it is not known here); a
    group "protocol/condition" adds the condition's name ("Single-leg stance · eyes closed")."""
    info = get(protocol_id)
    if info is None:
        return protocol_id
    cond = protocol_id.split("/", 1)[1] if "/" in protocol_id else None
    named = {c.id: c.label for c in getattr(info._proto, "conditions", ())}
    return f"{info.title} · {named.get(cond, cond.replace('_', ' '))}" if cond else info.title
