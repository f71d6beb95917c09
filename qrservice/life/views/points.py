"""Points: rules, officers' awards and deductions, the ledger and the monthly assessment."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("points", __name__)
