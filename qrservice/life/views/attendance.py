"""Attendance after a meeting: an officer's corrections, each with its reason."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("attendance", __name__)
