"""Deployment: the install script's dry-run plan on this machine, shellcheck, the systemd units
(parsed here; `systemd-analyze verify` where available) and `rig status`.

The install script is only ever run here with --dry-run (or with a PATH that holds no
command able to change the system). Tools: shellcheck (apt package `shellcheck`) and
systemd-analyze (apt package `systemd`); the tests that need them skip without them.
"""
from __future__ import annotations

import configparser
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from rig.cli import config as config_cli
from rig.cli import main
from tests import ROOT

SCRIPT = ROOT / "hardware" / "install-pi.sh"
UNITS = ROOT / "hardware" / "systemd"

EXPECTED_STEPS = [
    "check the system",
    "system packages",
    "gpio group and device permissions",
    "users: stepplate (web, unprivileged) and stepplate-acq (acquisition, in gpio)",
    "folders: /opt/stepplate, /etc/stepplate, /var/lib/stepplate",
    "virtual environment /opt/stepplate/venv",
    "the stepplate package with its compiled core",
    "config /etc/stepplate/rig.toml",
    "systemd units in /etc/systemd/system",
    "hostname",
    "enable and (re)start the services",
    "check",
    "done",
]
TOUCHED = [Path("/etc/stepplate"), Path("/opt/stepplate"), Path("/var/lib/stepplate"),
           Path("/etc/systemd/system/stepplate-acquire.service"),
           Path("/etc/systemd/system/stepplate-web.service"),
           Path("/etc/udev/rules.d/60-stepplate-gpio.rules")]


def dry_run(*args: str) -> subprocess.CompletedProcess:
    assert "--dry-run" not in args
    return subprocess.run(["bash", str(SCRIPT), "--dry-run", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "LC_ALL": "C"})


def snapshot():
    return {p: (p.exists(), p.stat().st_mtime_ns if p.exists() else None) for p in TOUCHED}


@pytest.fixture(scope="module")
def plan() -> str:
    before = snapshot()
    r = dry_run()
    assert r.returncode == 0, r.stderr
    assert snapshot() == before, "a dry run must not change the system"
    return r.stdout


def steps(out: str) -> list[str]:
    return [line.split("] ", 1)[1] for line in out.splitlines() if line.startswith("==> [")]


def commands(out: str) -> list[str]:
    return [line.strip()[2:] for line in out.splitlines() if line.strip().startswith("+ ")]


# --- the install script -------------------------------------------------------------------

def test_script_is_valid_bash_with_strict_mode():
    text = SCRIPT.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in text
    r = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert os.access(SCRIPT, os.X_OK), "install-pi.sh must be executable"


def test_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (apt-get install shellcheck)")
    r = subprocess.run(["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_dry_run_plan_steps_in_order(plan):
    got = steps(plan)
    assert len(got) == len(EXPECTED_STEPS)
    for g, want in zip(got, EXPECTED_STEPS):
        assert g.startswith(want), (g, want)
    assert "==> [13/13] done" in plan
    assert plan.rstrip().endswith("(dry run: nothing was changed)")


def test_dry_run_plan_actions(plan):
    cmds = commands(plan)
    joined = "\n".join(cmds)
    # users: the acquisition user is in gpio, the web user is not
    acq = [c for c in cmds if c.startswith("useradd") and c.endswith(" stepplate-acq")]
    web = [c for c in cmds if c.startswith("useradd") and c.endswith(" stepplate")]
    if acq:
        assert "--groups gpio" in acq[0] and "--system" in acq[0]
    if web:
        assert "gpio" not in web[0] and "--shell /usr/sbin/nologin" in web[0]
    # the package with its compiled core, checked
    assert f"/opt/stepplate/venv/bin/python -m pip install -q {ROOT}[pi]" in cmds
    assert any("core.COMPILED" in c for c in cmds)
    # config, with the shared data folder, then validated
    if not Path("/etc/stepplate/rig.toml").exists():
        assert ("/opt/stepplate/venv/bin/rig config init /etc/stepplate/rig.toml "
                "--set paths.data_dir=/var/lib/stepplate") in cmds
    assert "/opt/stepplate/venv/bin/rig config check --quiet /etc/stepplate/rig.toml" in cmds
    # units installed, services enabled after them
    for u in ("stepplate-acquire.service", "stepplate-web.service",
              "stepplate-backup.service", "stepplate-backup.timer"):
        installed = Path("/etc/systemd/system") / u
        if not installed.exists():
            assert f"write {installed} (mode 0644, root:root)" in cmds
    assert "systemctl enable --now avahi-daemon.service" in cmds
    enable = cmds.index("systemctl enable stepplate-acquire.service stepplate-web.service")
    assert cmds.index("systemctl restart stepplate-acquire.service stepplate-web.service") > enable
    assert "write /etc/systemd/system/stepplate-acquire.service" not in "\n".join(cmds[enable:])
    # the nightly backup timer (docs/reliability.md) is enabled too
    assert cmds.index("systemctl enable --now stepplate-backup.timer") > enable
    # hostname for rig.local
    if socket.gethostname() != "rig":
        assert "hostnamectl set-hostname rig" in joined
    assert "Tablet URL:   http://rig.local:5000/" in plan


def test_dry_run_checks_before_acting_hostname_already_set(plan):
    r = dry_run("--hostname", socket.gethostname())
    assert r.returncode == 0, r.stderr
    assert f"ok: hostname is {socket.gethostname()}" in r.stdout
    assert "hostnamectl" not in r.stdout
    assert f"http://{socket.gethostname()}.local:5000/" in r.stdout


def test_dry_run_plans_missing_folders_with_owners(plan):
    cmds = commands(plan)
    for d, line in (("/etc/stepplate", "install -d -m 0750 -o root -g stepplate /etc/stepplate"),
                    ("/var/lib/stepplate",
                     "install -d -m 2770 -o stepplate-acq -g stepplate /var/lib/stepplate")):
        if not Path(d).exists():
            assert line in cmds


def test_unknown_option_is_an_error():
    r = subprocess.run(["bash", str(SCRIPT), "--bogus"], capture_output=True, text=True)
    assert r.returncode == 2 and "unknown option --bogus" in r.stderr


def test_help():
    r = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--dry-run" in r.stdout and "--hostname" in r.stdout


def test_refuses_a_real_run_off_a_pi(tmp_path):
    """Without --dry-run, off a Pi (or as non-root) it stops before changing anything. The PATH
    holds only harmless tools, so even a broken guard could not change this machine."""
    model = Path("/proc/device-tree/model")
    if model.exists() and model.read_bytes().startswith(b"Raspberry Pi"):
        pytest.skip("this is a Raspberry Pi")
    for tool in ("uname", "tr", "dirname", "cat", "sed"):
        src = shutil.which(tool)
        if src:
            (tmp_path / tool).symlink_to(src)
    r = subprocess.run(["/bin/bash", str(SCRIPT)], capture_output=True, text=True, timeout=30,
                       env={"PATH": str(tmp_path)})
    assert r.returncode == 1
    assert "not a Raspberry Pi" in r.stderr or "run as root" in r.stderr
    assert "==> [2/13]" not in r.stdout


# --- systemd units ------------------------------------------------------------------------------

def read_unit(name: str) -> configparser.ConfigParser:
    p = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    p.optionxform = str  # keys are case-sensitive in systemd
    p.read_string((UNITS / name).read_text(encoding="utf-8"))
    return p


def test_units_shipped_are_the_ones_rig_status_reads():
    assert sorted(p.name for p in UNITS.glob("*.service")) == sorted(config_cli.UNITS)
    assert list(config_cli.UNITS) == ["stepplate-acquire.service", "stepplate-web.service"]


def test_acquire_unit():
    u = read_unit("stepplate-acquire.service")
    s = u["Service"]
    assert s["ExecStart"] == "/opt/stepplate/venv/bin/rig acquire"
    assert s["Restart"] == "on-failure"
    assert s["User"] == "stepplate-acq" and s["SupplementaryGroups"] == "gpio"
    assert s["CPUSchedulingPolicy"] == "fifo" and 1 <= int(s["CPUSchedulingPriority"]) <= 99
    assert int(s["LimitRTPRIO"]) >= int(s["CPUSchedulingPriority"])
    assert "RIG_CONFIG=/etc/stepplate/rig.toml" in s["Environment"]
    assert s["StandardOutput"] == "journal" and s["StandardError"] == "journal"
    assert s["ReadWritePaths"] == "/var/lib/stepplate" and s["ProtectSystem"] == "strict"
    # / is read-only (ProtectSystem=strict): lgpio's notification FIFO needs a writable LG_WD,
    # the service's own runtime directory
    env = dict(kv.split("=", 1) for kv in s["Environment"].split())
    assert env["LG_WD"] == "%t/" + s["RuntimeDirectory"] and s["RuntimeDirectoryMode"] == "0700"
    assert "stepplate-web.service" in u["Unit"]["Before"].split()
    assert u["Install"]["WantedBy"] == "multi-user.target"


def test_web_unit_is_unprivileged_and_after_acquisition():
    u = read_unit("stepplate-web.service")
    s = u["Service"]
    assert s["ExecStart"] == "/opt/stepplate/venv/bin/rig serve"
    assert s["User"] == "stepplate" and s["User"] != "root"
    assert "SupplementaryGroups" not in s, "the web process must not be in gpio"
    assert s["PrivateDevices"] == "yes" and s["NoNewPrivileges"] == "yes"
    assert s["ProtectSystem"] == "strict" and s["PrivateTmp"] == "yes"
    assert s["ReadWritePaths"] == "/var/lib/stepplate"
    assert s["CapabilityBoundingSet"] == "CAP_NET_BIND_SERVICE"
    assert s["Restart"] == "on-failure"
    assert "stepplate-acquire.service" in u["Unit"]["After"].split()
    assert "stepplate-acquire.service" in u["Unit"]["Wants"].split()
    assert s["StandardOutput"] == "journal"


def test_units_share_the_data_folder_group_and_config():
    a, w = (read_unit(n)["Service"] for n in config_cli.UNITS)
    assert a["Group"] == w["Group"] == "stepplate"
    assert a["UMask"] == w["UMask"] == "0007"
    # the same config and output settings (the acquire unit adds lgpio's LG_WD)
    assert set(w["Environment"].split()) <= set(a["Environment"].split())


def test_systemd_analyze_verify(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    fake = tmp_path / "rig"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    names = []
    for unit in sorted(UNITS.glob("*.service")):
        text = unit.read_text(encoding="utf-8").replace("/opt/stepplate/venv/bin/rig", str(fake))
        (tmp_path / unit.name).write_text(text)
        names.append(str(tmp_path / unit.name))
    r = subprocess.run(["systemd-analyze", "verify", *names], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert r.returncode == 0 and (r.stdout + r.stderr).strip() == "", r.stdout + r.stderr
    # and it would catch a mistake
    bad = tmp_path / "bad.service"
    bad.write_text((tmp_path / "stepplate-web.service").read_text().replace("Restart=on-failure",
                                                                           "Restart=sometimes"))
    r = subprocess.run(["systemd-analyze", "verify", str(bad)], capture_output=True, text=True,
                       timeout=60, cwd=tmp_path)
    assert "restart" in (r.stdout + r.stderr).lower()


# --- rig status ---------------------------------------------------------------------------------

def fake_tools(tmp_path: Path, systemctl: str, journalctl: str | None = None) -> str:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, body in (("systemctl", systemctl), ("journalctl", journalctl)):
        if body is not None:
            (bin_ / name).write_text(f"#!/bin/sh\n{body}\n")
            (bin_ / name).chmod(0o755)
    return str(bin_)


SHOW = """case "$2" in
  stepplate-acquire.service) printf 'LoadState=loaded\\nActiveState=active\\nSubState=running\\nResult=success\\nMainPID=4242\\nNRestarts=0\\nUser=stepplate-acq\\n' ;;
  stepplate-web.service) printf 'LoadState=loaded\\nActiveState=%s\\nSubState=%s\\nResult=%s\\nMainPID=%s\\nNRestarts=3\\nUser=stepplate\\n' $WEB ;;
esac"""


@pytest.mark.parametrize("web,code", [("active running success 4343", 0), ("failed failed exit-code 0", 3)])
def test_status_reads_units_and_journal(tmp_path, monkeypatch, web, code):
    path = fake_tools(tmp_path, SHOW, 'echo "2026-01-01T10:00:00 rig $1 $2: line for $2"')
    monkeypatch.setenv("PATH", path)
    monkeypatch.setenv("WEB", web)
    r = CliRunner().invoke(main, ["status", "-n", "5"])
    assert r.exit_code == code, r.output
    assert "● stepplate-acquire.service: active (running), pid 4242, user stepplate-acq" in r.output
    assert "line for stepplate-acquire.service" in r.output and "line for stepplate-web.service" in r.output
    if code:
        assert "● stepplate-web.service: failed (failed), user stepplate, restarted 3×, last result exit-code" in r.output


def test_status_json(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_tools(tmp_path, SHOW, "echo one"))
    monkeypatch.setenv("WEB", "active running success 1")
    r = CliRunner().invoke(main, ["status", "--json", "-n", "0"])
    import json
    report = json.loads(r.output)
    assert r.exit_code == 0 and report["systemd"] is True
    assert report["units"]["stepplate-acquire.service"]["MainPID"] == "4242"
    assert report["units"]["stepplate-web.service"]["log"] == []


def test_status_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_tools(tmp_path, "printf 'LoadState=not-found\\nActiveState=inactive\\n'",
                                          "echo '-- No entries --'"))
    r = CliRunner().invoke(main, ["status"])
    assert r.exit_code == 3 and "not installed" in r.output


def test_status_without_systemd_running(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_tools(
        tmp_path, "echo 'System has not been booted with systemd as init system (PID 1). Can\\'t operate.' >&2; exit 1"))
    r = CliRunner().invoke(main, ["status"])
    assert r.exit_code == 4 and "systemd is not available" in r.output


def test_status_without_systemctl(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    r = CliRunner().invoke(main, ["status", "--json"])
    assert r.exit_code == 4
    assert '"reason": "systemctl not found"' in r.output


def test_status_on_this_machine_is_robust():
    """Whatever this machine is (CI container, laptop, Pi), status answers with a documented code."""
    rig = Path(sys.executable).parent / "rig"
    if not rig.exists():
        pytest.skip(f"the rig console script is not installed beside {sys.executable}")
    r = subprocess.run([str(rig), "status", "-n", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode in (0, 3, 4), r.stdout + r.stderr
    assert "Traceback" not in r.stderr
