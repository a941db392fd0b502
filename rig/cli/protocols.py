"""``rig protocols list|show``: the protocols a clinic has (defaults + its own file)."""
from __future__ import annotations

import json

import click


@click.group("protocols")
@click.option("--file", "files", multiple=True, type=click.Path(dir_okay=False),
              help="Clinic protocol file(s) (default: $RIG_PROTOCOLS).")
@click.pass_context
def protocols(ctx, files):
    """Clinical test protocols (docs/protocols.md)."""
    from rig.analysis.protocols import ProtocolError, load_protocols
    try:
        ctx.obj = dict(ctx.obj or {}, protocols=load_protocols(*files))
    except ProtocolError as exc:
        raise click.ClickException(str(exc)) from None


@protocols.command("list")
@click.pass_context
def list_(ctx):
    """One line per protocol: id, trials, duration, sides, source."""
    for p in ctx.obj["protocols"].values():
        conds = ",".join(c.id for c in p.conditions)
        click.echo(f"{p.id:24s} {p.kind:18s} {p.practice_trials}+{p.scored_trials}×{p.duration_s:g}s "
                   f"sides={'/'.join(p.sides)} conditions={conds}  [{p.source}]")


@protocols.command("show")
@click.argument("protocol_id")
@click.option("--side", default="left", show_default=True)
@click.pass_context
def show(ctx, protocol_id, side):
    """The protocol as JSON, with its instructions for one side."""
    ps = ctx.obj["protocols"]
    if protocol_id not in ps:
        raise click.ClickException(f"no protocol {protocol_id!r} (known: {', '.join(sorted(ps))})")
    p = ps[protocol_id]
    click.echo(json.dumps({**p.to_dict(), "instructions_for_side": p.instructions_for(side),
                           "schedule": p.schedule()}, indent=1))
