"""Languages: Simplified Chinese and English, chosen by a cookie, else the browser, else zh."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, has_app_context, has_request_context, request
from flask_babel import Babel, Domain, get_translations

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


def _kept(load: Callable[[], Any]) -> Any:
    """This request's catalog. flask_babel looks it up again for every string (about 12 us,
    and a page has dozens: a tenth of a card page's time): kept beside flask_babel's own state
    of the request, with the locale it is for (``force_locale`` changes that locale)."""
    state = g.get("_flask_babel")
    kept = getattr(state, "qrservice_catalog", None)
    if kept is not None and kept[0] is getattr(state, "babel_locale", None):
        return kept[1]
    translations = load()
    state = g.get("_flask_babel")
    if state is not None:
        state.qrservice_catalog = (getattr(state, "babel_locale", None), translations)
    return translations


def _catalog() -> Any:
    return _kept(get_translations)


class _KeptCatalogDomain(Domain):
    """flask_babel's domain, answering with the catalog kept for the request: ``gettext`` in
    Python code costs 3 us instead of 12."""

    def get_translations(self) -> Any:
        if not has_app_context():
            return super().get_translations()
        return _kept(super().get_translations)


def init_app(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel = Babel(app, locale_selector=select_locale)
    babel.domain_instance = _KeptCatalogDomain(domain=app.config.get("BABEL_DOMAIN", "messages"))
    # The same callables as flask_babel's, reading the catalog kept for the request.
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _catalog().ugettext(s),
        ngettext=lambda s, p, n: _catalog().ungettext(s, p, n),
        pgettext=lambda c, s: _catalog().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalog().unpgettext(c, s, p, n),
        newstyle=True,
    )
