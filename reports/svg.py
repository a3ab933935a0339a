"""Inline SVG charts for the HTML review: no scripts, no fonts, no external references.

Every text that reaches the SVG goes through ``markupsafe.escape``: log names and labels come from
the submission. Colours use CSS custom properties defined in the page, so the charts follow the
light/dark scheme and print legibly.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

PALETTE = ("var(--c1)", "var(--c2)", "var(--c3)", "var(--c4)", "var(--c5)", "var(--c6)")


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    first = math.ceil(lo / step) * step
    out = []
    v = first
    while v <= hi + 1e-12 and len(out) < 12:
        out.append(round(v, 10))
        v += step
    return out


def _label(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.4g}"


def line_chart(series: list[tuple[str, list[tuple[float, float]]]], *, title: str, x_label: str, y_label: str,
               width: int = 640, height: int = 260, log_y: bool = False) -> Markup:
    """One polyline per named series; axes with ticks; a legend."""
    pts = [(x, y) for _, s in series for x, y in s if y == y and (not log_y or y > 0)]
    if not pts:
        return Markup("")
    ml, mr, mt, mb = 56, 12, 28, 40
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    ty = (lambda v: math.log10(v)) if log_y else (lambda v: v)
    y0, y1 = min(ty(y) for y in ys), max(ty(y) for y in ys)
    if y1 <= y0:
        y1 = y0 + 1
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad

    def sx(x):
        return ml + (x - x0) / (x1 - x0) * (width - ml - mr)

    def sy(y):
        return mt + (1 - (ty(y) - y0) / (y1 - y0)) * (height - mt - mb)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f'<title>{escape(title)}</title>',
           f'<text x="{ml}" y="16" class="ct">{escape(title)}</text>']
    for t in _ticks(x0, x1):
        out.append(f'<line x1="{_fmt(sx(t))}" x2="{_fmt(sx(t))}" y1="{mt}" y2="{height - mb}" class="grid"/>'
                   f'<text x="{_fmt(sx(t))}" y="{height - mb + 14}" class="tick" text-anchor="middle">{_label(t)}</text>')
    yt = [10 ** v for v in _ticks(y0, y1)] if log_y else _ticks(y0, y1)
    for t in yt:
        out.append(f'<line x1="{ml}" x2="{width - mr}" y1="{_fmt(sy(t))}" y2="{_fmt(sy(t))}" class="grid"/>'
                   f'<text x="{ml - 4}" y="{_fmt(sy(t) + 4)}" class="tick" text-anchor="end">{_label(t)}</text>')
    out.append(f'<text x="{(ml + width - mr) / 2:.0f}" y="{height - 6}" class="axis" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="12" y="{(mt + height - mb) / 2:.0f}" class="axis" text-anchor="middle" '
               f'transform="rotate(-90 12 {(mt + height - mb) / 2:.0f})">{escape(y_label)}</text>')
    for i, (name, s) in enumerate(series):
        s = [(x, y) for x, y in s if y == y and (not log_y or y > 0)]
        if not s:
            continue
        colour = PALETTE[i % len(PALETTE)]
        path = " ".join(f"{_fmt(sx(x))},{_fmt(sy(y))}" for x, y in s)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        lx = width - mr - 180
        ly = mt + 12 + 14 * i
        out.append(f'<line x1="{lx}" x2="{lx + 14}" y1="{ly - 4}" y2="{ly - 4}" stroke="{colour}" stroke-width="3"/>'
                   f'<text x="{lx + 18}" y="{ly}" class="legend">{escape(name[:32])}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def dot_chart(points: list[tuple[str, float]], refs: list[tuple[str, float, str]], *, title: str, unit: str,
              width: int = 640, row: int = 22) -> Markup:
    """Horizontal dot plot: one row per run, vertical reference lines (claimed value, previous record)."""
    vals = [v for _, v in points if v == v] + [v for _, v, _ in refs if v == v]
    if not vals:
        return Markup("")
    ml, mr, mt = 200, 16, 30
    height = mt + row * max(len(points), 1) + 34
    lo, hi = min(vals), max(vals)
    span = (hi - lo) or max(abs(hi) * 1e-3, 1e-6)
    lo, hi = lo - span * 0.15, hi + span * 0.15

    def sx(v):
        return ml + (v - lo) / (hi - lo) * (width - ml - mr)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f'<title>{escape(title)}</title>',
           f'<text x="8" y="16" class="ct">{escape(title)}</text>']
    for t in _ticks(lo, hi, 4):
        out.append(f'<line x1="{_fmt(sx(t))}" x2="{_fmt(sx(t))}" y1="{mt - 4}" y2="{height - 30}" class="grid"/>'
                   f'<text x="{_fmt(sx(t))}" y="{height - 16}" class="tick" text-anchor="middle">{t:.5g}</text>')
    for i, (name, v, cls) in enumerate(refs):
        x = _fmt(sx(v))
        out.append(f'<line x1="{x}" x2="{x}" y1="{mt - 4}" y2="{height - 30}" class="ref {escape(cls)}"/>'
                   f'<text x="{x}" y="{height - 2}" class="tick {escape(cls)}" text-anchor="middle">'
                   f'{escape(name)} {v:.5f}</text>')
    for i, (name, v) in enumerate(points):
        y = mt + row * i + row / 2
        out.append(f'<text x="{ml - 8}" y="{y + 4:.0f}" class="tick" text-anchor="end">{escape(name[:30])}</text>')
        if v == v:
            out.append(f'<circle cx="{_fmt(sx(v))}" cy="{y:.0f}" r="5" class="dot"><title>{escape(name)}: '
                       f'{v:.8f} {escape(unit)}</title></circle>')
    out.append("</svg>")
    return Markup("".join(out))


def stacked_bar(parts: list[tuple[str, float, str]], *, limit: float, title: str, unit: str, width: int = 640,
                height: int = 70) -> Markup:
    """A horizontal bar of parts against a limit (drawn as a line); over the limit is visible."""
    total = sum(v for _, v, _ in parts)
    scale_max = max(total, limit) * 1.04
    ml, mr = 8, 8

    def sx(v):
        return ml + v / scale_max * (width - ml - mr)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f'<title>{escape(title)}</title>',
           f'<text x="{ml}" y="14" class="ct">{escape(title)}</text>']
    x = 0.0
    for name, v, cls in parts:
        out.append(f'<rect x="{_fmt(sx(x))}" y="22" width="{_fmt(sx(x + v) - sx(x))}" height="18" class="{escape(cls)}">'
                   f'<title>{escape(name)}: {v:,.0f} {escape(unit)}</title></rect>')
        x += v
    lx = _fmt(sx(limit))
    out.append(f'<line x1="{lx}" x2="{lx}" y1="18" y2="44" class="limit"/>')
    legend = "   ".join(f"{name} {v:,.0f}" for name, v, _ in parts)
    over = total - limit
    tail = f"  total {total:,.0f} of {limit:,.0f} {unit}" + (f" ({over:,.0f} over)" if over > 0 else f" ({-over:,.0f} left)")
    out.append(f'<text x="{ml}" y="58" class="legend">{escape(legend + tail)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def limit_bars(rows: list[tuple[str, float]], *, limit: float, title: str, unit: str, width: int = 640,
               row: int = 20) -> Markup:
    """One bar per row against a limit line; bars over the limit get the ``over`` class."""
    if not rows:
        return Markup("")
    ml, mr, mt = 200, 70, 26
    height = mt + row * len(rows) + 22
    top = max(max(v for _, v in rows), limit) * 1.05

    def sx(v):
        return ml + v / top * (width - ml - mr)

    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f'<title>{escape(title)}</title>',
           f'<text x="8" y="16" class="ct">{escape(title)}</text>']
    for i, (name, v) in enumerate(rows):
        y = mt + row * i
        cls = "bar over" if v > limit else "bar"
        out.append(f'<text x="{ml - 8}" y="{y + 13}" class="tick" text-anchor="end">{escape(name[:30])}</text>'
                   f'<rect x="{ml}" y="{y + 2}" width="{_fmt(sx(v) - ml)}" height="{row - 6}" class="{cls}">'
                   f'<title>{escape(name)}: {v:,.1f} {escape(unit)}</title></rect>'
                   f'<text x="{_fmt(sx(v) + 4)}" y="{y + 13}" class="tick">{v:,.1f}</text>')
    lx = _fmt(sx(limit))
    out.append(f'<line x1="{lx}" x2="{lx}" y1="{mt - 2}" y2="{height - 18}" class="limit"/>'
               f'<text x="{lx}" y="{height - 4}" class="tick" text-anchor="middle">limit {limit:,.0f} {escape(unit)}</text>')
    out.append("</svg>")
    return Markup("".join(out))
