"""IPC: newline-delimited JSON over a Unix socket, slow clients, commands, reconnection."""
import json
import pickle
import socket
import subprocess
import sys
import threading
import time

import pytest

from rig.acquire.loop import Acquisition
from rig.acquire.ipc import Client, DropOldestQueue, InProcessLiveSource, IpcLiveSource, Server, server_running
from rig.signal.plate import ForceModel
from tests import ROOT
from tests.fake_frames import GEOM, FakeReader

HELLO = {"rate_hz": 80, "columns": ["t_s"], "plate": "p", "geometry": {}, "backend": "sim"}


@pytest.fixture
def sock(tmp_path):
    return tmp_path / "a.sock"


def batch(seq, n=8):
    return {"type": "batch", "seq": seq, "samples": [[seq + i / 80, 1, 2, 3, 4, 10, None, None, 16] for i in range(n)]}


def take(it, n, type_=None):
    out = []
    for m in it:
        if type_ is None or m["type"] == type_:
            out.append(m)
        if len(out) == n:
            return out
    return out


def test_drop_oldest_queue():
    q = DropOldestQueue(3)
    assert all(q.put(i) for i in range(3))
    assert q.put(3) is False and q.dropped == 1
    assert [q.get(0), q.get(0), q.get(0), q.get(0)] == [1, 2, 3, None]
    q.close()
    assert q.get() is None


def test_round_trip_hello_batches_and_commands(sock):
    commands = []

    def on_command(cmd):
        commands.append(cmd["command"])
        return {"ok": cmd["command"] == "tare", "command": cmd["command"]}
    srv = Server(sock, HELLO, on_command=on_command).start()
    try:
        srv.publish({"type": "health", "ok": True, "t_s": 1.0})
        c = Client(sock, reconnect=False)
        it = c.messages(timeout=5)
        hello, health = next(it), next(it)
        assert hello == {**HELLO, "type": "hello"} and health["type"] == "health"
        for seq in range(5):
            srv.publish(batch(seq))
        got = take(it, 5, "batch")
        assert [m["seq"] for m in got] == list(range(5)) and got[0]["samples"][0][6] is None
        c.send({"type": "command", "command": "tare", "id": 7})
        reply = take(it, 1, "reply")[0]
        assert reply == {"type": "reply", "ok": True, "command": "tare", "id": 7}
        # JSON only: a pickle or a bare string is refused, and never unpickled
        raw = socket.socket(socket.AF_UNIX)
        raw.connect(str(sock))
        raw.sendall(pickle.dumps({"type": "command", "command": "tare"}).replace(b"\n", b"") + b"\n")
        raw.sendall(b'"tare"\n')
        f = raw.makefile("rb")
        replies = [json.loads(f.readline()) for _ in range(4)]   # hello, health, 2 replies
        raw.close()
        errs = [r for r in replies if r["type"] == "reply"]
        assert len(errs) == 2 and not any(r["ok"] for r in errs)
        assert commands == ["tare"]
        c.close()
    finally:
        srv.close()
    assert not sock.exists()


def test_slow_client_never_blocks_publish(sock):
    srv = Server(sock, HELLO, queue_size=50).start()
    stalled = socket.socket(socket.AF_UNIX)
    stalled.connect(str(sock))          # connects, never reads
    fast = Client(sock, reconnect=False)
    it = fast.messages(timeout=10)
    assert next(it)["type"] == "hello"
    while len(srv.stats()) < 2:
        threading.Event().wait(0.01)
    big = {"type": "batch", "seq": 0, "samples": [[0.0] * 9] * 200}
    n = 3000                            # ~10 MB: far more than a socket buffer holds
    received = []

    def read_until_end():
        for m in it:
            received.append(m)
            if m["type"] == "end":
                return
    reader = threading.Thread(target=read_until_end)
    reader.start()

    def publish_all():
        for seq in range(n):
            srv.publish(dict(big, seq=seq))
    pub = threading.Thread(target=publish_all)
    pub.start()
    pub.join(60)                        # hang guard, not a timing assertion
    assert not pub.is_alive(), "publish blocked on a client that does not read"
    srv.publish({"type": "end"})
    reader.join(60)
    stats = {s["client"]: s for s in srv.stats()}
    assert stats[1]["dropped"] >= n - 50 - 100     # the stalled client lost all but a queue + buffer
    seqs = [m["seq"] for m in received if m["type"] == "batch"]
    overruns = [m["dropped"] for m in received if m["type"] == "overrun"]
    assert received[-1]["type"] == "end" and seqs == sorted(seqs)
    # the reading client got every message it was not told it lost
    assert len(seqs) + (overruns[-1] if overruns else 0) == n
    stalled.close()
    fast.close()
    srv.close()


def test_client_reconnects_after_the_server_restarts(sock):
    srv = Server(sock, dict(HELLO, plate="first")).start()
    c = Client(sock, reconnect=True, retry_s=0.05)
    it = c.messages()
    assert next(it)["plate"] == "first"
    srv.close()
    assert next(it)["type"] == "disconnected"
    srv2 = Server(sock, dict(HELLO, plate="second")).start()
    try:
        assert next(it)["plate"] == "second" and c.connects == 2
    finally:
        c.close()
        srv2.close()


def test_second_server_refused_and_stale_socket_replaced(sock):
    srv = Server(sock, HELLO).start()
    with pytest.raises(RuntimeError, match="already serving"):
        Server(sock, HELLO).start()
    srv.close()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))               # a socket file nobody listens on
    stale.close()
    assert sock.exists() and not server_running(sock)
    srv = Server(sock, HELLO).start()
    assert server_running(sock)
    srv.close()


def test_acquisition_to_another_process(sock):
    """The acquisition serves in this process; a separate Python process subscribes."""
    acq = Acquisition(FakeReader(step_on_s=1.5), ForceModel.nominal(GEOM, 50, 2.0))
    srv = Server(sock, acq.hello()).start()
    acq.subscribe(lambda ev: srv.publish(ev.to_message()))
    code = (
        "import json, sys\n"
        "from rig.acquire.ipc import Client\n"
        "c = Client(sys.argv[1], reconnect=False)\n"
        "out = []\n"
        "for m in c.messages(timeout=20):\n"
        "    out.append(m)\n"
        "    if sum(x['type'] == 'batch' for x in out) >= 20: break\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(sock)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        while len(srv.stats()) < 1 and proc.poll() is None:
            threading.Event().wait(0.01)
        acq.run(max_seconds=6.0)
        out, _ = proc.communicate(timeout=30)
    finally:
        srv.close()
    msgs = json.loads(out)
    assert msgs[0]["type"] == "hello" and msgs[0]["columns"][0] == "t_s"
    batches = [m for m in msgs if m["type"] == "batch"]
    assert len(batches) == 20
    seqs = [b["seq"] for b in batches]
    assert seqs == list(range(seqs[0], seqs[0] + 20))
    loaded = [r for b in batches for r in b["samples"] if r[0] >= 1.5]
    assert loaded and all(abs(r[5] - 700) < 1 for r in loaded)


def test_live_sources_fan_out(sock):
    acq = Acquisition(FakeReader(), ForceModel.nominal(GEOM, 50, 2.0))
    live = InProcessLiveSource(acq)
    got = []
    unsub = live.subscribe(got.append)
    acq.run(max_seconds=2.5)
    unsub()
    assert {m["type"] for m in got} == {"batch", "health"}
    st = live.status()
    assert st["connected"] and st["achieved_sps"] == pytest.approx(80, abs=1)
    # the IPC live source: same status shape, reconnects, and reports when unreachable
    ipc_live = IpcLiveSource(sock, retry_s=0.05).start()
    assert not ipc_live.status()["connected"] and "not reachable" in ipc_live.status()["messages"][0]
    srv = Server(sock, acq.hello()).start()
    seen = threading.Event()
    ipc_live.subscribe(lambda m: m["type"] == "batch" and seen.set())
    acq.subscribe(lambda ev: srv.publish(ev.to_message()))
    t = threading.Thread(target=acq.run, kwargs={"until": seen.is_set})
    t.start()
    t.join(30)
    assert seen.is_set() and ipc_live.status()["connected"]
    # a command waits for its own reply (matched by id), as the in-process source answers
    srv.on_command = lambda cmd: {"ok": True, "command": cmd["command"], "echo": cmd.get("x")}
    assert ipc_live.command("ping", x=7) == {"ok": True, "command": "ping", "echo": 7}
    srv.on_command = lambda cmd: time.sleep(0.5) or {"ok": True}
    r = ipc_live.command("ping", timeout_s=0.1)
    assert not r["ok"] and "no answer from the acquisition process within 0.1 s" in r["error"]
    ipc_live.close()
    srv.close()
