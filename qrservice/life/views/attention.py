"""Who needs attention: warnings, floating members out of touch, arrears; lists and exports."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("attention", __name__)
