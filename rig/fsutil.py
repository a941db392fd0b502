"""Durable-file helpers shared by the recorder, the calibration file and backups."""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename or a new file in ``folder`` durable (fsync the directory itself).

    A no-op on platforms that cannot open a directory for fsync.
    """
    try:
        fd = os.open(Path(folder), os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
