"""The wiring diagram (hardware/wiring.svg), drawn from the pins in a GpioConfig.

Regenerate with ``python -m hardware.generate``; tests/hardware/test_hardware.py parses the SVG and
checks every signal against ``rig.config.Config().gpio``. Each wire is a ``<g>`` carrying
``data-net``, ``data-bcm`` (GPIO lines only), ``data-header-pin`` and ``data-corner`` (DOUT
lines), so the check reads the drawing itself, not this module.
"""
from __future__ import annotations

from rig.config import GpioConfig
from rig.constants import CORNER_NAMES, CORNERS

from hardware.svg import document, el, line, text

#: Raspberry Pi 40-pin header (every model with a 40-pin header: Zero 2 W, 4, 5): physical pin -> name.
HEADER: dict[int, str] = {
    1: "3V3", 2: "5V", 3: "BCM2", 4: "5V", 5: "BCM3", 6: "GND", 7: "BCM4", 8: "BCM14",
    9: "GND", 10: "BCM15", 11: "BCM17", 12: "BCM18", 13: "BCM27", 14: "GND", 15: "BCM22",
    16: "BCM23", 17: "3V3", 18: "BCM24", 19: "BCM10", 20: "GND", 21: "BCM9", 22: "BCM25",
    23: "BCM11", 24: "BCM8", 25: "GND", 26: "BCM7", 27: "ID_SD", 28: "ID_SC", 29: "BCM5",
    30: "GND", 31: "BCM6", 32: "BCM12", 33: "BCM13", 34: "GND", 35: "BCM19", 36: "BCM16",
    37: "BCM26", 38: "BCM20", 39: "GND", 40: "BCM21",
}

#: Power pins the diagram uses (any 3V3 / 5V / GND pin works).
PIN_3V3, PIN_5V, PIN_GND = 17, 2, 39

COLOURS = {"5V": "#d62728", "3V3": "#ff7f0e", "GND": "#222222", "PD_SCK": "#bcbd22",
           "fl": "#1f77b4", "fr": "#2ca02c", "bl": "#9467bd", "br": "#17becf"}
#: Load-cell wire colours most cells use; the HX711 board's terminals.
CELL_WIRES = (("E+", "red", "#d62728"), ("E-", "black", "#222222"),
              ("A-", "white", "#999999"), ("A+", "green", "#2ca02c"))


def header_pin(bcm: int) -> int:
    """Physical header pin of a BCM GPIO number."""
    for pin, name in HEADER.items():
        if name == f"BCM{bcm}":
            return pin
    raise ValueError(f"BCM {bcm} is not on the 40-pin header")


def nets(gpio: GpioConfig) -> list[dict]:
    """Every wire between the Pi and the boards: net, header pin, BCM, board terminal, corner."""
    out = [
        {"net": "5V", "pin": PIN_5V, "bcm": None, "terminal": "VCC", "corner": None,
         "label": "5 V → VCC (AVDD supply)"},
        {"net": "3V3", "pin": PIN_3V3, "bcm": None, "terminal": "VDD", "corner": None,
         "label": "3.3 V → VDD (DVDD: logic levels)"},
        {"net": "GND", "pin": PIN_GND, "bcm": None, "terminal": "GND", "corner": None,
         "label": "GND → GND (common)"},
        {"net": "PD_SCK", "pin": header_pin(gpio.clock_pin), "bcm": gpio.clock_pin,
         "terminal": "CLK", "corner": None, "label": f"BCM {gpio.clock_pin} → CLK (PD_SCK, shared)"},
    ]
    for corner, bcm in zip(CORNERS, gpio.data_pins):
        out.append({"net": f"DOUT_{corner}", "pin": header_pin(bcm), "bcm": bcm, "terminal": "DAT",
                    "corner": corner, "label": f"BCM {bcm} → DAT (DOUT {corner})"})
    return out


def render(gpio: GpioConfig | None = None) -> str:
    gpio = gpio or GpioConfig()
    gpio.validate("gpio")
    ns = nets(gpio)
    body: list[str] = []
    add = body.append
    add(text(20, 30, "StepPlate wiring: Raspberry Pi → four HX711 boards → four load cells",
             class_="title"))
    add(text(20, 50, "Pins from rig.config defaults (BCM numbering); regenerate: python -m hardware.generate",
             class_="small"))

    # the Pi: full 40-pin header, used pins highlighted
    hx, hy, pitch = 40, 90, 24
    add(el("rect", x=float(hx - 15), y=float(hy - 25), width=110.0, height=float(20 * pitch + 30),
           class_="pi"))
    add(text(hx - 10, hy - 10, "Pi 40-pin header", class_="small"))
    used = {n["pin"]: n for n in ns}
    for pin in HEADER:
        row, col = (pin - 1) // 2, (pin - 1) % 2
        x, y = hx + 20 + col * 40, hy + 10 + row * pitch
        n = used.get(pin)
        fill = COLOURS[n["corner"] or n["net"]] if n else "#ffffff"
        add(el("circle", cx=float(x), cy=float(y), r=7.0, fill=fill, class_="pin"))
        add(text(x + (-28 if col == 0 else 12), y + 4, str(pin), class_="tiny"))

    # four boards, one per corner
    bx, by0, bh, bgap = 560, 80, 116, 14
    terminals = ("VCC", "VDD", "CLK", "DAT", "GND")
    term_y = {}
    for i, corner in enumerate(CORNERS):
        top = by0 + i * (bh + bgap)
        add(el("rect", x=float(bx), y=float(top), width=120.0, height=float(bh), class_="board"))
        add(text(bx + 8, top + 16, f"HX711 {corner}", class_="bold"))
        add(text(bx + 8, top + 30, "RATE → VDD: 80 SPS", class_="tiny"))
        for j, t in enumerate(terminals):
            y = top + 46 + j * 15
            term_y[(corner, t)] = y
            add(text(bx + 6, y + 4, t, class_="tiny"))
        # load-cell side
        for j, (t, wname, colour) in enumerate(CELL_WIRES):
            y = top + 46 + j * 15
            add(text(bx + 90, y + 4, t, class_="tiny"))
            add(line(bx + 120, y, 800, y, stroke=colour, class_="wire"))
            add(text(bx + 130, y - 3, wname, class_="tiny"))
        add(el("rect", x=800.0, y=float(top + 30), width=150.0, height=66.0, class_="cell"))
        add(text(810, top + 52, f"load cell {corner}", class_="bold"))
        add(text(810, top + 68, CORNER_NAMES[corner], class_="small"))
        add(text(810, top + 84, "full bridge (4 wires)", class_="tiny"))

    # wires: header pin -> own vertical channel -> each board terminal
    for k, n in enumerate(ns):
        pin = n["pin"]
        row, col = (pin - 1) // 2, (pin - 1) % 2
        px, py = hx + 20 + col * 40, hy + 10 + row * pitch
        chan = 300 + k * 28
        colour = COLOURS[n["corner"] or n["net"]]
        corners = [n["corner"]] if n["corner"] else list(CORNERS)
        ys = [term_y[(c, n["terminal"])] for c in corners]
        # leave the header between two pin rows (a left-column pin first steps down-right),
        # so a wire never seems to touch a neighbouring pin
        lane_y = py + pitch / 2 if col == 0 else py
        parts = [el("polyline", points=f"{px},{py} {px + 12},{lane_y} {chan},{lane_y}", fill="none")]
        py = lane_y
        parts.append(line(chan, min([py] + ys), chan, max([py] + ys)))
        for c, y in zip(corners, ys):
            parts.append(line(chan, y, bx, y))
            parts.append(el("circle", cx=float(chan), cy=float(y), r=3.0, fill=colour))
        attrs = {"data-net": n["net"], "data-header-pin": str(pin), "data-terminal": n["terminal"]}
        if n["bcm"] is not None:
            attrs["data-bcm"] = str(n["bcm"])
        if n["corner"]:
            attrs["data-corner"] = n["corner"]
        a = " ".join(f'{k2}="{v}"' for k2, v in attrs.items())
        add(f'<g class="wire" stroke="{colour}" {a}>')
        body.extend(parts)
        add(text(chan + 3, min([py] + ys) - 4, f"{pin}", class_="tiny", stroke="none", fill=colour))
        add("</g>")

    # pin map table
    ty = 640
    add(text(20, ty, "Pin map (BCM / physical header pin)", class_="bold"))
    for k, n in enumerate(ns):
        x = 20 + (k % 4) * 240
        y = ty + 20 + (k // 4) * 18
        add(text(x, y, f"pin {n['pin']:>2}: {n['label']}", class_="small"))
    notes = [
        "VDD 3.3 V (DVDD) sets the logic level: DOUT never exceeds 3.3 V, safe for the Pi. VCC 5 V feeds the analog supply (AVDD ≈ 4.3 V excitation).",
        "One common ground (Pi, boards; cable shields to board GND at the board end only). Twist each DOUT and PD_SCK with a ground; keep cables short (< 1 m).",
        "Boards with a single VCC pin tie VCC and VDD together: run them from 3.3 V (less excitation), never 5 V with DOUT straight to the Pi.",
        "If a cell reads negative under load, swap its A+ and A- wires.",
    ]
    for k, s in enumerate(notes):
        add(text(20, ty + 70 + k * 16, s, class_="small"))
    style = (".title{font:bold 18px sans-serif}.bold{font:bold 12px sans-serif}"
             ".small{font:11px sans-serif}.tiny{font:9px sans-serif}"
             ".pi{fill:#e8f5e9;stroke:#2e7d32}.board{fill:#e3f2fd;stroke:#1565c0}"
             ".cell{fill:#fff8e1;stroke:#8d6e63}.pin{stroke:#444}"
             ".wire{fill:none;stroke-width:2}g.wire line,g.wire polyline{stroke-width:2}")
    return document("1000", "780", "0 0 1000 780", body, "StepPlate wiring diagram", style)
