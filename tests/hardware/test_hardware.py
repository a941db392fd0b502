"""The drawings and their data: the wiring diagram matches the default pins, the platform
drawing matches the geometry, the 1:1 grid templates match grid_positions, and every
generated file in the repo is up to date."""
from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from hardware import generate, grid, platform, wiring
from rig.config import Config, GpioConfig, PlateConfig
from rig.constants import CORNERS
from tests import ROOT

HW = ROOT / "hardware"
SVG = "{http://www.w3.org/2000/svg}"


def parse(path_or_text) -> ET.Element:
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    return ET.fromstring(text)


def wires(root: ET.Element) -> dict[str, dict]:
    return {g.get("data-net"): dict(g.attrib) for g in root.iter(f"{SVG}g") if g.get("data-net")}


# --- generated files are up to date -------------------------------------------------------

def test_every_generated_file_is_up_to_date():
    stale = [str(p.relative_to(ROOT)) for p in generate.stale()]
    assert not stale, f"out of date (run: python -m hardware.generate): {stale}"


def test_generate_check_mode_reports_a_stale_file(tmp_path, capsys):
    (tmp_path / "hardware").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs/config.md").write_text(f"x\n{generate.DOCS_BEGIN}\nold\n{generate.DOCS_END}\n")
    for p, t in generate.outputs(tmp_path).items():
        p.write_text(t, encoding="utf-8")
    assert generate.stale(tmp_path) == []
    (tmp_path / "hardware/wiring.svg").write_text("<svg/>")
    assert generate.stale(tmp_path) == [tmp_path / "hardware/wiring.svg"]


# --- wiring ---------------------------------------------------------------------------------

def test_header_map_is_the_40_pin_header():
    bcm = [n for n in wiring.HEADER.values() if n.startswith("BCM")]
    assert sorted(int(n[3:]) for n in bcm) == list(range(2, 28))
    assert [p for p, n in wiring.HEADER.items() if n == "3V3"] == [1, 17]
    assert [p for p, n in wiring.HEADER.items() if n == "5V"] == [2, 4]
    assert [p for p, n in wiring.HEADER.items() if n == "GND"] == [6, 9, 14, 20, 25, 30, 34, 39]
    assert (wiring.header_pin(2), wiring.header_pin(14), wiring.header_pin(21)) == (3, 8, 40)
    with pytest.raises(ValueError):
        wiring.header_pin(28)


def test_wiring_svg_matches_default_pins():
    gpio = Config().gpio
    w = wires(parse(HW / "wiring.svg"))
    assert int(w["PD_SCK"]["data-bcm"]) == gpio.clock_pin
    assert w["PD_SCK"]["data-terminal"] == "CLK"
    for corner, bcm in zip(CORNERS, gpio.data_pins):
        g = w[f"DOUT_{corner}"]
        assert (g["data-corner"], int(g["data-bcm"]), g["data-terminal"]) == (corner, bcm, "DAT")
    # every GPIO wire lands on the header pin of its BCM number
    for net, g in w.items():
        name = wiring.HEADER[int(g["data-header-pin"])]
        if "data-bcm" in g:
            assert name == f"BCM{g['data-bcm']}", net
    assert wiring.HEADER[int(w["3V3"]["data-header-pin"])] == "3V3" and w["3V3"]["data-terminal"] == "VDD"
    assert wiring.HEADER[int(w["5V"]["data-header-pin"])] == "5V" and w["5V"]["data-terminal"] == "VCC"
    assert wiring.HEADER[int(w["GND"]["data-header-pin"])] == "GND"
    assert set(w) == {"5V", "3V3", "GND", "PD_SCK", *(f"DOUT_{c}" for c in CORNERS)}


def test_wiring_svg_text_names_every_pin():
    gpio = Config().gpio
    text = " ".join(t.text or "" for t in parse(HW / "wiring.svg").iter(f"{SVG}text"))
    assert f"BCM {gpio.clock_pin} → CLK" in text
    for corner, bcm in zip(CORNERS, gpio.data_pins):
        assert f"pin {wiring.header_pin(bcm)}: BCM {bcm} → DAT (DOUT {corner})" in text


def test_wiring_is_drawn_from_the_config_it_is_given():
    custom = GpioConfig(clock_pin=4, data_pins=(17, 27, 22, 23))
    w = wires(parse(wiring.render(custom)))
    assert int(w["PD_SCK"]["data-bcm"]) == 4 and int(w["PD_SCK"]["data-header-pin"]) == 7
    assert [int(w[f"DOUT_{c}"]["data-bcm"]) for c in CORNERS] == [17, 27, 22, 23]
    with pytest.raises(Exception):
        wiring.render(GpioConfig(clock_pin=6))  # invalid pins are refused, not drawn


def test_readme_pin_map_matches_config():
    readme = (HW / "README.md").read_text(encoding="utf-8")
    gpio = Config().gpio
    row = re.search(r"^\| PD_SCK \(shared clock\) \| (\d+) \| (\d+) \|", readme, re.M)
    assert row and (int(row[1]), int(row[2])) == (gpio.clock_pin, wiring.header_pin(gpio.clock_pin))
    for corner, bcm in zip(CORNERS, gpio.data_pins):
        row = re.search(rf"^\| DOUT {corner} \([a-z-]+\) \| (\d+) \| (\d+) \|", readme, re.M)
        assert row and (int(row[1]), int(row[2])) == (bcm, wiring.header_pin(bcm)), corner


# --- platform ---------------------------------------------------------------------------------

def test_platform_drawing_matches_geometry():
    cfg = Config()
    g = cfg.geometry()
    root = parse(HW / "platform.svg")
    cells = {e.get("data-corner"): e for e in root.iter(f"{SVG}g") if e.get("class") == "cell"}
    assert list(cells) == list(CORNERS)
    for i, corner in enumerate(CORNERS):
        assert float(cells[corner].get("data-x-mm")) == pytest.approx(g.cell_x_m[i] * 1000)
        assert float(cells[corner].get("data-y-mm")) == pytest.approx(g.cell_y_m[i] * 1000)
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for s in ("FRONT", "+x (ML, right)", "+y (AP, forward)", "fl (front-left)", "br (back-right)",
              "440 (cell spacing ML)", "340 (cell spacing AP)", "500 (board)", "400 (board)"):
        assert s in text


def test_platform_drawing_follows_plate_config():
    root = parse(platform.render(PlateConfig(cell_spacing_ml_mm=600, cell_spacing_ap_mm=300)))
    cells = {e.get("data-corner"): e for e in root.iter(f"{SVG}g") if e.get("class") == "cell"}
    assert (cells["fr"].get("data-x-mm"), cells["fr"].get("data-y-mm")) == ("300", "150")
    assert (cells["bl"].get("data-x-mm"), cells["bl"].get("data-y-mm")) == ("-300", "-150")


# --- calibration grid -----------------------------------------------------------------------

@pytest.mark.parametrize("n", [3, 5])
def test_grid_positions_shape_labels_and_axes(n):
    pts = grid.grid_positions(n)
    assert len(pts) == n * n and len({p[0] for p in pts}) == n * n
    labels = [p[0] for p in pts]
    assert labels[0] == "A1" and labels[-1] == f"{'ABCDE'[n - 1]}{n}"
    a1 = dict((p[0], p[1:]) for p in pts)["A1"]
    assert a1 == (-grid.GRID_EXTENT_ML_MM / 2, grid.GRID_EXTENT_AP_MM / 2)  # front-left
    centre = "B2" if n == 3 else "C3"
    assert dict((p[0], p[1:]) for p in pts)[centre] == (0.0, 0.0)
    assert sum(p[1] for p in pts) == pytest.approx(0) and sum(p[2] for p in pts) == pytest.approx(0)
    # inside the default cell rectangle, with margin
    g = Config().geometry()
    assert all(abs(x) <= g.half_ml_m * 1000 - 50 and abs(y) <= g.half_ap_m * 1000 - 50 for _, x, y in pts)


def test_grid_3x3_points_are_on_the_5x5_grid():
    five = {(x, y) for _, x, y in grid.grid_positions(5)}
    assert {(x, y) for _, x, y in grid.grid_positions(3)} <= five


def test_grid_positions_custom_extent_and_errors():
    pts = grid.grid_positions(2, extent_ml_mm=100, extent_ap_mm=50)
    assert pts == [("A1", -50.0, 25.0), ("A2", 50.0, 25.0), ("B1", -50.0, -25.0), ("B2", 50.0, -25.0)]
    for bad in (1, 27):
        with pytest.raises(ValueError):
            grid.grid_positions(bad)
    with pytest.raises(ValueError):
        grid.grid_positions(3, extent_ml_mm=0)


@pytest.mark.parametrize("n", [3, 5])
def test_grid_template_is_1_to_1_and_matches_positions(n):
    root = parse(HW / f"calibration-grid-{n}x{n}.svg")
    w, h = grid.SHEET_MM
    assert root.get("width") == f"{w:g}mm" and root.get("height") == f"{h:g}mm"
    assert [float(v) for v in root.get("viewBox").split()] == [0, 0, w, h]  # 1 user unit = 1 mm
    points = [g for g in root.iter(f"{SVG}g") if g.get("class") == "point"]
    want = grid.grid_positions(n)
    assert [p.get("data-label") for p in points] == [label for label, _, _ in want]
    for g, (label, x, y) in zip(points, want):
        hline = g.find(f"{SVG}line")
        cx = (float(hline.get("x1")) + float(hline.get("x2"))) / 2
        cy = float(hline.get("y1"))
        assert (cx - w / 2, h / 2 - cy) == pytest.approx((x, y)), label  # plate axes: y up = forward
        assert any(t.text == label for t in g.iter(f"{SVG}text"))
    bar = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "scale").find(f"{SVG}line")
    assert float(bar.get("x2")) - float(bar.get("x1")) == pytest.approx(100.0)


def test_grid_csv_matches_positions():
    rows = list(csv.DictReader(io.StringIO((HW / "calibration-grid.csv").read_text(encoding="utf-8"))))
    for n in (3, 5):
        got = [(r["label"], float(r["x_mm"]), float(r["y_mm"])) for r in rows if r["grid"] == f"{n}x{n}"]
        assert got == grid.grid_positions(n)
