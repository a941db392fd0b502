"""What every `rig` subcommand shares: the validated config of this invocation."""
from __future__ import annotations

import click

from rig.config import ConfigError, load


def load_config(ctx: click.Context):
    """The validated config for this invocation (``--config``, then $RIG_CONFIG, then
    /etc/stepplate/rig.toml); a bad file is a clean CLI error naming the option."""
    root = ctx.find_root()
    try:
        return load(root.obj.get("config_path") if root.obj else None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
