"""Load test: N live viewers for M minutes while a trial records (python -m bench load_test).

    python -m bench load_test [--minutes 10] [--viewers 20]      (env: LOAD_MINUTES, LOAD_VIEWERS)

Loopback only, bounded in time and in requests, stops by itself. Three processes, as on the rig:

* the acquisition: ``python -m rig acquire --backend sim --socket <tmp>/acquire.sock`` (the
  simulated plate in real time, exactly what ``rig demo`` starts);
* the web process: ``python -m bench.load_test --web-child ...``: the app built by
  ``rig.cli.web.make_web_app`` (as ``rig serve``) under waitress on 127.0.0.1, ephemeral port,
  ``dashboard.live.waitress_threads`` threads, with its own temporary database and data folder;
* this process (the "clinic"): creates the admin through ``/auth/setup``, logs in, creates a
  patient and a session through the forms (real CSRF), connects N SSE viewers to
  ``/api/live/stream?protocol=single_leg_stance`` (the run page's stream), records
  consecutive trials covering the run through ``POST /api/sessions/<id>/trials/record`` (the
  run page's API; at most 120 s each), and subscribes to the acquisition socket itself as a
  witness of every published sample (``seq``, ``t_s``) and of the stream's time base.

Measures:
* **dropped samples**: every trial is read back through ``/api/trials/<id>/samples``; its
  ``t_s`` are matched against the samples the acquisition published over the trial's span
  (witness); published but not recorded = dropped. Also gaps in ``t_s`` (> 1.5 periods), GAP
  flags, witness ``seq`` gaps and overruns.
* **latency** per sample = arrival at the viewer − acquisition time of the sample; the stream's
  time base (t_s → this machine's monotonic clock) is the smallest (arrival − last t_s) of the
  witness's batches in each 10 s window (as bench_dashboard does, per window so a slow drift of
  the simulated clock does not bias the end of a long run). Underestimates by the socket's
  minimum transit (well under 1 ms).
* **memory**: VmRSS of the web and acquisition processes every 10 s; start/middle/end and the
  least-squares slope (MB/min) over the whole run and over its second half.
* **CPU**: user+system time of each process over the run, as % of one core.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

import numpy as np

RATE_HZ = 80.0
MAX_TRIAL_S = 120.0
PASSWORD = "load-test-password"
STREAM = "/api/live/stream?protocol=single_leg_stance"
MEM_EVERY_S = 10.0


# --- options ---------------------------------------------------------------------------------

def parse_options(argv: list[str]) -> dict:
    """``--minutes M --viewers N`` (or ``--minutes=M``), defaults from $LOAD_MINUTES / $LOAD_VIEWERS, else 10 / 20."""
    opts = {"minutes": float(os.environ.get("LOAD_MINUTES", 10)), "viewers": int(os.environ.get("LOAD_VIEWERS", 20))}
    it = iter(argv)
    for a in it:
        key, eq, val = a.partition("=")
        if key in ("--minutes", "--viewers"):
            val = val if eq else next(it, None)
            if val is None:
                raise SystemExit(f"{key} needs a value")
            opts[key[2:]] = float(val) if key == "--minutes" else int(val)
        else:
            raise SystemExit(f"load_test: unknown option {a!r} (want --minutes M --viewers N)")
    if not 0 < opts["minutes"] <= 60 or not 1 <= opts["viewers"] <= 32:
        raise SystemExit("load_test: --minutes in (0, 60], --viewers in [1, 32] (LIVE_SSE_MAX_VIEWERS)")
    return opts


# --- /proc ------------------------------------------------------------------------------------

def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """user + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- a tiny HTTP session (cookies, CSRF) --------------------------------------------------------

class Http:
    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.requests = 0

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            conn.request(method, path, body=body, headers=h)
            self.requests += 1
            r = conn.getresponse()
            data = r.read()
            for k, v in r.getheaders():
                if k.lower() == "set-cookie":
                    name, _, rest = v.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
            return r.status, dict(r.getheaders()), data
        finally:
            conn.close()

    def csrf(self, path) -> str:
        status, _, html = self.request("GET", path)
        m = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html) or \
            re.search(rb'name="csrf-token" content="([^"]+)"', html)
        if status != 200 or not m:
            raise RuntimeError(f"no CSRF token on {path} (HTTP {status})")
        return m.group(1).decode()

    def form(self, path, fields: dict, token_from=None):
        from urllib.parse import urlencode
        fields = {"csrf_token": self.csrf(token_from or path), **fields}
        return self.request("POST", path, urlencode(fields),
                            {"Content-Type": "application/x-www-form-urlencoded"})

    def json(self, method, path, body=None, token=None, timeout=30.0):
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            h["X-CSRFToken"] = token
        status, _, data = self.request(method, path, None if body is None else json.dumps(body), h, timeout)
        try:
            return status, json.loads(data)
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}


def clinic_setup(http: Http) -> tuple[int, str]:
    """Admin (first-run setup), logout, login, a patient and a session; returns (session id, CSRF token)."""
    status, hdr, _ = http.form("/auth/setup", {"username": "load", "password": PASSWORD, "confirm": PASSWORD})
    if status != 302:
        raise RuntimeError(f"setup failed: HTTP {status}")
    http.form("/auth/logout", {}, token_from="/patients/")
    http.cookies.clear()
    status, hdr, _ = http.form("/auth/login", {"username": "load", "password": PASSWORD})
    if status != 302:
        raise RuntimeError(f"login failed: HTTP {status}")
    status, hdr, _ = http.form("/patients/new", {"code": "LOAD-1", "body_mass_kg": "70", "dominant_leg": "right",
                                                 "notes": "load test"})
    if status != 302:
        raise RuntimeError(f"new patient failed: HTTP {status}")
    pid = int(hdr["Location"].rstrip("/").split("/")[-1])
    status, hdr, _ = http.form(f"/patients/{pid}/sessions", {"protocol": "single_leg_stance"},
                               token_from=f"/patients/{pid}")
    if status != 302 or "/run" not in hdr.get("Location", ""):
        raise RuntimeError(f"new session failed: HTTP {status}")
    sid = int(hdr["Location"].split("/")[-2])
    return sid, http.csrf(f"/sessions/{sid}/run")


# --- the witness: every published batch, and the stream's time base -----------------------------

class Witness:
    def __init__(self, sock: Path):
        from rig.acquire.ipc import Client
        self.client = Client(sock, reconnect=False)
        self.t_s = array("d")
        self.seqs = array("q")
        self.batch_pub = array("d")       # monotonic arrival − last t_s, per batch
        self.batch_at = array("d")        # monotonic arrival, per batch
        self.overrun = 0
        self.disconnects = 0
        self.health = None
        self.first_batch = threading.Event()
        self.thread = threading.Thread(target=self._run, name="witness", daemon=True)
        self.thread.start()

    def _run(self):
        for msg in self.client.messages():
            now = time.monotonic()
            kind = msg.get("type")
            if kind == "batch" and msg.get("samples"):
                self.seqs.append(int(msg["seq"]))
                for row in msg["samples"]:
                    self.t_s.append(float(row[0]))
                self.batch_pub.append(now - float(msg["samples"][-1][0]))
                self.batch_at.append(now)
                self.first_batch.set()
            elif kind == "health":
                self.health = msg
            elif kind == "overrun":
                self.overrun = int(msg.get("dropped", 0))
            elif kind == "disconnected":
                self.disconnects += 1

    def offsets(self, window_s=MEM_EVERY_S):
        """(window start times, min offset per window) over the run."""
        at, off = np.array(self.batch_at), np.array(self.batch_pub)
        if not len(at):
            return np.zeros(0), np.zeros(0)
        k = ((at - at[0]) // window_s).astype(int)
        starts, mins = [], []
        for w in np.unique(k):
            sel = k == w
            starts.append(at[sel][0])
            mins.append(off[sel].min())
        return np.array(starts), np.array(mins)

    def close(self):
        self.client.close()


# --- viewers ---------------------------------------------------------------------------------

class Viewer:
    """One SSE client on the run page's stream: per sample, arrival time and arrival − t_s."""

    def __init__(self, port: int, stop: threading.Event, i: int):
        self.port, self.stop, self.i = port, stop, i
        self.arrival = array("d")
        self.raw = array("d")             # arrival − t_s (the stream time base is subtracted later)
        self.messages = 0
        self.health_events = 0
        self.server_dropped = 0
        self.status = None
        self.error = None
        self.reconnects = 0
        self.thread = threading.Thread(target=self._run, name=f"viewer-{i}", daemon=True)

    def _run(self):
        while not self.stop.is_set():
            try:
                self._once()
            except Exception as exc:  # noqa: BLE001 - reported in the summary
                self.error = f"{type(exc).__name__}: {exc}"
            if not self.stop.is_set():
                self.reconnects += 1
                self.stop.wait(2.0)       # the EventSource's retry

    def _once(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", STREAM, headers={"Accept": "text/event-stream"})
            resp = conn.getresponse()
            self.status = resp.status
            if resp.status != 200:
                resp.read()
                raise RuntimeError(f"HTTP {resp.status}")
            event = "message"
            while not self.stop.is_set():
                line = resp.fp.readline()
                if not line:
                    raise RuntimeError("stream closed by the server")
                now = time.monotonic()
                if line.startswith(b"event: "):
                    event = line[7:].strip().decode()
                elif line.startswith(b"data: "):
                    if event == "message":
                        msg = json.loads(line[6:])
                        self.messages += 1
                        self.server_dropped = max(self.server_dropped, int(msg.get("dropped") or 0))
                        for t in msg.get("t_s") or []:
                            self.arrival.append(now)
                            self.raw.append(now - t)
                    elif event == "health":
                        self.health_events += 1
                elif line in (b"\n", b"\r\n"):
                    event = "message"
        finally:
            conn.close()


# --- the trial recorder (the run page's API) ----------------------------------------------------

def record_trials(http: Http, sid: int, token: str, until: float, out: list, stop: threading.Event):
    """Consecutive trials (each ≤ 120 s) until ``until`` (monotonic)."""
    while not stop.is_set():
        left = until - time.monotonic()
        if left < 5:
            return
        seconds = round(min(MAX_TRIAL_S, left - 2), 1)
        t0 = time.monotonic()
        status, body = http.json("POST", f"/api/sessions/{sid}/trials/record", {"side": "left", "seconds": seconds},
                                 token=token, timeout=seconds + 60)
        out.append({"http": status, "seconds": seconds, "wall_s": time.monotonic() - t0, "ended_at": time.monotonic(),
                    "trial_id": body.get("trial_id"), "status": body.get("status"),
                    "n_samples": body.get("n_samples"), "error": body.get("error")})
        if status not in (200, 201):
            return


def check_trial(http: Http, trial_id: int, published: np.ndarray) -> dict:
    """The stored trial against what the acquisition published over its span."""
    status, body = http.json("GET", f"/api/trials/{trial_id}/samples?max_points=100000")
    if status != 200:
        return {"trial_id": trial_id, "error": f"samples: HTTP {status}"}
    cols = body["columns"]
    arr = np.array([[np.nan if v is None else v for v in r] for r in body["samples"]], dtype=float)
    # the recording counts from the trial's first sample; the witness saw stream time
    t = arr[:, cols.index("t_s")] + float(body.get("stream_t0_s") or 0.0)
    flags = arr[:, cols.index("flags")].astype(int) if "flags" in cols else np.zeros(len(t), int)
    lo, hi = t[0], t[-1]
    span = published[(published >= lo - 1e-3) & (published <= hi + 1e-3)]
    idx = np.clip(np.searchsorted(span, t), 1, max(1, len(span) - 1))
    near = np.minimum(np.abs(span[idx - 1] - t), np.abs(span[np.minimum(idx, len(span) - 1)] - t)) \
        if len(span) else np.full(len(t), np.inf)
    matched = int((near < 1e-3).sum())
    dt = np.diff(t)
    period = float(np.median(dt)) if len(dt) else 1 / RATE_HZ
    return {"trial_id": trial_id, "recorded": len(t), "published": len(span), "matched": matched,
            "dropped": len(span) - matched, "extra": len(t) - matched, "t_first": lo, "t_last": hi,
            "gaps": int((dt > 1.5 * period).sum()), "max_dt_ms": float(dt.max() * 1000) if len(dt) else 0.0,
            "gap_flags": int(((flags & 8) != 0).sum()), "fault_flags": int(((flags & 64) != 0).sum()),
            "decimation": body.get("decimation")}


# --- the web process ------------------------------------------------------------------------------

def web_child(sock: str, data: str, portfile: str) -> None:
    """The web process as `rig serve` runs it, on an ephemeral loopback port (written to ``portfile``)."""
    import logging

    from waitress.server import create_server

    from dashboard.live import waitress_threads
    from rig.cli.web import make_web_app
    from rig.config import Config
    logging.basicConfig(level=logging.WARNING)
    app = make_web_app(Config().validate(), sock, data_dir=data)
    srv = create_server(app, host="127.0.0.1", port=0, threads=waitress_threads(app), ident="stepplate",
                        channel_timeout=30)
    tmp = portfile + ".tmp"
    Path(tmp).write_text(str(srv.effective_port))
    os.replace(tmp, portfile)
    import signal
    signal.signal(signal.SIGTERM, lambda *_: srv.close() or os._exit(0))
    srv.run()


def _wait(cond, timeout, what, procs=()):
    deadline = time.monotonic() + timeout
    while not cond():
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"{what}: a child process exited with code {p.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:g} s")
        time.sleep(0.1)


def _stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _pct(x, q):
    return float(np.percentile(x, q)) if len(x) else float("nan")


def _slope(ts, ys):
    if len(ts) < 2:
        return float("nan")
    return float(np.polyfit((np.asarray(ts) - ts[0]) / 60.0, ys, 1)[0])


# --- the run --------------------------------------------------------------------------------------

def run(minutes: float = 10.0, viewers: int = 20, log=print) -> dict:
    from rig.acquire.ipc import server_running
    seconds = minutes * 60.0
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="stepplate-load-") as tmpd:
        tmp = Path(tmpd)
        sock, data, portfile = tmp / "acquire.sock", tmp / "data", tmp / "web.port"
        logs = {n: open(tmp / f"{n}.log", "wb") for n in ("acquire", "web")}
        acq = subprocess.Popen([sys.executable, "-m", "rig", "acquire", "--backend", "sim", "--socket", str(sock)],
                               cwd=root, env=env, stdout=logs["acquire"], stderr=subprocess.STDOUT)
        web = None
        witness = None
        stop = threading.Event()
        vs: list[Viewer] = []
        try:
            _wait(lambda: server_running(sock), 60, "acquisition socket", [acq])
            web = subprocess.Popen([sys.executable, "-m", "bench.load_test", "--web-child", str(sock), str(data),
                                    str(portfile)], cwd=root, env=env, stdout=logs["web"], stderr=subprocess.STDOUT)
            _wait(portfile.exists, 60, "web process", [acq, web])
            port = int(portfile.read_text())
            witness = Witness(sock)
            _wait(witness.first_batch.is_set, 60, "first batch (tare)", [acq, web])
            http = Http(port)
            sid, token = clinic_setup(http)
            log(f"acquisition pid {acq.pid}, web pid {web.pid} on 127.0.0.1:{port}; "
                f"{viewers} viewers, {minutes:g} min")

            vs = [Viewer(port, stop, i) for i in range(viewers)]
            for v in vs:
                v.thread.start()
            _wait(lambda: all(v.messages for v in vs), 30, "every viewer's first message", [acq, web])

            pids = {"web": web.pid, "acquisition": acq.pid, "harness": os.getpid()}
            t_start = time.monotonic()
            cpu0 = {k: cpu_s(p) for k, p in pids.items()}
            mem = []                                     # (t, {name: MB})
            until = t_start + seconds
            trials: list[dict] = []
            rec = threading.Thread(target=record_trials, args=(http, sid, token, until, trials, stop),
                                   name="recorder", daemon=True)
            rec.start()
            next_mem = t_start
            while True:
                now = time.monotonic()
                if now >= next_mem:
                    mem.append((now - t_start, {k: rss_mb(p) for k, p in pids.items() if k != "harness"}))
                    last = mem[-1][1]
                    log(f"  t={now - t_start:5.0f} s  RSS web {last['web']:.1f} MB, acq {last['acquisition']:.1f} MB; "
                        f"trials done {len(trials)}; viewer msgs {min(v.messages for v in vs)}–"
                        f"{max(v.messages for v in vs)}")
                    next_mem += MEM_EVERY_S
                for p in (acq, web):
                    if p.poll() is not None:
                        raise RuntimeError(f"child {p.pid} exited with code {p.returncode}")
                if now >= until and not rec.is_alive():
                    break
                if now >= until + MAX_TRIAL_S + 60:
                    raise RuntimeError("the last trial did not finish")
                time.sleep(min(1.0, max(0.05, next_mem - time.monotonic())))
            elapsed = time.monotonic() - t_start
            cpu1 = {k: cpu_s(p) for k, p in pids.items()}
            mem.append((elapsed, {k: rss_mb(p) for k, p in pids.items() if k != "harness"}))
            stop.set()
            for v in vs:
                v.thread.join(15)
            time.sleep(0.5)                              # the witness has the last batches
            published = np.sort(np.array(witness.t_s))
            checks = [check_trial(http, tr["trial_id"], published) for tr in trials if tr.get("trial_id")]
            result = summarise(viewers, minutes, elapsed, vs, witness, trials, checks, mem, cpu0, cpu1, http)
            return result
        except BaseException:
            for n, f in logs.items():
                f.flush()
                tail = (tmp / f"{n}.log").read_bytes()[-3000:].decode(errors="replace")
                log(f"--- {n} process log (tail) ---\n{tail}")
            raise
        finally:
            stop.set()
            if witness is not None:
                witness.close()
            for p in (web, acq):
                if p is not None:
                    _stop(p)
            for f in logs.values():
                f.close()


def summarise(viewers, minutes, elapsed, vs, witness, trials, checks, mem, cpu0, cpu1, http) -> dict:
    starts, offs = witness.offsets()
    per_viewer = []
    all_lat = []
    for v in vs:
        arr, raw = np.array(v.arrival), np.array(v.raw)
        if len(arr) and len(starts):
            w = np.clip(np.searchsorted(starts, arr, side="right") - 1, 0, len(offs) - 1)
            lat = (raw - offs[w]) * 1000
        else:
            lat = np.zeros(0)
        all_lat.append(lat)
        per_viewer.append({"viewer": v.i, "messages": v.messages, "samples": len(lat), "p50_ms": _pct(lat, 50),
                           "p99_ms": _pct(lat, 99), "max_ms": float(lat.max()) if len(lat) else float("nan"),
                           "server_dropped": v.server_dropped, "reconnects": v.reconnects, "error": v.error,
                           "health_events": v.health_events})
    lat = np.concatenate(all_lat) if all_lat else np.zeros(0)
    arrivals = np.concatenate([np.array(v.arrival) for v in vs]) if vs else np.zeros(0)
    timeline = []                                        # per 10 s window: p99 and max over every viewer
    if len(arrivals):
        t_begin = arrivals.min()
        k = ((arrivals - t_begin) // MEM_EVERY_S).astype(int)
        for w in np.unique(k):
            x = lat[k == w]
            timeline.append({"t_s": float(w * MEM_EVERY_S), "p99_ms": _pct(x, 99), "max_ms": float(x.max())})
        for tr in trials:
            if tr.get("ended_at") is not None:
                tr["ended_at_s"] = float(tr["ended_at"] - t_begin)
    seqs = np.array(witness.seqs, dtype=np.int64)
    ts = [m[0] for m in mem]
    memory = {}
    for name in ("web", "acquisition"):
        ys = [m[1][name] for m in mem]
        half = len(ys) // 2
        memory[name] = {"start_mb": ys[0], "middle_mb": ys[half], "end_mb": ys[-1], "max_mb": max(ys),
                        "slope_mb_per_min": _slope(ts, ys), "slope_second_half_mb_per_min": _slope(ts[half:], ys[half:])}
    cpu = {k: {"cpu_s": cpu1[k] - cpu0[k], "pct_of_one_core": 100 * (cpu1[k] - cpu0[k]) / elapsed} for k in cpu0}
    h = witness.health or {}
    return {
        "viewers": viewers, "minutes": minutes, "elapsed_s": elapsed,
        "trials": trials, "checks": checks,
        "samples": {"recorded": sum(c.get("recorded", 0) for c in checks),
                    "published_in_trials": sum(c.get("published", 0) for c in checks),
                    "dropped": sum(c.get("dropped", 0) for c in checks),
                    "extra": sum(c.get("extra", 0) for c in checks),
                    "gaps": sum(c.get("gaps", 0) for c in checks),
                    "gap_flags": sum(c.get("gap_flags", 0) for c in checks),
                    "published_total": len(witness.t_s),
                    "witness_seq_gaps": int((np.diff(seqs) != 1).sum()) if len(seqs) > 1 else 0,
                    "witness_overrun": witness.overrun, "witness_disconnects": witness.disconnects},
        "acquisition_health": {k: h.get(k) for k in ("ok", "achieved_sps", "frames", "invalid_frames", "converted",
                                                      "resyncs", "subscriber_errors", "messages")},
        "latency": {"p50_ms": _pct(lat, 50), "p99_ms": _pct(lat, 99), "max_ms": float(lat.max()) if len(lat) else None,
                    "samples": len(lat), "time_base_drift_ms": float((offs[-1] - offs[0]) * 1000) if len(offs) else None},
        "per_viewer": per_viewer, "latency_timeline": timeline, "memory": memory, "memory_samples": mem, "cpu": cpu,
        "http_requests": http.requests + sum(1 + v.reconnects for v in vs),
    }


def print_summary(r: dict, out=print) -> None:
    s = r["samples"]
    out(f"\n== load test: {r['viewers']} viewers, {r['minutes']:g} min requested, {r['elapsed_s']:.0f} s run, "
        f"{r['http_requests']} HTTP requests")
    out(f"trials: {len(r['trials'])} recorded back to back through POST /api/sessions/<id>/trials/record")
    for tr, c in zip(r["trials"], r["checks"] + [{}] * len(r["trials"])):
        out(f"  trial {tr.get('trial_id')}: HTTP {tr['http']} {tr.get('status')} {tr['seconds']:g} s "
            f"({tr['wall_s']:.1f} s wall): recorded {c.get('recorded')}, published over its span {c.get('published')}, "
            f"dropped {c.get('dropped')}, gaps {c.get('gaps')} (max step {c.get('max_dt_ms', float('nan')):.1f} ms), "
            f"GAP flags {c.get('gap_flags')}{'  ' + tr['error'] if tr.get('error') else ''}")
    out(f"samples: published by the acquisition over the trials' spans {s['published_in_trials']}, recorded "
        f"{s['recorded']}, DROPPED {s['dropped']}, extra {s['extra']}, t_s gaps {s['gaps']}, GAP flags {s['gap_flags']} "
        f"(witness: {s['published_total']} published in all, seq gaps {s['witness_seq_gaps']}, "
        f"overrun {s['witness_overrun']})")
    h = r["acquisition_health"]
    out(f"acquisition health at the end: ok={h['ok']} achieved {h['achieved_sps']} sps, frames {h['frames']}, "
        f"invalid {h['invalid_frames']}, subscriber errors {h['subscriber_errors']}")
    lat = r["latency"]
    out(f"latency sample→viewer (all viewers, {lat['samples']} samples): p50 {lat['p50_ms']:.1f} ms, "
        f"p99 {lat['p99_ms']:.1f} ms, max {lat['max_ms']:.1f} ms (time base drift over the run "
        f"{lat['time_base_drift_ms']:.1f} ms)")
    slow = [w for w in r.get("latency_timeline", []) if w["max_ms"] > 100]
    ends = ", ".join(f"{tr['ended_at_s']:.0f}" for tr in r["trials"] if tr.get("ended_at_s") is not None)
    out(f"  10 s windows with a sample over 100 ms: {len(slow)} of {len(r.get('latency_timeline', []))}: "
        + "; ".join(f"{w['t_s']:.0f} s: p99 {w['p99_ms']:.0f} / max {w['max_ms']:.0f} ms" for w in slow[:20])
        + f" (trials ended at {ends} s of the viewers' time)")
    for v in r["per_viewer"]:
        out(f"  viewer {v['viewer']:2d}: {v['messages']} messages, {v['samples']} samples, p50 {v['p50_ms']:.1f} / "
            f"p99 {v['p99_ms']:.1f} / max {v['max_ms']:.1f} ms, dropped by the server {v['server_dropped']}, "
            f"reconnects {v['reconnects']}{'  ' + v['error'] if v['error'] and v['reconnects'] else ''}")
    for name, m in r["memory"].items():
        out(f"RSS {name}: start {m['start_mb']:.1f} MB, middle {m['middle_mb']:.1f}, end {m['end_mb']:.1f} "
            f"(max {m['max_mb']:.1f}); slope {m['slope_mb_per_min']:+.3f} MB/min "
            f"(second half {m['slope_second_half_mb_per_min']:+.3f} MB/min)")
    for name, c in r["cpu"].items():
        out(f"CPU {name}: {c['cpu_s']:.1f} s = {c['pct_of_one_core']:.1f} % of one core")


def main(argv: list[str] | None = None) -> None:
    opts = parse_options(sys.argv[1:] if argv is None else argv)
    r = run(opts["minutes"], opts["viewers"], log=lambda m: print(m, flush=True))
    print_summary(r, out=lambda m: print(m, flush=True))
    out = os.environ.get("LOAD_JSON")
    if out:
        Path(out).write_text(json.dumps(r, indent=1, default=float))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--web-child":
        web_child(*sys.argv[2:])
    else:
        main()
