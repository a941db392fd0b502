"""The house's rules, read from the source (AST), not from a running process:

* no import circle between the product's modules (imports inside functions count too);
* arrows only run downward: a room imports only rooms of a lower layer (docs/code-overview.md);
* no product file over 600 lines (migrations excepted).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rig", "calibration", "dashboard", "hardware")

#: (room, layer): a module may import its own room and rooms of a strictly lower layer.
LAYERS = (
    ("rig.constants", 0), ("rig.errors", 0), ("rig.fsutil", 0), ("rig.strict_toml", 0), ("rig", 0),
    ("rig.hw", 1),
    ("rig.signal", 2),
    ("rig.config", 3),
    ("rig.sim", 4), ("rig.recording", 4),
    ("calibration", 5), ("rig.analysis", 5),
    ("rig.programme", 6),
    ("rig.acquire", 7),
    ("rig.backup", 8), ("dashboard", 8),
    ("rig.cli", 9), ("hardware", 9),
    ("rig.__main__", 10),
)
MAX_LINES = 600


def product_files():
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" not in p.parts:
                yield p


def module_name(p: Path) -> str:
    parts = p.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in product_files()}
    known = set(files) | {"rig.signal._core"}
    graph: dict[str, set[str]] = {}
    for mod, path in files.items():
        pkg = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            for n in names:
                while n and n not in known and "." in n:
                    n = n.rpartition(".")[0]
                if n in known and n != mod:
                    targets.add(n)
        graph[mod] = targets
    return graph


def layer_of(mod: str) -> tuple[str, int]:
    best = max((r for r in LAYERS if mod == r[0] or mod.startswith(r[0] + ".")), key=lambda r: len(r[0]))
    return best


def find_cycle(graph):
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(v):
        state[v] = 1
        stack.append(v)
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return stack[stack.index(w):] + [w]
            if w not in state and (c := visit(w)):
                return c
        stack.pop()
        state[v] = 2
        return None

    for v in sorted(graph):
        if v not in state and (c := visit(v)):
            return c
    return None


def test_the_walker_sees_the_imports_it_must():
    g = import_graph()
    assert "rig.hw.flags" in g["rig.signal.plate"]            # a module-level import
    assert "rig.hw.gpio.lgpio" in g["rig.hw.gpio.select"]     # an import inside a function
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circle():
    assert find_cycle(import_graph()) is None


def test_arrows_only_run_downward():
    bad = []
    for mod, targets in import_graph().items():
        room, layer = layer_of(mod)
        for t in sorted(targets):
            troom, tlayer = layer_of(t)
            if troom != room and tlayer >= layer:
                bad.append(f"{mod} (layer {layer}) imports {t} (layer {tlayer})")
    assert not bad, "\n".join(bad)


def test_hw_imports_nothing_above_it():
    g = import_graph()
    above = {t for m, ts in g.items() if m.startswith("rig.hw") for t in ts
             if not t.startswith("rig.hw") and layer_of(t)[1] > 0}
    assert not above


@pytest.mark.parametrize("path", list(product_files()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_file_over_600_lines(path):
    n = len(path.read_text().splitlines())
    assert n <= MAX_LINES, f"{path.relative_to(ROOT)} has {n} lines: split it by responsibility"
