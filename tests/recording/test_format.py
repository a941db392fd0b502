"""The recording format's rules exist once (rig.recording.format) and both readers and the
writer follow them; these pin the behaviour that was kept when the copies were merged."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rig.constants import SAMPLE_COLUMNS
from rig.recording.format import HEADER, RecordingError, format_sample, split_metadata
from rig.recording.reader import parse_recording, read_table
from rig.recording.writer import TrialRecorder

META = {"plate": "p1", "rate_hz": 80, "geometry_cell_x_m": (-0.2, 0.2, -0.2, 0.2),
        "geometry_cell_y_m": (0.15, 0.15, -0.15, -0.15), "calibration": "nominal"}


def samples(n=5):
    s = np.zeros((n, len(SAMPLE_COLUMNS)))
    s[:, 0] = 10.0 + np.arange(n) / 80
    s[:, 1:5] = 175.123456
    s[:, 5] = 700.4938271
    s[:, 6], s[:, 7] = 3.14159, -2.71828
    s[2, 6] = s[2, 7] = math.nan                     # unloaded: no COP
    s[:, 8] = 4
    return s


def test_format_sample_rounds_to_the_format_resolution_and_writes_nan_for_missing_cop():
    row = [10.123456, 1.23456, 2.0, 3.0, 4.0, 10.23456, math.nan, None, 3.0]
    assert format_sample(row) == "10.1235,1.235,2.000,3.000,4.000,10.235,nan,nan,3"
    assert format_sample(row, t_offset_s=10.0).startswith("0.1235,")


def test_rig_stream_csv_rows_are_the_recording_rows(tmp_path):
    s = samples()
    rec = TrialRecorder(tmp_path / "t.csv", META, raw=False)
    rec.write(s)
    path = rec.close()
    body = [ln for ln in path.read_text().splitlines() if not ln.startswith("#")][1:]
    assert body == [format_sample(r, s[0, 0]) for r in s]


def test_both_readers_read_what_the_writer_wrote_alike(tmp_path):
    s = samples()
    rec = TrialRecorder(tmp_path / "t.csv", {**META, "side": "left"})
    rec.write(s, np.arange(20).reshape(5, 4))
    text = rec.close().read_text()
    cols, arr, meta = read_table(text)
    analysed = parse_recording(text)
    assert ",".join(cols) == HEADER and arr.shape == (5, 13)
    assert meta["side"] == analysed.meta["side"] == "left" and analysed.meta["format"] == "stepplate-recording/1"
    np.testing.assert_allclose(arr[:, 0], analysed.t_s)
    np.testing.assert_allclose(arr[:, 6] / 1000, analysed.ml_m, equal_nan=True)
    assert math.isnan(analysed.ml_m[2]) and arr[3, 9:].tolist() == [12, 13, 14, 15]


def test_both_readers_refuse_another_version_with_the_same_message():
    text = "# stepplate-recording: 2\n" + ",".join(SAMPLE_COLUMNS) + "\n" + ",".join(["0"] * 9) + "\n"
    msgs = []
    for read in (read_table, parse_recording):
        with pytest.raises(RecordingError) as e:
            read(text)
        msgs.append(str(e.value).split(": ", 1)[1])
    assert msgs[0] == msgs[1] == "stepplate-recording version 2 is not supported (this reader knows version 1)"


def test_only_the_analysis_reader_takes_a_unit_named_csv():
    text = "t_s,cop_ml_cm,cop_ap_cm\n" + "\n".join(f"{i / 100},{i % 3},{i % 5}" for i in range(20)) + "\n"
    rec = parse_recording(text)
    assert rec.meta["format"] == "csv" and rec.ml_m[4] == pytest.approx(0.01)
    with pytest.raises(RecordingError, match="StepPlate recording columns must be"):
        read_table(text)


def test_metadata_lines_keys_lowercased_comments_without_colon_ignored():
    meta, body = split_metadata("# Plate : P1\n# just a comment\n\nt_s,x\n1,2\n  \n")
    assert meta == {"plate": "P1"} and body == ["t_s,x", "1,2"]
