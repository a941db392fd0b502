"""Hypothesis strategies shared by the fuzz tests (API uploads, recording and config readers)."""
from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def mutated(draw, seed: bytes, max_ops: int = 6):
    """``seed`` with up to ``max_ops`` random edits: bytes flipped, inserted (separators, ``nan``,
    ``1e999``, invalid UTF-8), deleted, the tail cut off, a line duplicated."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, max_ops))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup_line"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8) | st.sampled_from([b",", b"\n", b"nan", b"#", b"1e999", b"\xff"]))
        elif op == "delete" and data:
            del data[pos:pos + draw(st.integers(1, 20))]
        elif op == "truncate":
            del data[pos:]
        elif op == "dup_line":
            lines = bytes(data).split(b"\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines.insert(i, lines[i])
            data = bytearray(b"\n".join(lines))
    return bytes(data)
