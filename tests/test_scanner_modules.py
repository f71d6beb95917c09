"""The scanner's ES modules: the service worker keeps every module the scanner page imports, so
that a reload without network finds them all (a module missing offline breaks the whole page)."""

from __future__ import annotations

import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "scan" / "static"
IMPORT = re.compile(r"""^import\s[^'"]*['"]\./([\w-]+\.js)['"];""", re.M)


def imported_from(entry: str) -> set[str]:
    seen: set[str] = set()
    todo = [entry]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(IMPORT.findall((STATIC / name).read_text()))
    return seen


def test_the_service_worker_keeps_every_module_of_the_scanner_page():
    sw = (STATIC / "sw.js").read_text()
    kept = set(re.findall(r"'([\w-]+\.js)'", re.search(r"const MODULES = \[(.*?)\];", sw, re.S)[1]))
    assert kept == imported_from("scanner.js")


def test_every_module_imported_exists_and_pages_load_them_as_modules():
    for entry in ("scanner.js", "pair.js", "device-home.js"):
        for name in imported_from(entry):
            assert (STATIC / name).is_file(), name
    templates = Path(__file__).resolve().parent.parent / "templates" / "scan"
    pages = {"scanner.html": "scanner.js", "pair.html": "pair.js", "device.html": "device-home.js"}
    for page, entry in pages.items():
        src = f"{{{{ url_for('scan.static', filename='{entry}') }}}}"
        assert f'<script type="module" src="{src}">' in (templates / page).read_text(), page
