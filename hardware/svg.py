"""A few helpers to write small, deterministic SVG by hand (no dependencies)."""
from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def num(v: float) -> str:
    """Compact, stable number formatting (no -0, at most 3 decimals)."""
    s = f"{v:.3f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def attrs(**kw) -> str:
    out = []
    for k, v in kw.items():
        if v is None:
            continue
        k = k.rstrip("_").replace("_", "-")
        out.append(f"{k}={quoteattr(num(v) if isinstance(v, float) else str(v))}")
    return " ".join(out)


def el(tag: str, text: str | None = None, **kw) -> str:
    a = attrs(**kw)
    head = f"<{tag} {a}" if a else f"<{tag}"
    if text is None:
        return head + "/>"
    return f"{head}>{escape(text)}</{tag}>"


def line(x1, y1, x2, y2, **kw) -> str:
    return el("line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), **kw)


def text(x, y, s: str, **kw) -> str:
    return el("text", s, x=float(x), y=float(y), **kw)


def document(width: str, height: str, view_box: str, body: list[str], title: str, style: str = "") -> str:
    head = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="{view_box}">', f"<title>{escape(title)}</title>"]
    if style:
        head.append(f"<style>{style}</style>")
    return "\n".join(head + body + ["</svg>"]) + "\n"
