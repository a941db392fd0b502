"""``rig backup`` and ``rig restore``: the commands over rig.backup (see its docstring)."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from rig.backup import PREFIX, BackupError, Target, create_backup, prune, resolve_target, restore_backup, verify_archive
from rig.cli.context import load_config


def _target(ctx: click.Context, database: str | None, data_dir: str | None) -> Target:
    return resolve_target(load_config(ctx), database, data_dir)


_db_opt = click.option("--database", default=None, metavar="URL",
                       help="SQLAlchemy URL (default: $STEPPLATE_DATABASE_URL, [web] database_url, "
                            "else SQLite stepplate.db in the data folder).")
_dir_opt = click.option("--data-dir", default=None, type=click.Path(file_okay=False),
                        help="Data folder: recordings, calibration (default: [paths] data_dir).")


@click.command("backup")
@_db_opt
@_dir_opt
@click.option("--dest", default=None, type=click.Path(file_okay=False),
              help="Folder for the archive (default: <data folder>/../stepplate-backups).")
@click.option("--output", "-o", default=None, type=click.Path(dir_okay=False), help="Exact archive path.")
@click.option("--keep", type=click.IntRange(min=0), default=0, show_default=True,
              help="Then delete all but the newest N archives in --dest (0: keep all).")
@click.pass_context
def backup(ctx, database, data_dir, dest, output, keep):
    """Write a consistent snapshot (database + recordings + calibration) while the rig runs."""
    target = _target(ctx, database, data_dir)
    folder = Path(dest).expanduser() if dest else target.data_dir.parent / "stepplate-backups"
    path = Path(output) if output else folder / f"{PREFIX}{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}.tar.gz"
    try:
        m = create_backup(target, path)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"backup written: {path} ({len(m['files'])} files, {m['trials']} trials, {m['database']['kind']})")
    if m["trials_missing_recording"]:
        click.echo(f"warning: {len(m['trials_missing_recording'])} trial(s) without a matching recording: "
                   f"{m['trials_missing_recording'][:5]}", err=True)
    if keep and not output:
        for p in prune(folder, keep):
            click.echo(f"removed old backup {p.name}")


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False))
@_db_opt
@_dir_opt
@click.option("--force", is_flag=True, help="Replace an existing database / data folder (kept as *.pre-restore-*).")
@click.option("--verify-only", is_flag=True, help="Only check the archive against its manifest.")
@click.pass_context
def restore(ctx, archive, database, data_dir, force, verify_only):
    """Bring back a backup: verified first, swapped in atomically. Stop stepplate-web first."""
    try:
        if verify_only:
            m = verify_archive(Path(archive))
            click.echo(f"archive OK: {len(m['files'])} files, {m['trials']} trials, made {m['created_utc']}")
            return
        r = restore_backup(Path(archive), _target(ctx, database, data_dir), force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"restored {len(r['manifest']['files'])} files ({r['manifest']['trials']} trials)")
    for k in r["kept"]:
        click.echo(f"previous data kept at {k}")
