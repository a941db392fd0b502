"""Fuzz the file readers with corrupted bytes (hypothesis): each raises only its documented error.

* ``rig.recording.reader.read_recording`` -> ``rig.recording.reader.RecordingError``
* ``calibration.fileformat.load`` -> ``CalibrationFileError`` (``FileNotFoundError`` for no file)
* ``rig.analysis.protocols.load_protocols`` -> ``ProtocolError``
* ``dashboard.recordings.decode`` (uploads) -> ``RecordingError`` or ``ValueError`` (the API
  turns both into a 400)

Inputs are a valid file with random byte edits (flip, insert, delete, truncate, duplicate a
line) or random bytes. Counts of cases tried are printed (-s).
"""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_support import mutated

CASES: dict[str, int] = {}
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _count(name):
    CASES[name] = CASES.get(name, 0) + 1


def _seed_recording() -> bytes:
    lines = ["# stepplate-recording: 1", "# plate: p", "# rate_hz: 80",
             "# geometry_cell_x_m: -0.22,0.22,-0.22,0.22", "# geometry_cell_y_m: 0.17,0.17,-0.17,-0.17",
             "t_s,f_fl_n,f_fr_n,f_bl_n,f_br_n,fz_n,cop_ml_mm,cop_ap_mm,flags"]
    lines += [f"{i / 80:.4f},175,175,175,175,700,{i % 5},{-(i % 3)},0" for i in range(20)]
    return ("\n".join(lines) + "\n").encode()


def _seed_protocol() -> bytes:
    from importlib import resources
    return resources.files("rig.analysis.protocols").joinpath("defaults", "quiet_stance_mctsib.toml").read_bytes()


@pytest.fixture(scope="module")
def seed_calibration(tmp_path_factory) -> bytes:
    from calibration import fileformat as ff
    from calibration.flow import CalibrationFlow, nominal_model
    from tests.synthetic.plate import SyntheticPlate
    from rig.config import Config
    cfg = Config()
    plate = SyntheticPlate.imperfect(cfg.geometry(), nominal_model(cfg).n_per_count[0], seed=5, noise_counts=10)
    flow = CalibrationFlow(cfg, plate, mass_kg=20, grid="3", measure_s=0.5, tare_s=0.5)
    cal = flow.run(place=lambda s: plate.place(20, s.x_m, s.y_m), clear=lambda s: plate.clear())
    path = ff.save(cal, tmp_path_factory.mktemp("cal") / "calibration.json")
    return path.read_bytes()


@FUZZ
@given(blob=mutated(_seed_recording(), 8) | st.binary(max_size=300))
def test_fuzz_read_recording(tmp_path, blob):
    from rig.recording import reader as io
    p = tmp_path / "r.csv"
    p.write_bytes(blob)
    _count("rig.recording.reader.read_recording")
    try:
        io.read_recording(p)
    except io.RecordingError as exc:
        assert str(exc)


@FUZZ
@given(data=st.data())
def test_fuzz_calibration_file(tmp_path, seed_calibration, data):
    from calibration import fileformat as ff
    blob = data.draw(mutated(seed_calibration, 8) | st.binary(max_size=200)
                     | st.recursive(st.none() | st.floats() | st.integers() | st.text(max_size=8),
                                    lambda i: st.lists(i, max_size=4) | st.dictionaries(st.text(max_size=8), i, max_size=4))
                     .map(lambda v: json.dumps(v).encode()))
    p = tmp_path / "calibration.json"
    p.write_bytes(blob)
    _count("calibration.fileformat.load")
    try:
        ff.load(p)
    except ff.CalibrationFileError as exc:
        assert str(exc)


@FUZZ
@given(blob=mutated(_seed_protocol(), 8) | st.binary(max_size=200))
def test_fuzz_protocol_file(tmp_path, blob):
    from rig.analysis.protocols import ProtocolError, load_protocols
    p = tmp_path / "clinic.toml"
    p.write_bytes(blob)
    _count("rig.analysis.protocols.load_protocols")
    try:
        load_protocols(p)
    except ProtocolError as exc:
        assert str(exc)


@FUZZ
@given(blob=mutated(_seed_recording(), 8) | st.binary(max_size=300))
def test_fuzz_dashboard_upload_decoder(blob):
    from dashboard import recordings
    _count("dashboard.recordings.decode")
    try:
        recordings.decode(blob)
    except (recordings.RecordingError, ValueError) as exc:
        assert str(exc) or isinstance(exc, ValueError)


def test_report_reader_case_counts():
    total = sum(CASES.values())
    print("\nfile-reader fuzz cases:", json.dumps(CASES, indent=1), "total", total)
    assert total == 0 or total >= 1000
