"""QR codes: encode once per card version, keep the matrix, draw it many times.

Encoding in pure Python (segno) costs a few milliseconds, mostly spent choosing the mask, so the
app encodes a card's URL once, stores ``QRMatrix.to_bytes()`` (a couple of hundred bytes) and
draws from that: as SVG or PNG for screens, and as precomputed PDF path operators for paper.
``encode_many`` spreads a large batch over the machine's cores.

Every drawing keeps the 4-module quiet zone that readers need around the symbol.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cached_property

import segno
from PIL import Image

logger = logging.getLogger(__name__)

QUIET_ZONE = 4
ERROR_LEVELS = ("l", "m", "q", "h")

# Byte-mode capacity (bytes) of QR versions 1-10 per error level, from ISO/IEC 18004 table 7.
# Card URLs are well under 100 bytes, so larger versions are not needed to choose a level.
_BYTE_CAPACITY = {
    "l": (17, 32, 53, 78, 106, 134, 154, 192, 230, 271),
    "m": (14, 26, 42, 62, 84, 106, 122, 152, 180, 213),
    "q": (11, 20, 32, 46, 60, 74, 86, 108, 130, 151),
    "h": (7, 14, 24, 34, 44, 58, 64, 84, 98, 119),
}

# Smallest printed module we accept when choosing an error level: a deliberate margin over what
# phone cameras need at arm's length, for worn cards, old phones and office printers' toner
# spread. A stronger error level needs a larger version, hence smaller modules at the same
# printed size, so the strongest level is taken only while modules stay at least this large.
MIN_MODULE_MM = 0.6

# Below this many codes, starting worker processes costs more than it saves.
_POOL_THRESHOLD = 48

_DARK_RUN = re.compile(rb"\x01+")
# Maps a packed byte to its 8 modules as 0/1 bytes, most significant bit first.
_UNPACK = [bytes((value >> shift) & 1 for shift in range(7, -1, -1)) for value in range(256)]
_FORMAT = 1
_TO_DIGIT = bytes([48, 49] + [0] * 254)  # module 0/1 -> "0"/"1"
_TO_GREY = bytes([255, 0] + [0] * 254)  # module 0/1 -> white/black grey level


@dataclass(frozen=True)
class QRMatrix:
    """A QR symbol without its quiet zone: ``rows[y][x]`` is 1 for a dark module, top row first."""

    size: int
    rows: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not 21 <= self.size <= 177 or (self.size - 17) % 4:
            raise ValueError(f"{self.size} is not the side of a QR symbol")
        if len(self.rows) != self.size or any(len(row) != self.size for row in self.rows):
            raise ValueError("QR matrix rows do not match its size")

    def dark(self, x: int, y: int) -> bool:
        return self.rows[y][x] == 1

    def to_bytes(self) -> bytes:
        """Compact form for a database column: format byte, side, then one bit per module."""
        bits = b"".join(self.rows)
        bits += b"\x00" * (-len(bits) % 8)
        packed = int(bits.translate(_TO_DIGIT), 2).to_bytes(len(bits) // 8, "big")
        return bytes((_FORMAT, self.size)) + packed

    @classmethod
    def from_bytes(cls, data: bytes) -> QRMatrix:
        if len(data) < 2 or data[0] != _FORMAT:
            raise ValueError("not a stored QR matrix")
        size = data[1]
        if len(data) != 2 + (size * size + 7) // 8:
            raise ValueError("stored QR matrix has the wrong length")
        bits = b"".join([_UNPACK[value] for value in data[2:]])
        return cls(size, tuple(bits[y * size : (y + 1) * size] for y in range(size)))

    @cached_property
    def rectangles(self) -> tuple[tuple[int, int, int, int], ...]:
        """Dark modules as rectangles (x, y from top, width, height) in module units.

        Runs of dark modules along a row become one rectangle, and a run repeated at the same
        place on the following rows grows downwards (finder patterns, vertical bars), so that
        drawings and PDFs stay small.
        """
        # One regex pass over all rows joined by a light separator; a run continues the rectangle
        # of the identical run (same x and width) on the row just above, if there is one.
        stride = self.size + 1
        rects: list[tuple[int, int, int, int]] = []
        open_runs: dict[tuple[int, int], list[int]] = {}
        for match in _DARK_RUN.finditer(b"\x00".join(self.rows)):
            start, end = match.span()
            y, x = divmod(start, stride)
            key = (x, end - start)
            run = open_runs.get(key)
            if run is not None and run[1] == y - 1:
                run[1] = y
                continue
            if run is not None:
                rects.append((x, run[0], key[1], run[1] - run[0] + 1))
            open_runs[key] = [y, y]
        for (x, width), (top, bottom) in open_runs.items():
            rects.append((x, top, width, bottom - top + 1))
        # Reading order: codes of one version then share long identical stretches (finder and
        # timing patterns), which page compression turns into a few bytes.
        rects.sort(key=lambda rect: (rect[1], rect[0]))
        return tuple(rects)

    @cached_property
    def pdf_ops(self) -> str:
        """PDF path operators filling the dark modules, one unit per module, origin bottom-left
        of the symbol (quiet zone excluded). One path and one fill, so that rasterisers do not
        leave hairline seams between neighbouring rectangles."""
        size = self.size
        ops = [f"{x} {size - y - h} {w} {h} re" for x, y, w, h in self.rectangles]
        ops.append("f")
        return "\n".join(ops)


def encode(text: str, error: str = "m") -> QRMatrix:
    """Encode ``text`` as a (never micro) QR symbol at error level ``error`` ('l','m','q','h').

    segno may raise the level when the data fits the same version anyway; that is free.
    """
    if error not in ERROR_LEVELS:
        raise ValueError(f"error level must be one of {', '.join(ERROR_LEVELS)}")
    symbol = segno.make(text, error=error, micro=False)
    return QRMatrix(len(symbol.matrix), tuple(bytes(row) for row in symbol.matrix))


def pdf_path_ops(matrix: QRMatrix) -> str:
    """The kept vector form of ``matrix`` for PDFs (see ``QRMatrix.pdf_ops``); cached on it."""
    return matrix.pdf_ops


def pdf_draw_ops(matrix: QRMatrix, x: float, y: float, width: float) -> str:
    """PDF operators drawing ``matrix`` in a ``width``-wide square (quiet zone included) whose
    bottom-left corner is at (x, y), in the current user space."""
    module = width / (matrix.size + 2 * QUIET_ZONE)
    origin_x = x + QUIET_ZONE * module
    origin_y = y + QUIET_ZONE * module
    return (
        f"q {module:.5f} 0 0 {module:.5f} {origin_x:.3f} {origin_y:.3f} cm 0 g\n{matrix.pdf_ops}\nQ"
    )


def version_for(data_length: int, error: str) -> int | None:
    """Smallest QR version (1-10) holding ``data_length`` bytes at ``error``, else None."""
    for index, capacity in enumerate(_BYTE_CAPACITY[error]):
        if data_length <= capacity:
            return index + 1
    return None


def choose_error_level(
    data_length: int, printed_width_mm: float, min_module_mm: float = MIN_MODULE_MM
) -> str:
    """The strongest error level whose symbol, printed ``printed_width_mm`` wide with its quiet
    zone, keeps modules of at least ``min_module_mm``.

    On an 85.6 x 54 mm card with a 28 mm code and a ~65 byte URL this gives 'm' (15% of the
    symbol may be damaged); with a shorter URL, or where there is more room, it gives 'q' or 'h'.
    Falls back to 'l' (the smallest symbol) when nothing reaches the minimum.
    """
    for error in ("h", "q", "m"):
        version = version_for(data_length, error)
        if version is not None:
            modules = 17 + 4 * version + 2 * QUIET_ZONE
            if printed_width_mm / modules >= min_module_mm:
                return error
    return "l"


def to_svg(matrix: QRMatrix, module_px: int = 8, border: int = QUIET_ZONE) -> str:
    """Standalone SVG: a white square with one black path, drawn with crisp edges."""
    if border < QUIET_ZONE:
        raise ValueError(f"the quiet zone must be at least {QUIET_ZONE} modules")
    side = matrix.size + 2 * border
    pixels = side * module_px
    path = "".join(f"M{x + border} {y + border}h{w}v{h}h-{w}z" for x, y, w, h in matrix.rectangles)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def to_png(matrix: QRMatrix, scale: int = 8, border: int = QUIET_ZONE) -> bytes:
    """1-bit PNG, each module ``scale`` pixels square (nearest neighbour, no smoothing)."""
    if border < QUIET_ZONE:
        raise ValueError(f"the quiet zone must be at least {QUIET_ZONE} modules")
    if scale < 1:
        raise ValueError("scale must be at least 1")
    side = matrix.size + 2 * border
    # Mode "L" values 0/255 from the 0/1 rows, then a nearest-neighbour enlargement.
    white_rows = b"\xff" * (side * border)
    pad = b"\xff" * border
    body = b"".join(pad + row.translate(_TO_GREY) + pad for row in matrix.rows)
    image = Image.frombytes("L", (side, side), white_rows + body + white_rows)
    image = image.resize((side * scale, side * scale), Image.Resampling.NEAREST).convert("1")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _encode_packed(job: tuple[str, str]) -> bytes:
    # Runs in a worker process: the packed form is ~10x smaller to send back than the rows.
    text, error = job
    return encode(text, error).to_bytes()


def default_processes() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def iter_encoded(
    texts: Sequence[str], error: str | Sequence[str] = "m", processes: int | None = None
) -> Iterator[QRMatrix]:
    """Encode ``texts`` in order, yielding each matrix as soon as it is ready.

    ``error`` is one level for all, or one per text. Large batches use a pool of ``processes``
    (default: every core) so that a caller can draw while the rest is still being encoded.
    """
    levels = [error] * len(texts) if isinstance(error, str) else list(error)
    if len(levels) != len(texts):
        raise ValueError("one error level per text, or a single one for all")
    processes = default_processes() if processes is None else processes
    if processes <= 1 or len(texts) < _POOL_THRESHOLD:
        for text, level in zip(texts, levels, strict=True):
            yield encode(text, level)
        return
    # forkserver, not fork: forking a threaded web server process can deadlock in the child.
    # An executor, not multiprocessing.Pool: a worker that cannot start makes it raise instead
    # of hang, and the codes still missing are then encoded here, slower but complete.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cards.qr"])
    chunk = max(1, min(32, len(texts) // (processes * 8)))
    done = 0
    try:
        with ProcessPoolExecutor(processes, mp_context=context) as pool:
            jobs = zip(texts, levels, strict=True)
            for packed in pool.map(_encode_packed, jobs, chunksize=chunk):
                yield QRMatrix.from_bytes(packed)
                done += 1
    except BrokenProcessPool:
        logger.warning(
            "QR encoding processes failed; encoding %d codes in-process", len(texts) - done
        )
        for text, level in zip(texts[done:], levels[done:], strict=True):
            yield encode(text, level)


def encode_many(
    texts: Iterable[str], error: str | Sequence[str] = "m", processes: int | None = None
) -> list[QRMatrix]:
    """Encode many texts using every core; same order as ``texts``."""
    return list(iter_encoded(list(texts), error, processes))
