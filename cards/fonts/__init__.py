"""Vendored fonts (see NOTICE.txt). A package so that setuptools ships the font files."""

from pathlib import Path

FONT_DIR = Path(__file__).resolve().parent
CJK_FONT_FILE = FONT_DIR / "DroidSansFallbackFull.ttf"
