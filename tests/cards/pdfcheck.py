"""Helpers for the cards tests: real PDFs rasterised by poppler, codes read by zxing-cpp."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image, ImageChops


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is missing: install the Debian package {package}")
    return path


def rasterise_pdf(pdf: bytes, dpi: int, workdir: Path) -> list[Image.Image]:
    """Every page of ``pdf`` as a greyscale image, from one pdftoppm run."""
    tool = _require("pdftoppm", "poppler-utils")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "in.pdf"
    source.write_bytes(pdf)
    subprocess.run([tool, "-r", str(dpi), "-gray", str(source), str(workdir / "page")], check=True)
    pages = sorted(workdir.glob("page-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    images = []
    for page in pages:
        with Image.open(page) as image:
            images.append(image.copy())
    return images


def pdf_text(pdf: bytes, workdir: Path) -> str:
    tool = _require("pdftotext", "poppler-utils")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "text.pdf"
    source.write_bytes(pdf)
    result = subprocess.run(
        [tool, "-layout", str(source), "-"], check=True, capture_output=True, text=True
    )
    return result.stdout


def pdf_fonts(pdf: bytes, workdir: Path) -> list[dict[str, str]]:
    """Fonts of ``pdf`` as reported by pdffonts: name, type and whether each is embedded."""
    tool = _require("pdffonts", "poppler-utils")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "fonts.pdf"
    source.write_bytes(pdf)
    lines = subprocess.run(
        [tool, str(source)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    fonts = []
    for line in lines[2:]:
        fields = line.split()
        # name, type words..., encoding, emb, sub, uni, object, id: read from the right.
        fonts.append({"name": fields[0], "emb": fields[-5], "type": " ".join(fields[1:-6])})
    return fonts


def decode_all(image: Image.Image) -> list[zxingcpp.Barcode]:
    return list(zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode))


def mm_to_px(value_mm: float, dpi: int) -> float:
    return value_mm / 25.4 * dpi


def crop_mm(image: Image.Image, box_mm: tuple[float, float, float, float], dpi: int) -> Image.Image:
    """The part of a page image inside a box given in mm from the page's bottom-left corner."""
    x, y, width, height = box_mm
    left = round(mm_to_px(x, dpi))
    right = round(mm_to_px(x + width, dpi))
    top = round(image.height - mm_to_px(y + height, dpi))
    bottom = round(image.height - mm_to_px(y, dpi))
    return image.convert("L").crop((left, top, right, bottom))


def ink_fraction(image: Image.Image, box_mm: tuple[float, float, float, float], dpi: int) -> float:
    """Share of dark pixels in a box given in mm from the page's bottom-left corner."""
    region = crop_mm(image, box_mm, dpi)
    return sum(region.histogram()[:128]) / max(1, region.width * region.height)


def share_differing(first: Image.Image, second: Image.Image) -> float:
    """Share of pixels that are dark in one image and light in the other (same-size images).

    Text drawn as empty boxes (a font that is not embedded) looks the same for any two names of
    the same length; real glyphs do not.
    """
    dark_first = first.point(lambda v: 255 if v < 128 else 0)
    dark_second = second.point(lambda v: 255 if v < 128 else 0)
    differing = ImageChops.difference(dark_first, dark_second)
    return sum(differing.histogram()[128:]) / max(1, first.width * first.height)
