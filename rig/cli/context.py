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


def load_protocol(protocol_id: str, *, required: bool = True):
    """The protocol ``protocol_id`` among the defaults and the clinic's files (``$RIG_PROTOCOLS``,
    which rig.analysis.protocols.load_protocols reads): a bad file is a clean CLI error; an
    unknown id a bad ``--protocol`` when ``required``, else None."""
    from rig.analysis.protocols import ProtocolError, load_protocols
    try:
        ps = load_protocols()
    except ProtocolError as exc:
        raise click.ClickException(str(exc)) from None
    if protocol_id not in ps and required:
        raise click.BadParameter(f"no protocol {protocol_id!r} (known: {', '.join(sorted(ps))})",
                                 param_hint="--protocol")
    return ps.get(protocol_id)
