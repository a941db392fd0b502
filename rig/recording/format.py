"""What makes a file a StepPlate recording (version 1; docs/recording-format.md): the format
marker, the required metadata keys and their order, the columns, and the two checks every
reader applies. The writer and both readers use these, so the rules exist once.
"""
from __future__ import annotations

import math

from rig.constants import RAW_COLUMNS, SAMPLE_COLUMNS
from rig.errors import InputError

FORMAT_KEY = "stepplate-recording"   #: the one format marker: ``# stepplate-recording: 1``
FORMAT_VERSION = 1
#: a recording's sample columns: the calibrated sample, optionally followed by the raw counts
RECORDING_COLUMNS = SAMPLE_COLUMNS
HEADER = ",".join(RECORDING_COLUMNS + RAW_COLUMNS)
REQUIRED_KEYS = ("plate", "rate_hz", "geometry_cell_x_m", "geometry_cell_y_m", "calibration")
KEY_ORDER = (FORMAT_KEY, "plate", "rate_hz", "geometry_cell_x_m", "geometry_cell_y_m",
             "started_utc", "calibration", "protocol", "side")
PARTIAL = ".partial"                 #: suffix of a recording still being written


class RecordingError(InputError):
    """A file that cannot be read as a recording (bad header, unknown unit, bad values)."""


def split_metadata(text: str) -> tuple[dict[str, str], list[str]]:
    """``# key: value`` lines (keys lower-cased, values stripped) and the other non-blank lines.

    A ``#`` line without a colon is a comment. Metadata may stand anywhere; writers put it first.
    """
    meta: dict[str, str] = {}
    body: list[str] = []
    for ln in text.splitlines():
        s = ln.strip()
        if s.startswith("#"):
            k, sep, v = s[1:].partition(":")
            if sep:
                meta[k.strip().lower()] = v.strip()
        elif s:
            body.append(ln)
    return meta, body


def check_version(meta: dict, source: str) -> None:
    """Refuse a recording of a format version this reader does not know."""
    version = meta.get(FORMAT_KEY)
    if version is not None and version != str(FORMAT_VERSION):
        raise RecordingError(f"{source}: {FORMAT_KEY} version {version} is not supported "
                             f"(this reader knows version {FORMAT_VERSION})")


def check_columns(header, source: str) -> None:
    """Refuse a StepPlate recording whose columns are not the sample columns [+ raw counts]."""
    header = tuple(header)
    if header not in (RECORDING_COLUMNS, RECORDING_COLUMNS + RAW_COLUMNS):
        raise RecordingError(f"{source}: StepPlate recording columns must be {','.join(RECORDING_COLUMNS)}"
                             f"[,{','.join(RAW_COLUMNS)}]; got {','.join(header)}")


def _num(v, digits: int) -> str:
    v = math.nan if v is None else float(v)
    return "nan" if math.isnan(v) else f"{v:.{digits}f}"


def format_sample(row, t_offset_s: float = 0.0) -> str:
    """One sample (SAMPLE_COLUMNS order) as the recording's CSV text: time to 0.1 ms, forces
    to 1 mN, COP to 0.01 mm (``nan`` when unloaded or missing), flags as an integer. `rig stream
    --format csv` prints the same text, so its output is a recording body."""
    return ",".join((_num(float(row[0]) - t_offset_s, 4), *(_num(v, 3) for v in row[1:6]),
                     _num(row[6], 2), _num(row[7], 2), str(int(row[8]))))
