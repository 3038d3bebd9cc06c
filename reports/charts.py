"""Charts as inline SVG, drawn with matplotlib's SVG backend.

Why matplotlib: it is the best-kept plotting library in Python, its SVG backend writes plain
SVG with no script, and with ``svg.fonttype = 'none'`` text stays text (no glyph outlines, no
embedded or fetched fonts). Text is XML-escaped by the backend, so payer names are safe.
pygal renders faster (measured: import 0.03 s vs 0.58 s, 4 ms vs 25 ms a chart) but embeds a
``<script>`` with its config (payer names in JSON) and tooltips meant for JavaScript; the
import cost is paid once per process and is small against the 5 s report budget.

Each function returns the SVG text (starting at ``<svg``) sized by CSS (width 100%), with
ids salted by the chart id so several charts can share one page. Amounts are plotted as
floats (drawing only: every figure printed in the report stays Decimal).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from markupsafe import Markup

PALETTE = ("#1f5f8b", "#c0392b", "#27ae60", "#8e44ad", "#d68910", "#16a085", "#7f8c8d", "#2c3e50")


@lru_cache(maxsize=1)
def _mpl():
    import matplotlib

    matplotlib.use("svg", force=True)
    rc = matplotlib.rcParams
    rc["svg.fonttype"] = "none"  # keep text as text: no embedded or fetched fonts
    rc["text.parse_math"] = False  # a '$' in a payer name is not math
    rc["font.family"] = "sans-serif"
    rc["font.size"] = 9
    rc["axes.spines.top"] = False
    rc["axes.spines.right"] = False
    rc["axes.prop_cycle"] = matplotlib.cycler(color=PALETTE)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    return matplotlib, Figure, FuncFormatter


def _short(label: str, n: int = 28) -> str:
    label = " ".join(str(label).split())
    return label if len(label) <= n else label[: n - 1] + "…"


def _svg(fig, chart_id: str, title: str) -> Markup:
    matplotlib, _, _ = _mpl()
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": chart_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    # size by CSS; keep the viewBox for scaling
    text = re.sub(r'^<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 class="chart" role="img"', text, count=1)
    from markupsafe import escape

    text = text.replace('role="img"', f'role="img" id="{escape(chart_id)}" aria-label="{escape(title)}"', 1)
    return Markup(text)


def _money_axis(ax, percent: bool = False):
    _, _, FuncFormatter = _mpl()
    if percent:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}%"))
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))


def bar_chart(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    values: Sequence,
    *,
    percent: bool = False,
    horizontal: bool = True,
) -> Markup:
    """One series of bars (largest first when horizontal)."""
    _, Figure, FuncFormatter = _mpl()
    vals = [float(v or 0) for v in values]
    labs = [_short(l) for l in labels]
    height = max(1.6, 0.28 * len(vals) + 0.8) if horizontal else 2.6
    fig = Figure(figsize=(7.0, height))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=10)
    if horizontal:
        ax.barh(range(len(vals))[::-1], vals, color=PALETTE[0])
        ax.set_yticks(range(len(vals))[::-1], labs)
        fmt = (lambda v, _: f"{v:,.0f}%") if percent else (lambda v, _: f"${v:,.0f}")
        ax.xaxis.set_major_formatter(FuncFormatter(fmt))
        if percent:
            ax.axvline(100, color="#999", linewidth=0.8, linestyle="--")
    else:
        ax.bar(range(len(vals)), vals, color=PALETTE[0])
        ax.set_xticks(range(len(vals)), labs, rotation=30, ha="right")
        _money_axis(ax, percent)
    return _svg(fig, chart_id, title)


def grouped_bar_chart(
    chart_id: str, title: str, groups: Sequence[str], series: Mapping[str, Sequence], *, percent: bool = False
) -> Markup:
    """Several series side by side per group (e.g. expected vs actual per code)."""
    _, Figure, _ = _mpl()
    names = list(series)
    n = max(1, len(names))
    width = 0.8 / n
    fig = Figure(figsize=(7.0, 2.8))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=10)
    for i, name in enumerate(names):
        xs = [g + (i - (n - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [float(v or 0) for v in series[name]], width=width, label=_short(name))
    ax.set_xticks(range(len(groups)), [_short(g, 14) for g in groups], rotation=30, ha="right")
    _money_axis(ax, percent)
    if percent:
        ax.axhline(100, color="#999", linewidth=0.8, linestyle="--")
    ax.legend(fontsize=8, frameon=False, ncols=min(4, n))
    return _svg(fig, chart_id, title)


def line_chart(
    chart_id: str, title: str, x_labels: Sequence[str], series: Mapping[str, Sequence], *, percent: bool = False
) -> Markup:
    """One line per series over the x labels (months); None values leave gaps."""
    _, Figure, _ = _mpl()
    fig = Figure(figsize=(7.0, 2.6))
    ax = fig.add_subplot()
    ax.set_title(title, loc="left", fontsize=10)
    xs = list(range(len(x_labels)))
    for name, values in series.items():
        ys = [float("nan") if v is None else float(v) for v in values]
        ax.plot(xs, ys, marker="o", markersize=3, linewidth=1.5, label=_short(name))
    ax.set_xticks(xs, list(x_labels), rotation=30, ha="right")
    _money_axis(ax, percent)
    ax.set_ylim(bottom=0)
    if series:
        ax.legend(fontsize=8, frameon=False, ncols=min(4, len(series)))
    return _svg(fig, chart_id, title)


def range_chart(
    chart_id: str,
    title: str,
    ranges: Sequence[tuple],
    *,
    marker=None,
    marker_label: str = "",
    reference=None,
    reference_label: str = "",
    description: str = "",
) -> Markup:
    """Distributions side by side, one row each: ``ranges`` holds (label, p10, p25, median, p75, p90).

    A thin line spans p10 to p90, a box p25 to p75, a bar marks the median; ``marker`` (e.g. this
    payer's average) is a diamond on every row and ``reference`` (e.g. Medicare) a dotted line.
    ``description`` (the figures in words) becomes the SVG's aria-label, else the title does."""
    _, Figure, FuncFormatter = _mpl()
    fig = Figure(figsize=(5.6, 0.42 * len(ranges) + 1.1))
    ax = fig.add_subplot()
    ax.set_title(_short(title, 90), loc="left", fontsize=9)
    ys = list(range(len(ranges)))[::-1]
    for y, (_, p10, p25, median, p75, p90) in zip(ys, ranges):
        ax.hlines(y, float(p10), float(p90), color=PALETTE[0], linewidth=1.2)
        ax.barh(y, float(p75) - float(p25), left=float(p25), height=0.45, color="#cfe0ee", edgecolor=PALETTE[0])
        ax.vlines(float(median), y - 0.22, y + 0.22, color=PALETTE[0], linewidth=2.2)
    ax.set_yticks(ys, [_short(r[0], 30) for r in ranges])
    ax.set_ylim(-0.7, len(ranges) - 0.3)
    if marker is not None:
        ax.plot([float(marker)] * len(ys), ys, "D", color=PALETTE[1], markersize=6, label=_short(marker_label, 40))
    if reference is not None:
        ax.axvline(float(reference), color="#777", linewidth=0.9, linestyle=":", label=_short(reference_label, 40))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"${v:,.0f}"))
    if marker is not None or reference is not None:
        ax.legend(fontsize=7.5, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2)
    return _svg(fig, chart_id, description or title)
