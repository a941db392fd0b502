"""``rig norms``: reference values for quiet stance (Santos & Duarte 2016, rig.analysis.norms).

``rig norms --protocol quiet_stance_mctsib --condition eyes_closed_foam --age 72 --json`` prints
one cell's percentiles with n, source and conventions. ``rig norms --rebuild`` regenerates the
shipped table from the data set: the percentiles from ``BDSinfoCOP.txt`` and, by replaying the
data set's raw trials through the simulated rig (emulated chips, driver, acquisition, the
quiet-stance scoring), how far StepPlate reads each measure from the lab plate, which decides
where a percentile may be shown (docs/reference-values.md).
"""
from __future__ import annotations

import json
from pathlib import Path

import click

#: Where the data set lies in a checkout: ../shared/validation beside the repository.
DEFAULT_SOURCE = Path(__file__).resolve().parents[3] / "shared" / "validation" / "santos_duarte_2016_bds"
#: The document whose bias tables ``--rebuild`` rewrites (between its ``<!-- norms-bias-… -->`` marks).
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "reference-values.md"
CHAIN_SEED = 1
#: The 60-s protocol replayed on a 60-s lab recording: what is left after the step-on and the
#: settle period, with a margin (the bias measured for "60" includes the missing 5 s).
REPLAY_60_S = 55.0


def replay_trial(config, rec, *, seed: int = CHAIN_SEED, protocols=None, condition: str):
    """One lab trial (a Recording) through the simulated rig, recorded once and scored by each
    of ``protocols`` (default: the 30-s mCTSIB). Returns {"scored": each protocol's quiet-stance
    measures, "faults": each one's faults, "chain_full": the published conventions on the whole
    replayed recording, "window_s": the first protocol's scored window in the recording's time}."""
    from rig.analysis import metrics, norms
    from rig.analysis.protocols import get as get_protocol
    from rig.analysis.protocols.analysis import analyse_trial
    from rig.cli.simulate import record_load
    from rig.constants import SAMPLE_COLUMNS
    from rig.sim.replay import RecordedLoad

    protos = list(protocols) if protocols else [get_protocol(norms.PROTOCOL)]
    load = RecordedLoad(rec.t_s, rec.fz_n, rec.ml_m, rec.ap_m)
    s, _counts, _acq = record_load(config, load, seed, 0.0, load.duration_s)
    col = {c: i for i, c in enumerate(SAMPLE_COLUMNS)}
    t, ml, ap = s[:, col["t_s"]], s[:, col["cop_ml_mm"]], s[:, col["cop_ap_mm"]]
    results = [analyse_trial(p, t, s[:, col["fz_n"]], ml, ap, s[:, col["flags"]], condition=condition) for p in protos]
    full = (t >= load.start_s) & (t <= load.end_s)
    chain = metrics.compute_all(t[full], ml[full] / 1000, ap[full] / 1000, ellipse="prediction",
                                duration="samples")["metrics"]
    w0, w1 = results[0].scored_window_s or (load.start_s, load.end_s)
    return {"scored": [r.measures for r in results], "faults": [list(r.faults) for r in results],
            "chain_full": chain,
            "window_s": [w0 - load.start_s + float(rec.t_s[0]), w1 - load.start_s + float(rec.t_s[0])]}


def bias_study(source: Path, config=None, *, seed: int = CHAIN_SEED, rows: list[dict] | None = None) -> list[dict]:
    """Every raw trial in ``source`` replayed through the rig: per trial the published values,
    the lab plate's values on the window StepPlate scores (the protocol's length), the rig's
    values on the whole recording and as the 30-s and the 60-s protocols score it, each in the
    table's keys. ``rows``: BDSinfoCOP.txt already read (:func:`rig.analysis.norms.read_info`)."""
    from dataclasses import replace

    from rig.analysis import metrics, norms
    from rig.analysis.protocols import get as get_protocol
    from rig.config import Config
    from rig.recording.reader import read_santos_duarte

    config = config or Config()
    protos = (get_protocol(norms.PROTOCOLS[0]), replace(get_protocol(norms.PROTOCOLS[1]), duration_s=REPLAY_60_S))
    rows = rows if rows is not None else norms.read_info(source / "BDSinfoCOP.txt")
    info = {r["Trial"]: r for r in rows}
    out = []
    for path in sorted(source.glob("BDS[0-9]*.txt")):
        row = info.get(path.stem)
        if row is None:
            raise click.ClickException(f"{path.name}: not listed in BDSinfoCOP.txt")
        cond = norms.CONDITIONS[(row["Vision"], row["Surface"])]
        rec = read_santos_duarte(path)
        rep = replay_trial(config, rec, seed=seed, condition=cond, protocols=protos)
        w = (rec.t_s >= rep["window_s"][0]) & (rec.t_s <= rep["window_s"][1])
        lab_window = metrics.compute_all(rec.t_s[w], rec.ml_m[w], rec.ap_m[w], ellipse="prediction",
                                         duration="samples")["metrics"]
        entry = {"trial": path.stem, "condition": cond, "age": float(row["Age"]),
                 "faults": rep["faults"][0] + [f"60 s: {f}" for f in rep["faults"][1]],
                 "published": {}, "lab_scored_window": {}, "rig_full": {}, "rig_scored": {}, "rig_scored_60": {}}
        for m in norms.MEASURES:
            entry["published"][m.key] = float(row[m.column]) * m.factor
            # the three areas are always computed; in the published convention the key is plain
            plain = "ellipse95_area_mm2" if m.key == "ellipse95_area_prediction_mm2" else m.key
            entry["lab_scored_window"][m.key] = lab_window[plain]
            entry["rig_full"][m.key] = rep["chain_full"][plain]
            entry["rig_scored"][m.key] = rep["scored"][0].get(m.key)
            entry["rig_scored_60"][m.key] = rep["scored"][1].get(m.key)
        out.append(entry)
    if not out:
        raise click.ClickException(f"no raw BDS trials in {source}")
    return out


def rebuild_table(source: Path, config=None) -> tuple[dict, list[dict]]:
    """The whole table (percentiles + comparability) and the study it came from."""
    from rig.analysis import norms
    table = norms.build_table(source / "BDSinfoCOP.txt")
    rows = norms.read_info(source / "BDSinfoCOP.txt")
    study = bias_study(source, config, rows=rows)
    for e in study:
        if e["faults"]:
            raise click.ClickException(f"{e['trial']}: the replayed trial was not scored ({', '.join(e['faults'])})")
    table["comparability"] = norms.comparability(study, rows)
    table["comparability_method"] = {
        "trials": [e["trial"] for e in study], "chain_seed": CHAIN_SEED,
        "bias": "mean over the raw trials of StepPlate's value / the published value − 1, each trial "
                "replayed through the simulated rig (rig.sim.replay): '30' as the 30-s mCTSIB scores it, '60' "
                "as the 60-s protocol scores it (55 s of each 60-s recording are left after the step-on and "
                "settle); applied: the mean two standard errors further from zero",
        "shift": "per cell (condition × age band): the largest move in percentile rank that the applied "
                 "bias gives a trial value in the cell's interquartile range",
    }
    return table, study


def doc_tables(table: dict, study: list[dict]) -> dict[str, str]:
    """The three Markdown tables of docs/reference-values.md, from the table and its bias study:
    "summary" (each measure's bias by trial length), "cells" (the shift per condition and age
    band, and whether a percentile is shown) and "trials" (every replayed trial)."""
    from rig.analysis import norms
    conds = list(norms.CONDITIONS.values())
    bands = table["age_bands"]
    lines = ["| measure | the plate itself (whole 60 s) | 30-s window (lab plate) | 30-s trial: mean ± SD, applied | "
             "60-s protocol: mean ± SD, applied | cells shown, 30-s / 60-s |", "|---|---|---|---|---|---|"]
    for m in norms.MEASURES:
        c = table["comparability"][m.key]
        d30, d60 = c["durations"]["30"], c["durations"]["60"]
        n = [sum(v for cond in conds for v in d["shown"][cond].values()) for d in (d30, d60)]
        lines.append(f"| {m.key} | {c['instrument_bias_pct']:+.1f} % | {c['window_bias_pct']:+.1f} % | "
                     f"{d30['bias_pct']:+.1f} ± {d30['sd_pct']:.1f} %, {d30['applied_pct']:+.1f} % | "
                     f"{d60['bias_pct']:+.1f} ± {d60['sd_pct']:.1f} %, {d60['applied_pct']:+.1f} % | "
                     f"{n[0]} / {n[1]} of {len(conds) * len(bands)} |")
    summary = "\n".join(lines)
    lines = ["| measure | condition | " + " | ".join(f"{b}: 30 s / 60 s" for b in bands) + " |",
             "|---|---|" + "---|" * len(bands)]
    for m in norms.MEASURES:
        c = table["comparability"][m.key]["durations"]
        for cond in conds:
            cells = []
            for b in bands:
                parts = [f"{c[d]['shift_points'][cond][b]:.1f}{'' if c[d]['shown'][cond][b] else '✗'}" for d in ("30", "60")]
                cells.append(" / ".join(parts))
            lines.append(f"| {m.key} | {cond} | " + " | ".join(cells) + " |")
    cells_table = "\n".join(lines)
    lines = ["| trial | condition | age | measure | published | lab, scored 30 s | rig, whole 60 s | rig, as scored "
             "(30-s mCTSIB) | rig, as scored (60-s protocol) |", "|---|---|---|---|---|---|---|---|---|"]
    for e in study:
        for m in norms.MEASURES:
            vals = [e[k][m.key] / m.factor for k in ("published", "lab_scored_window", "rig_full", "rig_scored",
                                             "rig_scored_60")]
            lines.append(f"| {e['trial']} | {e['condition']} | {e['age']:.0f} | {m.column} ({m.published_unit}) | "
                         + " | ".join(f"{v:.4g}" for v in vals) + " |")
    return {"summary": summary, "cells": cells_table, "trials": "\n".join(lines)}


def doc_block(text: str, name: str) -> str:
    """The text between ``<!-- norms-bias-NAME -->`` and ``<!-- end norms-bias-NAME -->``."""
    try:
        return text.split(f"<!-- norms-bias-{name} -->")[1].split(f"<!-- end norms-bias-{name} -->")[0].strip()
    except IndexError:
        raise click.ClickException(f"no norms-bias-{name} block in the document") from None


def replace_doc_blocks(text: str, tables: dict[str, str]) -> str:
    for name, body in tables.items():
        old = doc_block(text, name)
        text = text.replace(old, body, 1) if old else text.replace(
            f"<!-- norms-bias-{name} -->", f"<!-- norms-bias-{name} -->\n{body}", 1)
    return text


@click.command("norms")
@click.option("--protocol", "protocol_id", default="quiet_stance_mctsib", show_default=True,
              help="The protocol (reference values exist for the mCTSIB quiet stance).")
@click.option("--condition", default=None, help="mCTSIB condition, e.g. eyes_closed_foam or foam_eyes_closed.")
@click.option("--age", type=float, default=None, help="Age in years: the age band's cell.")
@click.option("--trial-seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Length of the scored trial, which decides the measures shown (default: the protocol's, "
                   "30 s for quiet_stance_mctsib, 60 s for quiet_stance_mctsib_60).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--rebuild", is_flag=True, help="Regenerate the shipped table from the data set (about 30 s).")
@click.option("--source", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"The Santos & Duarte folder for --rebuild (default: {DEFAULT_SOURCE}).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where --rebuild writes the table (default: the shipped file).")
def norms(protocol_id, condition, age, trial_seconds, as_json, rebuild, source, output):
    """Reference values (percentiles by condition and age band) from public data."""
    from rig.analysis import norms as nm
    if rebuild:
        src = source or DEFAULT_SOURCE
        if not (src / "BDSinfoCOP.txt").is_file():
            raise click.ClickException(f"{src}: no BDSinfoCOP.txt (give --source)")
        table, study = rebuild_table(src)
        dest = output or nm.TABLE_PATH
        dest.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        click.echo(f"wrote {dest} ({len(table['cells'])} cells, {len(study)} replayed trials)")
        if output is None and DOC_PATH.is_file():
            DOC_PATH.write_text(replace_doc_blocks(DOC_PATH.read_text(encoding="utf-8"), doc_tables(table, study)),
                                encoding="utf-8")
            click.echo(f"rewrote the bias tables in {DOC_PATH}")
        return
    if protocol_id not in nm.PROTOCOLS:
        raise click.ClickException(f"no reference values for {protocol_id!r}: they exist for {nm.PROTOCOL} "
                                   "(single-leg stance: docs/reference-values.md says why none are shown)")
    if trial_seconds is None:
        from rig.analysis.protocols import get as get_protocol
        trial_seconds = float(get_protocol(protocol_id).duration_s)
    table = nm.load_table()
    if condition is None or age is None:
        raise click.ClickException("give --condition and --age (e.g. --condition eyes_closed_foam --age 72)")
    try:
        cell = nm.cell_for(table, condition, age)
    except nm.NormsError as exc:
        raise click.ClickException(str(exc)) from None
    out = {"protocol": nm.PROTOCOL, "condition": cell["condition"], "age": age, "age_band": cell["age_band"],
           "n_people": cell["n_people"], "n_trials": cell["n_trials"], "too_few": cell["too_few"],
           "percentiles": cell["measures"], "published": cell["published"],
           "trial_seconds": trial_seconds,
           "shown_on_screen": {k: nm.shown(table, k, cell["condition"], cell["age_band"], trial_seconds)[0]
                               for k in cell["measures"]},
           "why": {k: nm.shown(table, k, cell["condition"], cell["age_band"], trial_seconds)[1]
                   for k in cell["measures"]},
           "conventions": table["measures"], "percentile_method": table["percentile_method"],
           "source": table["source"]}
    if as_json:
        click.echo(json.dumps(out, indent=1, ensure_ascii=False))
        return
    click.echo(f"{nm.CONDITION_TITLES[cell['condition']]}, age {cell['age_band']}: "
               f"{cell['n_people']} people, {cell['n_trials']} trials{' (too few)' if cell['too_few'] else ''}")
    for key, pct in cell["measures"].items():
        shown = "shown" if out["shown_on_screen"][key] else "not shown"
        click.echo(f"  {key:32s} " + "  ".join(f"{p}={v:.4g}" for p, v in pct.items()) + f"  [{shown}]")
    click.echo(f"source: {table['source']['citation']} ({table['source']['licence']})")
