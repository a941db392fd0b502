"""The one strict TOML reader: every TOML file the product reads (the rig config, protocol
definitions, exercise libraries) goes through these, so a bad file gives the same clear error
everywhere, naming the file and the key, and never a traceback.

Each caller passes its own exception class (ConfigError, ProtocolError, LibraryError), so its
callers keep catching what they know.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path


def read(path: str | os.PathLike, error: type[Exception], what: str = "file") -> dict:
    """Parse the TOML file at ``path``; a missing, unreadable, non-UTF-8 or invalid file raises
    ``error`` with a message that names the file and what is wrong with it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise error(f"{what} {path} is a directory") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{what} {path} cannot be read: {exc.strerror or exc}") from None
    return loads(text, error, str(path))


def loads(text: str, error: type[Exception], source: str = "<text>") -> dict:
    """Parse TOML text; invalid TOML raises ``error`` naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: not valid TOML: {exc}") from None


def typed(value, typ, key: str, error: type[Exception], *, nonempty: bool = False):
    """``value`` checked against ``typ`` (float, int, bool, str or list); an int is accepted
    as a float, a bool is never a number. ``nonempty``: a str must have a non-blank character.
    A mismatch raises ``error("<key>: must be …, got <type> <value>")``."""
    def fail(want: str):
        raise error(f"{key}: must be {want}, got {type(value).__name__} {value!r}")
    if typ is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("a number")
        return float(value)
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail("an integer")
        return value
    if typ is bool:
        if not isinstance(value, bool):
            fail("true or false")
        return value
    if typ is str:
        if not isinstance(value, str) or (nonempty and not value.strip()):
            fail("a non-empty string" if nonempty else "a string")
        return value
    if typ is list:
        if not isinstance(value, list):
            fail("a list")
        return value
    raise TypeError(f"{key}: unsupported option type {typ}")


def tables(doc: dict, name: str, source: str, error: type[Exception]) -> list[dict]:
    """The ``[name]`` table or ``[[name]]`` array of tables that a file holds, as a list; any
    other top-level key is an error (a typo must not be silently ignored)."""
    extra = set(doc) - {name}
    if extra:
        raise error(f"{source}: {sorted(extra)[0]}: unknown top-level key (expected [{name}] or [[{name}]])")
    t = doc.get(name, [])
    return [t] if isinstance(t, dict) else list(t)
