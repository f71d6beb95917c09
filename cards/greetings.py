"""Political birthday (政治生日) greeting cards: one A5 page per member, Chinese text in the
embedded CJK font the badges use (cards.pdf registers it; the PDF carries a subset)."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from reportlab.lib.colors import HexColor
from reportlab.lib.units import mm

from cards.pdf import _canvas, fit_text, text_runs, text_width

A5_MM = (148.0, 210.0)
RED = HexColor("#b71c1c")


@dataclass(frozen=True)
class Greeting:
    org_name: str
    unit_name: str
    member_name: str
    joined_on: date
    #: The anniversary being marked and the years of membership on it.
    day: date
    years: int


def _centred(canvas, text: str, baseline_mm: float, max_size: float, width_mm: float) -> None:  # type: ignore[no-untyped-def]
    fitted, size = fit_text(text, width_mm * mm, max_size, 8)
    x = (A5_MM[0] * mm - text_width(fitted, size)) / 2
    line = canvas.beginText(x, baseline_mm * mm)
    for font, run in text_runs(fitted):
        line.setFont(font, size)
        line.textOut(run)
    canvas.drawText(line)


def _draw(canvas, g: Greeting) -> None:  # type: ignore[no-untyped-def]
    width = A5_MM[0] - 30
    canvas.setStrokeColor(RED)
    canvas.setLineWidth(3)
    canvas.rect(10 * mm, 10 * mm, (A5_MM[0] - 20) * mm, (A5_MM[1] - 20) * mm)
    canvas.setFillColor(RED)
    _centred(canvas, "政治生日贺卡", 170, 28, width)
    canvas.setFillColorRGB(0, 0, 0)
    _centred(canvas, f"{g.member_name} 同志：", 140, 20, width)
    _centred(
        canvas,
        f"您于 {g.joined_on.year} 年 {g.joined_on.month} 月 {g.joined_on.day} 日加入中国共产党，",
        120,
        13,
        width,
    )
    _centred(
        canvas,
        f"{g.day.year} 年 {g.day.month} 月 {g.day.day} 日是您的 {g.years} 周年政治生日。",
        108,
        13,
        width,
    )
    _centred(canvas, "不忘初心，牢记使命。祝您政治生日快乐！", 90, 15, width)
    _centred(canvas, g.unit_name, 45, 13, width)
    _centred(canvas, g.org_name, 35, 11, width)


def render_greetings_pdf(greetings: Iterable[Greeting], title: str, author: str) -> bytes:
    """One A5 page per greeting (an empty list gives one blank page: a PDF has pages)."""
    out = io.BytesIO()
    canvas = _canvas(out, A5_MM, title, author)
    canvas.setSubject("政治生日贺卡 / Political birthday greetings")
    drawn = False
    for greeting in greetings:
        _draw(canvas, greeting)
        canvas.showPage()
        drawn = True
    if not drawn:
        canvas.showPage()
    canvas.save()
    return out.getvalue()
