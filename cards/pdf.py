"""PDF member cards, welcome letters and badge sheets, in Chinese and English.

* ``render_card_pdf``: one 85.6 x 54 mm card on a card-sized page.
* ``render_letters_pdf``: one A4 letter per member with the card at full size and the personal PIN
  (the only place the PIN is ever printed).
* ``render_badge_sheet``: many cards on sheets described by ``cards.layouts``.

Chinese text uses the vendored Droid Sans Fallback TrueType font, embedded as a subset in every
document: reportlab's built-in CID fonts are not embedded and poppler draws them as empty boxes.
Droid has no Latin letters or digits, so each line is split into runs drawn with Droid or with
Helvetica. Every line shrinks to fit its box, and is cut with an ellipsis only below a minimum
size. QR codes are vector paths from ``QRMatrix.pdf_ops`` (crisp at any zoom), inserted as
precomputed operators: far cheaper than one canvas call per module.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from itertools import chain, islice

from reportlab import rl_config
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from cards.fonts import CJK_FONT_FILE
from cards.layouts import (
    A4_MM,
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    LAYOUTS,
    Layout,
    LayoutError,
    Rect,
    get_layout,
)
from cards.qr import QRMatrix, choose_error_level, encode, iter_encoded, pdf_draw_ops

__all__ = [
    "CODE_BOX",
    "CARD_TEXT",
    "INSTRUCTION",
    "LAYOUTS",
    "CardFace",
    "Layout",
    "LayoutError",
    "Letter",
    "TextBox",
    "card_code",
    "card_codes",
    "card_error_level",
    "draw_card",
    "draw_card_text",
    "fit_text",
    "get_layout",
    "register_fonts",
    "render_badge_sheet",
    "render_card_pdf",
    "render_letters_pdf",
    "text_runs",
    "text_width",
]

CJK_FONT = "DroidSansFallback"
LATIN_FONT = "Helvetica"
PIN_FONT = "Courier-Bold"
ELLIPSIS = "\u2026"

INSTRUCTION = "扫码查看我的电子活动证 / Scan to open your card"

LETTER_TEXT = {
    "zh": {
        "title": "党员电子活动证",
        "greeting": "{name}，您好：",
        "cut": "沿虚线剪下卡片，随身携带。",
        "pin": "您的个人PIN码",
        "steps": (
            "1. 用手机相机或微信扫描卡片上的二维码，打开您的电子活动证。",
            "2. 首次打开时输入上面的个人PIN码；PIN码只印在这封信上。",
            "3. 请妥善保管PIN码，不要告诉他人；卡片遗失请联系所在支部补办。",
        ),
    },
    "en": {
        "title": "Member card",
        "greeting": "Dear {name},",
        "cut": "Cut the card out along the dashed line and keep it with you.",
        "pin": "Your personal PIN",
        "steps": (
            "1. Scan the code on the card with your phone camera to open your member card.",
            "2. The first time, enter the personal PIN above; it is printed only on this letter.",
            "3. Keep your PIN private. If you lose your card, ask your branch for a new one.",
        ),
    },
}
LANGUAGES = ("zh", "en", "both")


@dataclass(frozen=True)
class TextBox:
    """A line of text: left end of its baseline (mm), width (mm), font size range (pt)."""

    x: float
    baseline: float
    width: float
    max_size: float
    min_size: float

    @property
    def rect(self) -> Rect:
        """Area the line can ink (mm): from below the baseline to the top of the tallest glyph."""
        size_mm = self.max_size * 25.4 / 72
        return Rect(self.x, self.baseline - 0.25 * size_mm, self.width, 1.25 * size_mm)


# The card design in card coordinates (mm, origin bottom-left of the 85.6 x 54 mm card). The code
# box includes the 4-module quiet zone, so text boxes may end at its edge.
CARD_TEXT = {
    "org": TextBox(4.0, 47.6, 77.6, 10.0, 5.0),
    "name": TextBox(4.0, 34.5, 51.0, 16.0, 6.0),
    "number": TextBox(4.0, 28.5, 51.0, 9.0, 5.0),
    "branch": TextBox(4.0, 23.0, 51.0, 9.0, 5.0),
    "instruction": TextBox(4.0, 8.6, 77.6, 7.5, 5.0),
    "issued": TextBox(4.0, 3.8, 77.6, 6.0, 4.5),
}
CODE_BOX = Rect(56.1, 13.0, 28.0, 28.0)
RULE_Y = 44.8

# Letter positions (mm from the bottom of an A4 page).
_LETTER_LEFT = 25.0
_LETTER_WIDTH = A4_MM[0] - 2 * _LETTER_LEFT
_LETTER_CARD_X = (A4_MM[0] - CARD_WIDTH_MM) / 2
_LETTER_CARD_Y = 178.0

_font_lock = threading.Lock()


def register_fonts() -> None:
    """Register the embedded CJK font with reportlab once per process (parsing takes ~0.2 s)."""
    with _font_lock:
        if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(CJK_FONT, str(CJK_FONT_FILE)))
            # reportlab wraps compressed streams in ASCII85 by default; without its optional C
            # accelerator that is a large share of the time to write a badge sheet, and it makes
            # the file about 20% larger. Binary streams are plain PDF. This setting is
            # process-wide in reportlab, so it is made once, here.
            rl_config.useA85 = 0


@cache
def _cjk_chars() -> frozenset[int]:
    register_fonts()
    font = pdfmetrics.getFont(CJK_FONT)
    return frozenset(font.face.charToGlyph)


@lru_cache(maxsize=8192)
def text_runs(text: str) -> tuple[tuple[str, str], ...]:
    """``text`` split into (font name, substring) runs: Droid for what it has beyond ASCII,
    Helvetica for the rest (Droid has no Latin letters or digits)."""
    cjk = _cjk_chars()
    runs: list[tuple[str, list[str]]] = []
    for char in text:
        font = CJK_FONT if not char.isascii() and ord(char) in cjk else LATIN_FONT
        if runs and runs[-1][0] == font:
            runs[-1][1].append(char)
        else:
            runs.append((font, [char]))
    return tuple((font, "".join(chars)) for font, chars in runs)


def text_width(text: str, size: float) -> float:
    """Width in points of ``text`` drawn at ``size`` points with the font of each run."""
    return sum(pdfmetrics.stringWidth(run, font, size) for font, run in text_runs(text))


def fit_text(text: str, width: float, max_size: float, min_size: float) -> tuple[str, float]:
    """The text and font size (points) that fit ``width`` points: the largest size up to
    ``max_size``; below ``min_size`` the text is cut and ends with an ellipsis."""
    natural = text_width(text, max_size)
    if natural <= width:
        return text, max_size
    # Width is proportional to size; the small factor absorbs floating-point rounding.
    size = max_size * width / natural * 0.999
    if size >= min_size:
        return text, size
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if text_width(text[:middle].rstrip() + ELLIPSIS, min_size) <= width:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS, min_size


@dataclass(frozen=True)
class CardFace:
    """What is printed on a card. ``qr`` is the kept matrix for ``url``; None encodes it now."""

    org_name: str
    member_name: str
    member_number: str
    branch_name: str
    url: str
    issued_on: date
    version: int
    qr: QRMatrix | None = None


@dataclass(frozen=True)
class Letter:
    """A welcome letter: the member's card and the personal PIN shown only on it."""

    face: CardFace
    pin: str


def card_error_level(url: str) -> str:
    """Error correction for a card code: chosen for the code's printed size on the card."""
    return choose_error_level(len(url.encode("utf-8")), CODE_BOX.width)


def card_code(url: str) -> QRMatrix:
    """The matrix to keep for a card URL (encoded at the card's error level)."""
    return encode(url, card_error_level(url))


def card_codes(urls: Sequence[str], processes: int | None = None) -> list[QRMatrix]:
    """Matrices to keep for many card URLs, encoded on every core (or ``processes``)."""
    return list(iter_encoded(urls, [card_error_level(url) for url in urls], processes))


#: Faces taken from the caller's iterable at a time: their missing codes are encoded together
#: (one pool of worker processes per chunk), and no more faces than this are held at once, so a
#: sheet of any size is drawn in bounded memory (a face's matrix, with the rectangles and path
#: operators kept on it once drawn, weighs about 30 KB).
FACE_CHUNK = 1000


def _with_codes(
    faces: Iterable[CardFace], processes: int | None
) -> Iterator[tuple[CardFace, QRMatrix]]:
    # Codes not kept yet are encoded in worker processes while the pages are being drawn.
    remaining = iter(faces)
    while pending := deque(islice(remaining, FACE_CHUNK)):
        missing = [face.url for face in pending if face.qr is None]
        encoded = iter_encoded(missing, [card_error_level(url) for url in missing], processes)
        try:
            while pending:
                face = pending.popleft()  # dropped once drawn
                yield face, face.qr if face.qr is not None else next(encoded)
        finally:
            encoded.close()


def _draw_line(
    canvas: Canvas,
    text: str,
    box: TextBox,
    align: str = "left",
    cache: dict[tuple[str, TextBox, str], str] | None = None,
) -> None:
    """Draw ``text`` fitted to ``box``. ``cache`` (one per document) keeps the operators of lines
    already drawn: the organisation name and instruction repeat on every badge of a sheet."""
    if not text:
        return
    key = (text, box, align)
    if cache is not None and key in cache:
        canvas.addLiteral(cache[key])
        return
    fitted, size = fit_text(text, box.width * mm, box.max_size, box.min_size)
    x = box.x * mm
    if align == "centre":
        x += (box.width * mm - text_width(fitted, size)) / 2
    line = canvas.beginText(x, box.baseline * mm)
    for font, run in text_runs(fitted):
        line.setFont(font, size)
        line.textOut(run)
    # The same as canvas.drawText(line); the operator text is valid for this whole document,
    # whose font subsets already hold these glyphs.
    code = line.getCode()
    canvas.addLiteral(code)
    if cache is not None:
        cache[key] = code


def issued_line(face: CardFace) -> str:
    return f"发证日期 Issued {face.issued_on.isoformat()} · 版本 Version {face.version}"


def draw_card(
    canvas: Canvas,
    face: CardFace,
    x: float,
    y: float,
    scale: float = 1.0,
    code: QRMatrix | None = None,
    cache: dict[tuple[str, TextBox, str], str] | None = None,
) -> None:
    """Draw one card with its bottom-left corner at (x, y) points, ``scale`` times 85.6 x 54 mm.

    ``code`` overrides ``face.qr``; with neither, the URL is encoded here (slow in a loop).
    ``cache``: an empty dict per document, shared by its cards, makes repeated lines cheap.
    """
    matrix = code or face.qr or card_code(face.url)
    canvas.saveState()
    canvas.translate(x, y)
    if scale != 1.0:
        canvas.scale(scale, scale)
    draw_card_text(canvas, face, cache)
    canvas.addLiteral(pdf_draw_ops(matrix, CODE_BOX.x * mm, CODE_BOX.y * mm, CODE_BOX.width * mm))
    canvas.restoreState()


def draw_card_text(
    canvas: Canvas, face: CardFace, cache: dict[tuple[str, TextBox, str], str] | None = None
) -> None:
    """Everything on a card but its code, in card coordinates (origin at the card's corner)."""
    _draw_line(canvas, face.org_name, CARD_TEXT["org"], cache=cache)
    # A member's name and number are the member's own: cached, they would only fill the cache.
    _draw_line(canvas, face.member_name, CARD_TEXT["name"])
    _draw_line(canvas, f"党员编号 No. {face.member_number}", CARD_TEXT["number"])
    _draw_line(canvas, face.branch_name, CARD_TEXT["branch"], cache=cache)
    _draw_line(canvas, INSTRUCTION, CARD_TEXT["instruction"], cache=cache)
    _draw_line(canvas, issued_line(face), CARD_TEXT["issued"], cache=cache)
    rule = CARD_TEXT["org"]
    canvas.setLineWidth(0.5)
    canvas.line(rule.x * mm, RULE_Y * mm, (rule.x + rule.width) * mm, RULE_Y * mm)


def _canvas(out: io.BytesIO, page_mm: tuple[float, float], title: str, author: str) -> Canvas:
    register_fonts()
    # invariant: no random document id. It would also date the document 2000-01-01, so the
    # real creation time (UTC) is written instead; the author is the issuing organisation.
    canvas = Canvas(
        out, pagesize=(page_mm[0] * mm, page_mm[1] * mm), pageCompression=1, invariant=1
    )
    created = datetime.now(UTC)
    canvas.setDateFormatter(lambda *_fixed: created.strftime("D:%Y%m%d%H%M%S+00'00'"))
    canvas.setTitle(title)
    canvas.setAuthor(author)
    canvas.setSubject("党员电子活动证 / Member cards")
    canvas.setCreator("qrservice cards")
    return canvas


def render_card_pdf(face: CardFace) -> bytes:
    """One card on a page of its own size (85.6 x 54 mm), e.g. for a card printer."""
    out = io.BytesIO()
    canvas = _canvas(
        out, (CARD_WIDTH_MM, CARD_HEIGHT_MM), f"{face.org_name} {face.member_name}", face.org_name
    )
    draw_card(canvas, face, 0, 0)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _letter_lines(lang: str, key: str, **values: str) -> list[str]:
    languages = ("zh", "en") if lang == "both" else (lang,)
    return [LETTER_TEXT[language][key].format(**values) for language in languages]


def _draw_letter(canvas: Canvas, letter: Letter, code: QRMatrix, lang: str) -> None:
    face = letter.face
    page_top = A4_MM[1]

    def line(text: str, baseline: float, size: float, align: str = "left") -> None:
        box = TextBox(_LETTER_LEFT, baseline, _LETTER_WIDTH, size, min(size, 6.0))
        _draw_line(canvas, text, box, align)

    line(face.org_name, page_top - 28, 16)
    line(" / ".join(_letter_lines(lang, "title")), page_top - 38, 12)
    for index, greeting in enumerate(_letter_lines(lang, "greeting", name=face.member_name)):
        line(greeting, page_top - 52 - 6 * index, 11)

    canvas.saveState()
    canvas.setDash(3, 2)
    canvas.setLineWidth(0.5)
    canvas.rect(_LETTER_CARD_X * mm, _LETTER_CARD_Y * mm, CARD_WIDTH_MM * mm, CARD_HEIGHT_MM * mm)
    canvas.restoreState()
    draw_card(canvas, face, _LETTER_CARD_X * mm, _LETTER_CARD_Y * mm, code=code)
    line(" ".join(_letter_lines(lang, "cut")), _LETTER_CARD_Y - 6, 8, "centre")

    line(" / ".join(_letter_lines(lang, "pin")), 150, 11)
    canvas.setFont(PIN_FONT, 22)
    canvas.drawString(_LETTER_LEFT * mm, 139 * mm, letter.pin)

    baseline = 122.0
    for index in range(3):
        for language in ("zh", "en") if lang == "both" else (lang,):
            line(LETTER_TEXT[language]["steps"][index], baseline, 10)
            baseline -= 6.5
        baseline -= 3.0
    line(issued_line(face), 20, 8)


def render_letters_pdf(letters: Iterable[Letter], lang: str = "both") -> bytes:
    """One A4 page per member: the card at full size, the PIN and three instruction lines.

    ``lang`` is 'zh', 'en' or 'both' (each instruction in Chinese, then English).
    """
    if lang not in LANGUAGES:
        raise ValueError(f"lang must be one of {', '.join(LANGUAGES)}")
    remaining = iter(letters)
    first = next(remaining, None)
    if first is None:
        raise ValueError("no letters to print")
    out = io.BytesIO()
    canvas = _canvas(out, A4_MM, "Member cards / 党员电子活动证", first.face.org_name)
    # Taken one at a time (the letters may be made as they are drawn), each with its face.
    pairs = ((letter, letter.face) for letter in chain((first,), remaining))
    held: deque[Letter] = deque()

    def faces() -> Iterator[CardFace]:
        for letter, face in pairs:
            if not letter.pin.strip():
                raise ValueError(f"letter for {face.member_number} has no PIN")
            held.append(letter)
            yield face

    for _face, code in _with_codes(faces(), processes=None):
        _draw_letter(canvas, held.popleft(), code, lang)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


@lru_cache(maxsize=64)
def _crop_mark_ops(layout: Layout) -> str:
    lines = layout.crop_mark_lines()
    if not lines:
        return ""
    ops = [
        f"{x1 * mm:.2f} {y1 * mm:.2f} m {x2 * mm:.2f} {y2 * mm:.2f} l" for x1, y1, x2, y2 in lines
    ]
    return "q 0.3 w 0 G\n" + "\n".join(ops) + "\nS Q"


def render_badge_sheet(
    faces: Iterable[CardFace],
    layout: str | Layout = "a4-10",
    progress: Callable[[int, int], None] | None = None,
    processes: int | None = None,
    total: int | None = None,
) -> bytes:
    """Badges on sheets of ``layout`` (a name from ``cards.layouts.LAYOUTS`` or a ``Layout``).

    ``faces`` may be a generator: they are taken a chunk at a time and not kept once drawn,
    so memory does not grow with their number. ``progress(done, total)`` is called after each
    page; ``total`` is ``len(faces)`` unless given. Faces without a kept ``qr`` are encoded on
    ``processes`` worker processes (default: every core) while pages are drawn.
    """
    layout = get_layout(layout)
    badges = [(rect.x * mm, rect.y * mm) for rect in layout.badges()]
    if total is None and isinstance(faces, Sized):
        total = len(faces)
    stream = _with_codes(faces, processes)
    first = next(stream, None)
    if first is None:
        raise ValueError("no badges to print")
    out = io.BytesIO()
    title = f"Badges / 胸卡 ({layout.name})"
    canvas = _canvas(out, layout.page_size, title, first[0].org_name)
    scale = layout.badge_scale
    marks = _crop_mark_ops(layout)
    cache: dict[tuple[str, TextBox, str], str] = {}
    remaining = chain((first,), stream)
    done = 0
    while page := list(islice(remaining, layout.per_page)):
        for (face, code), (x, y) in zip(page, badges, strict=False):
            draw_card(canvas, face, x, y, scale, code, cache)
        if marks:
            canvas.addLiteral(marks)
        canvas.showPage()
        done += len(page)
        if progress is not None:
            progress(done, total if total is not None else done)
    canvas.save()
    return out.getvalue()
