"""The `rig` command. One module per command group; this file only wires them together.

Nothing outside ``rig.cli`` imports it: the rooms below (acquisition, analysis, calibration,
dashboard) know nothing of the command line. Each command module imports the heavy parts it
drives (GPIO, Flask) inside the command, so ``rig acquire`` stays free of the web and
``rig serve`` free of GPIO.
"""
from __future__ import annotations

import click

from rig import __version__
from rig.cli import acquisition, analyze, backup, calibrate, config, norms, protocols, simulate, web


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rig")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (default: $RIG_CONFIG, then /etc/stepplate/rig.toml).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """StepPlate force plate: acquisition, analysis, calibration and the clinic dashboard."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


for _cmd in (acquisition.stream, acquisition.doctor, acquisition.acquire, web.serve, web.demo,
             analyze.analyze, calibrate.calibrate, calibrate.check, config.config_group, config.status,
             protocols.protocols, simulate.simulate, backup.backup, backup.restore, norms.norms):
    main.add_command(_cmd)
