"""The trace of a meeting (痕迹管理): minutes and photos, and meetings without their trace."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("trace", __name__)
