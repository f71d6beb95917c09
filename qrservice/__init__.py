"""qrservice: QR-code member cards and meeting check-in for an organisation's members."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from qrservice.config import default_data_dir

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config: dict[str, Any] | None = None, data_dir: Path | None = None) -> Flask:
    data_dir = data_dir or default_data_dir()
    app = Flask(
        __name__,
        instance_path=str(data_dir / "instance"),
        template_folder=str(TEMPLATES),
    )
    from qrservice import config, db, i18n, signing_keys, static_gzip, web
    from qrservice.org import accounts

    config.configure(app, test_config)
    db.init_app(app)
    signing_keys.init_app(app)
    i18n.init_app(app)
    accounts.init_app(app)
    web.init_app(app)
    static_gzip.init_app(app)  # after the blueprints: it wraps their static views too
    return app
