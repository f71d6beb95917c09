"""Every PDF names the organisation as its author and carries the date it was made, not
reportlab's placeholders ("anonymous", 2000-01-01)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cards.pdf import CardFace, Letter, render_badge_sheet, render_card_pdf, render_letters_pdf


def pdf_info(pdf: bytes, workdir: Path) -> dict[str, str]:
    tool = shutil.which("pdfinfo")
    if tool is None:
        pytest.fail("pdfinfo is missing: install the Debian package poppler-utils")
    path = workdir / "info.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([tool, str(path)], check=True, capture_output=True, text=True).stdout
    return {
        k.strip(): v.strip() for k, _sep, v in (line.partition(":") for line in out.splitlines())
    }


@pytest.mark.parametrize("kind", ["card", "letters", "badges"])
def test_pdf_has_the_organisation_as_author_and_todays_date(
    kind: str, make_face: Callable[..., CardFace], tmp_path: Path
) -> None:
    face = make_face(1, org_name="示范党委")
    pdf = {
        "card": lambda: render_card_pdf(face),
        "letters": lambda: render_letters_pdf([Letter(face, "123456")]),
        "badges": lambda: render_badge_sheet([face], processes=1),
    }[kind]()
    info = pdf_info(pdf, tmp_path)
    assert info["Author"] == "示范党委"
    assert "anonymous" not in info.values() and "unspecified" not in info.values()
    assert "2000" not in info["CreationDate"]
    assert str(datetime.now(UTC).year) in info["CreationDate"]
