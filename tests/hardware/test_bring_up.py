"""The bring-up checklist of hardware/README.md, walked on the simulated plate: boards that are
not wired yet are the simulator's "unplugged" chips, and each step's `rig doctor` says what the
checklist's "expected" column says."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from rig.cli import main
from rig.constants import CORNERS
from tests import ROOT

UNPLUGGED = {c: ["--sim-fault", f"{c}:unplugged"] for c in CORNERS}


def doctor(*args):
    r = CliRunner().invoke(main, ["doctor", "--backend", "sim", "--json", "--seconds", "2", *args])
    return r.exit_code, json.loads(r.output)


def _unplug(*corners):
    return [a for c in corners for a in UNPLUGGED[c]]


def test_step_1_no_boards_all_four_not_ready():
    code, rep = doctor(*_unplug(*CORNERS))
    assert code == 1
    assert [c["ready"] for c in rep["chips"]] == [False] * 4
    assert all(c["state"] == "not responding" for c in rep["chips"])
    assert sum("not responding" in p for p in rep["problems"]) == 4


@pytest.mark.parametrize("wired", [("fl",), ("fl", "fr"), ("fl", "fr", "bl")])
def test_step_2_one_board_at_a_time_reads_at_full_rate(wired):
    missing = [c for c in CORNERS if c not in wired]
    code, rep = doctor("--chips", ",".join(wired), *_unplug(*missing))
    assert code == 0, rep["problems"]
    chips = {c["name"]: c for c in rep["chips"]}
    for c in wired:
        assert chips[c]["ready"] is True and chips[c]["invalid_frames"] == 0
        assert chips[c]["achieved_sps"] == pytest.approx(80, abs=1.5)
    for c in missing:
        assert chips[c]["state"] == "not checked"
    assert rep["health"]["invalid_frames"] == 0 and rep["health"]["resyncs"] == 0


def test_step_2_a_miswired_board_is_named():
    code, rep = doctor("--chips", "fl,br", *_unplug("br"))
    assert code == 1
    assert rep["problems"] == ["back-right load cell not responding — check its cable"]
    assert {c["name"]: c["ready"] for c in rep["chips"]}["fl"] is True


def test_step_4_all_four_ready_at_80_sps():
    code, rep = doctor()
    assert code == 0, rep["problems"]
    assert all(c["ready"] for c in rep["chips"])
    assert rep["health"]["achieved_sps"] == pytest.approx(80, abs=1.5)
    assert rep["health"]["invalid_frames"] == 0 and rep["health"]["resyncs"] == 0


def test_the_checklist_says_what_these_tests_check():
    text = (ROOT / "hardware" / "README.md").read_text(encoding="utf-8")
    assert "rig doctor --chips fl" in text and "not checked" in text and "test_bring_up.py" in text


def test_bad_chip_names_are_refused():
    r = CliRunner().invoke(main, ["doctor", "--backend", "sim", "--chips", "fl,xx"])
    assert r.exit_code == 2 and "fl, fr, bl, br" in r.output
