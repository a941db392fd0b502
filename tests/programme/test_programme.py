"""rig.programme: exercise library, block schedule, progressions, adherence (time zones, DST,
a missed week) and the biofeedback measures of training sets."""
from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from rig.programme import (Block, Logged, PlanItem, ScheduleError, Target, adherence, builtin_library,
                           hip_block, load_library, local_date, local_noon_utc, prescription,
                           session_minutes, steadiness, time_in_target)
from rig.programme.biofeedback import repetition_quality
from rig.programme.library import LibraryError

LONDON = "Europe/London"
UTC = timezone.utc
ISSUE_EXERCISES = ("lateral_band_walk", "side_lying_hip_abduction", "copenhagen_plank", "single_leg_rdl",
                   "eccentric_step_down", "hip_hike", "bird_dog", "single_leg_balance")


def at(y, mo, d, h=18, mi=0, tz=LONDON) -> datetime:
    """An aware local time, returned in UTC (how the database stores it)."""
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(tz)).astimezone(UTC)


# --- library ----------------------------------------------------------------------------

def test_library_has_the_issue_exercises_with_every_part():
    lib = builtin_library()
    for eid in ISSUE_EXERCISES:
        e = lib[eid]
        assert e.purpose and len(e.how_to) >= 3 and e.common_faults and len(e.levels) >= 2, eid
        for lv in e.levels:
            assert lv.dosage().startswith(f"{lv.sets} ×")
    assert "wall" in lib["side_lying_hip_abduction"].name.lower()
    assert "ankle" in lib["lateral_band_walk"].levels[0].load
    names = [lv.name.lower() for lv in lib["copenhagen_plank"].levels]
    assert "short lever" in names[0] and "long lever" in names[-1]          # short → long lever
    assert {e.plate for e in lib.values()} >= {"balance", "reps", "shift"}   # what the plate can follow


def test_clinic_exercises_add_edit_and_are_validated(tmp_path):
    f = tmp_path / "clinic.toml"
    f.write_text('''
[[exercise]]
id = "clam"
name = "Clamshell"
purpose = "Side hip, lying."
how_to = ["Lie on your side", "Open the knees", "Close slowly"]
level = [{name = "band", sets = 2, reps = 15, per_side = true}]

[[exercise]]
extends = "bird_dog"
id = "bird_dog"
name = "Bird-dog (our version)"
''', encoding="utf-8")
    lib = load_library(f, clinic=[{"id": "wall_sit", "name": "Wall sit", "purpose": "Quads.",
                                   "how_to": ["Back on the wall"], "level": [{"name": "30 s", "sets": 3, "hold_s": 30}]}])
    assert lib["clam"].levels[0].dosage() == "2 × 15 each side, 30 s rest"
    assert lib["bird_dog"].name == "Bird-dog (our version)"
    assert lib["bird_dog"].levels == builtin_library()["bird_dog"].levels   # extends kept the rest
    assert lib["wall_sit"].levels[0].dosage() == "3 × 30 s hold, 30 s rest"
    bad = [({"level": [{"name": "x", "sets": 2}]}, "give either reps or hold_s"),
           ({"level": [{"name": "x", "sets": 2, "reps": 5, "weight": 3}]}, "level[0].weight"),
           ({"plate": "treadmill"}, "plate"),
           ({"id": "has space"}, "id"),
           ({"level": [{"name": "x", "sets": "3", "reps": 5}]}, "level[0].sets")]
    base = {"id": "x1", "name": "X", "purpose": "p", "how_to": ["a"], "level": [{"name": "l", "sets": 1, "reps": 1}]}
    for change, where in bad:
        with pytest.raises(LibraryError, match=where.replace("[", r"\[").replace("]", r"\]")):
            load_library(clinic=[{**base, **change}])
    with pytest.raises(LibraryError, match="no exercise 'nope'"):
        load_library(clinic=[{"extends": "nope", "id": "y"}])


# --- block and progressions --------------------------------------------------------------

def test_default_hip_block_six_weeks_three_sessions_about_ten_minutes():
    lib = builtin_library()
    b = hip_block(date(2024, 3, 25), LONDON, lib)
    assert (b.weeks, b.sessions_per_week, b.prescribed_total) == (6, 3, 18)
    assert b.end == date(2024, 5, 6)
    main = [i.exercise_id for i in b.items if i.routine == "main"]
    assert {"side_lying_hip_abduction", "copenhagen_plank", "single_leg_rdl", "eccentric_step_down"} == set(main)
    for w in range(1, 7):
        assert 8.0 <= session_minutes(b, lib, w) <= 13.5, w             # "about ten minutes"
        assert 1.5 <= session_minutes(b, lib, w, "activation") <= 4.0   # short pre-run routine
    # one level every two weeks; Copenhagen goes from short to long lever in week 5
    cop = {w: prescription(b, lib, w, "main")[1] for w in (1, 2, 3, 5, 6)}
    assert [cop[w]["level_index"] for w in (1, 2, 3, 5, 6)] == [0, 0, 1, 2, 2]
    assert "Long lever" in cop[5]["level"].name and "Short lever" in cop[1]["level"].name
    act = prescription(b, lib, 6, "activation")
    assert all(r["level"].sets == 1 and r["level_index"] == 0 for r in act)
    assert Block.from_dict(b.to_dict()) == b                          # stored as JSON and back


def test_block_validation():
    with pytest.raises(ScheduleError, match="time zone"):
        Block(date(2024, 1, 1), "Mars/Olympus")
    with pytest.raises(ScheduleError):
        Block(date(2024, 1, 1), LONDON, weeks=0)
    with pytest.raises(ScheduleError):
        Block(date(2024, 1, 1), LONDON, sessions_per_week=8)
    with pytest.raises(ScheduleError, match="timezone-aware"):
        local_date(datetime(2024, 1, 1, 12), LONDON)


# --- adherence ----------------------------------------------------------------------------

def _block(start=date(2024, 3, 25), tz=LONDON, **kw):
    return Block(start, tz, items=(PlanItem("single_leg_rdl", (0, 0, 1, 1, 2, 2)),), **kw)


def test_adherence_full_and_capped_and_same_day_counted_once():
    b = _block()
    s = []
    for k in range(6):
        monday = b.start + timedelta(days=7 * k)
        for d in (0, 2, 4):                                          # Mon, Wed, Fri
            s.append(Logged(at(*(monday + timedelta(days=d)).timetuple()[:3]), "home"))
    s.append(Logged(at(2024, 3, 25, 9), "clinic"))                   # same day as a home session
    s.append(Logged(at(2024, 3, 26), "home"))                        # a 4th day in week 1: capped
    r = adherence(b, s, now=at(2024, 5, 10))
    assert [w["status"] for w in r["weeks"]] == ["done"] * 6
    assert r["weeks"][0]["logged_days"] == 4 and r["weeks"][0]["counted"] == 3
    assert r["weeks"][0]["sources"] == {"home": 4, "clinic": 1}
    assert r["adherence_pct"] == 100.0 and r["block_pct"] == 100.0 and r["finished"]
    assert [w["progression_week"] for w in r["weeks"]] == [1, 2, 3, 4, 5, 6]


def test_missed_week_counts_holds_progression_and_is_reported():
    b = _block()
    s = []
    for k in (0, 1, 3, 4, 5):                                        # week 3 missed
        monday = b.start + timedelta(days=7 * k)
        s += [Logged(at(*(monday + timedelta(days=d)).timetuple()[:3])) for d in (0, 2, 4)]
    r = adherence(b, s, now=at(2024, 5, 10))
    assert [w["status"] for w in r["weeks"]] == ["done", "done", "missed", "done", "done", "done"]
    assert r["missed_weeks"] == [3]
    assert r["done_to_date"] == 15 and r["prescribed_to_date"] == 18
    assert r["adherence_pct"] == pytest.approx(100 * 15 / 18)
    # week 4 repeats week 3's stage instead of jumping a level
    assert [w["progression_week"] for w in r["weeks"]] == [1, 2, 3, 3, 4, 5]
    assert r["held_weeks"] == 1
    assert b.items[0].level_for(r["weeks"][3]["progression_week"]) == 1
    # a thin week (1 of 3 < two thirds) also holds; 2 of 3 is enough to progress
    s2 = [Logged(at(2024, 3, 25)), Logged(at(2024, 4, 1)), Logged(at(2024, 4, 3))]
    r2 = adherence(b, s2, now=at(2024, 4, 10))
    assert [w["status"] for w in r2["weeks"][:3]] == ["partial", "partial", "in progress"]
    assert [w["progression_week"] for w in r2["weeks"][:4]] == [1, 1, 2, 3]


def test_current_week_is_not_penalised_and_future_is_upcoming():
    b = _block()
    s = [Logged(at(2024, 3, 25)), Logged(at(2024, 3, 27)), Logged(at(2024, 3, 29)), Logged(at(2024, 4, 2))]
    r = adherence(b, s, now=at(2024, 4, 3, 8))                       # Wednesday of week 2
    assert [w["status"] for w in r["weeks"]] == ["done", "in progress"] + ["upcoming"] * 4
    assert r["current_week"] == 2 and (r["done_to_date"], r["prescribed_to_date"]) == (4, 4)
    assert r["adherence_pct"] == 100.0 and r["block_pct"] == pytest.approx(100 * 4 / 18)
    before = adherence(b, s, now=at(2024, 3, 20))
    assert before["adherence_pct"] is None and before["current_week"] is None
    outside = adherence(b, s + [Logged(at(2024, 3, 24, 23, 59)), Logged(at(2024, 5, 6, 0, 1))], now=at(2024, 4, 3))
    assert outside["sessions_outside_block"] == 2                     # the day before / after the block


def test_weeks_count_in_local_dates_across_dst_changes():
    # Europe/London: clocks go forward on Sunday 31 March 2024, back on Sunday 27 October 2024.
    b = _block(date(2024, 3, 25))
    late_sunday = at(2024, 3, 31, 23, 30)                             # 22:30 UTC, still Sunday locally
    just_after_midnight = at(2024, 4, 1, 0, 30)                       # 23:30 UTC on *Sunday*, but Monday locally
    assert just_after_midnight.date() == date(2024, 3, 31)            # the UTC date would put it in week 1
    assert b.week_of(late_sunday) == 1 and b.week_of(just_after_midnight) == 2
    r = adherence(b, [late_sunday, just_after_midnight], now=at(2024, 4, 2))
    assert r["weeks"][0]["logged_days"] == 1 and r["weeks"][1]["logged_days"] == 1
    # autumn: the week containing the 25-hour day is still seven local days
    b2 = _block(date(2024, 10, 21))
    first_sunday = at(2024, 10, 27, 23, 59)
    assert b2.week_of(first_sunday) == 1 and b2.week_of(at(2024, 10, 28, 0, 1)) == 2
    assert b2.week_range(2) == (date(2024, 10, 28), date(2024, 11, 3))
    # the same instant is a different local day in another clinic's zone
    inst = datetime(2024, 4, 1, 2, 0, tzinfo=UTC)
    assert local_date(inst, LONDON) == date(2024, 4, 1)
    assert local_date(inst, "America/New_York") == date(2024, 3, 31)
    assert Block(date(2024, 3, 25), "America/New_York").week_of(inst) == 1


def test_home_tick_is_stored_as_local_noon_in_utc():
    summer = local_noon_utc(date(2024, 7, 1), LONDON)
    winter = local_noon_utc(date(2024, 1, 15), LONDON)
    assert summer == datetime(2024, 7, 1, 11, 0, tzinfo=UTC)         # BST = UTC+1
    assert winter == datetime(2024, 1, 15, 12, 0, tzinfo=UTC)
    spring = local_noon_utc(date(2024, 3, 31), LONDON)               # the DST day itself
    assert local_date(spring, LONDON) == date(2024, 3, 31)


# --- biofeedback ----------------------------------------------------------------------------

def test_time_in_target_exact_on_a_known_path():
    # COP oscillates about the target centre with amplitude e > r: inside while |e·sin| <= r,
    # i.e. a fraction (2/π)·asin(r/e) of the time.
    fs, T = 100.0, 40.0
    t = np.arange(0, T, 1 / fs)
    e, r = 30.0, 15.0
    tgt = Target("path", radius_mm=r, amplitude_ml_mm=60.0, period_s=10.0, relative=False)
    cx, cy = tgt.centres(t)
    ml = cx + e * np.sin(2 * np.pi * t / 2.0)
    ap = cy.copy()
    got = time_in_target(t, ml, ap, tgt)
    want = 2 / math.pi * math.asin(r / e)
    assert got["time_in_target_pct"] == pytest.approx(100 * want, abs=0.6)
    assert got["set_duration_s"] == pytest.approx(T, abs=0.02)
    assert got["longest_in_target_s"] == pytest.approx(want * 1.0, abs=0.03)   # one pass through the zone
    st = steadiness(t, ml, ap, tgt)
    assert st["tracking_error_rms_mm"] == pytest.approx(e / math.sqrt(2), rel=0.01)
    assert st["error_speed_mm_s"] == pytest.approx(4 * e / 2.0, rel=0.01)       # mean |d/dt e·sin| = 4e/T


def test_time_in_target_counts_off_plate_and_gaps_honestly():
    t = np.arange(0, 10, 0.0125)
    ml = np.zeros_like(t)
    ap = np.zeros_like(t)
    fz = np.full_like(t, 700.0)
    fz[(t >= 6) & (t < 8)] = 0.0                                       # stepped off for 2 s
    ml[(t >= 6) & (t < 8)] = np.nan
    got = time_in_target(t, ml, ap, Target(radius_mm=10, relative=False), fz)
    assert got["time_in_target_pct"] == pytest.approx(80.0, abs=0.2)
    assert got["longest_in_target_s"] == pytest.approx(6.0, abs=0.02)
    keep = (t < 3) | (t >= 5)                                           # a 2-s gap in the stream
    g = time_in_target(t[keep], ml[keep], ap[keep], Target(radius_mm=10, relative=False), fz[keep])
    assert g["set_duration_s"] == pytest.approx(8.0, abs=0.05)         # the gap is not credited
    assert g["time_in_target_s"] == pytest.approx(6.0, abs=0.05)       # [0,3) + [5,6) + [8,10)
    rel = time_in_target(t, ml + 50, ap, Target(radius_mm=10, relative=True), fz)
    assert rel["target_origin_mm"][0] == pytest.approx(50.0) and rel["time_in_target_pct"] == pytest.approx(80, abs=0.2)
    rq = repetition_quality(t, ml, ap, Target(radius_mm=10, relative=False), [(0, 2), (5, 7)], fz)
    assert rq["repetition_count"] == 2 and rq["good_repetition_count"] == 1
    assert rq["repetitions"][1]["time_in_target_pct"] == pytest.approx(50, abs=1)
    with pytest.raises(ValueError):
        Target(radius_mm=0.1)
    with pytest.raises(ValueError):
        Target.from_dict({"radius_mm": 10, "colour": "red"})
