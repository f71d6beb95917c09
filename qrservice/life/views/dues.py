"""Dues pages: a member's amounts, exemptions and payments; a branch's dues list."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dues", __name__)
