"""Languages: Simplified Chinese and English, chosen by a cookie, else the browser, else zh."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel

TRANSLATIONS = Path(__file__).resolve().parent / "translations"
LANG_COOKIE = "lang"
#: Languages offered, with the name each calls itself.
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}


def select_locale() -> str:
    if not has_request_context():
        return "en"  # the command line speaks English
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGE_NAMES:
        return chosen
    return request.accept_languages.best_match(
        list(LANGUAGE_NAMES), default=current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
