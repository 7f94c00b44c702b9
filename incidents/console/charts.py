"""
The console's charts, drawn on the server as SVG.

Why SVG from Python rather than a JavaScript chart library: nothing to vendor and keep
up to date, nothing fetched at run time (the desk works offline), nothing the strict
Content-Security-Policy would have to allow (no script, no inline style: geometry is in
SVG attributes, colours come from console.css through classes), and the figures are in
the page itself, for screen readers, for tests, and for a phone that has JavaScript off.
A chart scales with its box (`viewBox`, width 100 %); its coordinate width is small
(WIDTH) so that its text stays readable on a 390 px phone.

Each function takes plain figures and returns markup ready for a template.
"""

import math
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..templatetags.desk import duration

WIDTH = 400  # the charts' coordinate width, roughly a phone's CSS width


@dataclass(frozen=True)
class Moment:
    """A moment marked on a time chart: what happened (`kind`, a CSS class too), its label and time."""

    kind: str
    label: str
    at: datetime


def nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2 or 5 × 10^n) that divides [0, top] into about `ticks` parts."""
    if top <= 0:
        return 1
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


# Round steps for an axis of durations: seconds, minutes, hours, days.
_DURATION_STEPS = (
    5,
    10,
    15,
    30,
    *(60 * m for m in (1, 2, 5, 10, 15, 30)),
    *(3600 * h for h in (1, 2, 3, 6, 12)),
    *(86400 * d for d in (1, 2, 7, 14, 30)),
)


def duration_step(top: float, ticks: int = 4) -> int:
    """A step people read on an axis of durations (30 s, 5 min, 1 h…): about `ticks` of them to `top`."""
    raw = max(top, 1) / ticks
    return next((s for s in _DURATION_STEPS if s >= raw), _DURATION_STEPS[-1])


def _n(value: float) -> str:
    """A coordinate, short."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(parts: list[str], *, height: float, title: str, css: str) -> SafeString:
    head = (
        f'<svg class="chart {css}" viewBox="0 0 {WIDTH} {_n(height)}" width="100%" role="img" '
        f'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    )
    return mark_safe(head + "".join(parts) + "</svg>")  # noqa: S308  # nosec B308, B703: every text escaped above


def _text(x, y, text, css="", anchor="start") -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" class="{css}" text-anchor="{anchor}">{escape(text)}</text>'
        if css
        else f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}">{escape(text)}</text>'
    )


def _short(label: str, length: int = 13) -> str:
    """A row's label cut to fit the room left of its bar (the table beside the chart has it whole)."""
    return label if len(label) <= length else label[: length - 1] + "…"


def _time_label(at: datetime, span_seconds: float) -> str:
    local = timezone.localtime(at)
    return date_format(local, "H:i" if span_seconds <= 86400 else "j M H:i")


def _time_step(span: float) -> int:
    """Seconds between the time axis' ticks: about five across `span`, on round local minutes or hours."""
    steps = [60 * m for m in (5, 10, 15, 30)] + [3600 * h for h in (1, 2, 3, 6, 12, 24)]
    return next((s for s in steps if span / s <= 5), 86400 * max(1, math.ceil(span / 86400 / 5)))


def wave_chart(
    points: list[dict],
    *,
    bucket_seconds: int,
    since: datetime,
    until: datetime,
    moments: list[Moment],
    title: str,
) -> SafeString:
    """
    A wave over time: mentions per bucket as bars (the negative part darker), the negative
    share as a line on its own 0–100 % axis, the `moments` as labelled vertical lines.
    `points` are the wave API's series (`at`, `mentions`, `negative`).
    """
    left, right, bottom = 34, 34, 22
    height = 200
    plot_w = WIDTH - left - right
    span = max((until - since).total_seconds(), bucket_seconds)

    def x(at: datetime) -> float:
        return left + plot_w * min(max((at - since).total_seconds() / span, 0), 1)

    shown = [m for m in moments if m.at is not None and since <= m.at <= until]
    placed = _label_rows([x(m.at) for m in shown], [m.label for m in shown], left=left, plot_w=plot_w)
    # Two rows of labels fit above the plot; a third and more push it down.
    top = 30 + LABEL_ROW * max(0, max((row for row, _anchor in placed), default=0) - 1)
    plot_h = height - top - bottom
    peak = max((p["mentions"] for p in points), default=0)
    step = nice_step(max(peak, 1))
    y_top = step * math.ceil(max(peak, 1) / step)

    def y(count: float) -> float:
        return top + plot_h * (1 - count / y_top)

    parts = []
    value = 0.0
    while value <= y_top + 1e-9:  # the left axis: mentions per bucket, with gridlines
        parts.append(
            f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{_n(y(value))}" y2="{_n(y(value))}"/>'
        )
        parts.append(_text(left - 4, y(value) + 3, f"{value:g}", "tick", "end"))
        value += step
    for share in (0, 50, 100):  # the right axis: the negative share
        parts.append(
            _text(left + plot_w + 4, top + plot_h * (1 - share / 100) + 3, f"{share}%", "tick share-tick")
        )
    tick = _time_step(span)
    local_since = timezone.localtime(since)
    offset = local_since.utcoffset().total_seconds() if local_since.utcoffset() else 0
    first = math.ceil((since.timestamp() + offset) / tick) * tick - offset
    at = first
    while at <= until.timestamp():  # the time axis, on round local times
        moment = datetime.fromtimestamp(at, tz=since.tzinfo)
        mx = _n(x(moment))
        parts.append(f'<line class="axis" x1="{mx}" x2="{mx}" y1="{top + plot_h}" y2="{top + plot_h + 3}"/>')
        parts.append(_text(x(moment), height - 8, _time_label(moment, span), "tick", "middle"))
        at += tick
    parts.append(
        f'<line class="axis" x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}"/>'
    )
    bar = max(plot_w * bucket_seconds / span - 0.4, 0.6)
    line = []
    for p in points:
        x0 = x(p["at"])
        parts.append(
            f'<rect class="vol" x="{_n(x0)}" y="{_n(y(p["mentions"]))}" width="{_n(bar)}" '
            f'height="{_n(plot_h * p["mentions"] / y_top)}"><title>{escape(_time_label(p["at"], span))}: '
            f"{p['mentions']} / {p['negative']}</title></rect>"
        )
        if p["negative"]:
            parts.append(
                f'<rect class="neg" x="{_n(x0)}" y="{_n(y(p["negative"]))}" width="{_n(bar)}" '
                f'height="{_n(plot_h * p["negative"] / y_top)}"/>'
            )
        if p["mentions"]:
            line.append(f"{_n(x0 + bar / 2)},{_n(top + plot_h * (1 - p['negative'] / p['mentions']))}")
    if line:
        parts.append(f'<polyline class="share" points="{" ".join(line)}"/>')
    for moment, (row, anchor) in zip(shown, placed, strict=True):
        mx = x(moment.at)
        label_y = 10 + LABEL_ROW * row
        parts.append(
            f'<g class="moment {moment.kind}" data-moment="{moment.kind}">'
            f'<line x1="{_n(mx)}" x2="{_n(mx)}" y1="{label_y + 2}" y2="{top + plot_h}"/>'
            f"{_text(mx, label_y, moment.label, 'moment-label', anchor)}</g>"
        )
    return _svg(parts, height=height, title=title, css="wave-chart")


# A moment label's row height, and the most a character of it takes across (bold, at the
# phone's 12 px; charts.css): enough to keep labels apart without measuring text.
LABEL_ROW = 14
LABEL_CHAR_WIDTH = 7.5


def _label_rows(xs: list[float], labels: list[str], *, left: float, plot_w: float) -> list[tuple[int, str]]:
    """
    (row, text anchor) of each moment's label at `xs`: anchored so that it stays inside the
    plot, on the first row where it overlaps no label already placed, so that moments close
    together (detected, claimed and a statement within minutes) are all readable.
    """
    taken: list[list[tuple[float, float]]] = []
    placed = []
    for mx, label in zip(xs, labels, strict=True):
        anchor = "end" if mx > left + plot_w * 0.8 else "start" if mx < left + plot_w * 0.2 else "middle"
        width = LABEL_CHAR_WIDTH * len(label)
        lo = {"start": mx, "end": mx - width, "middle": mx - width / 2}[anchor]
        span = (lo, lo + width)
        row = next(
            (i for i, spans in enumerate(taken) if all(span[1] < a or b < span[0] for a, b in spans)),
            len(taken),
        )
        if row == len(taken):
            taken.append([])
        taken[row].append(span)
        placed.append((row, anchor))
    return placed


def duration_bars(rows: list[dict], *, title: str, median_label: str, p90_label: str) -> SafeString:
    """
    Horizontal bars of two durations per row (`label`, `p50`, `p90` in seconds): one row
    per day, top to bottom, each value written at the end of its bar; a duration axis
    with gridlines under them. Rows grow downwards, so thirty days fit a phone as well.
    """
    left, right, top, row_h = 52, 8, 18, 30
    label_room = 78  # the written value after the longest bar
    plot_w = WIDTH - left - right - label_room
    peak = max((max(r["p50"] or 0, r["p90"] or 0) for r in rows), default=0)
    step = duration_step(peak)
    x_top = step * max(1, math.ceil(peak / step))
    height = top + row_h * len(rows) + 26

    def x(seconds: float) -> float:
        return left + plot_w * seconds / x_top

    parts = [
        f'<rect class="key-p50" x="{left}" y="2" width="10" height="8"/>',
        _text(left + 14, 10, median_label, "legend"),
        f'<rect class="key-p90" x="{left + 110}" y="2" width="10" height="8"/>',
        _text(left + 124, 10, p90_label, "legend"),
    ]
    bottom = top + row_h * len(rows)
    value = 0
    while value <= x_top:
        parts.append(f'<line class="grid" x1="{_n(x(value))}" x2="{_n(x(value))}" y1="{top}" y2="{bottom}"/>')
        parts.append(_text(x(value), bottom + 12, duration(value), "tick", "middle"))
        value += step
    parts.append(f'<line class="axis" x1="{left}" x2="{left}" y1="{top}" y2="{bottom}"/>')
    for i, r in enumerate(rows):
        y0 = top + row_h * i + 3
        parts.append(_text(left - 4, y0 + 14, r["label"], "tick day", "end"))
        for j, (name, seconds) in enumerate((("p50", r["p50"]), ("p90", r["p90"]))):
            if seconds is None:
                continue
            by = y0 + j * 12
            length = _n(max(x(seconds) - left, 1))
            parts.append(f'<rect class="bar-{name}" x="{left}" y="{_n(by)}" width="{length}" height="10"/>')
            parts.append(_text(x(seconds) + 3, by + 9, duration(seconds), f"value value-{name}"))
    return _svg(parts, height=height + 4, title=title, css="duration-bars")


def ratio_bars(rows: list[dict], *, title: str) -> SafeString:
    """
    Horizontal bars of a ratio per row (`key`, `label`, `ratio` 0–1 or None, `met`, `judged`), with
    a 0–100 % axis: "83 % (5 of 6)" written after each bar.
    """
    left, right, top, row_h = 88, 8, 4, 22
    label_room = 72
    plot_w = WIDTH - left - right - label_room
    bottom = top + row_h * len(rows)
    parts = []
    for share in (0, 50, 100):
        sx = left + plot_w * share / 100
        parts.append(f'<line class="grid" x1="{_n(sx)}" x2="{_n(sx)}" y1="{top}" y2="{bottom}"/>')
        parts.append(_text(sx, bottom + 12, f"{share}%", "tick", "middle"))
    for i, r in enumerate(rows):
        y0 = top + row_h * i + 4
        parts.append(_text(left - 4, y0 + 11, _short(r["label"]), "tick", "end"))
        if r["ratio"] is None:
            parts.append(_text(left + 2, y0 + 11, "—", "value"))
            continue
        parts.append(f'<rect class="track" x="{left}" y="{_n(y0)}" width="{_n(plot_w)}" height="14"/>')
        parts.append(
            f'<rect class="met" x="{left}" y="{_n(y0)}" width="{_n(plot_w * r["ratio"])}" height="14" '
            f'data-key="{escape(r["key"])}" data-ratio="{r["ratio"]}"/>'
        )
        parts.append(
            _text(
                left + plot_w + 4, y0 + 11, f"{round(100 * r['ratio'])}% ({r['met']}/{r['judged']})", "value"
            )
        )
    return _svg(parts, height=bottom + 18, title=title, css="ratio-bars")
