"""The one home of the constants every room shares: gravity, the corner order, the column
names of a sample and of its raw counts, the acquisition socket's file name.

Nothing here imports anything of the project, so every layer (rig.hw included) may use it.
"""
from __future__ import annotations

#: standard gravity, m/s² (kg ↔ N everywhere)
G = 9.80665

#: Corner order used everywhere: front-left, front-right, back-left, back-right.
CORNERS = ("fl", "fr", "bl", "br")
CORNER_NAMES = {"fl": "front-left", "fr": "front-right", "bl": "back-left", "br": "back-right"}

#: Column names of a calibrated sample, as printed by ``rig stream`` and stored in recordings.
SAMPLE_COLUMNS = ("t_s", "f_fl_n", "f_fr_n", "f_bl_n", "f_br_n", "fz_n", "cop_ml_mm", "cop_ap_mm", "flags")
#: Column names of the raw converter counts stored beside the samples.
RAW_COLUMNS = ("c_fl", "c_fr", "c_bl", "c_br")

#: File name of the acquisition's Unix socket in the data folder (config: acquisition.socket).
SOCKET_NAME = "acquire.sock"
