"""The `rig` command. Each subcommand lives beside the code it drives; this file only wires them.

Commands are added by the rooms that own them (acquisition, metrics, calibration, config,
dashboard) with ``main.add_command(...)`` at the bottom of this file.
"""
from __future__ import annotations

import click

from rig import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rig")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $RIG_CONFIG, then /etc/stepplate/rig.toml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """StepPlate force plate: acquisition, analysis, calibration and the clinic dashboard."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def load_config(ctx: click.Context):
    """The validated config for this invocation; a bad file is a clean CLI error."""
    from rig.config import ConfigError, load
    try:
        return load(ctx.obj.get("config_path") if ctx.obj else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


# --- subcommands (one line per room) ------------------------------------------------------
from rig.config_cli import config_group, status  # noqa: E402
main.add_command(config_group)
main.add_command(status)
from calibration.cli import calibrate, check  # noqa: E402
main.add_command(calibrate)
main.add_command(check)
from rig.commands import acquire, demo, doctor, serve, stream  # noqa: E402
for _cmd in (stream, doctor, acquire, serve, demo):
    main.add_command(_cmd)

from rig.analyze_cli import analyze  # noqa: E402  (metrics room)

main.add_command(analyze)

from rig.protocols.cli import protocols  # noqa: E402  (protocols room)

main.add_command(protocols)

from rig.backup import backup, restore  # noqa: E402  (reliability: rig backup / rig restore)

main.add_command(backup)
main.add_command(restore)
