"""三会一课 rules, branch targets (必达/挑战) and their plan–do–check–act notes."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("targets", __name__)
