"""The monthly PDF reports: one per branch, one for a committee."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reports", __name__)
