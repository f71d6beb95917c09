"""Configuration: defaults, then the instance config file, then environment variables.

Secrets (the session key, the key of the ID-number hash) are generated on first run and kept
in ``<instance>/secrets.json``, readable by the owner only, outside the tracked files.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from qrservice import timeutil

#: Environment variables read at start-up, with the config key each one sets.
ENV_KEYS = {
    "DATABASE_URL": "DATABASE_URL",
    "QRSERVICE_SECRET_KEY": "SECRET_KEY",
    "QRSERVICE_BASE_URL": "PUBLIC_BASE_URL",
    "QRSERVICE_ORG_NAME": "ORG_NAME",
    "QRSERVICE_ENV": "ENV",
    "QRSERVICE_PRIVACY": "CARD_PRIVACY",
    "QRSERVICE_SESSION_IDLE_SECONDS": "OFFICER_IDLE_TIMEOUT",
    "QRSERVICE_SESSION_MAX_SECONDS": "OFFICER_SESSION_MAX_AGE",
    "QRSERVICE_UPLOADS": "UPLOADS_DIR",
    "QRSERVICE_TIME_ZONE": "TIME_ZONE",
}
#: Settings that are whole numbers of seconds (from the environment they arrive as text).
SECONDS_KEYS = ("OFFICER_IDLE_TIMEOUT", "OFFICER_SESSION_MAX_AGE")


def default_data_dir() -> Path:
    """``data/`` beside the source tree when run from a checkout, else ``./data``."""
    if env := os.environ.get("QRSERVICE_DATA"):
        return Path(env).resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file():
        return checkout / "data"
    return Path.cwd() / "data"


def defaults(data_dir: Path) -> dict[str, Any]:
    return {
        "DATABASE_URL": f"sqlite:///{data_dir / 'qrservice.db'}",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "ORG_NAME": "示范党委",
        #: The organisation's time zone: months, years, "today" and times shown are in it.
        "TIME_ZONE": timeutil.DEFAULT_ZONE,
        "ENV": "development",
        #: What a stranger scanning a card sees: minimal (validity, masked name, branch) or
        #: summary (also the full name, this year's attendance, points, dues and warnings).
        "CARD_PRIVACY": "minimal",
        "MEMBERS_PER_PAGE": 25,
        "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
        "IMPORT_MAX_ROWS": 20000,
        #: Meeting photos (痕迹管理) are kept here, never in the database: back it up with it.
        "UPLOADS_DIR": str(data_dir / "uploads"),
        #: The largest photo accepted (bytes, before re-encoding; a request is also held to
        #: MAX_CONTENT_LENGTH) and the most photos a meeting keeps.
        "PHOTO_MAX_BYTES": 10 * 1024 * 1024 - 64 * 1024,
        "PHOTOS_PER_MEETING": 20,
        #: An officer's login ends after this long without a request, and this long after it began.
        "OFFICER_IDLE_TIMEOUT": 8 * 3600,
        "OFFICER_SESSION_MAX_AGE": 7 * 24 * 3600,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # The officer's session lives on the server (its idle and maximum ages, accounts.py);
        # the cookie, valid from the login for the longest session, need not be signed and
        # sent again with every answer (a tenth of a check-in's time in process).
        "SESSION_REFRESH_EACH_REQUEST": False,
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        # An offline scanner may sync hours after its page was loaded: the CSRF token lives
        # as long as the login session instead of an hour.
        "WTF_CSRF_TIME_LIMIT": None,
        "LANGUAGES": ["zh", "en"],
        "BABEL_DEFAULT_LOCALE": "zh",
    }


def load_secrets(instance: Path) -> dict[str, str]:
    """Read the instance's secrets, creating them (mode 0600) on first run."""
    path = instance / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance.mkdir(parents=True, exist_ok=True)
    values = {"SECRET_KEY": secrets.token_urlsafe(48), "ID_HASH_KEY": secrets.token_urlsafe(48)}
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    return values


def configure(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    data_dir = Path(app.instance_path).parent
    app.config.update(defaults(data_dir))
    app.config.update(load_secrets(Path(app.instance_path)))
    app.config.from_pyfile("config.py", silent=True)
    for env, key in ENV_KEYS.items():
        if env in os.environ:
            app.config[key] = os.environ[env]
    if overrides:
        app.config.update(overrides)
    for key in SECONDS_KEYS:
        try:
            app.config[key] = int(app.config[key])
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be a whole number of seconds") from None
        if app.config[key] <= 0:
            raise ConfigError(f"{key} must be a whole number of seconds above 0")
    # The cookie may live as long as the longest session; the server decides before that.
    app.config["PERMANENT_SESSION_LIFETIME"] = app.config["OFFICER_SESSION_MAX_AGE"]
    check_base_url(app.config["PUBLIC_BASE_URL"], app.config["ENV"])
    # The names of the first release still work: strict was minimal, default was summary.
    privacy = {"strict": "minimal", "default": "summary"}.get(
        app.config["CARD_PRIVACY"], app.config["CARD_PRIVACY"]
    )
    if privacy not in ("minimal", "summary"):
        raise ConfigError("QRSERVICE_PRIVACY must be minimal or summary")
    app.config["CARD_PRIVACY"] = privacy
    if app.config["ENV"] == "production":
        app.config["SESSION_COOKIE_SECURE"] = True
    try:
        timeutil.set_zone(app.config["TIME_ZONE"])
    except ValueError as exc:
        raise ConfigError(f"QRSERVICE_TIME_ZONE: {exc}") from None


class ConfigError(ValueError):
    """A setting that cannot work; the message names the setting."""


def check_base_url(url: str, env: str) -> None:
    """Printed codes point at this URL forever, so it must be absolute (and https in production)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"QRSERVICE_BASE_URL must be an absolute http(s) URL, not {url!r}")
    if env == "production" and parts.scheme != "https":
        raise ConfigError(
            f"QRSERVICE_BASE_URL must use https in production (printed codes point at it): {url!r}"
        )
