"""Transfers between units, hosting of floating members, political birthdays."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("transfers", __name__)
