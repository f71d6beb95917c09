"""The first-run page: set up the organisation when the database holds none."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("setup", __name__)
