"""The boards' charts, drawn once with reportlab's graphics: SVG for pages, vector drawings
for the PDF reports.

Each chart function returns a ``Drawing`` carrying its title and the same numbers as a table
(``chart_table``): pages render that table under the chart for screen readers. ``svg`` turns a
drawing into the markup a page inlines.

Text is drawn in runs: Chinese in the embedded Droid Sans Fallback font, Latin letters and
digits in Helvetica (Droid has none; see cards.pdf). On a page the browser's own fonts take
over (``SVG_FONTS``), since an SVG cannot embed them lightly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from flask_babel import gettext as _
from markupsafe import Markup, escape
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib import colors
from reportlab.lib.attrmap import AttrMap, AttrMapValue

from cards.pdf import fit_text, register_fonts, text_runs, text_width
from qrservice.boards.figures import (
    PERCENT_MEASURES,
    BranchMeasures,
    Compliance,
    PointsFigures,
    Rate,
    TrendPoint,
    number_text,
    percent_text,
)
from qrservice.models import BOARD_MEASURES

#: The font families an SVG asks the browser for: its Chinese fonts, then any sans-serif.
SVG_FONTS = "Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
#: Charts' width in points: the text column of an A4 page with 18 mm margins is ~493 pt.
WIDTH = 480
#: At most this many bars in one chart; more branches show the lowest and highest ones.
MAX_BARS = 40

INK = colors.HexColor("#222222")
MUTED = colors.HexColor("#666666")
GRID = colors.HexColor("#dddddd")
BAR = colors.HexColor("#2f6db5")
MET = colors.HexColor("#2e8540")
MISSED = colors.HexColor("#c62828")
STRETCH = colors.HexColor("#1b5e20")
EMPTY = colors.HexColor("#e8e8e8")
STATE_COLOURS = {"stretch": STRETCH, "met": MET, "missed": MISSED, "none": BAR}


def measure_names() -> dict[str, str]:
    """The measures' names as chart titles: the boards' names, capitalised."""
    from qrservice.boards.targets import measure_name

    names = {m: measure_name(m) for m in BOARD_MEASURES}
    return {m: name[:1].upper() + name[1:] for m, name in names.items()}


def kind_names() -> dict[str, str]:
    from qrservice.life.views.meetings import meeting_kind_names

    return meeting_kind_names()


# Drawing text


def label(x: float, y: float, text: str, size: float = 8, anchor: str = "start",
          color: Any = INK, width: float | None = None) -> Group:  # fmt: skip
    """``text`` at (x, y) in runs of the CJK and Latin fonts; shrunk (then cut) to ``width``."""
    register_fonts()
    if width is not None:
        text, size = fit_text(text, width, size, min(size, 5.5))
    total = text_width(text, size)
    start = {"start": x, "middle": x - total / 2, "end": x - total}[anchor]
    group = Group()
    for i, (font, run) in enumerate(text_runs(text)):
        string = String(start, y, run, fontName=font, fontSize=size, fillColor=color)
        # On a page the browser's font holds every character: svg() makes the runs one
        # <text> again, anchored as asked (its widths differ from the PDF fonts').
        string._svgAttrs = (
            {"data-label": text, "data-anchor": anchor, "data-x": f"{x:.1f}"}
            if i == 0
            else {"data-run": "1"}
        )
        group.add(string)
        start += text_width(run, size)
    return group


class Chart(Drawing):
    """A drawing that knows its title and the numbers it draws."""

    _attrMap = AttrMap(BASE=Drawing, title=AttrMapValue(None), table=AttrMapValue(None))


def _drawing(height: float, title: str, table: tuple[list[str], list[list[str]]]) -> Chart:
    drawing = Chart(WIDTH, height)
    drawing.add(label(0, height - 12, title, size=10, width=WIDTH))
    drawing.title = title
    drawing.table = table
    return drawing


def chart_table(drawing: Drawing) -> tuple[list[str], list[list[str]]]:
    """The numbers a chart draws, as (headers, rows) of text: the table under each chart."""
    return drawing.table  # type: ignore[attr-defined,no-any-return]


def chart_title(drawing: Drawing) -> str:
    return drawing.title  # type: ignore[attr-defined,no-any-return]


# Chart shapes


def _columns(drawing: Drawing, bars: Sequence[tuple[str, str, float | None]], top: float,
             captions: Sequence[str] = ()) -> None:  # fmt: skip
    """Vertical bars (label under the bar, value text over it, height as a share of ``top``);
    a value of None leaves a gap with a dash, not a zero bar."""
    left, bottom, plot_top = 28.0, 26.0, drawing.height - 22
    plot_h = plot_top - bottom
    step = (WIDTH - left) / max(len(bars), 1)
    for fraction in (0, 0.5, 1):
        y = bottom + plot_h * fraction
        drawing.add(Line(left, y, WIDTH, y, strokeColor=GRID, strokeWidth=0.5))
        drawing.add(label(left - 3, y - 3, number_text(round(top * fraction)), 7, "end", MUTED))
    for i, (name, value_text, value) in enumerate(bars):
        x = left + i * step + step * 0.15
        width = step * 0.7
        middle = x + width / 2
        if value is None:
            drawing.add(label(middle, bottom + 3, "–", 8, "middle", MUTED))
        else:
            height = plot_h * min(value / top, 1) if top else 0
            drawing.add(Rect(x, bottom, width, height, fillColor=BAR, strokeColor=None))
            drawing.add(label(middle, bottom + height + 2, value_text, 7, "middle"))
        drawing.add(label(middle, bottom - 10, name, 7, "middle", width=step - 2))
        if i < len(captions) and captions[i]:
            drawing.add(label(middle, bottom - 20, captions[i], 6, "middle", MUTED))


def _rows(drawing: Drawing, bars: Sequence[tuple[str, str, float | None, Any, float | None]],
          top: float, label_width: float = 150) -> None:  # fmt: skip
    """Horizontal bars, one per line: (name, value text, value, colour, mark). ``mark`` draws
    a tick (a target) on the bar's scale; a value of None leaves the line empty but for a dash."""
    left = label_width + 6
    right = WIDTH - 44
    line_h = (drawing.height - 22) / max(len(bars), 1)
    for i, (name, value_text, value, colour, mark) in enumerate(bars):
        y = drawing.height - 22 - (i + 1) * line_h
        bar_h = min(line_h * 0.7, 12)
        y_bar = y + (line_h - bar_h) / 2
        drawing.add(label(0, y_bar + bar_h / 2 - 3, name, min(8, line_h * 0.8), width=label_width))
        drawing.add(Rect(left, y_bar, right - left, bar_h, fillColor=EMPTY, strokeColor=None))
        if value is not None:
            width = (right - left) * min(max(value, 0) / top, 1) if top else 0
            drawing.add(Rect(left, y_bar, width, bar_h, fillColor=colour, strokeColor=None))
        if mark is not None and top:
            x = left + (right - left) * min(mark / top, 1)
            drawing.add(Line(x, y_bar - 1, x, y_bar + bar_h + 1, strokeColor=INK, strokeWidth=1))
        drawing.add(label(right + 4, y_bar + bar_h / 2 - 3, value_text, min(8, line_h * 0.8)))


def _height_for(lines: int, per_line: float = 16, least: float = 80) -> float:
    return max(least, 30 + lines * per_line)


# The charts


def attendance_trend(points: list[TrendPoint]) -> Drawing:
    """Attendance rate by month (12 months): one bar per month, a gap for a month without
    meetings."""
    title = _("Attendance rate by month (%)")
    table = (
        [_("Month"), _("Attendance rate"), _("Attended"), _("Expected"), _("Meetings")],
        [[f"{p.month:%Y-%m}", percent_text(p.rate.percent), str(p.rate.attended),
          str(p.rate.expected), str(p.rate.meetings)] for p in points],
    )  # fmt: skip
    drawing = _drawing(170, title, table)
    bars = [(f"{p.month.month}", percent_text(p.rate.percent), p.rate.percent) for p in points]
    captions = [
        str(p.month.year) if i == 0 or p.month.month == 1 else "" for i, p in enumerate(points)
    ]
    _columns(drawing, bars, 100, captions)
    return drawing


def attendance_by_kind(by_kind: dict[str, Rate]) -> Drawing:
    """Attendance rate per meeting kind (kinds without meetings show a dash)."""
    names = kind_names()
    title = _("Attendance rate by kind of meeting (%)")
    table = (
        [_("Kind of meeting"), _("Attendance rate"), _("Attended"), _("Expected"),
         _("Meetings")],
        [[names.get(kind, kind), percent_text(rate.percent), str(rate.attended),
          str(rate.expected), str(rate.meetings)] for kind, rate in by_kind.items()],
    )  # fmt: skip
    drawing = _drawing(_height_for(len(by_kind)), title, table)
    _rows(drawing, [
        (names.get(kind, kind), percent_text(rate.percent), rate.percent, BAR, None)
        for kind, rate in by_kind.items()
    ], 100)  # fmt: skip
    return drawing


def compliance_chart(compliance: Compliance) -> Drawing:
    """三会一课 per meeting kind: slots met against slots counted (ended, or already met)."""
    names = kind_names()
    kinds: dict[str, list[int]] = {}
    for slot in compliance.slots:
        met_counted = kinds.setdefault(slot.kind, [0, 0, 0])
        met_counted[0] += slot.state == "met"
        met_counted[1] += slot.state != "due"
        met_counted[2] += slot.state == "missed"
    title = _("Required meetings held by kind")
    table = (
        [_("Kind of meeting"), _("Met"), _("Counted"), _("Missed")],
        [[names.get(k, k), str(m), str(c), str(x)] for k, (m, c, x) in kinds.items()],
    )
    drawing = _drawing(_height_for(len(kinds)), title, table)
    _rows(drawing, [
        (names.get(k, k), f"{m}/{c}", (100 * m / c) if c else None,
         MET if m == c else MISSED, None)
        for k, (m, c, _x) in kinds.items()
    ], 100)  # fmt: skip
    return drawing


def points_distribution(points: PointsFigures) -> Drawing:
    """Members per band of points earned in the period."""
    title = _("Members by points earned")
    table = (
        [_("Points"), _("Members")],
        [[band, str(count)] for band, count in points.distribution],
    )
    drawing = _drawing(150, title, table)
    top = max((count for _band, count in points.distribution), default=0)
    _columns(drawing, [(band, str(count), count) for band, count in points.distribution],
             _round_up(top))  # fmt: skip
    return drawing


def overview_chart(rows: list[BranchMeasures], measure: str) -> Drawing:
    """One bar per branch for ``measure``, coloured by its target (the tick is the must-reach
    target). Over MAX_BARS branches, the lowest and highest half each are shown."""
    title = measure_names()[measure]
    if measure in PERCENT_MEASURES:
        title += " (%)"
    shown = rows
    if len(rows) > MAX_BARS:
        ranked = sorted(rows, key=lambda r: (r.value(measure) is None, r.value(measure) or 0))
        valued = [r for r in ranked if r.value(measure) is not None] or ranked
        half = MAX_BARS // 2
        shown = valued[:half] + valued[-half:] if len(valued) > MAX_BARS else valued
        title += " " + _("(lowest %(low)d and highest %(high)d of %(total)d branches)",
                         low=min(half, len(shown)), high=max(len(shown) - half, 0),
                         total=len(rows))  # fmt: skip
    fmt = percent_text if measure in PERCENT_MEASURES else number_text

    def target(row: BranchMeasures) -> tuple[Any, Decimal | None]:
        check = row.targets.get(measure)
        return (check.state, check.must_reach) if check else ("none", None)

    table = (
        [_("Branch"), measure_names()[measure], _("Must-reach target"), _("Target")],
        [[f"{r.code} {r.name}", fmt(r.value(measure)), number_text(target(r)[1]),
          target_state_names()[target(r)[0]]] for r in shown],
    )  # fmt: skip
    drawing = _drawing(_height_for(len(shown), per_line=12), title, table)
    values = [r.value(measure) for r in shown]
    marks = [target(r)[1] for r in shown]
    top = (
        100
        if measure in PERCENT_MEASURES
        else _round_up(max([float(v) for v in values + marks if v is not None], default=0))
    )
    _rows(drawing, [
        (f"{r.code} {r.name}", fmt(v), None if v is None else float(v),
         STATE_COLOURS[target(r)[0]], None if m is None else float(m))
        for r, v, m in zip(shown, values, marks, strict=True)
    ], top)  # fmt: skip
    return drawing


def target_state_names() -> dict[str, str]:
    from qrservice.boards.targets import state_names

    return state_names()


def _round_up(value: float) -> float:
    """A tidy top for an axis: 1, 2 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1
    power = 1.0
    while power * 10 < value:
        power *= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


# SVG for pages

_STYLE_PROPERTIES = {
    "fill", "stroke", "stroke-width", "stroke-linecap", "stroke-linejoin", "font-size",
    "stroke-opacity", "fill-opacity", "stroke-dasharray",
}  # fmt: skip
_NS = "http://www.w3.org/2000/svg"


def svg(drawing: Drawing, title: str | None = None) -> Markup:
    """The drawing as inline SVG for a page: titled and labelled for assistive technology
    (role="img", aria-label, <title>), styles as presentation attributes (the pages' Content
    Security Policy refuses style attributes), the browser's Chinese fonts, no ids to clash
    when a page holds several charts."""
    title = title or chart_title(drawing)
    ElementTree.register_namespace("", _NS)
    # Our own renderer's output, not input from outside.
    root = ElementTree.fromstring(renderSVG.drawToString(drawing).encode("utf-8"))  # noqa: S314
    root.attrib.pop("{http://www.w3.org/1999/xlink}", None)
    for key in ("preserveAspectRatio", "version", "fill-rule"):
        root.attrib.pop(key, None)
    width, height = root.get("width"), root.get("height")
    root.attrib.pop("width", None)
    root.attrib.pop("height", None)
    root.set("viewBox", f"0 0 {width} {height}")
    root.set("role", "img")
    root.set("aria-label", title)
    root.set("font-family", SVG_FONTS)
    root.set("class", "chart")
    for child in list(root):
        tag = child.tag.split("}")[-1]
        if tag in ("title", "desc", "clipPath"):
            root.remove(child)
    heading = ElementTree.Element(f"{{{_NS}}}title")
    heading.text = title
    root.insert(0, heading)
    for element in root.iter():
        for child in [c for c in element if c.get("data-run")]:
            element.remove(child)
        element.attrib.pop("id", None)
        if (whole := element.attrib.pop("data-label", None)) is not None:
            element.text = whole
            element.set("x", element.attrib.pop("data-x"))
            anchor = element.attrib.pop("data-anchor")
            if anchor != "start":
                element.set("text-anchor", anchor)
        if tag_of(element) == "text" and element.get("transform", "").endswith("scale(1,-1)"):
            # translate(0,2y) scale(1,-1) at y is scale(1,-1) at -y (reportlab rounds 2y).
            element.set("y", f"{-float(element.get('y', '0')):.1f}")
            element.set("transform", "scale(1,-1)")
        for key in ("x", "y", "width", "height", "d", "transform"):
            if key in element.attrib:
                element.set(key, _NUMBER.sub(_short_number, element.get(key, "")))
        if element.get("transform") == "":
            del element.attrib["transform"]
        style = element.attrib.pop("style", None)
        if not style:
            continue
        for declaration in style.split(";"):
            name, _sep, value = declaration.partition(":")
            name, value = name.strip(), value.strip()
            if name == "stroke" and value == "none" and tag_of(element) == "text":
                continue  # the default
            if (
                name in _STYLE_PROPERTIES
                and value
                and not (tag_of(element) == "rect" and name.startswith("stroke-"))
            ):
                element.set(name, _compact_colour(value))
    text = ElementTree.tostring(root, encoding="unicode")
    text = re.sub(r"\s*\n\s*", "", text)
    return Markup(text)  # noqa: S704 (serialised by ElementTree: text and attributes escaped)


_NUMBER = re.compile(r"-?\d+\.\d+")


def _short_number(match: re.Match[str]) -> str:
    return f"{float(match.group()):.1f}".removesuffix(".0")


def tag_of(element: ElementTree.Element) -> str:
    return element.tag.split("}")[-1]


def _compact_colour(value: str) -> str:
    """rgb(18%,43%,71%) as #2e6db5: a third of the bytes."""
    match = re.fullmatch(r"rgb\(([\d.]+)%,\s*([\d.]+)%,\s*([\d.]+)%\)", value)
    if not match:
        return value
    return "#" + "".join(f"{round(float(p) * 2.55):02x}" for p in match.groups())


def table_html(drawing: Drawing) -> Markup:
    """The chart's numbers as an HTML table (for pages that do not lay out their own)."""
    headers, rows = chart_table(drawing)
    head = "".join(f"<th scope='col'>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    caption = escape(chart_title(drawing))
    return Markup(  # noqa: S704 (every value escaped above)
        f"<table class='chart-table'><caption>{caption}</caption><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )
