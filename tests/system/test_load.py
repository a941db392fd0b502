"""Smoke test of the load test's code path (bench/load_test.py), so the harness cannot rot.

The same run as ``python -m bench load_test``, short: the acquisition process on the simulated
plate, the web process under waitress on loopback, 3 SSE viewers for 20 s while a trial records
through the run page's API. Asserted: nothing dropped between the acquisition and the stored
trial, and every viewer received samples. No timing assertions (latency, CPU and memory are
only reported by the full run)."""
from __future__ import annotations

import pytest


@pytest.mark.soak
def test_load_test_smoke_no_dropped_samples_and_every_viewer_served():
    from bench import load_test
    r = load_test.run(minutes=20 / 60, viewers=3, log=lambda m: None)
    s = r["samples"]
    assert r["trials"] and all(t["http"] == 201 and t["status"] == "ok" for t in r["trials"]), r["trials"]
    assert len(r["checks"]) == len(r["trials"])
    assert s["recorded"] > 0 and s["recorded"] == s["published_in_trials"]
    assert s["dropped"] == 0 and s["extra"] == 0 and s["gaps"] == 0 and s["gap_flags"] == 0, s
    assert s["witness_seq_gaps"] == 0 and s["witness_overrun"] == 0
    assert len(r["per_viewer"]) == 3
    for v in r["per_viewer"]:
        assert v["messages"] > 0 and v["samples"] > 0, v
        assert v["server_dropped"] == 0
    for name in ("web", "acquisition"):
        assert r["memory"][name]["start_mb"] > 0
    load_test.print_summary(r, out=print)


def test_options_from_argv_and_env(monkeypatch):
    from bench import load_test
    monkeypatch.delenv("LOAD_MINUTES", raising=False)
    monkeypatch.delenv("LOAD_VIEWERS", raising=False)
    assert load_test.parse_options([]) == {"minutes": 10.0, "viewers": 20}
    assert load_test.parse_options(["--minutes", "2", "--viewers=5"]) == {"minutes": 2.0, "viewers": 5}
    monkeypatch.setenv("LOAD_MINUTES", "0.5")
    monkeypatch.setenv("LOAD_VIEWERS", "3")
    assert load_test.parse_options([]) == {"minutes": 0.5, "viewers": 3}
    with pytest.raises(SystemExit):
        load_test.parse_options(["--seconds", "3"])
