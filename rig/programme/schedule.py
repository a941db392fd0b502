"""A training block: its weeks, what is prescribed each week (progressions), and adherence.

Time: every session is an aware ``datetime`` (stored in UTC); it is *dated* by its local date
in the clinic's time zone (``Block.timezone``, an IANA name), and weeks are counted in local
dates: week k runs from ``start + 7(k-1)`` to ``start + 7k - 1`` (local calendar days), so a
daylight-saving change never moves a session into another week or day. A home session ticked
for a day is stored as local noon of that day (noon never falls in a DST gap).

Adherence (docs/programme.md):
- a *session* is a local calendar day with at least one logged session (clinic visit,
  training set on the plate, or home tick): two logs on one day are one session;
- each week counts at most ``sessions_per_week`` sessions (extra ones never make up for
  another week);
- an ended week is "done" (all prescribed sessions), "partial" or "missed" (none); the
  current week is "in progress" and is neither credited nor penalised for what is still to
  come: prescribed-to-date = sessions_per_week · (ended weeks) + sessions counted this week;
- adherence % = counted sessions to date / prescribed to date; the block figure divides by
  every session of the block.

Progression: week k uses progression week p(k); p(1) = 1 and p(k) = p(k-1) + 1 when week
k-1 counted at least ``progress_min`` sessions (default two thirds of the prescribed,
rounded up) or has not ended yet, else p(k) = p(k-1): after a missed or thin week the
patient repeats the stage instead of jumping a level. Each plan item maps progression
weeks to a level of its exercise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rig.programme.library import Exercise

DEFAULT_WEEKS = 6
DEFAULT_SESSIONS_PER_WEEK = 3


class ScheduleError(ValueError):
    pass


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(f"unknown time zone {name!r} (use an IANA name such as 'Europe/London')") from None


def local_date(at: datetime, tz: str) -> date:
    """The clinic-local calendar date of an aware datetime."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ScheduleError("session times must be timezone-aware (stored in UTC)")
    return at.astimezone(zone(tz)).date()


def local_noon_utc(d: date, tz: str) -> datetime:
    """Local noon of ``d`` in UTC: how a home session ticked for a day is stored."""
    return datetime.combine(d, time(12, 0), tzinfo=zone(tz)).astimezone(timezone.utc)


def default_levels(weeks: int, n_levels: int, weeks_per_level: int = 2) -> tuple[int, ...]:
    """Level (0-based) per progression week: two weeks per level, holding at the last."""
    return tuple(min((w - 1) // weeks_per_level, n_levels - 1) for w in range(1, weeks + 1))


@dataclass(frozen=True)
class PlanItem:
    exercise_id: str
    levels: tuple[int, ...]          #: level index for progression week 1, 2, ...
    routine: str = "main"            #: "main" (the session) or "activation" (before each run)
    sets: int | None = None          #: overrides the level's sets (e.g. one set as a warm-up)

    def level_for(self, progression_week: int) -> int:
        i = max(1, int(progression_week)) - 1
        return self.levels[min(i, len(self.levels) - 1)]


@dataclass(frozen=True)
class Block:
    start: date                      #: first local day of week 1
    timezone: str = "UTC"
    weeks: int = DEFAULT_WEEKS
    sessions_per_week: int = DEFAULT_SESSIONS_PER_WEEK
    items: tuple[PlanItem, ...] = ()
    progress_min: int | None = None  #: sessions a week needs for the next to progress

    def __post_init__(self):
        zone(self.timezone)
        if not 1 <= self.weeks <= 52:
            raise ScheduleError("weeks must be in [1, 52]")
        if not 1 <= self.sessions_per_week <= 7:
            raise ScheduleError("sessions_per_week must be in [1, 7]")
        if self.progress_min is not None and not 0 <= self.progress_min <= self.sessions_per_week:
            raise ScheduleError("progress_min must be in [0, sessions_per_week]")
        for it in self.items:
            if it.routine not in ("main", "activation"):
                raise ScheduleError(f"{it.exercise_id}: routine must be 'main' or 'activation'")
            if not it.levels or any(lv < 0 for lv in it.levels):
                raise ScheduleError(f"{it.exercise_id}: levels must be non-negative, one per week")
            if it.sets is not None and not 1 <= it.sets <= 10:
                raise ScheduleError(f"{it.exercise_id}: sets must be in [1, 10]")

    # calendar ---------------------------------------------------------------------------
    @property
    def end(self) -> date:
        """The day after the block's last day."""
        return self.start + timedelta(days=7 * self.weeks)

    @property
    def threshold(self) -> int:
        if self.progress_min is not None:
            return self.progress_min
        return math.ceil(2 * self.sessions_per_week / 3)

    def week_range(self, k: int) -> tuple[date, date]:
        """(first day, last day) of week k (1-based), local dates."""
        a = self.start + timedelta(days=7 * (k - 1))
        return a, a + timedelta(days=6)

    def week_of(self, when: date | datetime) -> int | None:
        """Week number (1-based) of a local date or an aware datetime; None outside the block."""
        d = local_date(when, self.timezone) if isinstance(when, datetime) else when
        if not self.start <= d < self.end:
            return None
        return (d - self.start).days // 7 + 1

    @property
    def prescribed_total(self) -> int:
        return self.weeks * self.sessions_per_week

    # serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "timezone": self.timezone, "weeks": self.weeks,
                "sessions_per_week": self.sessions_per_week, "progress_min": self.progress_min,
                "items": [{"exercise_id": i.exercise_id, "levels": list(i.levels), "routine": i.routine,
                           "sets": i.sets} for i in self.items]}

    @classmethod
    def from_dict(cls, d: dict) -> "Block":
        return cls(start=date.fromisoformat(d["start"]), timezone=d.get("timezone", "UTC"),
                   weeks=int(d.get("weeks", DEFAULT_WEEKS)),
                   sessions_per_week=int(d.get("sessions_per_week", DEFAULT_SESSIONS_PER_WEEK)),
                   progress_min=d.get("progress_min"),
                   items=tuple(PlanItem(i["exercise_id"], tuple(int(v) for v in i["levels"]),
                                        i.get("routine", "main"), i.get("sets")) for i in d.get("items", [])))


@dataclass(frozen=True)
class Logged:
    """One logged session: when (aware datetime) and where it came from."""
    at: datetime
    source: str = "home"             #: "home", "clinic", "plate"


@dataclass
class WeekStatus:
    week: int
    first_day: date
    last_day: date
    prescribed: int
    logged_days: int                 #: distinct local days with a session
    counted: int                     #: min(logged_days, prescribed)
    status: str                      #: done | partial | missed | in progress | upcoming
    progression_week: int
    sources: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"week": self.week, "first_day": self.first_day.isoformat(), "last_day": self.last_day.isoformat(),
                "prescribed": self.prescribed, "logged_days": self.logged_days, "counted": self.counted,
                "status": self.status, "progression_week": self.progression_week, "sources": dict(self.sources)}


def _as_logged(s) -> Logged:
    return s if isinstance(s, Logged) else Logged(s, "home")


def adherence(block: Block, sessions, now: datetime) -> dict:
    """Weekly statuses, progression weeks and adherence % (see the module docstring)."""
    today = local_date(now, block.timezone)
    days: dict[int, dict[date, set]] = {k: {} for k in range(1, block.weeks + 1)}
    outside = 0
    for s in map(_as_logged, sessions):
        d = local_date(s.at, block.timezone)
        k = block.week_of(d)
        if k is None:
            outside += 1
            continue
        days[k].setdefault(d, set()).add(s.source)
    weeks: list[WeekStatus] = []
    p = 1
    for k in range(1, block.weeks + 1):
        a, b = block.week_range(k)
        logged = len(days[k])
        counted = min(logged, block.sessions_per_week)
        if today > b:
            status = "done" if counted == block.sessions_per_week else ("missed" if counted == 0 else "partial")
        elif today >= a:
            status = "in progress"
        else:
            status = "upcoming"
        if k > 1:
            prev = weeks[-1]
            ended = prev.status in ("done", "partial", "missed")
            if not ended or prev.counted >= block.threshold:
                p = min(p + 1, block.weeks)
        src: dict[str, int] = {}
        for srcs in days[k].values():
            for s in srcs:
                src[s] = src.get(s, 0) + 1
        weeks.append(WeekStatus(k, a, b, block.sessions_per_week, logged, counted, status, p, src))
    ended = [w for w in weeks if w.status in ("done", "partial", "missed")]
    current = next((w for w in weeks if w.status == "in progress"), None)
    done_to_date = sum(w.counted for w in ended) + (current.counted if current else 0)
    prescribed_to_date = block.sessions_per_week * len(ended) + (current.counted if current else 0)
    return {
        "weeks": [w.to_dict() for w in weeks],
        "current_week": current.week if current else None,
        "today": today.isoformat(),
        "done_to_date": done_to_date,
        "prescribed_to_date": prescribed_to_date,
        "adherence_pct": (100.0 * done_to_date / prescribed_to_date) if prescribed_to_date else None,
        "prescribed_total": block.prescribed_total,
        "block_pct": 100.0 * sum(w.counted for w in weeks) / block.prescribed_total,
        "missed_weeks": [w.week for w in weeks if w.status == "missed"],
        "held_weeks": sum(1 for i in range(1, len(weeks)) if weeks[i].progression_week == weeks[i - 1].progression_week),
        "sessions_outside_block": outside,
        "finished": today >= block.end,
    }


def prescription(block: Block, exercises: dict[str, Exercise], progression_week: int,
                 routine: str | None = None) -> list[dict]:
    """What to do in a given progression week: per item, the exercise and its level."""
    out = []
    for it in block.items:
        if routine is not None and it.routine != routine:
            continue
        ex = exercises.get(it.exercise_id)
        if ex is None:
            raise ScheduleError(f"exercise {it.exercise_id!r} is not in the library")
        li = it.level_for(progression_week)
        lv = ex.level(li)
        if it.sets is not None:
            lv = replace(lv, sets=it.sets)
        out.append({"exercise": ex, "level_index": min(li, len(ex.levels) - 1), "level": lv,
                    "routine": it.routine, "dosage": lv.dosage(), "work_s": lv.work_s()})
    return out


def session_minutes(block: Block, exercises: dict[str, Exercise], progression_week: int,
                    routine: str = "main") -> float:
    """Estimated length of one session (or of the activation routine) in minutes."""
    return sum(r["work_s"] for r in prescription(block, exercises, progression_week, routine)) / 60.0


#: The default six-week hip block: abductors (side-lying abduction), adductors (Copenhagen),
#: hip extensors / lateral rotators with single-leg control (single-leg RDL), eccentric
#: control (step-downs); activation before each run: band walks, hip hikes, single-leg balance.
HIP_BLOCK_MAIN = ("side_lying_hip_abduction", "copenhagen_plank", "single_leg_rdl", "eccentric_step_down")
HIP_BLOCK_ACTIVATION = ("lateral_band_walk", "hip_hike", "single_leg_balance")


def hip_block(start: date, timezone_name: str, exercises: dict[str, Exercise], *,
              weeks: int = DEFAULT_WEEKS, sessions_per_week: int = DEFAULT_SESSIONS_PER_WEEK,
              main=HIP_BLOCK_MAIN, activation=HIP_BLOCK_ACTIVATION) -> Block:
    """The default block: main items progress one level every two weeks; the activation
    routine stays at its first level, one set each (a warm-up of a few minutes, not a
    training stimulus)."""
    items = []
    for eid in main:
        items.append(PlanItem(eid, default_levels(weeks, len(exercises[eid].levels)), "main"))
    for eid in activation:
        items.append(PlanItem(eid, (0,) * weeks, "activation", sets=1))
    return Block(start=start, timezone=timezone_name, weeks=weeks, sessions_per_week=sessions_per_week,
                 items=tuple(items))
