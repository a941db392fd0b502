"""`rig simulate --protocol NAME -o FILE`: one trial of a protocol, performed by a virtual person
on the simulated plate and recorded exactly as the rig records it (emulated HX711 chips, the
driver, the acquisition loop with its tare and spike filter, the recording writer), so a
result can be tried without a plate or a browser: ``rig analyze FILE --protocol NAME --json``."""
from __future__ import annotations

import click

from rig.cli.context import load_config, load_protocol
from rig.sim.protocols import FAULTS


def simulate_trial(config, proto, side, condition=None, *, seed: int = 0, mass_kg: float = 72.0,
                   hip_drop: float = 0.0, valgus: float = 0.0, fault: str | None = None):
    """Run one trial through the simulated rig. Returns (samples, counts, metadata, performance):
    SAMPLE_COLUMNS rows and raw counts from Start on (stream time; the writer rebases it)."""
    from rig.recording.writer import metadata_from_hello
    from rig.sim.protocols import perform, person_for

    perf = perform(proto, side, condition, hip_drop=hip_drop, valgus=valgus, seed=seed, fault=fault)
    person = person_for(perf, mass_kg=mass_kg, seed=seed)
    t0 = perf.record_from_s
    samples, raw, acq = record_load(config, person, seed, t0, t0 + perf.record_s)
    meta = metadata_from_hello(acq.hello(), protocol=proto.id, side=side or "both")
    if proto.has_named_conditions:
        meta["condition"] = condition or proto.conditions[0].id
    meta["simulated"] = (f"virtual person seed {seed}, {mass_kg:g} kg, hip drop {hip_drop:g}, "
                         f"fault {perf.fault or 'none'}")
    if perf.cues_s:
        from rig.analysis.protocols.analysis import cues_metadata
        meta.update(cues_metadata(perf.cues_s))
    return samples, raw, meta, perf


def record_load(config, load, seed: int, t0_s: float, t1_s: float):
    """``load`` (a virtual person or any load source) on the simulated plate, read through the
    emulated chips, the driver and the acquisition loop (tare, spike filter) from stream time 0
    to ``t1_s``. Returns (samples, counts, acquisition): SAMPLE_COLUMNS rows and raw counts of
    [t0_s, t1_s)."""
    import numpy as np
    from rig.acquire.service import build_acquisition
    from rig.signal.plate import nominal_force_model

    # the simulated plate is the nominal one: a calibration of a real plate would be wrong here
    acq, _gpio, _ = build_acquisition(config, backend="sim", realtime=False,
                                      force_model_factory=nominal_force_model,
                                      sim_kwargs={"person": load, "seed": seed})
    rows, counts = [], []

    def on(ev):
        if getattr(ev, "type", None) == "batch":
            keep = (ev.samples[:, 0] >= t0_s) & (ev.samples[:, 0] < t1_s)
            rows.append(ev.samples[keep])
            counts.append(ev.counts[keep])
    acq.subscribe(on)
    acq.run(max_seconds=t1_s + 0.3)
    return np.vstack(rows), np.vstack(counts), acq


@click.command("simulate")
@click.option("--protocol", "protocol_id", required=True, help="Protocol id (see `rig protocols list`).")
@click.option("--side", type=click.Choice(["left", "right"]), default=None,
              help="Stance or landing leg (default: the protocol's first side).")
@click.option("--condition", default=None, help="Condition id (e.g. eyes_closed; default: the first).")
@click.option("--seed", type=int, default=0, show_default=True, help="The virtual person and the chips' noise.")
@click.option("--mass-kg", type=float, default=72.0, show_default=True)
@click.option("--hip-drop", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Pelvic drop on this side (0-1): more medio-lateral sway on one leg.")
@click.option("--fault", type=click.Choice(FAULTS), default=None,
              help="Make the person fault (a touch-down, a hop, a missed repetition).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Recording to write (CSV).")
@click.pass_context
def simulate(ctx, protocol_id, side, condition, seed, mass_kg, hip_drop, fault, output):
    """Record one simulated trial of PROTOCOL as the rig would, into OUTPUT."""
    from pathlib import Path
    from rig.recording.writer import write_recording
    proto = load_protocol(protocol_id)
    if side is None:
        side = next((s for s in proto.sides if s in ("left", "right")), None)
    elif side not in proto.sides:
        raise click.BadParameter(f"{protocol_id} is done on {', '.join(proto.sides)}", param_hint="--side")
    if condition is not None and condition not in [c.id for c in proto.conditions]:
        raise click.BadParameter(f"no condition {condition!r} (known: {', '.join(c.id for c in proto.conditions)})",
                                 param_hint="--condition")
    if Path(output).exists():
        raise click.ClickException(f"{output} exists: not overwriting a recording")
    try:
        samples, raw, meta, perf = simulate_trial(load_config(ctx), proto, side, condition, seed=seed,
                                                  mass_kg=mass_kg, hip_drop=hip_drop, fault=fault)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    rec = write_recording(output, meta, samples, raw, t0_s=perf.record_from_s)
    click.echo(f"{output}: {rec.rows} samples, {perf.record_s:g} s of {protocol_id}"
               f"{' on the ' + side if side else ''}{', fault ' + perf.fault if perf.fault else ''}")
