"""Badge sheet layouts as data: page size, grid, margins and gaps of each printable stock.

All lengths are millimetres, origin at the bottom-left corner of the page (PDF convention).
Adding a stock is a few lines in ``LAYOUTS``; a layout that cannot fit its page, or whose cells
cannot hold a badge, is refused with ``LayoutError`` as soon as it is defined.

A badge is the 85.6 x 54 mm card design. On a stock whose cells are slightly smaller it is scaled
down uniformly and centred in its cell, but never below ``MIN_BADGE_SCALE``: the scale at which
the largest card code still prints modules of ``cards.qr.MIN_MODULE_MM`` (0.6 mm), the size the
README promises. A stock that would need more shrinking is refused, not printed smaller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from cards.qr import MIN_MODULE_MM, QUIET_ZONE

CARD_WIDTH_MM = 85.6
CARD_HEIGHT_MM = 54.0
A4_MM = (210.0, 297.0)
LETTER_MM = (215.9, 279.4)
INCH_MM = 25.4

#: Width of the card's QR code at full size, its quiet zone included (``cards.pdf.CODE_BOX``).
CODE_WIDTH_MM = 28.0


def _largest_card_symbol() -> int:
    """Modules across (quiet zone included) of the largest code a card prints at full size.

    ``cards.qr.choose_error_level`` takes the strongest error level whose symbol keeps modules of
    at least ``MIN_MODULE_MM`` in ``CODE_WIDTH_MM``, so a card code is at most the largest QR
    version (17 + 4v modules, plus the quiet zone) that does.
    """
    version = 1
    while CODE_WIDTH_MM / (17 + 4 * (version + 1) + 2 * QUIET_ZONE) >= MIN_MODULE_MM:
        version += 1
    return 17 + 4 * version + 2 * QUIET_ZONE


LARGEST_CARD_SYMBOL = _largest_card_symbol()
#: The smallest a badge may be scaled: its code's modules stay at least ``MIN_MODULE_MM``
#: (0.964: 85 x 54 mm label stock prints at 0.993; 90 x 52 mm and 3.5 x 2 in stocks do not fit).
MIN_BADGE_SCALE = MIN_MODULE_MM * LARGEST_CARD_SYMBOL / CODE_WIDTH_MM
# Crop marks start this far outside the cut line (so that a slightly off cut does not show them)
# and need this much paper beyond, most printers leaving the outer 4-5 mm blank.
CROP_MARK_OFFSET_MM = 2.0
CROP_MARK_LENGTH_MM = 4.0
CROP_MARK_MIN_MARGIN_MM = CROP_MARK_OFFSET_MM + CROP_MARK_LENGTH_MM + 4.0
_TOLERANCE_MM = 0.01


class LayoutError(ValueError):
    """A layout cannot be printed as defined, or no layout has the requested name."""


class Rect(NamedTuple):
    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def top(self) -> float:
        return self.y + self.height

    def contains(self, other: Rect, tolerance: float = _TOLERANCE_MM) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.y >= self.y - tolerance
            and other.right <= self.right + tolerance
            and other.top <= self.top + tolerance
        )

    def overlaps(self, other: Rect) -> bool:
        return (
            other.x < self.right - _TOLERANCE_MM
            and self.x < other.right - _TOLERANCE_MM
            and other.y < self.top - _TOLERANCE_MM
            and self.y < other.top - _TOLERANCE_MM
        )


@dataclass(frozen=True)
class Layout:
    """A sheet of ``columns`` x ``rows`` cells filled row by row from the top left."""

    name: str
    description: str
    page_size: tuple[float, float]
    columns: int
    rows: int
    cell_width: float
    cell_height: float
    margin_left: float
    margin_top: float
    gap_x: float = 0.0
    gap_y: float = 0.0
    crop_marks: bool = False
    _cells: tuple[Rect, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        page_width, page_height = self.page_size
        if self.columns < 1 or self.rows < 1:
            raise LayoutError(f"layout {self.name!r}: needs at least one column and one row")
        if min(self.cell_width, self.cell_height) <= 0:
            raise LayoutError(f"layout {self.name!r}: cells must have a positive size")
        if min(self.margin_left, self.margin_top, self.gap_x, self.gap_y) < 0:
            raise LayoutError(f"layout {self.name!r}: margins and gaps cannot be negative")
        used_width = (
            self.margin_left + self.columns * self.cell_width + (self.columns - 1) * self.gap_x
        )
        used_height = self.margin_top + self.rows * self.cell_height + (self.rows - 1) * self.gap_y
        if used_width > page_width + _TOLERANCE_MM:
            raise LayoutError(
                f"layout {self.name!r}: {self.columns} columns of {self.cell_width:g} mm with "
                f"{self.gap_x:g} mm gaps and a {self.margin_left:g} mm left margin need "
                f"{used_width:g} mm, but the page is {page_width:g} mm wide"
            )
        if used_height > page_height + _TOLERANCE_MM:
            raise LayoutError(
                f"layout {self.name!r}: {self.rows} rows of {self.cell_height:g} mm with "
                f"{self.gap_y:g} mm gaps and a {self.margin_top:g} mm top margin need "
                f"{used_height:g} mm, but the page is {page_height:g} mm high"
            )
        if self.badge_scale < MIN_BADGE_SCALE - 1e-9:
            least = (
                f"{CARD_WIDTH_MM * MIN_BADGE_SCALE:.1f} x {CARD_HEIGHT_MM * MIN_BADGE_SCALE:.1f}"
            )
            raise LayoutError(
                f"layout {self.name!r}: a {CARD_WIDTH_MM:g} x {CARD_HEIGHT_MM:g} mm badge does not "
                f"fit cells of {self.cell_width:g} x {self.cell_height:g} mm: shrunk to fit, its "
                f"QR code would print modules of {self.smallest_module_mm:.3f} mm, under "
                f"{MIN_MODULE_MM:g} mm (cells must be at least {least} mm)"
            )
        if self.crop_marks:
            margins = (
                self.margin_left,
                self.margin_top,
                page_width - used_width,
                page_height - used_height,
            )
            if min(margins) < CROP_MARK_MIN_MARGIN_MM - _TOLERANCE_MM:
                raise LayoutError(
                    f"layout {self.name!r}: crop marks need margins of at least "
                    f"{CROP_MARK_MIN_MARGIN_MM:g} mm on every side"
                )
        cells = []
        for row in range(self.rows):
            top = page_height - self.margin_top - row * (self.cell_height + self.gap_y)
            for column in range(self.columns):
                left = self.margin_left + column * (self.cell_width + self.gap_x)
                cells.append(Rect(left, top - self.cell_height, self.cell_width, self.cell_height))
        object.__setattr__(self, "_cells", tuple(cells))

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    @property
    def page(self) -> Rect:
        return Rect(0.0, 0.0, *self.page_size)

    @property
    def badge_scale(self) -> float:
        """Uniform scale of the card design in a cell: shrink to fit, never enlarge."""
        return min(1.0, self.cell_width / CARD_WIDTH_MM, self.cell_height / CARD_HEIGHT_MM)

    def module_mm(self, symbol_size: int) -> float:
        """Printed size (mm) of one module of a ``symbol_size``-module code on this layout's
        badges (``symbol_size`` without the quiet zone, as ``QRMatrix.size``)."""
        return CODE_WIDTH_MM * self.badge_scale / (symbol_size + 2 * QUIET_ZONE)

    @property
    def smallest_module_mm(self) -> float:
        """The smallest module any card code prints at on this layout."""
        return self.module_mm(LARGEST_CARD_SYMBOL - 2 * QUIET_ZONE)

    def cells(self) -> tuple[Rect, ...]:
        """The cells of one page, row by row from the top left."""
        return self._cells

    def badges(self) -> tuple[Rect, ...]:
        """Where badges are drawn on each page: the scaled card centred in each cell."""
        scale = self.badge_scale
        width, height = CARD_WIDTH_MM * scale, CARD_HEIGHT_MM * scale
        return tuple(
            Rect(
                cell.x + (cell.width - width) / 2,
                cell.y + (cell.height - height) / 2,
                width,
                height,
            )
            for cell in self._cells
        )

    def crop_mark_lines(self) -> tuple[tuple[float, float, float, float], ...]:
        """Crop marks as (x1, y1, x2, y2) segments in the margins, one pair per cut line, so that a
        guillotine can be lined up on every badge edge without marks on the badges."""
        if not self.crop_marks:
            return ()
        badges = self.badges()
        left = min(b.x for b in badges)
        right = max(b.right for b in badges)
        bottom = min(b.y for b in badges)
        top = max(b.top for b in badges)
        near, far = CROP_MARK_OFFSET_MM, CROP_MARK_OFFSET_MM + CROP_MARK_LENGTH_MM
        lines = []
        for x in sorted({round(v, 3) for b in badges for v in (b.x, b.right)}):
            lines.append((x, top + near, x, top + far))
            lines.append((x, bottom - near, x, bottom - far))
        for y in sorted({round(v, 3) for b in badges for v in (b.y, b.top)}):
            lines.append((left - near, y, left - far, y))
            lines.append((right + near, y, right + far, y))
        return tuple(lines)


def _centred(
    name: str,
    description: str,
    page_size: tuple[float, float],
    columns: int,
    rows: int,
    cell: tuple[float, float],
    gaps: tuple[float, float] = (0.0, 0.0),
    crop_marks: bool = False,
) -> Layout:
    """A layout whose grid is centred on the page (for plain paper cut by hand)."""
    width = columns * cell[0] + (columns - 1) * gaps[0]
    height = rows * cell[1] + (rows - 1) * gaps[1]
    return Layout(
        name=name,
        description=description,
        page_size=page_size,
        columns=columns,
        rows=rows,
        cell_width=cell[0],
        cell_height=cell[1],
        margin_left=(page_size[0] - width) / 2,
        margin_top=(page_size[1] - height) / 2,
        gap_x=gaps[0],
        gap_y=gaps[1],
        crop_marks=crop_marks,
    )


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        _centred(
            "a4-10",
            "A4 plain paper, 2 x 5 credit-card badges (85.6 x 54 mm) with crop marks",
            A4_MM,
            2,
            5,
            (CARD_WIDTH_MM, CARD_HEIGHT_MM),
            crop_marks=True,
        ),
        # Geometry of Avery C32011 (and look-alikes): 85 x 54 mm, 15 mm / 13.5 mm margins.
        Layout(
            name="a4-2x5-85x54",
            description="A4 business-card stock, 2 x 5 cards of 85 x 54 mm (Avery C32011 type)",
            page_size=A4_MM,
            columns=2,
            rows=5,
            cell_width=85.0,
            cell_height=54.0,
            margin_left=15.0,
            margin_top=13.5,
            gap_x=10.0,
        ),
        # Geometry of Avery C32015: 85 x 54 mm on a 91 x 60 mm pitch.
        Layout(
            name="a4-2x4-85x54",
            description="A4 business-card stock, 2 x 4 cards of 85 x 54 mm (Avery C32015 type)",
            page_size=A4_MM,
            columns=2,
            rows=4,
            cell_width=85.0,
            cell_height=54.0,
            margin_left=17.0,
            margin_top=31.5,
            gap_x=6.0,
            gap_y=6.0,
        ),
        _centred(
            "letter-8",
            "US Letter plain paper, 2 x 4 credit-card badges (85.6 x 54 mm) with crop marks",
            LETTER_MM,
            2,
            4,
            (CARD_WIDTH_MM, CARD_HEIGHT_MM),
            crop_marks=True,
        ),
        # Not offered: 90 x 52 mm stock (Avery L7414) and 3.5 x 2 in stock (Avery 5371) are under
        # 54 mm high, so the badge would shrink its code's modules below 0.6 mm (a test shows
        # that they are refused).
    )
}


def get_layout(layout: str | Layout) -> Layout:
    """The layout named ``layout`` (or ``layout`` itself); ``LayoutError`` lists valid names."""
    if isinstance(layout, Layout):
        return layout
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise LayoutError(
            f"unknown layout {layout!r}; valid layouts: {', '.join(sorted(LAYOUTS))}"
        ) from None
