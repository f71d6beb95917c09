"""QR matrices: kept as bytes, drawn as PNG and SVG that a real reader decodes."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import segno
import zxingcpp
from PIL import Image

from cards.qr import (
    QUIET_ZONE,
    QRMatrix,
    choose_error_level,
    encode,
    encode_many,
    to_png,
    to_svg,
    version_for,
)

URL = "https://card.example.org/c/1.c.k1.2n9c.7.xWNdakIKEytrx5SOZWIEdA"


def decode(image: Image.Image) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)]


def test_matrix_survives_storage_as_compact_bytes() -> None:
    matrix = encode(URL)
    stored = matrix.to_bytes()
    # One bit per module plus two header bytes: what the app keeps in a database column.
    assert len(stored) == 2 + (matrix.size * matrix.size + 7) // 8
    assert QRMatrix.from_bytes(stored) == matrix
    assert decode(Image.open(io.BytesIO(to_png(QRMatrix.from_bytes(stored))))) == [URL]


@pytest.mark.parametrize("data", [b"", b"\x02\x15", b"\x01\x15" + b"\x00" * 10, b"junk"])
def test_stored_bytes_that_are_not_a_matrix_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        QRMatrix.from_bytes(data)


def test_png_is_one_bit_with_quiet_zone_and_decodes() -> None:
    matrix = encode(URL)
    image = Image.open(io.BytesIO(to_png(matrix, scale=5)))
    assert image.mode == "1"
    assert image.size == ((matrix.size + 2 * QUIET_ZONE) * 5,) * 2
    # Only pure black and white: no smoothing anywhere.
    histogram = image.convert("L").histogram()
    assert [level for level, count in enumerate(histogram) if count] == [0, 255]
    border = QUIET_ZONE * 5
    grey = image.convert("L")
    for box in [
        (0, 0, image.width, border),
        (0, image.height - border, image.width, image.height),
        (0, 0, border, image.height),
        (image.width - border, 0, image.width, image.height),
    ]:
        assert grey.crop(box).getextrema() == (255, 255)
    assert decode(image) == [URL]


def test_png_and_svg_refuse_a_missing_quiet_zone() -> None:
    matrix = encode(URL)
    with pytest.raises(ValueError, match="quiet zone"):
        to_png(matrix, border=1)
    with pytest.raises(ValueError, match="quiet zone"):
        to_svg(matrix, border=0)


def test_svg_is_one_crisp_path_and_decodes_when_rendered(tmp_path: Path) -> None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        pytest.fail("rsvg-convert is missing: install the Debian package librsvg2-bin")
    matrix = encode(URL, error="q")
    svg = to_svg(matrix, module_px=6)
    assert svg.count("<path") == 1
    assert 'shape-rendering="crispEdges"' in svg
    side = (matrix.size + 2 * QUIET_ZONE) * 6
    assert f'width="{side}"' in svg
    source = tmp_path / "code.svg"
    source.write_text(svg)
    target = tmp_path / "code.png"
    subprocess.run([converter, str(source), "-o", str(target)], check=True)
    image = Image.open(target)
    assert image.size == (side, side)
    assert decode(image.convert("L")) == [URL]


def test_vector_rectangles_cover_exactly_the_dark_modules() -> None:
    for text in (URL, "x", "https://example.org/" + "a" * 150):
        matrix = encode(text)
        covered: set[tuple[int, int]] = set()
        for x, y, width, height in matrix.rectangles:
            cells = {(x + dx, y + dy) for dx in range(width) for dy in range(height)}
            assert not cells & covered, "rectangles overlap"
            covered |= cells
        dark = {(x, y) for y in range(matrix.size) for x in range(matrix.size) if matrix.dark(x, y)}
        assert covered == dark
        # Merging runs draws far fewer rectangles than modules.
        assert len(matrix.rectangles) < len(dark) / 2


def test_pdf_operators_fill_one_path_in_module_units() -> None:
    matrix = encode(URL)
    ops = matrix.pdf_ops
    assert ops.endswith("\nf")
    assert ops.count(" re") == len(matrix.rectangles)
    numbers = [int(n) for n in re.findall(r"-?\d+", ops)]
    assert min(numbers) >= 0 and max(numbers) <= matrix.size


def test_capacity_table_agrees_with_segno() -> None:
    for error in "lmqh":
        for version in range(1, 11):
            capacity = max(n for n in range(1, 300) if version_for(n, error) == version)
            fits = segno.make("x" * capacity, error=error, micro=False, boost_error=False)
            assert fits.version == version
            too_long = segno.make("x" * (capacity + 1), error=error, micro=False, boost_error=False)
            assert too_long.version == version + 1


def test_error_level_is_the_strongest_that_keeps_modules_printable() -> None:
    # A ~63-byte card URL in a 28 mm code: 'q' would need version 6 (0.57 mm modules).
    assert choose_error_level(63, 28.0) == "m"
    # Shorter data or more room: stronger correction fits.
    assert choose_error_level(55, 28.0) == "q"
    assert choose_error_level(40, 28.0) == "h"
    assert choose_error_level(63, 45.0) == "h"
    # Nothing reaches the minimum: the smallest symbol.
    assert choose_error_level(63, 10.0) == "l"


def test_encode_many_on_two_processes_matches_encoding_one_by_one() -> None:
    texts = [f"https://card.example.org/c/1.c.k1.{i:x}.1.tag{i}" for i in range(60)]
    levels = ["m", "q"] * 30
    pooled = encode_many(texts, levels, processes=2)
    assert pooled == [encode(text, level) for text, level in zip(texts, levels, strict=True)]
    assert [decode(Image.open(io.BytesIO(to_png(m, scale=3)))) for m in pooled[:3]] == [
        [text] for text in texts[:3]
    ]


def test_unknown_error_level_is_refused() -> None:
    with pytest.raises(ValueError, match="error level"):
        encode(URL, error="x")
