"""Exports for the committee: roster, attendance, points and dues ledgers, warnings (CSV/XLSX)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("exports", __name__)
