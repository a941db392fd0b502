"""`rig analyze FILE --json`: the full COP metric set of a recording (see rig.analysis.metrics)."""
from __future__ import annotations

import json

import click

from rig.cli.context import load_protocol
from rig.errors import InputError


def _window(text: str | None):
    if not text:
        return None
    if ":" not in text:
        raise click.BadParameter("expected START:END in seconds (either may be empty)", param_hint="--window")
    a, b = text.split(":", 1)
    try:
        return (float(a) if a.strip() else None, float(b) if b.strip() else None)
    except ValueError:
        raise click.BadParameter(f"not numbers: {text!r}", param_hint="--window") from None


def _score(protocol_id: str, rec, *, explicit: bool) -> dict | None:
    """The recording scored as one trial of ``protocol_id`` (rig.analysis.protocols.analysis):
    the TrialResult as a dict plus ``scored``. A protocol named on the command line must exist;
    one the recording merely names is skipped (with None) when this machine does not know it."""
    from rig.analysis.protocols.analysis import analyse_recording
    proto = load_protocol(protocol_id, required=explicit)
    if proto is None:
        return None
    if rec.t_s is None or rec.fz_n is None:
        raise click.ClickException(f"cannot score as {protocol_id}: the recording needs a time and an Fz column")
    res = analyse_recording(proto, rec.t_s, rec.fz_n, rec.ml_m * 1000, rec.ap_m * 1000, rec.flags, rec.meta,
                            side=rec.meta.get("side"))
    return {"scored": res.scored, **res.to_dict()}


@click.command("analyze")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (default: a table).")
@click.option("--fs", type=float, default=None, help="Sampling rate (Hz) when the file has no time column.")
@click.option("--lowpass", type=float, default=None, help="Low-pass cut-off in Hz (4th-order zero-phase Butterworth).")
@click.option("--no-filter", is_flag=True, help="Analyse the raw COP (the default; excludes --lowpass).")
@click.option("--resample", type=float, default=None, help="Resample onto a uniform grid at this rate (Hz).")
@click.option("--window", "window", default=None, help="Analysis window START:END in s from the first sample.")
@click.option("--ellipse", type=click.Choice(["chi2", "prieto", "prediction"]), default="chi2",
              show_default=True, help="Convention of ellipse95_* (all three areas are always reported).")
@click.option("--geometry", default=None,
              help="Cell positions for a CSV of corner forces: 'x_fl,x_fr,x_bl,x_br;y_fl,y_fr,y_bl,y_br' in m.")
@click.option("--protocol", default=None,
              help="Protocol id: the trial is also scored as that test (default: the recording's own).")
def analyze(file, as_json, fs, lowpass, no_filter, resample, window, ellipse, geometry, protocol):
    """Compute the COP sway metrics of FILE (a StepPlate recording or a unit-named CSV)."""
    from rig.recording import reader as io
    from rig.analysis import metrics
    if no_filter and lowpass is not None:
        raise click.UsageError("--no-filter and --lowpass exclude each other")
    geom = None
    if geometry:
        try:
            gx, gy = geometry.split(";")
            geom = io.parse_geometry(gx, gy)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--geometry") from None
    try:
        rec = io.read_recording(file, geometry=geom)
        proto_id = protocol or rec.meta.get("protocol")
        result = _score(proto_id, rec, explicit=protocol is not None) if proto_id else None
        win, note = _window(window), None
        if win is None and result and result.get("scored_window_s") and rec.t_s is not None:
            # the COP metric set of the part the test scores (the hold, the landing's window),
            # not of the stepping on, the lift or an empty plate around it
            w0, w1 = result["scored_window_s"]
            win = (w0 - float(rec.t_s[0]), min(w1, float(rec.t_s[-1])) - float(rec.t_s[0]))
            note = (f"COP metrics over the {result['protocol']} scored window, {w0:.2f}-{w1:.2f} s "
                    f"(--window START:END for another)")
        out = metrics.compute_all(rec.time_or_rate(fs), rec.ml_m, rec.ap_m, rec.fz_n, lowpass_hz=lowpass,
                                  resample_hz=resample, window_s=win, ellipse=ellipse)
    except InputError as exc:        # a bad file, column, unit or value: a clean error
        raise click.ClickException(str(exc)) from None
    if note:
        out["notes"].insert(0, note)
    if result is not None:
        out["trial_result"] = result
    out["inputs"]["file"] = str(file)
    out["inputs"]["format"] = rec.meta.get("format")
    out["inputs"]["protocol"] = proto_id
    for k in ("plate", "side", "started_utc", "calibration"):
        if k in rec.meta:
            out["inputs"][k] = rec.meta[k]
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    inp = out["inputs"]
    click.echo(f"{file}: {inp['n_samples']} samples at {inp['rate_hz']:g} Hz ({inp['duration_s']:.2f} s), "
               f"preprocessing: {', '.join(s['step'] for s in out['preprocessing']) or 'none'}, "
               f"ellipse: {inp['ellipse_convention']}, core: {inp['implementation']}")
    for k, v in out["metrics"].items():
        if isinstance(v, float):
            click.echo(f"  {k:40s} {v:.6g}")
        elif v is None:
            click.echo(f"  {k:40s} -")
    for n in out["notes"]:
        click.echo(f"note: {n}")
    tr = out.get("trial_result")
    if tr:
        verdict = "scored" if tr["scored"] else "not scored: " + ", ".join(tr["faults"]).replace("_", " ")
        click.echo(f"{tr['protocol']} ({tr['side'] or 'both'}): {verdict}")
        for k, v in tr["measures"].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                click.echo(f"  {k:40s} {v:.6g}")
