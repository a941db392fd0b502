"""The config file: every option parses, every mistake is an error naming the option, and the
documented example and reference cannot drift from the code."""
from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from rig import config as cfg
from rig.cli import main
from rig.config import Config, ConfigError, from_dict, load
from tests import ROOT

EXAMPLE = ROOT / "hardware" / "rig.example.toml"

#: A valid, non-default value for every option (with any option it needs to be valid).
NON_DEFAULT = {
    "gpio.backend": ("sim", {}),
    "gpio.chip_label": ("pinctrl-rp1", {}),
    "gpio.clock_pin": (4, {}),
    "gpio.data_pins": ((17, 27, 22, 23), {}),
    "hx711.rate_sps": (10, {}),
    "hx711.gain": (64, {}),
    "hx711.max_clock_high_us": (30.5, {}),
    "plate.name": ("clinic-a", {}),
    "plate.cell_spacing_ml_mm": (500.0, {}),
    "plate.cell_spacing_ap_mm": (400.0, {}),
    "plate.cell_capacity_kg": (200.0, {}),
    "plate.cell_sensitivity_mv_v": (1.0, {}),
    "plate.min_fz_n": (50.0, {}),
    "paths.data_dir": ("/var/lib/stepplate", {}),
    "web.host": ("127.0.0.1", {}),
    "web.port": (8443, {}),
    "web.database_url": ("postgresql+psycopg://rig@db/stepplate", {}),
    "web.https": (True, {"web.cert_file": "/c.pem", "web.key_file": "/k.pem"}),
    "web.cert_file": ("/etc/stepplate/tls/cert.pem", {}),
    "web.key_file": ("/etc/stepplate/tls/key.pem", {}),
    "display.force_unit": ("percent_bw", {}),
    "display.length_unit": ("cm", {}),
    "acquisition.batch_ms": (250, {}),
    "acquisition.socket": ("/run/stepplate/acq.sock", {}),
    "calibration.max_age_days": (7, {}),
}

ALL_OPTIONS = [f"{sec}.{name}" for sec, name, *_ in cfg.options()]


def nested(flat: dict) -> dict:
    out: dict = {}
    for key, value in flat.items():
        sec, name = key.split(".")
        out.setdefault(sec, {})[name] = list(value) if isinstance(value, tuple) else value
    return out


def get(c: Config, key: str):
    sec, name = key.split(".")
    return getattr(getattr(c, sec), name)


def error_of(data: dict) -> str:
    with pytest.raises(ConfigError) as exc:
        from_dict(data)
    return str(exc.value)


@pytest.fixture(autouse=True)
def no_system_config(monkeypatch, tmp_path):
    """Tests never see /etc/stepplate/rig.toml or $RIG_CONFIG of the machine they run on."""
    monkeypatch.delenv("RIG_CONFIG", raising=False)
    monkeypatch.setattr(cfg, "DEFAULT_PATHS", (tmp_path / "absent.toml",))


# --- every option -------------------------------------------------------------------------

def test_every_option_has_a_non_default_case():
    assert sorted(NON_DEFAULT) == sorted(ALL_OPTIONS)


def test_expected_sections_and_existing_field_names_are_kept():
    assert cfg.section_names() == ("gpio", "hx711", "plate", "paths", "web", "display",
                                   "acquisition", "calibration")
    for key in ("gpio.backend", "gpio.chip_label", "gpio.clock_pin", "gpio.data_pins",
                "hx711.rate_sps", "hx711.gain", "hx711.max_clock_high_us", "plate.name",
                "plate.cell_spacing_ml_mm", "plate.cell_spacing_ap_mm", "plate.cell_capacity_kg",
                "plate.cell_sensitivity_mv_v", "plate.min_fz_n", "paths.data_dir", "web.host",
                "web.port", "web.database_url"):
        assert key in ALL_OPTIONS


def test_documented_defaults():
    c = Config().validate()
    assert c.gpio.clock_pin == 5 and c.gpio.data_pins == (6, 13, 19, 26)
    assert (c.hx711.rate_sps, c.hx711.gain) == (80, 128)
    assert (c.plate.cell_spacing_ml_mm, c.plate.cell_spacing_ap_mm) == (440.0, 340.0)
    assert c.web.port == 5000 and c.web.https is False and c.web.database_url == ""
    assert (c.display.force_unit, c.display.length_unit) == ("n", "mm")
    assert c.acquisition.batch_ms == 40 and c.calibration.max_age_days == 30


@pytest.mark.parametrize("key", sorted(NON_DEFAULT))
def test_each_option_is_read(key, tmp_path):
    value, extra = NON_DEFAULT[key]
    assert get(Config(), key) != value, "the test value must differ from the default"
    f = tmp_path / "rig.toml"
    f.write_text(cfg.render_with({key: value, **extra}), encoding="utf-8")
    c = load(f)
    assert get(c, key) == value
    assert type(get(c, key)) is type(get(Config(), key))
    assert c.source == str(f)
    # everything else stays at its default
    for other in ALL_OPTIONS:
        if other != key and other not in extra:
            assert get(c, other) == get(Config(), other), other


def test_int_accepted_for_float_and_stored_as_float():
    c = from_dict({"plate": {"cell_capacity_kg": 200}})
    assert c.plate.cell_capacity_kg == 200.0 and isinstance(c.plate.cell_capacity_kg, float)


# --- every error ---------------------------------------------------------------------------

def test_unknown_section_is_named():
    msg = error_of({"hx7111": {"rate_sps": 80}})
    assert msg.startswith("hx7111: unknown section") and "hx711" in msg


@pytest.mark.parametrize("key", ALL_OPTIONS)
def test_typo_in_any_option_is_named(key):
    sec, name = key.split(".")
    msg = error_of({sec: {name + "x": 1}})
    assert msg.startswith(f"{sec}.{name}x: unknown option") and name in msg


def test_section_must_be_a_table():
    assert error_of({"web": 5}).startswith("web: must be a table")


WRONG_TYPE = {int: "80", float: "fast", str: 5, bool: "yes"}


@pytest.mark.parametrize("key", ALL_OPTIONS)
def test_wrong_type_for_any_option_is_named(key):
    sec, name, typ, *_ = next(o for o in cfg.options() if f"{o[0]}.{o[1]}" == key)
    if typ == tuple[int, ...]:
        assert error_of({sec: {name: 6}}).startswith(f"{key}: must be a list")
        assert error_of({sec: {name: [6, 13, "19", 26]}}).startswith(f"{key}[2]: must be an integer")
        return
    msg = error_of({sec: {name: WRONG_TYPE[typ]}})
    assert msg.startswith(f"{key}: must be"), msg


def test_bool_is_not_an_integer_and_float_is_not_an_integer():
    assert error_of({"web": {"port": True}}).startswith("web.port: must be an integer")
    assert error_of({"web": {"port": 5000.0}}).startswith("web.port: must be an integer")
    assert error_of({"plate": {"min_fz_n": True}}).startswith("plate.min_fz_n: must be a number")


def impossible_values():
    """For every constrained option, the values just outside each constraint."""
    for sec, name, typ, default, meta in cfg.options():
        key = f"{sec}.{name}"
        step = 1 if typ in (int, tuple[int, ...]) else 0.001
        bad = []
        if meta["choices"]:
            bad.append("nope" if typ is str else 7)
        if meta["ge"] is not None:
            bad.append(meta["ge"] - step)
        if meta["gt"] is not None:
            bad.append(meta["gt"])
        if meta["le"] is not None:
            bad.append(meta["le"] + step)
        if meta["lt"] is not None:
            bad.append(meta["lt"])
        if meta["nonempty"]:
            bad.append("  ")
        for v in bad:
            if typ == tuple[int, ...]:
                items = list(default)
                items[2] = v
                yield key, items, f"{key}[2]"
            else:
                yield key, v, key
        if meta["length"] is not None:
            yield key, list(default)[:3], key


@pytest.mark.parametrize("key,value,named", list(impossible_values()))
def test_impossible_value_for_any_option_is_named(key, value, named):
    sec, name = key.split(".")
    msg = error_of({sec: {name: value}})
    assert msg.startswith(f"{named}: must"), msg


def test_every_numeric_option_is_bounded():
    for sec, name, typ, default, meta in cfg.options():
        if typ in (int, float):
            assert meta["choices"] or (
                (meta["ge"] is not None or meta["gt"] is not None)
                and (meta["le"] is not None or meta["lt"] is not None)), f"{sec}.{name}"


@pytest.mark.parametrize("data,start", [
    ({"gpio": {"clock_pin": 28}}, "gpio.clock_pin: must be at most 27"),
    ({"gpio": {"clock_pin": 1}}, "gpio.clock_pin: must be at least 2"),
    ({"gpio": {"data_pins": [6, 13, 19, 28]}}, "gpio.data_pins[3]: must be at most 27"),
    ({"gpio": {"data_pins": [6, 13, 19]}}, "gpio.data_pins: must list 4 values"),
    ({"gpio": {"backend": "pigpio"}}, "gpio.backend: must be one of"),
    ({"hx711": {"rate_sps": 20}}, "hx711.rate_sps: must be one of 10, 80 (got 20)"),
    ({"hx711": {"gain": 100}}, "hx711.gain: must be one of 128, 64, 32"),
    ({"hx711": {"max_clock_high_us": 60}}, "hx711.max_clock_high_us: must be below 60"),
    ({"hx711": {"max_clock_high_us": 0}}, "hx711.max_clock_high_us: must be above 0"),
    ({"plate": {"cell_spacing_ml_mm": 20}}, "plate.cell_spacing_ml_mm: must be at least 50"),
    ({"plate": {"cell_capacity_kg": -50}}, "plate.cell_capacity_kg: must be above 0"),
    ({"plate": {"cell_capacity_kg": math.nan}}, "plate.cell_capacity_kg: must be above 0"),
    ({"plate": {"min_fz_n": math.inf}}, "plate.min_fz_n: must be below 500"),
    ({"plate": {"name": ""}}, "plate.name: must not be empty"),
    ({"paths": {"data_dir": " "}}, "paths.data_dir: must not be empty"),
    ({"web": {"port": 0}}, "web.port: must be at least 1"),
    ({"web": {"port": 65536}}, "web.port: must be at most 65535"),
    ({"display": {"force_unit": "lbf"}}, "display.force_unit: must be one of"),
    ({"display": {"length_unit": "in"}}, "display.length_unit: must be one of"),
    ({"acquisition": {"batch_ms": 5}}, "acquisition.batch_ms: must be at least 10"),
    ({"calibration": {"max_age_days": 0}}, "calibration.max_age_days: must be at least 1"),
])
def test_impossible_values_named_with_reason(data, start):
    assert error_of(data).startswith(start)


def test_clock_pin_must_differ_from_data_pins():
    assert error_of({"gpio": {"clock_pin": 13}}) == "gpio.clock_pin: BCM 13 is also in gpio.data_pins"


def test_data_pins_must_be_distinct():
    assert error_of({"gpio": {"data_pins": [6, 13, 13, 26]}}) == "gpio.data_pins: pins must be distinct"


def test_https_needs_both_files():
    assert error_of({"web": {"https": True}}).startswith("web.cert_file: must be given when web.https is true")
    assert error_of({"web": {"https": True, "cert_file": "/c.pem"}}).startswith("web.key_file: must be given")
    assert from_dict({"web": {"https": True, "cert_file": "/c", "key_file": "/k"}}).web.https


def test_database_url_must_be_a_url():
    assert error_of({"web": {"database_url": "stepplate.db"}}).startswith("web.database_url: must be a URL")
    assert from_dict({"web": {"database_url": "sqlite:////var/lib/stepplate/x.db"}})


def test_batch_shorter_than_a_sample_period_is_one_sample_per_batch():
    assert from_dict({"acquisition": {"batch_ms": 20}}).acquisition.batch_ms == 20  # 12.5 ms at 80 SPS
    # the 40 ms default stays valid at 10 SPS (100 ms per sample): one sample per batch
    assert from_dict({"hx711": {"rate_sps": 10}}).acquisition.batch_ms == 40


def test_socket_path_default_explicit_and_too_long():
    c = from_dict({"paths": {"data_dir": "/var/lib/stepplate"}})
    assert c.socket_path == Path("/var/lib/stepplate/acquire.sock")
    assert from_dict({"acquisition": {"socket": "/run/x.sock"}}).socket_path == Path("/run/x.sock")
    assert error_of({"acquisition": {"socket": "/" + "s" * 120}}).startswith(
        "acquisition.socket: socket path")
    # the default socket lives in the data folder, so a very long data folder is caught too
    assert error_of({"paths": {"data_dir": "/" + "d" * 100}}).startswith("acquisition.socket:")


def test_geometry_from_plate_section():
    g = from_dict({"plate": {"cell_spacing_ml_mm": 500, "cell_spacing_ap_mm": 300}}).geometry()
    assert g.cell_x_m == (-0.25, 0.25, -0.25, 0.25) and g.cell_y_m == (0.15, 0.15, -0.15, -0.15)


# --- loading --------------------------------------------------------------------------------

def test_no_file_gives_defaults():
    assert load() == Config()
    assert load().source == "defaults"


def test_empty_file_gives_defaults(tmp_path):
    f = tmp_path / "rig.toml"
    f.write_text("")
    assert load(f) == Config()


def test_rig_config_env_then_default_path(tmp_path, monkeypatch):
    env_file = tmp_path / "env.toml"
    env_file.write_text("[web]\nport = 8001\n")
    default_file = tmp_path / "etc.toml"
    default_file.write_text("[web]\nport = 8002\n")
    monkeypatch.setattr(cfg, "DEFAULT_PATHS", (default_file,))
    assert load().web.port == 8002
    monkeypatch.setenv("RIG_CONFIG", str(env_file))
    assert load().web.port == 8001


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load(tmp_path)
    bad = tmp_path / "bad.toml"
    bad.write_text("[web\nport = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load(bad)
    wrong = tmp_path / "wrong.toml"
    wrong.write_text("[hx711]\nrate_sp = 80\n")
    with pytest.raises(ConfigError) as exc:
        load(wrong)
    assert str(exc.value) == f"{wrong}: hx711.rate_sp: unknown option (known: gain, max_clock_high_us, rate_sps)"


# --- documentation cannot drift -----------------------------------------------------------

def test_template_loads_to_exactly_the_defaults():
    assert from_dict(tomllib.loads(cfg.template())) == Config()


def test_template_documents_every_option_with_its_default():
    text = cfg.template()
    for sec, name, typ, default, meta in cfg.options():
        assert f"\n{name} = {cfg.toml_value(default)}\n" in text
        assert meta["doc"].split(" ")[0] in text


def test_example_file_is_the_template_and_equals_the_defaults():
    assert EXAMPLE.read_text(encoding="utf-8") == cfg.template(), "run: python -m hardware.generate"
    c = load(EXAMPLE)
    assert c == Config()
    for f in dataclasses.fields(Config):
        if f.name != "source":
            assert getattr(c, f.name) == getattr(Config(), f.name)


def test_docs_reference_is_generated_and_lists_every_option():
    from hardware.generate import docs_text
    docs = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert docs == docs_text(docs), "run: python -m hardware.generate"
    for sec, name, typ, default, meta in cfg.options():
        assert f"| `{name}` |" in docs and f"### [{sec}]" in docs


def test_render_with_keeps_comments_and_rejects_unknown_or_invalid():
    text = cfg.render_with({"paths.data_dir": "/var/lib/stepplate", "web.port": 8080})
    assert text.count("\n#") == cfg.template().count("\n#")
    c = from_dict(tomllib.loads(text))
    assert (c.paths.data_dir, c.web.port) == ("/var/lib/stepplate", 8080)
    with pytest.raises(ConfigError, match="web.prot: unknown option"):
        cfg.render_with({"web.prot": 1})
    with pytest.raises(ConfigError, match="web.port: must be at most 65535"):
        cfg.render_with({"web.port": 70000})
    with pytest.raises(ConfigError, match="web.port: must be an integer"):
        cfg.render_with({"web.port": "8080"})


# --- rig config … ---------------------------------------------------------------------------

def test_cli_check_valid_file(tmp_path):
    f = tmp_path / "rig.toml"
    f.write_text('[paths]\ndata_dir = "/var/lib/stepplate"\n[hx711]\nrate_sps = 10\n')
    r = CliRunner().invoke(main, ["config", "check", str(f)])
    assert r.exit_code == 0, r.output
    assert f"ok: {f}" in r.output and "PD_SCK BCM 5; DOUT fl=6, fr=13, bl=19, br=26" in r.output
    assert "warning: hx711.rate_sps: 10 SPS" in r.output


def test_cli_check_invalid_file_names_option_and_exits_1(tmp_path):
    f = tmp_path / "rig.toml"
    f.write_text("[web]\nprot = 5000\n")
    r = CliRunner().invoke(main, ["config", "check", str(f)])
    assert r.exit_code == 1
    assert "invalid:" in r.output and "web.prot: unknown option" in r.output


def test_cli_check_quiet_and_missing_file(tmp_path):
    f = tmp_path / "rig.toml"
    f.write_text("")
    r = CliRunner().invoke(main, ["config", "check", "-q", str(f)])
    assert r.exit_code == 0 and r.output == ""
    r = CliRunner().invoke(main, ["config", "check", str(tmp_path / "nope.toml")])
    assert r.exit_code == 1 and "does not exist" in r.output


def test_cli_check_warns_about_missing_https_files(tmp_path):
    f = tmp_path / "rig.toml"
    f.write_text(f'[web]\nhttps = true\ncert_file = "{tmp_path}/c.pem"\nkey_file = "{tmp_path}/k.pem"\n')
    (tmp_path / "k.pem").write_text("x")
    r = CliRunner().invoke(main, ["config", "check", str(f)])
    assert r.exit_code == 0
    assert "warning: web.cert_file" in r.output and "warning: web.key_file" not in r.output
    assert "https://0.0.0.0:5000/" in r.output


def test_cli_template_is_the_example():
    r = CliRunner().invoke(main, ["config", "template"])
    assert r.exit_code == 0 and r.output == EXAMPLE.read_text(encoding="utf-8")
    r = CliRunner().invoke(main, ["config", "template", "--format", "markdown"])
    assert r.exit_code == 0 and "| `rate_sps` | integer | `80` |" in r.output


def test_cli_init_writes_validated_file_and_keeps_existing(tmp_path):
    f = tmp_path / "rig.toml"
    r = CliRunner().invoke(main, ["config", "init", str(f), "--set", "paths.data_dir=/var/lib/stepplate",
                                  "--set", "web.port=8080", "--set", "web.https=false"])
    assert r.exit_code == 0, r.output
    c = load(f)
    assert c.paths.data_dir == "/var/lib/stepplate" and c.web.port == 8080
    f.write_text("# mine\n")
    r = CliRunner().invoke(main, ["config", "init", str(f)])
    assert r.exit_code == 0 and "left unchanged" in r.output and f.read_text() == "# mine\n"
    r = CliRunner().invoke(main, ["config", "init", str(f), "--force", "--set", "hx711.rate_sps=20"])
    assert r.exit_code == 1 and "hx711.rate_sps: must be one of 10, 80" in r.output
    assert f.read_text() == "# mine\n"
    r = CliRunner().invoke(main, ["config", "init", str(f), "--force", "--set", "nodot"])
    assert r.exit_code == 2


def test_every_toml_reader_gives_the_same_clear_errors(tmp_path):
    """Config, protocol files and exercise libraries read TOML through rig.strict_toml: the
    same wording for a missing file, invalid TOML, a file that is not UTF-8 and a wrong type."""
    from rig.analysis.protocols import ProtocolError, load_protocols
    from rig.config import ConfigError, load
    from rig.programme.library import LibraryError, load_library
    readers = ((load, ConfigError, "config file"), (load_protocols, ProtocolError, "protocol file"),
               (load_library, LibraryError, "exercise file"))
    bad_toml, latin1 = tmp_path / "bad.toml", tmp_path / "latin1.toml"
    bad_toml.write_text("[x\n")
    latin1.write_bytes(b"# caf\xe9\n")
    for read, err, what in readers:
        with pytest.raises(err, match=f"^{what} .*missing.toml does not exist$"):
            read(tmp_path / "missing.toml")
        with pytest.raises(err, match=r"bad\.toml: not valid TOML"):
            read(bad_toml)
        with pytest.raises(err, match=r"latin1\.toml: not UTF-8 text"):
            read(latin1)
    with pytest.raises(ConfigError, match=r"web\.port: must be an integer, got str '80'"):
        from_dict({"web": {"port": "80"}})
    p = tmp_path / "p.toml"
    p.write_text('[[protocol]]\nid = "x"\nname = "X"\nkind = "quiet_stance"\ninstructions = "stand"\nduration_s = "30"\n')
    with pytest.raises(ProtocolError, match=r"duration_s: must be a number, got str '30'"):
        load_protocols(p)
