"""The supervisor that restarts the acquisition process: a crash loop ends, a clean exit is left alone."""
from __future__ import annotations

import sys

from rig.acquire.supervise import Supervisor


def test_supervisor_gives_up_on_a_crash_loop_and_leaves_a_clean_exit_alone(tmp_path):
    bad = Supervisor([sys.executable, "-c", "raise SystemExit(3)"], restart_s=0.01, burst=4).start()
    bad._thread.join(20)
    assert bad.poll() == 3 and bad.exits == [3, 3, 3, 3] and bad.restarts == 3
    ok = Supervisor([sys.executable, "-c", "pass"]).start()
    ok._thread.join(20)
    assert ok.poll() == 0 and ok.restarts == 0
