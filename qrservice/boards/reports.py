"""The monthly PDF reports: a branch's board on paper, and a committee's report (a summary of
every branch, then each branch's board).

Both render values gathered beforehand (``Board``, ``Overview``): nothing here reads the
database, so a long report never holds a connection or a lock while it is drawn. A4 portrait,
reportlab's platypus; charts are the same drawings the pages show (qrservice.boards.charts),
drawn as vectors. Chinese text is in the embedded Droid Sans Fallback font, Latin letters
and digits in Helvetica (see cards.pdf).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask_babel import gettext as _
from markupsafe import escape
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from cards.pdf import CJK_FONT, register_fonts, text_runs, text_width
from qrservice.boards import charts
from qrservice.boards.figures import (
    Board,
    BranchMeasures,
    Overview,
    number_text,
    percent_text,
    value_text,
)
from qrservice.boards.periods import Period
from qrservice.life.attention import cause_text, warning_name
from qrservice.life.dues import yuan
from qrservice.models import BOARD_MEASURES

MARGIN = 18 * mm
TEXT_WIDTH = A4[0] - 2 * MARGIN

ProgressCallback = Callable[[int, int], None]


def report_filename(unit: Any, period: Period) -> str:
    return f"report-{unit.code}-{period.key}.pdf"


# Text


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName="Helvetica", fontSize=9, leading=12.5,
                          wordWrap="CJK")  # fmt: skip
    return {
        "body": base,
        "small": ParagraphStyle("small", base, fontSize=7.5, leading=10),
        "cell": ParagraphStyle("cell", base, fontSize=8, leading=10),
        "number": ParagraphStyle("number", base, fontSize=8, leading=10, alignment=TA_RIGHT),
        "org": ParagraphStyle("org", base, fontSize=10, leading=13, textColor=charts.MUTED),
        "title": ParagraphStyle("title", base, fontSize=16, leading=21, spaceAfter=2),
        "section": ParagraphStyle(
            "section", base, fontSize=12, leading=16, spaceBefore=9, spaceAfter=4
        ),  # fmt: skip
    }


def markup(text: Any) -> str:
    """Paragraph markup for ``text``: escaped, Chinese runs in the embedded CJK font."""
    out = []
    for font, run in text_runs(str(text)):
        escaped = str(escape(run))
        out.append(f'<font face="{CJK_FONT}">{escaped}</font>' if font == CJK_FONT else escaped)
    return "".join(out)


class Report:
    """The flowables of a report, with the styles they share."""

    def __init__(self) -> None:
        register_fonts()
        self.styles = _styles()
        self.story: list[Flowable] = []

    def p(self, text: Any, style: str = "body") -> Paragraph:
        text = str(text)
        if text.isascii():
            # Latin text breaks between words only (CJK wrapping breaks anywhere).
            latin = f"{style}-latin"
            if latin not in self.styles:
                self.styles[latin] = ParagraphStyle(latin, self.styles[style], wordWrap=None)
            style = latin
        return Paragraph(markup(text), self.styles[style])

    def add(self, *flowables: Flowable) -> None:
        self.story.extend(flowables)

    def para(self, text: Any, style: str = "body") -> None:
        self.story.append(self.p(text, style))

    def section(self, title: str) -> None:
        # A heading never ends a page: it keeps with what follows, and needs room for it.
        self.story.append(CondPageBreak(60 * mm if title else 0))
        self.story.append(self.p(title, "section"))

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Any]],
              widths: Sequence[float], numeric: Sequence[int] = (),
              shade: Callable[[int, int], Any] | None = None) -> None:  # fmt: skip
        """A table whose header repeats on every page it runs over; ``widths`` are shares of
        the text width; ``shade(row, column)`` may give a cell a background colour."""
        cells = [[self.p(h, "cell") for h in headers]]
        style = [
            ("GRID", (0, 0), (-1, -1), 0.4, charts.GRID),
            ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f0f0f0")),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("FONT", (0, 0), (-1, -1), "Helvetica", 8, 10),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ]
        for c in numeric:
            style.append(("ALIGN", (c, 1), (c, -1), "RIGHT"))
        for r, row in enumerate(rows, start=1):
            cells.append([self.cell(value, c in numeric) for c, value in enumerate(row)])
            if shade is not None:
                for c in range(len(row)):
                    if (colour := shade(r - 1, c)) is not None:
                        style.append(("BACKGROUND", (c, r), (c, r), colour))
        total = sum(widths)
        table = Table(cells, colWidths=[TEXT_WIDTH * w / total for w in widths], repeatRows=1)
        table.setStyle(TableStyle(style))
        self.story.append(table)

    def cell(self, value: Any, numeric: bool) -> Any:
        """A table cell: short Latin text (numbers, codes, dates) as a plain string, far
        cheaper to lay out than a paragraph; anything else as a wrapping paragraph."""
        text = str(value)
        if len(text) <= 14 and text.isascii():
            return text
        return self.p(text, "number" if numeric else "cell")

    def chart(self, drawing: Any) -> None:
        self.story.append(Spacer(1, 3))
        self.story.append(drawing)

    def none(self) -> None:
        self.para(_("None."), "small")


class _Deferred(Flowable):
    """A branch's pages, built only when the document reaches them, so that a report of a
    thousand branches never holds every page's paragraphs at once: it never fits, and
    splitting it gives the flowables."""

    def __init__(self, build: Callable[[], list[Flowable]]) -> None:
        super().__init__()
        self.build = build

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return available_width, available_height * 2 + 1

    def split(self, available_width: float, available_height: float) -> list[Flowable]:
        return self.build()

    def draw(self) -> None:  # pragma: no cover - always split, never drawn
        pass


class _Progress(Flowable):
    """Takes no room; tells the caller, as the page it ends on is drawn, that a branch is done."""

    def __init__(self, done: int, total: int, callback: ProgressCallback) -> None:
        super().__init__()
        self.done, self.total, self.callback = done, total, callback

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return 0, 0

    def draw(self) -> None:
        self.callback(self.done, self.total)


def _render(story: list[Flowable], title: str, footer: str) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
        bottomMargin=MARGIN, title=title, creator="qrservice",
    )  # fmt: skip

    def page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFillColor(charts.MUTED)
        _draw_text(canvas, MARGIN, 10 * mm, footer, 7.5)
        number = _("Page %(num)d", num=doc.page)
        _draw_text(canvas, A4[0] - MARGIN - text_width(number, 7.5), 10 * mm, number, 7.5)
        canvas.restoreState()

    doc.build(story, onFirstPage=page, onLaterPages=page)
    return out.getvalue()


def _draw_text(canvas: Any, x: float, y: float, text: str, size: float) -> None:
    for font, run in text_runs(text):
        canvas.setFont(font, size)
        canvas.drawString(x, y, run)
        x += text_width(run, size)


# Figures as text


def _name(item: Any) -> str:
    member = getattr(item, "member", None)
    return getattr(member, "name", "") if member is not None else ""


def _when(at: Any) -> str:
    if at is None:
        return ""
    from qrservice.timeutil import local_time

    return local_time(at).strftime("%Y-%m-%d")


def _meeting_text(meeting: Any) -> str:
    if meeting is None:
        return ""
    return f"{meeting.title} ({_when(meeting.starts_at)})"


def _note_text(note: Any) -> str:
    if note is None:
        return ""
    parts = [
        (_("Plan"), note.plan_text), (_("Do"), note.do_text), (_("Check"), note.check_text),
        (_("Act"), note.act_text),
    ]  # fmt: skip
    return _("; ").join(
        _("%(step)s: %(text)s", step=name, text=text) for name, text in parts if text
    )


# The branch board on paper


def _branch_story(report: Report, board: Board, organisation: str) -> None:
    m: BranchMeasures = board.measures
    kinds = charts.kind_names()
    if organisation:
        report.para(organisation, "org")
    report.para(
        _("%(branch)s (%(code)s): board for %(period)s", branch=board.unit.name,
          code=board.unit.code, period=board.period.label()),
        "title",
    )  # fmt: skip
    report.para(
        _("%(members)d members; figures as of %(today)s.", members=m.members,
          today=board.today.isoformat()),
        "small",
    )  # fmt: skip

    report.section(_("Targets"))
    states = charts.target_state_names()
    rows, missed_rows = [], set()
    for measure in BOARD_MEASURES:
        check = m.targets.get(measure)
        if check is not None and check.state == "missed":
            missed_rows.add(len(rows))
        rows.append([
            charts.measure_names()[measure], value_text(measure, m.value(measure)),
            number_text(check.must_reach) if check else "–",
            number_text(check.stretch) if check else "–",
            states[check.state] if check else states["none"],
            _note_text(check.note) if check else "",
        ])  # fmt: skip
    report.table(
        [_("Measure"), _("This period"), _("Must-reach target"), _("Stretch target"),
         _("Result"), _("Plan–do–check–act")],
        rows, [3, 1.6, 1.6, 1.6, 2, 5], numeric=(1, 2, 3),
        shade=lambda r, c: _MISSED_SHADE if r in missed_rows and c == 4 else None,
    )  # fmt: skip

    report.section(_("Required meetings held"))
    compliance = m.compliance
    report.para(
        _("%(met)d of %(counted)d required meetings held (%(percent)s); %(missed)d missed.",
          met=compliance.met, counted=compliance.counted,
          percent=percent_text(compliance.percent), missed=len(compliance.missed))
    )  # fmt: skip
    if compliance.slots:
        report.chart(charts.compliance_chart(compliance))
    if compliance.missed:
        report.table(
            [_("Missed"), _("Unit"), _("Period"), _("Held"), _("Required")],
            [[kinds.get(s.kind, s.kind), s.unit_name, s.slot.label(), s.held, s.required]
             for s in compliance.missed],
            [3, 3, 2, 1, 1], numeric=(3, 4),
        )  # fmt: skip

    report.section(_("Attendance"))
    rate = m.attendance
    report.para(
        _("Attendance rate %(rate)s: %(attended)d attended of %(expected)d expected, "
          "%(excused)d on leave, at %(meetings)d meetings.",
          rate=percent_text(rate.percent), attended=rate.attended,
          expected=rate.expected, excused=rate.excused, meetings=rate.meetings)
    )  # fmt: skip
    if board.by_kind:
        report.chart(charts.attendance_by_kind(board.by_kind))
    if board.trend:
        report.chart(charts.attendance_trend(board.trend))

    report.section(_("Dues"))
    dues = m.dues
    report.table(
        [_("Collection rate"), _("Members settled"), _("Collected (yuan)"),
         _("Owed today (yuan)"), _("Members in arrears")],
        [[percent_text(dues.percent), f"{dues.settled}/{dues.owing}",
          yuan(dues.collected_fen), yuan(dues.owed_fen) or "–", dues.in_arrears]],
        [1, 1, 1, 1, 1], numeric=(0, 1, 2, 3, 4),
    )  # fmt: skip

    report.section(_("Points"))
    points = m.points
    report.para(
        _("Average %(average)s points per member (%(total)d points, %(members)d members).",
          average=number_text(points.average), total=points.total,
          members=points.members)
    )  # fmt: skip
    if points.distribution:
        report.chart(charts.points_distribution(points))
    _assessment(report, board.assessment)
    if points.top:
        report.add(Spacer(1, 6))
        report.para(_("Top contributors"), "body")
        report.table([_("Member"), _("Points")], [list(t) for t in points.top], [4, 1],
                     numeric=(1,))  # fmt: skip

    report.section(_("Warnings"))
    if board.warned:
        report.table(
            [_("Name"), _("Warning"), _("Causes")],
            [[row.member.name, warning_name(row.standing.warning),
              "；".join(cause_text(c) for c in row.standing.causes)] for row in board.warned],
            [2, 1.5, 6],
            shade=lambda r, c: (
                _RED_SHADE if c == 1 and board.warned[r].standing.warning == "red"
                else _YELLOW_SHADE if c == 1 else None
            ),
        )  # fmt: skip
    else:
        report.none()

    report.section(_("Political birthdays"))
    if board.birthdays:
        report.table(
            [_("Name"), _("Day"), _("Years in the Party")],
            [[b.member.name, b.day.isoformat(), b.years] for b in board.birthdays],
            [3, 2, 2], numeric=(2,),
        )  # fmt: skip
    else:
        report.none()

    report.section(_("Pending"))
    pending = (
        [[_("Leave"), _name(x), _meeting_text(getattr(x, "meeting", None))]
         for x in board.pending_leave]
        + [[_("Make-up"), _name(x), _meeting_text(getattr(x, "meeting", None))]
           for x in board.pending_makeup]
        + [[_("Transfer"), _name(x), _transfer_text(x)] for x in board.pending_transfers]
    )  # fmt: skip
    if pending:
        report.table([_("Request"), _("Member"), _("About")], pending, [1.5, 2, 6])
    else:
        report.none()

    report.section(_("Meetings without their trace"))
    if board.untraced:
        report.table(
            [_("Meeting"), _("Kind of meeting"), _("Date")],
            [[x.title, kinds.get(x.kind, x.kind), _when(x.starts_at)] for x in board.untraced],
            [5, 2.5, 1.5],
        )  # fmt: skip
    else:
        report.none()


_MISSED_SHADE = colors.HexColor("#f8d7d7")
_RED_SHADE = colors.HexColor("#f8d7d7")
_YELLOW_SHADE = colors.HexColor("#fcf0c8")


def _transfer_text(transfer: Any) -> str:
    source = getattr(getattr(transfer, "from_unit", None), "name", "")
    target = getattr(getattr(transfer, "to_unit", None), "name", "")
    return f"{source} → {target}"


def _assessment(report: Report, assessment: Any) -> None:
    if assessment is None:
        return
    overall = assessment.overall
    report.para(
        _("Assessment of %(month)s: %(score)s points per member; %(follow)d members below "
          "%(threshold)d points to follow up.",
          month=assessment.month.strftime("%Y-%m"), score=number_text(overall.score),
          follow=len(assessment.follow_up_members), threshold=assessment.threshold)
    )  # fmt: skip
    if assessment.groups:
        report.table(
            [_("Group"), _("Members"), _("Points per member")],
            [[g.unit.name, g.members, number_text(g.score)] for g in assessment.groups],
            [4, 1, 1.5], numeric=(1, 2),
        )  # fmt: skip


def branch_report_pdf(board: Board, organisation: str = "") -> bytes:
    """A branch's board for a period on A4 paper (the monthly report)."""
    report = Report()
    _branch_story(report, board, organisation)
    title = f"{board.unit.name} {board.period.key}"
    return _render(report.story, title, _footer(organisation, board.unit, board.period))


def _footer(organisation: str, unit: Any, period: Period) -> str:
    return " · ".join(x for x in (organisation, unit.name, period.label()) if x)


# The committee's report


def committee_report_pdf(overview: Overview, boards: list[Board], organisation: str = "",
                         progress: ProgressCallback | None = None) -> bytes:  # fmt: skip
    """A summary of every branch under the overview's unit (its table of measures, targets
    missed marked, and charts), then each branch's board on pages of its own, in branch code
    order. ``progress(done, total)`` is called as each branch's pages are drawn."""
    report = Report()
    scope = overview.scope
    if organisation:
        report.para(organisation, "org")
    report.para(
        _("%(unit)s: report for %(period)s", unit=scope.name, period=overview.period.label()),
        "title",
    )  # fmt: skip
    rows = sorted(overview.rows, key=lambda r: r.code)
    report.para(
        _("%(branches)d branches, %(members)d members; figures as of %(today)s. Shaded: a "
          "must-reach target missed.", branches=len(rows),
          members=sum(r.members for r in rows), today=overview.today.isoformat()),
        "small",
    )  # fmt: skip
    names = charts.measure_names()
    report.table(
        [_("Code"), _("Branch"), _("Members")] + [names[m] for m in BOARD_MEASURES],
        [[r.code, r.name, r.members] + [value_text(m, r.value(m)) for m in BOARD_MEASURES]
         for r in rows],
        [1.3, 3.5, 1.1] + [1.3] * len(BOARD_MEASURES), numeric=tuple(range(2, 8)),
        shade=lambda i, c: (
            _MISSED_SHADE
            if c >= 3 and (check := rows[i].targets.get(BOARD_MEASURES[c - 3])) is not None
            and check.state == "missed" else None
        ),
    )  # fmt: skip
    if rows:
        report.chart(charts.overview_chart(rows, "compliance"))
        report.chart(charts.overview_chart(rows, "attendance"))
    ordered = sorted(boards, key=lambda b: b.unit.code)
    total = len(ordered)

    def pages_of(board: Board, done: int) -> Callable[[], list[Flowable]]:
        def build() -> list[Flowable]:
            part = Report()
            _branch_story(part, board, "")
            if progress is not None:
                part.add(_Progress(done, total, progress))
            return part.story

        return build

    for done, board in enumerate(ordered, start=1):
        report.add(PageBreak(), _Deferred(pages_of(board, done)))
    title = f"{scope.name} {overview.period.key}"
    return _render(report.story, title, _footer(organisation, scope, overview.period))


# Gathering what a report draws


def ready(board: Board) -> Board:
    """``board`` with everything the report draws loaded, so that it renders after its
    session is closed (relationships a page reads lazily are read here)."""
    for transfer in board.pending_transfers:
        _transfer_text(transfer), _name(transfer)
    for item in board.pending_leave + board.pending_makeup:
        _name(item), _meeting_text(getattr(item, "meeting", None))
    if board.assessment is not None:
        for group in board.assessment.groups:
            group.unit.name  # noqa: B018
    for row in board.warned:
        row.member.name  # noqa: B018
    for birthday in board.birthdays:
        birthday.member.name  # noqa: B018
    return board


def gather_committee(
    s: Any, scope: Any, period: Period, today: Any, progress: ProgressCallback | None = None
) -> tuple[Overview, list[Board]]:
    """The overview of ``scope`` and the board of each of its open branches, by code, read
    now so that the report is drawn without the database. ``progress(done, total)`` as each
    branch's board is read."""
    from qrservice.boards.board import branch_board
    from qrservice.boards.overview import branches_under, overview

    summary = overview(s, scope, period, today)
    branches = branches_under(s, scope)
    boards = []
    for done, branch in enumerate(branches, start=1):
        boards.append(ready(branch_board(s, branch, period, today)))
        if progress is not None:
            progress(done, len(branches))
    return summary, boards
