"""Leave requests and make-up study: the member's forms (card page) and the secretary's lists."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("requests", __name__)
