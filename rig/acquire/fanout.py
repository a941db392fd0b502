"""Subscribers: callbacks added and removed from any thread, each called with every message.

The acquisition (to the IPC server and in-process recorders) and the web process's live
sources (to every SSE viewer) both hand their messages out this way. A callback must return
quickly; one that raises is logged and counted, and never stops the others or the publisher.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


class Subscribers:
    def __init__(self) -> None:
        self._callbacks: list[Callable] = []
        self._lock = threading.Lock()
        self.errors = 0            #: callbacks that raised, since the start

    def subscribe(self, callback: Callable) -> Callable[[], None]:
        """Call ``callback(message)`` for every message; returns the unsubscribe function."""
        with self._lock:
            self._callbacks.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._callbacks:
                    self._callbacks.remove(callback)
        return unsubscribe

    def publish(self, message) -> None:
        """Call every subscriber (outside the lock, so a callback may unsubscribe itself)."""
        with self._lock:
            callbacks = list(self._callbacks)
        for cb in callbacks:
            try:
                cb(message)
            except Exception:  # a broken subscriber must not stop the publisher
                self.errors += 1
                log.exception("subscriber %r failed", cb)

    def __len__(self) -> int:
        with self._lock:
            return len(self._callbacks)
