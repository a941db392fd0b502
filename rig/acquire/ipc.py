"""Acquisition <-> subscriber transport: newline-delimited JSON over a Unix domain socket.

The acquisition process runs a `Server` on ``<data folder>/acquire.sock`` (rig.constants.SOCKET_NAME); the web
process, recorders and ``rig stream`` connect with a `Client` (or the `IpcLiveSource` the
dashboard uses). Message format: docs/live-stream.md. In short, one JSON object per line:
the server sends ``hello`` on connect, the latest ``health``, then every ``batch`` and
``health``; a client may send ``{"type": "command", "command": "tare", "id": 1}`` and gets a
``reply``. Only JSON is ever parsed (never pickle); unknown commands get an error reply;
lines longer than ``max_line`` close the connection.

A slow client never blocks acquisition: `Server.publish` encodes the message once and puts
the bytes on each client's bounded `DropOldestQueue`; a writer thread per client drains it.
When a queue overflows the oldest message is dropped and counted, and the client is told
with an ``overrun`` message before the next one it gets.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Callable, Iterator

from rig.acquire.fanout import Subscribers

log = logging.getLogger("rig.acquire.ipc")

MAX_LINE = 1 << 20


def encode(msg: dict) -> bytes:
    """One message as a line of strict JSON (NaN is not allowed: use null)."""
    return json.dumps(msg, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"


class DropOldestQueue:
    """A bounded queue whose ``put`` never blocks: when full it drops the oldest item."""

    def __init__(self, maxlen: int = 256):
        self._q: deque = deque()
        self.maxlen = int(maxlen)
        self._cond = threading.Condition()
        self.dropped = 0
        self.closed = False

    def put(self, item) -> bool:
        """Add ``item``; returns False when an older item had to be dropped for it."""
        with self._cond:
            dropped = False
            if len(self._q) >= self.maxlen:
                self._q.popleft()
                self.dropped += 1
                dropped = True
            self._q.append(item)
            self._cond.notify()
            return not dropped

    def get(self, timeout: float | None = None):
        """The oldest item; None on timeout or once closed and empty."""
        with self._cond:
            if not self._q and not self.closed:
                self._cond.wait(timeout)
            if self._q:
                return self._q.popleft()
            return None

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._q)


class _Conn:
    """One connected client on the server side: a queue, a writer and a reader thread."""

    def __init__(self, server: "Server", sock: socket.socket, n: int):
        self.server = server
        self.sock = sock
        self.n = n
        self.queue = DropOldestQueue(server.queue_size)
        self.sent = 0
        self._told_dropped = 0
        self.alive = True
        self.writer = threading.Thread(target=self._write, name=f"ipc-writer-{n}", daemon=True)
        self.reader = threading.Thread(target=self._read, name=f"ipc-reader-{n}", daemon=True)

    def start(self) -> None:
        self.writer.start()
        self.reader.start()

    def _write(self) -> None:
        try:
            while self.alive:
                item = self.queue.get(timeout=0.5)
                if item is None:
                    if self.queue.closed:
                        break
                    continue
                if self.queue.dropped != self._told_dropped:
                    self._told_dropped = self.queue.dropped
                    self.sock.sendall(encode({"type": "overrun", "dropped": self._told_dropped}))
                self.sock.sendall(item)
                self.sent += 1
        except OSError:
            pass
        finally:
            self.close()

    def _read(self) -> None:
        try:
            f = self.sock.makefile("rb")
            while self.alive:
                line = f.readline(self.server.max_line + 1)
                if not line:
                    break
                if len(line) > self.server.max_line:
                    self.queue.put(encode({"type": "error", "error": "line too long"}))
                    break
                self.queue.put(encode(self.server.handle_line(line)))
        except (OSError, ValueError):
            pass
        finally:
            self.queue.close()

    def close(self) -> None:
        if not self.alive:
            return
        self.alive = False
        self.queue.close()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.server._forget(self)


class Server:
    """Serves the acquisition's messages to any number of local clients."""

    def __init__(self, path, hello: dict, *, on_command: Callable[[dict], dict] | None = None,
                 queue_size: int = 256, max_line: int = 65536):
        self.path = Path(path)
        self.hello = dict(hello, type="hello")
        self.on_command = on_command
        self.queue_size = queue_size
        self.max_line = max_line
        self._conns: list[_Conn] = []
        self._lock = threading.Lock()
        self._latest_health: bytes | None = None
        self._sock: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._n = 0
        self._closed = False

    def start(self) -> "Server":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            if server_running(self.path):
                raise RuntimeError(f"another acquisition process is already serving {self.path}")
            self.path.unlink()              # stale socket from a process that died
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.path))
        os.chmod(self.path, 0o660)
        sock.listen(16)
        self._sock = sock
        self._accept_thread = threading.Thread(target=self._accept, name="ipc-accept", daemon=True)
        self._accept_thread.start()
        return self

    def _accept(self) -> None:
        while not self._closed:
            try:
                s, _ = self._sock.accept()
            except OSError:
                break
            self._n += 1
            conn = _Conn(self, s, self._n)
            with self._lock:
                conn.queue.put(encode(self.hello))
                if self._latest_health is not None:
                    conn.queue.put(self._latest_health)
                self._conns.append(conn)
            conn.start()

    def _forget(self, conn: _Conn) -> None:
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    def publish(self, msg: dict) -> None:
        """Send ``msg`` to every client; never blocks on a client (called by acquisition)."""
        data = encode(msg)
        with self._lock:
            if msg.get("type") == "health":
                self._latest_health = data
            for c in self._conns:
                c.queue.put(data)

    def handle_line(self, line: bytes) -> dict:
        """A client's line -> the reply. JSON only; anything else is an error reply."""
        try:
            cmd = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"type": "reply", "ok": False, "error": f"not JSON: {exc}"}
        if not isinstance(cmd, dict) or cmd.get("type") != "command" or not isinstance(cmd.get("command"), str):
            return {"type": "reply", "ok": False, "error": 'expected {"type": "command", "command": ...}'}
        reply = {"ok": False, "error": "no command handler"}
        if self.on_command is not None:
            try:
                reply = self.on_command(cmd)
            except Exception as exc:  # pragma: no cover - handler bug
                reply = {"ok": False, "error": str(exc)}
        out = {"type": "reply", **reply}
        if "id" in cmd:
            out["id"] = cmd["id"]
        return out

    def stats(self) -> list[dict]:
        with self._lock:
            return [{"client": c.n, "queued": len(c.queue), "dropped": c.queue.dropped, "sent": c.sent}
                    for c in self._conns]

    def close(self) -> None:
        self._closed = True
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)   # wakes the accept thread on Linux
            except OSError:
                pass
            try:
                self._sock.close()
            finally:
                try:
                    self.path.unlink()
                except FileNotFoundError:
                    pass
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close()


class Client:
    """A subscriber: connects, yields messages, reconnects when the server goes away."""

    def __init__(self, path, *, reconnect: bool = True, retry_s: float = 0.5, max_line: int = MAX_LINE):
        self.path = Path(path)
        self.reconnect = reconnect
        self.retry_s = retry_s
        self.max_line = max_line
        self._sock: socket.socket | None = None
        self._send_lock = threading.Lock()
        self._closed = threading.Event()
        self.connects = 0
        self.hello: dict | None = None

    def _connect(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(self.path))
        except OSError:
            s.close()
            raise
        self._sock = s
        self.connects += 1
        return s

    def messages(self, timeout: float | None = None) -> Iterator[dict]:
        """Every message from the server, in order. On a lost connection yields
        ``{"type": "disconnected"}`` and (with ``reconnect``) keeps trying every ``retry_s``.
        ``timeout``: give up (return) after this long without a message or a connection."""
        last = time.monotonic()
        while not self._closed.is_set():
            try:
                s = self._connect()
            except OSError:
                if not self.reconnect or (timeout is not None and time.monotonic() - last > timeout):
                    return
                self._closed.wait(self.retry_s)
                continue
            s.settimeout(timeout if timeout is not None else None)
            f = s.makefile("rb")
            try:
                while True:
                    line = f.readline(self.max_line + 1)
                    if not line or len(line) > self.max_line:
                        break
                    msg = json.loads(line)
                    if msg.get("type") == "hello":
                        self.hello = msg
                    last = time.monotonic()
                    yield msg
            except (OSError, ValueError):
                if timeout is not None and time.monotonic() - last > timeout and not self.reconnect:
                    return
            finally:
                f.close()
                self._drop_socket()
            if self._closed.is_set():
                return
            yield {"type": "disconnected"}
            if not self.reconnect:
                return
            last = time.monotonic()

    def send(self, msg: dict) -> None:
        with self._send_lock:
            if self._sock is None:
                raise ConnectionError("not connected to the acquisition process")
            self._sock.sendall(encode(msg))

    def command(self, name: str, **args) -> None:
        """Send a command; its ``reply`` arrives among the messages."""
        self.send({"type": "command", "command": name, **args})

    def _drop_socket(self) -> None:
        s, self._sock = self._sock, None
        if s is not None:
            try:
                s.close()
            except OSError:  # pragma: no cover
                pass

    def close(self) -> None:
        self._closed.set()
        s = self._sock
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._drop_socket()


def server_running(path) -> bool:
    """True when an acquisition process answers on ``path``."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --- live sources: what the dashboard subscribes to ----------------------------------------

class _Fanout:
    """What the dashboard subscribes to: the latest hello and health, and every message."""

    def __init__(self):
        self._subscribers = Subscribers()
        self.hello: dict | None = None
        self.health: dict | None = None
        self.connected = False
        self.last_batch_at: float | None = None

    def subscribe(self, callback: Callable[[dict], None]) -> Callable[[], None]:
        return self._subscribers.subscribe(callback)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _dispatch(self, msg: dict) -> None:
        t = msg.get("type")
        if t == "hello":
            self.hello = msg
            self.connected = True
        elif t == "health":
            self.health = msg
        elif t == "batch":
            self.last_batch_at = time.monotonic()
        elif t == "disconnected":
            self.connected = False
        self._subscribers.publish(msg)

    def status(self) -> dict:
        h = self.health or {}
        hello = self.hello or {}
        age = None if self.last_batch_at is None else round(time.monotonic() - self.last_batch_at, 3)
        return {"connected": self.connected, "backend": hello.get("backend"), "plate": hello.get("plate"),
                "rate_hz": hello.get("rate_hz"), "calibration": hello.get("calibration"),
                "geometry": hello.get("geometry"), "achieved_sps": h.get("achieved_sps"),
                "ok": bool(h.get("ok")) and self.connected, "tared": h.get("tared"),
                "invalid_frames": h.get("invalid_frames"), "resyncs": h.get("resyncs"),
                "spike_replacements": h.get("spike_replacements"),
                "max_clock_high_us": h.get("max_clock_high_us"), "chips": h.get("chips", []),
                "messages": h.get("messages", []) if self.connected else
                # once connected, a lost socket means the (supervised) acquisition is restarting
                ["plate reconnecting — the acquisition process stopped and is being restarted"] if self.hello else
                ["acquisition process not reachable — is `rig acquire` (stepplate-acquire.service) running?"],
                "state": "connected" if self.connected else ("reconnecting" if self.hello else "not reachable"),
                "last_batch_age_s": age}


class IpcLiveSource(_Fanout):
    """The web process's live source: an IPC client in a thread, fanned out to callbacks."""

    def __init__(self, path, retry_s: float = 0.5):
        super().__init__()
        self.client = Client(path, reconnect=True, retry_s=retry_s)
        self._thread: threading.Thread | None = None
        self._id_lock = threading.Lock()
        self._next_id = 0

    def start(self) -> "IpcLiveSource":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="live-ipc", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        for msg in self.client.messages():
            self._dispatch(msg)

    def command(self, name: str, timeout_s: float = 3.0, **args) -> dict:
        """Send a command and wait for its ``reply`` (matched by id), as the in-process source
        answers at once: the simulator's ``perform`` answer (the trial's Start on the stream's
        clock, a staged fault) must reach the recording that waits for it."""
        import queue
        with self._id_lock:
            self._next_id += 1
            cid = f"web-{self._next_id}"
        answers: queue.Queue = queue.Queue()
        unsubscribe = self.subscribe(lambda m: m.get("type") == "reply" and m.get("id") == cid and answers.put(m))
        try:
            self.client.command(name, id=cid, **args)
            reply = answers.get(timeout=timeout_s)
        except (ConnectionError, OSError) as exc:
            return {"ok": False, "command": name, "error": str(exc)}
        except queue.Empty:
            return {"ok": False, "command": name,
                    "error": f"no answer from the acquisition process within {timeout_s:g} s"}
        finally:
            unsubscribe()
        return {k: v for k, v in reply.items() if k not in ("type", "id")}

    def close(self) -> None:
        self.client.close()


class InProcessLiveSource(_Fanout):
    """A live source fed by an Acquisition in this process (tests, single-process tools)."""

    def __init__(self, acquisition, raw: bool = False, sim_rig=None):
        super().__init__()
        self.acquisition = acquisition
        self.sim_rig = sim_rig               # takes "perform" (rig.acquire.perform), as the service does
        self._dispatch(dict(acquisition.hello()))
        self._unsub = acquisition.subscribe(
            lambda ev: self._dispatch(ev.to_message(raw) if ev.type == "batch" else ev.to_message()))

    def command(self, name: str, **args) -> dict:
        if name == "tare":
            self.acquisition.request_tare()
            return {"ok": True, "sent": name}
        if name == "perform":        # imported here: the web process imports this module, never the simulator
            from rig.acquire.perform import perform_command
            return perform_command(self.sim_rig, {"command": name, **args})
        return {"ok": False, "error": f"unknown command {name!r}"}

    def close(self) -> None:
        self._unsub()


class FakeLiveSource(_Fanout):
    """A live source you feed by hand (``publish``): for dashboard tests and UI work."""

    def __init__(self, hello: dict | None = None):
        super().__init__()
        self.commands: list[str] = []
        if hello is not None:
            self._dispatch(dict(hello, type="hello"))

    def publish(self, msg: dict) -> None:
        self._dispatch(msg)

    def command(self, name: str, **args) -> dict:
        self.commands.append(name)
        return {"ok": True, "sent": name}

    def close(self) -> None:
        pass
