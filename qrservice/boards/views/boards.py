"""The branch board, the organiser's overview and the quarterly activity record."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("boards", __name__)
