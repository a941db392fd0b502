"""One consistent, verifiable archive of a rig's data.

A backup is one ``.tar.gz``:

* ``manifest.json``: format, time, host, what the database is, and the SHA-256 and size of
  every other member;
* ``db/stepplate.db``: an SQLite snapshot taken with SQLite's online backup API
  (``sqlite3.Connection.backup``) while the dashboard keeps recording: a consistent
  point-in-time copy, checked with ``PRAGMA integrity_check`` before it goes in; or
  ``db/stepplate.pgdump`` (``pg_dump --format=custom``) for PostgreSQL;
* ``data/…``: the data folder after the snapshot: recordings (finished ones and the
  ``.partial`` of a trial being recorded, which restore + start-up recovery turn into an
  interrupted trial), calibration files, settings. Every trial row of the snapshot has its
  recording in the archive with the SHA-256 the row names (checked; listed in the manifest).

``rig restore FILE`` checks every member against the manifest before touching anything,
refuses to overwrite an existing database or data folder without ``--force``, unpacks into a
temporary folder beside the target, then swaps it in with renames (the previous data is kept
as ``<name>.pre-restore-<time>``). Stop the services first (``systemctl stop stepplate-web``).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath


from rig.constants import SOCKET_NAME
from rig.fsutil import fsync_dir

FORMAT = "stepplate-backup/1"
PREFIX = "stepplate-backup-"
SKIP_NAMES = {SOCKET_NAME, "stepplate.db", "stepplate.db-wal", "stepplate.db-shm", "stepplate.db-journal"}


class BackupError(RuntimeError):
    pass


@dataclass
class Target:
    database_url: str
    data_dir: Path

    @property
    def sqlite_path(self) -> Path | None:
        if not self.database_url.startswith("sqlite"):
            return None
        path = self.database_url.split("///", 1)[1] if "///" in self.database_url else ""
        if not path or path == ":memory:":
            raise BackupError(f"cannot back up an in-memory database ({self.database_url})")
        return Path(path)


def _sha256_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            n += len(chunk)
    return h.hexdigest(), n


def _pg_url(url: str) -> str:
    """libpq URL from a SQLAlchemy one (postgresql+psycopg://… -> postgresql://…)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest


# --- backup ---------------------------------------------------------------------------------

def _snapshot_sqlite(src: Path, dest: Path) -> None:
    if not src.exists():
        raise BackupError(f"database {src} does not exist")
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    d = sqlite3.connect(dest)
    try:
        s.backup(d, pages=256, sleep=0.005)        # online: the writer keeps going
        d.execute("PRAGMA journal_mode=DELETE")    # a standalone file, no -wal beside it
        ok = d.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            raise BackupError(f"snapshot fails PRAGMA integrity_check: {ok}")
    finally:
        d.close()
        s.close()


def _snapshot_pg(url: str, dest: Path) -> None:
    exe = shutil.which("pg_dump")
    if exe is None:
        raise BackupError("PostgreSQL database but pg_dump is not installed "
                          "(apt-get install postgresql-client); nothing was written")
    r = subprocess.run([exe, "--format=custom", "--no-owner", "--file", str(dest), _pg_url(url)],
                       capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise BackupError(f"pg_dump failed: {r.stderr.strip()}")


def _trial_recordings(db_kind: str, db_file: Path, url: str) -> list[tuple[str, str, str]]:
    """(path, sha256, status) of every trial in the snapshot."""
    if db_kind == "sqlite":
        con = sqlite3.connect(db_file)
        try:
            return list(con.execute("select recording_path, recording_sha256, status from trials"))
        except sqlite3.OperationalError:          # no schema yet
            return []
        finally:
            con.close()
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                "select recording_path, recording_sha256, status from trials"))]
    finally:
        engine.dispose()


def _data_files(data_dir: Path, exclude: list[Path]):
    if not data_dir.exists():
        return
    ex = [p.resolve() for p in exclude]
    for root, dirs, files in os.walk(data_dir):
        rootp = Path(root)
        dirs[:] = sorted(d for d in dirs if (rootp / d).resolve() not in ex
                         and not d.startswith(".restore-") and ".pre-restore-" not in d)
        for name in sorted(files):
            p = rootp / name
            try:
                regular = stat.S_ISREG(os.lstat(p).st_mode)
            except FileNotFoundError:      # removed or renamed since the folder was listed
                continue
            if name in SKIP_NAMES or p.resolve() in ex or not regular:
                continue
            yield p


def _read_live_file(p: Path) -> tuple[Path, bytes, float] | None:
    """Read a file of the live data folder: (path read, bytes, mtime), or None if it is gone.

    The rig keeps recording during a backup: a trial that finishes between the folder listing
    and the read has renamed ``X.csv.partial`` to ``X.csv``; the finished file is taken then.
    """
    candidates = [p, p.with_name(p.name[: -len(".partial")])] if p.name.endswith(".partial") else [p]
    for c in candidates:
        try:
            with open(c, "rb") as f:
                return c, f.read(), os.fstat(f.fileno()).st_mtime
        except FileNotFoundError:
            continue
    return None


def create_backup(target: Target, dest: Path) -> dict:
    """Write a backup archive to ``dest`` (a file path); returns the manifest."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".stepplate-backup-", dir=dest.parent))
    try:
        sqlite_path = target.sqlite_path
        if sqlite_path is not None:
            kind, db_member = "sqlite", "db/stepplate.db"
            db_file = work / "stepplate.db"
            _snapshot_sqlite(sqlite_path, db_file)
        else:
            kind, db_member = "postgresql", "db/stepplate.pgdump"
            db_file = work / "stepplate.pgdump"
            _snapshot_pg(target.database_url, db_file)
        trials = _trial_recordings(kind, db_file, target.database_url)
        files: dict[str, dict] = {}
        tmp_archive = dest.with_name(dest.name + ".tmp")
        with tarfile.open(tmp_archive, "w:gz") as tar:
            sha, size = _sha256_file(db_file)
            tar.add(db_file, arcname=db_member)
            files[db_member] = {"sha256": sha, "bytes": size}
            exclude = [dest.parent, sqlite_path] if sqlite_path else [dest.parent]
            for listed in _data_files(target.data_dir, exclude):
                got = _read_live_file(listed)    # read once: hash and archive the same bytes
                if got is None:
                    continue
                p, blob, mtime = got
                rel = "data/" + p.relative_to(target.data_dir).as_posix()
                if rel in files:                  # the finished file was also listed
                    continue
                info = tarfile.TarInfo(rel)
                info.size, info.mtime, info.mode = len(blob), int(mtime), 0o640
                tar.addfile(info, io.BytesIO(blob))
                files[rel] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
            missing = [path for path, sha, status in trials if status != "recording"
                       and files.get(f"data/{path}", {}).get("sha256") != sha]
            manifest = {"format": FORMAT, "created_utc": datetime.now(timezone.utc).isoformat(),
                        "host": socket.gethostname(), "database": {"kind": kind, "member": db_member},
                        "trials": len(trials), "trials_missing_recording": missing, "files": files}
            blob = json.dumps(manifest, indent=1, sort_keys=True).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size, info.mtime = len(blob), int(time.time())
            tar.addfile(info, io.BytesIO(blob))
        with open(tmp_archive, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_archive, dest)
        fsync_dir(dest.parent)
        return manifest
    finally:
        shutil.rmtree(work, ignore_errors=True)


def prune(folder: Path, keep: int) -> list[Path]:
    """Keep the newest ``keep`` archives (names carry the UTC time); returns the removed ones."""
    archives = sorted(folder.glob(f"{PREFIX}*.tar.gz"))
    old = archives[:-keep] if keep > 0 else []
    for p in old:
        p.unlink()
    return old


# --- restore --------------------------------------------------------------------------------

def _safe_member(name: str) -> str:
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts or not p.parts or p.parts[0] not in ("db", "data", "manifest.json"):
        raise BackupError(f"unsafe or unknown path in the archive: {name!r}")
    return name


def verify_archive(archive: Path) -> dict:
    """Every member matches the manifest (SHA-256, size), nothing extra, nothing missing."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {m.name: m for m in tar.getmembers()}
            if "manifest.json" not in members:
                raise BackupError("no manifest.json: not a StepPlate backup")
            manifest = json.loads(tar.extractfile(members["manifest.json"]).read())
            if manifest.get("format") != FORMAT:
                raise BackupError(f"unknown backup format {manifest.get('format')!r}")
            files = manifest["files"]
            names = set(members) - {"manifest.json"}
            if names != set(files):
                raise BackupError(f"archive and manifest differ: extra {sorted(names - set(files))[:5]}, "
                                  f"missing {sorted(set(files) - names)[:5]}")
            for name in sorted(names):
                _safe_member(name)
                m = members[name]
                if not m.isfile():
                    raise BackupError(f"{name} is not a regular file")
                h = hashlib.sha256()
                f = tar.extractfile(m)
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
                if h.hexdigest() != files[name]["sha256"] or m.size != files[name]["bytes"]:
                    raise BackupError(f"{name} fails its SHA-256 check: the archive is damaged")
            return manifest
    except (tarfile.TarError, OSError, EOFError, ValueError, KeyError) as exc:
        raise BackupError(f"cannot read {archive}: {exc}") from None


def restore_backup(archive: Path, target: Target, *, force: bool = False) -> dict:
    archive = Path(archive)
    manifest = verify_archive(archive)                      # 1. before touching anything
    kind = manifest["database"]["kind"]
    sqlite_path = target.sqlite_path
    if (kind == "sqlite") != (sqlite_path is not None):
        raise BackupError(f"the backup holds a {kind} database but the target is {target.database_url}")
    data_dir = target.data_dir
    occupied = []
    if sqlite_path is not None and sqlite_path.exists():
        occupied.append(str(sqlite_path))
    if data_dir.exists() and any(data_dir.iterdir()):
        occupied.append(str(data_dir))
    if occupied and not force:
        raise BackupError(f"refusing to overwrite {', '.join(occupied)} (use --force; the current data "
                          "is then kept as *.pre-restore-<time>)")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".restore-{data_dir.name}-", dir=data_dir.parent))
    try:
        with tarfile.open(archive, "r:gz") as tar:          # 2. unpack beside the target
            for name, info in manifest["files"].items():
                dest = staging / _safe_member(name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                blob = tar.extractfile(name).read()
                if hashlib.sha256(blob).hexdigest() != info["sha256"]:
                    raise BackupError(f"{name} changed while restoring")
                with open(dest, "wb") as f:
                    f.write(blob)
                    f.flush()
                    os.fsync(f.fileno())
        new_data = staging / "data"
        new_data.mkdir(exist_ok=True)
        for root, _dirs, _files in os.walk(new_data):
            fsync_dir(Path(root))
        db_member = staging / manifest["database"]["member"]
        if kind == "postgresql":                             # one transaction: all or nothing
            exe = shutil.which("pg_restore")
            if exe is None:
                raise BackupError("pg_restore is not installed (apt-get install postgresql-client)")
            r = subprocess.run([exe, "--clean", "--if-exists", "--no-owner", "--single-transaction",
                                "--dbname", _pg_url(target.database_url), str(db_member)],
                               capture_output=True, text=True, timeout=3600)
            if r.returncode != 0:
                raise BackupError(f"pg_restore failed (database unchanged): {r.stderr.strip()}")
        # 3. swap: the data folder by two renames, the SQLite file by one (old -wal/-shm aside first)
        kept = []
        if data_dir.exists():
            old = data_dir.with_name(f"{data_dir.name}.pre-restore-{stamp}")
            os.replace(data_dir, old)
            kept.append(str(old))
        os.replace(new_data, data_dir)
        fsync_dir(data_dir.parent)
        if sqlite_path is not None:
            inside = sqlite_path.resolve().is_relative_to(data_dir.resolve())
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
            if not inside:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    p = Path(str(sqlite_path) + suffix)
                    if p.exists():
                        aside = p.with_name(f"{p.name}.pre-restore-{stamp}")
                        os.replace(p, aside)
                        kept.append(str(aside))
            tmp_db = sqlite_path.with_name(sqlite_path.name + ".restore-tmp")
            shutil.copyfile(db_member, tmp_db)
            with open(tmp_db, "rb") as f:
                os.fsync(f.fileno())
            os.replace(tmp_db, sqlite_path)
            fsync_dir(sqlite_path.parent)
        return {"manifest": manifest, "kept": kept}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- where the data lives -------------------------------------------------------------------

def resolve_target(config, database: str | None = None, data_dir: str | None = None) -> Target:
    """Where a rig's data lives, from its config (rig.config.Config.storage: the one rule)."""
    return Target(*config.storage(database, data_dir))
