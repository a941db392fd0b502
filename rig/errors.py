"""Errors shared by the readers and the analysis."""
from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be read or analysed (a bad file, column, unit or value); the message
    names the problem. `rig analyze` turns it into a clean error instead of a traceback."""
