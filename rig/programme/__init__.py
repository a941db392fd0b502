"""Exercise programmes: the exercise library, training blocks (schedule, progressions,
adherence) and the biofeedback measures of training sets on the plate. Pure Python (no
Flask, no database): the dashboard (dashboard/programme.py) stores and shows them.
Documentation: docs/programme.md."""
from rig.programme.biofeedback import Target, set_measures, steadiness, time_in_target
from rig.programme.library import Exercise, Level, LibraryError, builtin_library, from_dict, load_library
from rig.programme.schedule import (Block, Logged, PlanItem, ScheduleError, adherence, hip_block,
                                    local_date, local_noon_utc, prescription, session_minutes)

__all__ = ["Block", "Exercise", "Level", "LibraryError", "Logged", "PlanItem", "ScheduleError", "Target",
           "adherence", "builtin_library", "from_dict", "hip_block", "load_library", "local_date",
           "local_noon_utc", "prescription", "session_minutes", "set_measures", "steadiness",
           "time_in_target"]
