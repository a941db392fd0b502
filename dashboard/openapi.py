"""OpenAPI 3.1 description of the dashboard's JSON API, and request validation from it.

The description (``spec()``) is served at ``/api/openapi.json`` (login required like every
route) and is the single source of truth for three things:

* **validation**: before a described endpoint's view runs, its JSON body and query parameters
  are checked against the schema (``validate``); a malformed or wrongly typed request gets a
  400 with a message naming the field (``body.samples[3][2]: must be number or null``); a body
  above ``MAX_CONTENT_LENGTH`` gets 413. Nothing is written before the request passed.
* **errors**: every 4xx/5xx under ``/api/`` is JSON ``{"error": "..."}``, never an HTML page.
* **fuzzing**: tests/dashboard/test_fuzz_api.py generates requests from these schemas (hypothesis).

The validator implements the JSON-Schema subset used here (type, enum, properties, required,
items, min/maxItems, maxLength, minimum/maximum, exclusiveMinimum, format date-time).
"""
from __future__ import annotations

import json
import math
from datetime import datetime

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound, RequestEntityTooLarge

from dashboard.models import SIDES

bp = Blueprint("openapi", __name__)

MAX_SAMPLES = 200_000   # same limit as dashboard.trials.MAX_UPLOAD_SAMPLES
MAX_COLUMNS = 32
MAX_CUES = 256          # same limit as dashboard.trials.MAX_CUES

ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
SIDE = {"type": "string", "enum": list(SIDES)}
NUMBER_OR_NULL = {"type": ["number", "null"]}
#: a lateral step-down metronome's cue times, seconds on the stream's time base (finite; the view
#: also checks they increase and lie within the trial)
CUES = {"type": "array", "maxItems": MAX_CUES, "items": {"type": "number"}}

TRIAL_BODY = {
    "type": "object",
    "properties": {
        "side": SIDE,
        "columns": {"type": "array", "minItems": 1, "maxItems": MAX_COLUMNS,
                    "items": {"type": "string", "maxLength": 32}},
        "samples": {"type": "array", "maxItems": MAX_SAMPLES,
                    "items": {"type": "array", "minItems": 1, "maxItems": MAX_COLUMNS, "items": NUMBER_OR_NULL}},
        "started_at": {"type": "string", "format": "date-time", "maxLength": 40},
        "cues_s": CUES,
    },
    "required": ["samples"],
}
UPLOAD_BODY = {"type": "object", "properties": {"side": SIDE, "file": {"type": "string", "format": "binary"}},
               "required": ["file"]}
RECORD_BODY = {"type": "object",
               "properties": {"side": SIDE, "seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 120},
                              "cues_s": {**CUES, "items": {"type": "number", "minimum": 0, "maximum": 1e9}},
                              "condition": {"type": "string", "maxLength": 40},
                              "practice": {"type": "boolean"}}}
TRIAL = {"type": "object", "properties": {
    "trial_id": {"type": "integer"}, "session_id": {"type": "integer"}, "protocol": {"type": "string"},
    "side": SIDE, "status": {"type": "string"}, "started_at": {"type": "string"},
    "duration_s": {"type": "number"}, "sample_rate_hz": {"type": "number"}, "n_samples": {"type": "integer"},
    "body_mass_kg": {"type": "number"}, "results": {"type": "object"}, "quality": {"type": "object"},
    "url": {"type": "string"}}}

#: a session's patient-reported outcomes (dashboard.pros): whole numbers; the view checks the
#: ranges (0–10, each LEFS item 0–4) and that a LEFS has all 20 answers, naming the field
PRO_SCORE = {"type": ["integer", "null"]}
PRO_BODY = {"type": "object", "properties": {
    "pain_week_nrs": {**PRO_SCORE, "description": "worst pain in the past week, 0 (no pain) to 10"},
    "pain_test_nrs": {**PRO_SCORE, "description": "pain during the test, 0 (no pain) to 10"},
    "lefs_items": {"type": ["array", "null"], "maxItems": 20, "items": PRO_SCORE,
                   "description": "the 20 LEFS answers in item order, each 0 (extreme difficulty or unable) "
                                  "to 4 (no difficulty); all 20 or none (null: not asked)"}},
    "description": "replaces the session's entry as a whole; lefs_total is computed, never sent"}
PRO = {"type": "object", "properties": {
    "session_id": {"type": "integer"}, "session_date": {"type": "string"}, "protocol": {"type": "string"},
    "pain_week_nrs": PRO_SCORE, "pain_test_nrs": PRO_SCORE,
    "lefs_items": {"type": ["array", "null"], "items": {"type": "integer"}},
    "lefs_total": {**PRO_SCORE, "description": "sum of the 20 LEFS answers, 0-80"},
    "recorded_at": {"type": "string"}, "updated_at": {"type": "string"},
    "clinician": {"type": ["string", "null"]}}}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def _json(schema: dict) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def _resp(ok: str, ok_schema: dict | None = None, *codes: str) -> dict:
    out = {ok: {"description": "ok", **(_json(ok_schema) if ok_schema else {})}}
    for c in codes:
        out[c] = {"description": {"400": "bad input", "404": "unknown id", "413": "too large",
                                  "415": "wrong content type", "503": "no live data"}[c], **_json(ERROR)}
    return out


#: (method, OpenAPI path, Flask endpoint, operation) for every JSON endpoint.
OPERATIONS = [
    ("get", "/api/status", "live.status", {"summary": "Plate status for the status bar (public: no patient data)",
                                           "security": [], "responses": _resp("200", {"type": "object"})}),
    ("get", "/api/live/stream", "live.stream", {"summary": "Server-Sent Events: samples, health (public)",
                                                "security": [], "responses": {"200": {"description": "text/event-stream"}}}),
    ("post", "/api/live/tare", "live.tare", {"summary": "Zero the plate", "responses": _resp("200", {"type": "object"}, "503")}),
    ("post", "/api/sessions/{session_id}/trials", "trials.api_create_trial", {
        "summary": "Store a trial from samples (JSON) or an uploaded StepPlate recording (multipart)",
        "parameters": [_id("session_id")],
        "requestBody": {"required": True, "content": {"application/json": {"schema": TRIAL_BODY},
                                                      "multipart/form-data": {"schema": UPLOAD_BODY}}},
        "responses": _resp("201", TRIAL, "400", "404", "413", "415")}),
    ("post", "/api/sessions/{session_id}/trials/record", "trials.api_record_trial", {
        "summary": "Record a trial from the live plate", "parameters": [_id("session_id")],
        "requestBody": {"required": False, **_json(RECORD_BODY)},
        "responses": _resp("201", TRIAL, "400", "404", "503")}),
    ("get", "/api/trials/{trial_id}", "trials.api_trial", {
        "summary": "A trial's summary and measures", "parameters": [_id("trial_id")],
        "responses": _resp("200", TRIAL, "404")}),
    ("get", "/api/trials/{trial_id}/samples", "trials.api_trial_samples", {
        "summary": "A trial's samples, decimated", "parameters": [
            _id("trial_id"), {"name": "max_points", "in": "query", "required": False,
                              "schema": {"type": "integer", "minimum": -10**9, "maximum": 10**9}}],
        "responses": _resp("200", {"type": "object"}, "400", "404")}),
    ("get", "/api/sessions/{session_id}/pros", "pros.api_session_pros", {
        "summary": "The session's patient-reported outcomes (pain 0-10, LEFS 0-80)", "parameters": [_id("session_id")],
        "responses": _resp("200", PRO, "404")}),
    ("put", "/api/sessions/{session_id}/pros", "pros.api_session_pros", {
        "summary": "Enter or replace the session's patient-reported outcomes (201 when new)",
        "parameters": [_id("session_id")],
        "requestBody": {"required": True, **_json(PRO_BODY)},
        "responses": {**_resp("200", PRO, "400", "404", "415"), "201": {"description": "entered", **_json(PRO)}}}),
    ("get", "/patients/{patient_id}/pros.csv", "pros.patient_csv", {
        "summary": "A patient's patient-reported outcomes, one row per session (CSV)", "parameters": [_id("patient_id")],
        "responses": {"200": {"description": "text/csv"}, "404": {"description": "unknown id"}}}),
    ("get", "/patients/{patient_id}/pros.json", "pros.patient_json", {
        "summary": "A patient's patient-reported outcomes with the scales and their MCIDs (JSON)",
        "parameters": [_id("patient_id")], "responses": _resp("200", {"type": "object"}, "404")}),
    ("get", "/patients/{patient_id}/history.json", "patients.history_json", {
        "summary": "A patient's trends and patient-reported outcomes", "parameters": [_id("patient_id")],
        "responses": _resp("200", {"type": "object"}, "404")}),
    ("get", "/patients/{patient_id}/export.zip", "patients.export_zip", {
        "summary": "All data of one patient (patient.json + recordings)", "parameters": [_id("patient_id")],
        "responses": {"200": {"description": "application/zip"}, "404": {"description": "unknown id"}}}),
    ("get", "/api/openapi.json", "openapi.document", {"summary": "This description",
                                                      "responses": _resp("200", {"type": "object"})}),
]
BY_ENDPOINT = {ep: (method, path, op) for method, path, ep, op in OPERATIONS}
#: (Flask endpoint, HTTP method) -> operation: one endpoint may serve several methods (GET and PUT)
BY_METHOD = {(ep, method.upper()): op for method, _path, ep, op in OPERATIONS}


def spec() -> dict:
    paths: dict[str, dict] = {}
    for method, path, endpoint, op in OPERATIONS:
        paths.setdefault(path, {})[method] = {"operationId": endpoint, **op}
    return {"openapi": "3.1.0",
            "info": {"title": "StepPlate dashboard API", "version": "1"},
            "components": {"securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "session"}}},
            "security": [{"session": []}],
            "paths": paths}


# --- validation ------------------------------------------------------------------------------

class Invalid(ValueError):
    pass


_TYPES = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
          "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
          "null": lambda v: v is None,
          "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
          "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}


def _fast_number_rows(value, schema) -> bool:
    """Fast path for the big samples array: rows of numbers/None (the common, valid case)."""
    if schema.get("items") is not NUMBER_OR_NULL:
        return False
    for v in value:
        if not (v is None or (type(v) in (int, float))):
            return False
    return True


def validate(value, schema: dict, where: str = "body") -> None:
    """Raise ``Invalid`` naming the first place ``value`` does not follow ``schema``."""
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in types):
            got = "null" if value is None else type(value).__name__.replace("dict", "object").replace("list", "array")
            raise Invalid(f"{where}: must be {' or '.join(types)}, got {got}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value) and "number" in (types or []) and schema is not NUMBER_OR_NULL:
            raise Invalid(f"{where}: must be a finite number")
        if "minimum" in schema and value < schema["minimum"]:
            raise Invalid(f"{where}: must be at least {schema['minimum']}")
        if "exclusiveMinimum" in schema and not value > schema["exclusiveMinimum"]:
            raise Invalid(f"{where}: must be more than {schema['exclusiveMinimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise Invalid(f"{where}: must be at most {schema['maximum']}")
    if isinstance(value, str):
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            raise Invalid(f"{where}: at most {schema['maxLength']} characters")
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise Invalid(f"{where}: not an ISO-8601 date-time") from None
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            raise Invalid(f"{where}: at most {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            raise Invalid(f"{where}: at least {schema['minItems']} item(s)")
        if "items" in schema and not _fast_number_rows(value, schema):
            for i, item in enumerate(value):
                validate(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise Invalid(f"{where}.{key}: required")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(value[key], sub, f"{where}.{key}")


def _check_samples(body: dict) -> None:
    """Every sample value is a finite number or null, and every sample has a time.

    A NaN/None ``t_s`` made a NULL duration and a 500, and ``flags`` of ``Infinity`` an
    OverflowError (found by tests/dashboard/test_fuzz_api.py); an infinite force was stored as
    a trial. JSON's ``Infinity``/``NaN`` (which Python's parser accepts) are refused in every
    column; null stays allowed where the format has NaN (a COP over an unloaded plate), but
    not for the time, and flags are whole numbers."""
    from rig.signal.plate import SAMPLE_COLUMNS
    cols = body.get("columns") or list(SAMPLE_COLUMNS)
    kt = cols.index("t_s") if "t_s" in cols else None
    kf = cols.index("flags") if "flags" in cols else None
    for i, row in enumerate(body.get("samples") or ()):
        for k, v in enumerate(row):
            name = cols[k] if k < len(cols) else f"column {k}"
            if v is None:
                if k == kt:
                    raise Invalid(f"body.samples[{i}][{k}]: t_s must be a finite number of seconds")
                continue
            if isinstance(v, float) and not math.isfinite(v):
                what = "a finite number of seconds" if k == kt else "a finite number or null"
                raise Invalid(f"body.samples[{i}][{k}]: {name} must be {what}, got {v}")
            if k == kf and isinstance(v, (int, float)) and (v != int(v) or not 0 <= v < 2**31):
                raise Invalid(f"body.samples[{i}][{k}]: flags must be a whole number in [0, 2^31), got {v}")


MAX_ID = 2**63 - 1   # database integer ids are 64-bit signed


def _check_ids():
    """before_request for every route: an id no database can hold is simply unknown (404), not
    an OverflowError deep in the driver (found by tests/dashboard/test_fuzz_api.py). And a body above
    MAX_CONTENT_LENGTH is a 413 before anything reads it."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge(f"the request is larger than {limit // (1024 * 1024)} MiB")
    for k, v in (request.view_args or {}).items():
        if isinstance(v, int) and not 0 <= v <= MAX_ID:
            raise NotFound(f"no such {k.removesuffix('_id')}")
    return None


def _check_request():
    """before_request: validate a described endpoint's query and body; 4xx before the view runs."""
    op = BY_METHOD.get((request.endpoint or "", "GET" if request.method == "HEAD" else request.method))
    if op is None:
        return None
    try:
        for p in op.get("parameters", ()):
            if p["in"] == "query" and p["name"] in request.args:
                raw = request.args.get(p["name"], "")
                try:
                    val = int(raw, 10) if p["schema"]["type"] == "integer" else raw
                except ValueError:
                    raise Invalid(f"query.{p['name']}: must be an integer, got {raw[:20]!r}") from None
                validate(val, p["schema"], f"query.{p['name']}")
        body = op.get("requestBody")
        if body is None:
            return None
        content = body["content"]
        if request.mimetype == "application/json" and "application/json" in content:
            data = request.get_data(cache=True)          # 413 above MAX_CONTENT_LENGTH
            try:
                value = json.loads(data) if data.strip() else None
            except (ValueError, RecursionError) as exc:   # UnicodeDecodeError is a ValueError
                raise Invalid(f"malformed JSON: {str(exc)[:120]}") from None
            if value is None and not body.get("required"):
                return None
            validate(value, content["application/json"]["schema"])
            if request.endpoint == "trials.api_create_trial":
                _check_samples(value)
            request._cached_json = (value, value)      # the view's get_json() reuses the checked value
        elif request.mimetype == "multipart/form-data" and "multipart/form-data" in content:
            schema = content["multipart/form-data"]["schema"]
            form = {k: request.form[k] for k in request.form}
            if "file" in request.files and request.files["file"].filename is not None:
                form["file"] = "<file>"
            validate(form, schema)
        elif request.content_length or request.mimetype:
            return jsonify({"error": f"send {' or '.join(content)} (got {request.mimetype or 'no content type'})"}), 415
        elif body.get("required"):
            raise Invalid("body: required")
    except Invalid as exc:
        return jsonify({"error": str(exc)}), 400
    return None


@bp.route("/api/openapi.json")
def document():
    return jsonify(spec())


def _json_errors(exc: HTTPException):
    if request.path.startswith("/api/"):
        return jsonify({"error": exc.description or exc.name}), exc.code
    return exc


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_check_ids)
    app.before_request(_check_request)
    app.register_error_handler(HTTPException, _json_errors)


__all__ = ["spec", "validate", "Invalid", "OPERATIONS", "BY_ENDPOINT", "BY_METHOD", "init_app"]
