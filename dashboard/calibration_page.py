"""The calibration page: runs the guided calibration (``calibration.flow.CalibrationFlow``,
the same object ``rig calibrate`` drives) from the dashboard.

Counts come from the acquisition's batches through the live source (their raw ``counts``,
docs/live-stream.md), read with ``calibration.sampler.ChunkSampler``: the web process never
touches the pins. Steps: tare (plate empty) → the mass over each corner and the centre →
optionally a 3×3 or 5×5 grid → end tare → the result with pass/fail in numbers → save.
Saving writes the calibration file (``calibration.fileformat.save``; the previous one is
kept), asks the acquisition to use it (``reload_calibration``; it also notices the file by
itself) and records it in the Calibration table. Nothing is written before "Save".

One calibration at a time per web process (one plate). Every route needs a logged-in
clinician; every POST carries the CSRF token (forms).
"""
from __future__ import annotations

import hashlib
import queue
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField
from wtforms.validators import DataRequired, NumberRange

from dashboard.auth import clinic_gate
from dashboard.db import get_db
from dashboard.livefeed import NoLiveSource, live_source
from dashboard.models import Calibration

bp = Blueprint("calibration", __name__, url_prefix="/calibration")
bp.before_request(clinic_gate)

#: How long a step waits for the acquisition's next batch before telling the operator.
CHUNK_TIMEOUT_S = 10.0


class StartForm(FlaskForm):
    mass_kg = DecimalField("Calibration mass (kg)", places=3,
                           validators=[DataRequired(), NumberRange(min=0.5, max=200)])
    grid = SelectField("Grid", choices=[("none", "none (corners and centre only)"), ("3", "3 × 3"), ("5", "5 × 5")],
                       default="3")


class EmptyForm(FlaskForm):
    """Just the CSRF token (step, save, cancel)."""


def rig_config():
    from rig.config import load
    return load(current_app.config.get("RIG_CONFIG"))


class Run:
    """One calibration in progress: the flow, fed by the live source's raw counts."""

    def __init__(self, live, config, mass_kg: float, grid: str, previous=None):
        from calibration.flow import CalibrationFlow, StepError
        from calibration.sampler import ChunkSampler
        self.q: queue.Queue = queue.Queue(maxsize=4096)
        self.lock = threading.Lock()
        self.unsubscribe = live.subscribe(self._on)

        def next_chunk():
            try:
                msg = self.q.get(timeout=CHUNK_TIMEOUT_S)
            except queue.Empty:
                raise StepError(f"no samples from the plate for {CHUNK_TIMEOUT_S:g} s (the acquisition "
                                "starts once the plate has been empty and still for a second)") from None
            return [row[0] for row in msg["samples"]], msg["counts"]

        hello = getattr(live, "hello", None) or {}
        self.sampler = ChunkSampler(next_chunk, float(hello.get("rate_hz") or config.hx711.rate_sps))
        self.flow = CalibrationFlow(config, self.sampler, mass_kg=mass_kg, grid=grid, previous=previous)
        self.config = config
        self.index = 0                       #: next step
        self.done: list[str] = []            #: messages of the steps done
        self.error: str | None = None
        self.cal: dict | None = None

    def _on(self, msg: dict) -> None:
        if msg.get("type") == "batch" and msg.get("counts") and len(msg["counts"]) == len(msg.get("samples") or []):
            try:
                self.q.put_nowait(msg)
            except queue.Full:               # nobody measuring: keep the newest
                try:
                    self.q.get_nowait()
                except queue.Empty:
                    pass
                self.q.put_nowait(msg)

    def _sync(self) -> None:
        """Drop what was measured before the operator pressed the button (the plate just changed)."""
        while True:
            try:
                self.q.get_nowait()
            except queue.Empty:
                break
        self.sampler.discard()

    @property
    def step(self):
        return self.flow.steps[self.index] if self.index < len(self.flow.steps) else None

    def run_step(self) -> None:
        from calibration.flow import StepError
        from calibration.sampler import NotStable
        with self.lock:
            step = self.step
            if step is None:
                return
            self._sync()
            try:
                res = self.flow.run_step(step)
            except (StepError, NotStable) as exc:
                self.error = str(exc)
                return
            self.error = None
            self.done.append(f"{step.label}: {res.message}")
            self.index += 1
            if self.step is None:
                try:
                    self.cal = self.flow.finish()
                except StepError as exc:
                    self.error = str(exc)

    def close(self) -> None:
        self.unsubscribe()


def _run() -> Run | None:
    return current_app.extensions.get("stepplate_calibration_run")


def _set_run(run: Run | None) -> None:
    old = _run()
    if old is not None and old is not run:
        old.close()
    current_app.extensions["stepplate_calibration_run"] = run


def _previous(config):
    from calibration import fileformat
    from calibration.loader import force_model_from_dict
    try:
        return force_model_from_dict(fileformat.load(fileformat.default_path(config)), config)
    except (FileNotFoundError, fileformat.CalibrationFileError):
        return None


@bp.get("/")
def index():
    from calibration.flow import LIMITS, report_lines
    run = _run()
    cals = get_db().query(Calibration).order_by(Calibration.created_at.desc()).limit(20).all()
    return render_template("calibration/index.html", run=run, form=StartForm(), action=EmptyForm(),
                           report=report_lines(run.cal) if run is not None and run.cal else None,
                           limits=LIMITS, calibrations=cals)


@bp.post("/start")
def start():
    form = StartForm()
    if not form.validate_on_submit():
        flash("Give the calibration mass in kg (0.5 to 200) and a grid.", "error")
        return redirect(url_for("calibration.index"))
    try:
        live = live_source(current_app)
        config = rig_config()
        run = Run(live, config, float(form.mass_kg.data), form.grid.data, previous=_previous(config))
    except (NoLiveSource, ValueError) as exc:
        flash(str(exc), "error")
        return redirect(url_for("calibration.index"))
    _set_run(run)
    return redirect(url_for("calibration.index"))


@bp.post("/step")
def step():
    run = _run()
    if run is None or not EmptyForm().validate_on_submit():
        return redirect(url_for("calibration.index"))
    run.run_step()
    return redirect(url_for("calibration.index"))


@bp.post("/save")
def save():
    from calibration import fileformat
    run = _run()
    if run is None or run.cal is None or not EmptyForm().validate_on_submit():
        return redirect(url_for("calibration.index"))
    cal, config = run.cal, run.config
    path = fileformat.default_path(config)
    fileformat.save(cal, path)
    reply = {}
    try:
        reply = live_source(current_app).command("reload_calibration")
    except Exception as exc:  # noqa: BLE001 - the file is saved; the acquisition also notices it by itself
        reply = {"ok": False, "error": str(exc)}
    db = get_db()
    db.add(Calibration(created_at=datetime.now(timezone.utc), plate_name=cal["plate"]["name"],
                       source=f"calibration {cal['created_utc']}"[:40], path=str(path),
                       sha256=hashlib.sha256(Path(path).read_bytes()).hexdigest(),
                       summary={"passed": cal["result"]["passed"], "failures": cal["result"]["failures"],
                                "warnings": cal["result"]["warnings"], "heldout": _plain(cal["heldout"]),
                                "mass_kg": cal["operator_masses_kg"], "model": cal["model"]["kind"]}))
    db.commit()
    _set_run(None)
    flash(f"Calibration saved to {path}" + ("; the plate now uses it." if reply.get("ok")
                                            else "; the acquisition picks it up within a second."), "success")
    return redirect(url_for("calibration.index"))


@bp.post("/cancel")
def cancel():
    if EmptyForm().validate_on_submit():
        _set_run(None)
        flash("Calibration cancelled; nothing was written.", "info")
    return redirect(url_for("calibration.index"))


def _plain(x):
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    return x
