"""Both languages are complete, the compiled catalog is current, and the switch works."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "qrservice" / "translations" / "zh" / "LC_MESSAGES"


def source_messages() -> set[str]:
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_string_in_the_source_has_a_chinese_translation():
    with open(CATALOG / "messages.po", "rb") as f:
        catalog = read_po(f)
    missing = []
    for msgid in sorted(source_messages()):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            missing.append(msgid)
    assert missing == [], f"untranslated: {missing}"


def _hashable(value):  # plural messages come as lists from a .mo and tuples from a .po
    return tuple(value) if isinstance(value, list | tuple) else value


def test_compiled_catalog_matches_the_po_file():
    with open(CATALOG / "messages.po", "rb") as f:
        po = {
            _hashable(m.id): _hashable(m.string)
            for m in read_po(f)
            if m.id and m.string and not m.fuzzy
        }
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = {_hashable(m.id): _hashable(m.string) for m in read_mo(f) if m.id}
    assert mo == po, "run: pybabel compile -d qrservice/translations"


def test_language_follows_the_browser_then_the_switch(client):
    zh = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert "登录" in zh.get_data(as_text=True)
    en = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    page = en.get_data(as_text=True)
    assert "Officer login" in page
    assert 'href="/lang/zh?next=' in page
    switched = client.get("/lang/zh?next=/login")
    assert switched.status_code == 302
    assert "lang=zh" in switched.headers["Set-Cookie"]
    after = client.get("/login", headers={"Accept-Language": "en-US"}).get_data(as_text=True)
    assert "登录" in after and 'lang="zh-Hans"' in after


def test_every_page_has_the_language_switch(client, auth):
    auth.login()
    for path in ("/units", "/members/", "/members/1", "/members/new", "/users/"):
        page = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
        assert 'href="/lang/zh?next=' in page, path
        assert 'lang="zh"' in page
