"""The boards' charts: one reportlab drawing per chart, as inline SVG for pages (titled,
labelled, Chinese as text, small, no style attributes the pages' CSP would refuse) and as
vectors in PDFs; each with its numbers as a table for screen readers."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask_babel import force_locale
from reportlab.graphics import renderPDF

from qrservice.boards import charts
from qrservice.boards.figures import (
    BranchMeasures,
    Compliance,
    ComplianceSlot,
    PointsFigures,
    Rate,
    TargetCheck,
    TrendPoint,
)
from qrservice.boards.periods import period_of
from qrservice.timeutil import add_months

SVG = "{http://www.w3.org/2000/svg}"
KINDS = ("branch_general", "branch_committee", "group", "lecture", "theme_day")


@pytest.fixture
def zh(app: Flask):  # type: ignore[no-untyped-def]
    with app.test_request_context(), force_locale("zh"):
        yield


@pytest.fixture
def en(app: Flask):  # type: ignore[no-untyped-def]
    with app.test_request_context(), force_locale("en"):
        yield


def _trend(empty_month: int = 4) -> list[TrendPoint]:
    return [
        TrendPoint(add_months(date(2025, 11, 1), k),
                   Rate() if k == empty_month else Rate(attended=10 + k, absent=5, meetings=2))
        for k in range(12)
    ]  # fmt: skip


def _slots() -> Compliance:
    quarter = period_of("quarter", date(2026, 7, 1))
    return Compliance(tuple(
        ComplianceSlot(kind, 1, "机关第一党支部", quarter, 1, held, state)
        for kind, held, state in [
            ("branch_general", 1, "met"), ("branch_committee", 0, "missed"),
            ("branch_committee", 1, "met"), ("group", 1, "met"), ("lecture", 0, "due"),
        ]
    ))  # fmt: skip


def _parsed(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(markup)  # noqa: S314 (our own output)


def _texts(root: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_trend_svg_is_titled_and_labelled_and_a_month_without_meetings_is_a_gap(zh) -> None:
    points = _trend(empty_month=4)
    drawing = charts.attendance_trend(points)
    root = _parsed(charts.svg(drawing))
    assert root.get("role") == "img"
    # (Chinese once the lead merges this part's translations: /tmp/tr10/reports.json.)
    assert root.get("aria-label") == charts.chart_title(drawing)
    assert charts.chart_title(drawing) in ("按月出勤率（%）", "Attendance rate by month (%)")
    assert root.find(f"{SVG}title").text == root.get("aria-label")
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("fill") == "#2e6bb2"]
    assert len(bars) == 11  # the month without meetings has no bar, not a zero one
    headers, rows = charts.chart_table(drawing)
    assert len(rows) == 12
    assert rows[4] == ["2026-03", "–", "0", "0", "0"]
    assert rows[0] == ["2025-11", f"{round(100 * 10 / 15)}%", "10", "15", "2"]
    for point, row in zip(points, rows, strict=True):
        if point.rate.percent is not None:
            assert f"{point.rate.percent}%" in _texts(root)
            assert row[1] == f"{point.rate.percent}%"


def test_chinese_labels_are_text_in_the_browsers_chinese_fonts(zh) -> None:
    rates = {kind: Rate(attended=8, absent=k, meetings=1) for k, kind in enumerate(KINDS)}
    root = _parsed(charts.svg(charts.attendance_by_kind(rates)))
    texts = _texts(root)
    for name in ("支部党员大会", "支部委员会", "党小组会", "党课", "主题党日"):
        assert name in texts
    assert "Noto Sans CJK SC" in root.get("font-family")
    assert "sans-serif" in root.get("font-family")
    # A label of Chinese and digits is one text, as written.
    rows = [BranchMeasures(1, "B01", "机关第1党支部", attendance=Rate(attended=3, absent=1))]
    assert "B01 机关第1党支部" in _texts(
        _parsed(charts.svg(charts.overview_chart(rows, "attendance")))
    )


def test_svg_has_no_style_attribute_or_id_for_the_pages_security_policy(zh) -> None:
    markup = charts.svg(charts.compliance_chart(_slots()))
    root = _parsed(markup)
    for element in root.iter():
        assert "style" not in element.attrib
        assert "id" not in element.attrib
    assert "<!DOCTYPE" not in markup and "<?xml" not in markup


def test_labels_follow_the_language(en) -> None:
    rates = {"branch_general": Rate(attended=5, absent=5, meetings=1)}
    drawing = charts.attendance_by_kind(rates)
    assert "Branch general meeting" in _texts(_parsed(charts.svg(drawing)))
    assert charts.chart_table(drawing) == (
        ["Kind of meeting", "Attendance rate", "Attended", "Expected", "Meetings"],
        [["Branch general meeting", "50%", "5", "10", "1"]],
    )


def test_compliance_table_counts_met_and_counted_slots_per_kind(zh) -> None:
    drawing = charts.compliance_chart(_slots())
    _headers, rows = charts.chart_table(drawing)
    assert rows == [
        ["支部党员大会", "1", "1", "0"],
        ["支部委员会", "1", "2", "1"],
        ["党小组会", "1", "1", "0"],
        ["党课", "0", "0", "0"],  # due: not counted yet
    ]
    assert "1/2" in _texts(_parsed(charts.svg(drawing)))


def test_points_distribution_table_is_the_bands(zh) -> None:
    points = PointsFigures(total=90, members=20,
                           distribution=(("0", 4), ("1–4", 6), ("5–9", 7), ("10+", 3)))  # fmt: skip
    drawing = charts.points_distribution(points)
    assert charts.chart_table(drawing)[1] == [["0", "4"], ["1–4", "6"], ["5–9", "7"], ["10+", "3"]]
    texts = _texts(_parsed(charts.svg(drawing)))
    assert {"1–4", "10+", "7"} <= set(texts)


def _branches(count: int) -> list[BranchMeasures]:
    return [
        BranchMeasures(
            i, f"B{i:04d}", f"第{i}党支部", members=20,
            attendance=Rate(attended=i % 97, absent=100 - i % 97),
            targets={"attendance": TargetCheck("attendance", Decimal(i % 97), Decimal(60), None,
                                               "met" if i % 97 >= 60 else "missed")},
        )
        for i in range(1, count + 1)
    ]  # fmt: skip


def test_overview_chart_of_many_branches_shows_the_lowest_and_highest_forty(zh) -> None:
    rows = _branches(1000)
    drawing = charts.overview_chart(rows, "attendance")
    _headers, table = charts.chart_table(drawing)
    assert len(table) == charts.MAX_BARS
    values = sorted(r.attendance.percent for r in rows)
    shown = [int(row[1].rstrip("%")) for row in table]
    assert shown[:20] == values[:20] and shown[-20:] == values[-20:]
    assert "1000" in charts.chart_title(drawing)
    assert table[0][3] == charts.target_state_names()["missed"]


def test_overview_chart_of_a_few_branches_shows_each_with_its_target(zh) -> None:
    rows = _branches(3)
    _headers, table = charts.chart_table(charts.overview_chart(rows, "attendance"))
    assert [row[0] for row in table] == ["B0001 第1党支部", "B0002 第2党支部", "B0003 第3党支部"]
    assert [row[2] for row in table] == ["60", "60", "60"]


@pytest.mark.parametrize("chart", ["trend", "kind", "compliance", "points", "overview"])
def test_each_svg_stays_under_30_kb(zh, chart: str) -> None:
    drawing = {
        "trend": lambda: charts.attendance_trend(_trend()),
        "kind": lambda: charts.attendance_by_kind(
            {k: Rate(attended=3, absent=1, meetings=1) for k in KINDS}
        ),
        "compliance": lambda: charts.compliance_chart(_slots()),
        "points": lambda: charts.points_distribution(
            PointsFigures(distribution=tuple((str(k), k) for k in range(8)))
        ),
        "overview": lambda: charts.overview_chart(_branches(1000), "attendance"),
    }[chart]()
    assert len(charts.svg(drawing).encode()) < 30_000


def test_a_chart_in_a_pdf_is_vector_with_the_chinese_font_embedded(zh, tmp_path: Path) -> None:
    rates = {kind: Rate(attended=8, absent=2, meetings=1) for kind in KINDS}
    path = tmp_path / "chart.pdf"
    renderPDF.drawToFile(charts.attendance_by_kind(rates), str(path))
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True,
                            check=True).stdout  # fmt: skip
    assert len(images.strip().splitlines()) == 2  # headers only
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True,
                           check=True).stdout  # fmt: skip
    assert any("DroidSansFallback" in line and " yes " in line for line in fonts.splitlines())
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    assert "支部委员会" in text and "80%" in text
