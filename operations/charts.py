"""Small server-side SVG bar charts: no JavaScript, no CDN, readable with no data.

Each chart is an `<svg role="img">` with `<title>` and `<desc>` (what a screen reader says),
labelled axes, and a text "No data in this period" when every value is zero. Colours come
from CSS classes in static/css/portal.css, so light and dark themes both work.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 44


@dataclass(frozen=True)
class Series:
    name: str
    values: list[int]
    css: str  # chart-bar-ok | chart-bar-bad | chart-bar-info


def _nice_max(value: int) -> int:
    """A round upper bound for the y axis (1, 2, 5, 10, 20, 50, ...)."""
    if value <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if value <= step * m:
                return step * m
        step *= 10


def bar_chart(
    *,
    chart_id: str,
    title: str,
    desc: str,
    labels: list[str],
    series: list[Series],
    x_label: str,
    y_label: str,
    tick_every: int = 1,
) -> SafeString:
    """A stacked bar chart; `labels[i]` names bar i, ticks are shown every `tick_every` bars."""
    n = len(labels)
    totals = [sum(s.values[i] for s in series) for i in range(n)]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(n, 1)
    bar_w = max(slot * 0.8, 1.0)
    e = escape
    parts = [
        f'<svg class="chart" id="{e(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="{e(chart_id)}-title {e(chart_id)}-desc" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{e(chart_id)}-title">{e(title)}</title>',
        f'<desc id="{e(chart_id)}-desc">{e(desc)}</desc>',
    ]
    parts += _grid(top, plot_h)
    for i in range(n):
        parts += _bar(i, labels[i], series, top, slot, bar_w, plot_h, tick=i % tick_every == 0)
    parts.append(
        f'<line class="chart-axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}"/>'
        f'<text class="chart-label" x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" '
        f'text-anchor="middle">{e(x_label)}</text>'
        f'<text class="chart-label" transform="translate(12 {TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{e(y_label)}</text>'
    )
    if not any(totals):
        parts.append(
            f'<text class="chart-empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
            'text-anchor="middle">No data in this period</text>'
        )
    if len(series) > 1:
        x = LEFT
        for s in series:
            parts.append(
                f'<rect class="{e(s.css)}" x="{x}" y="{TOP}" width="10" height="10"/>'
                f'<text class="chart-tick" x="{x + 14}" y="{TOP + 9}">{e(s.name)}</text>'
            )
            x += 14 + 8 * len(s.name) + 12
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above


def _grid(top: int, plot_h: float) -> list[str]:
    """The y axis: lines and ticks at 0, half and the top."""
    parts = []
    for value in (0, top // 2 if top >= 2 else None, top):
        if value is None:
            continue
        y = TOP + plot_h - plot_h * value / top
        parts.append(
            f'<line class="chart-grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="chart-tick" x="{LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{value}</text>'
        )
    return parts


def _bar(
    i: int,
    label: str,
    series: list[Series],
    top: int,
    slot: float,
    bar_w: float,
    plot_h: float,
    *,
    tick: bool,
) -> list[str]:
    """Bar `i`: its series stacked up from the axis, each with a tooltip; its label if `tick`."""
    e = escape
    parts = []
    x = LEFT + i * slot + (slot - bar_w) / 2
    base: float = TOP + plot_h  # each segment's top, stacked up from the axis
    for s in series:
        v = s.values[i]
        if not v:
            continue
        h = plot_h * v / top
        base -= h
        parts.append(
            f'<rect class="{e(s.css)}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}"><title>{e(label)}: {v} {e(s.name)}</title></rect>'
        )
    if tick:
        parts.append(
            f'<text class="chart-tick" x="{LEFT + i * slot + slot / 2:.1f}" '
            f'y="{TOP + plot_h + 14}" text-anchor="middle">{e(label)}</text>'
        )
    return parts
