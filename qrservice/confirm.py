"""Confirming dangerous actions without JavaScript: a POST that lacks ``confirm=yes`` changes
nothing and answers with a page that says what will happen, whose button sends the same form
again with the confirmation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask import render_template, request


def confirmed() -> bool:
    """True when the POST carries the explicit confirmation of its confirmation page."""
    return request.form.get("confirm") == "yes"


def ask_to_confirm(
    title: str, consequences: Sequence[str], button: str, back: str, danger: bool = True
) -> Any:
    """The confirmation page for this request's POST: its consequences, and a form that sends
    the same fields to the same address with ``confirm=yes``."""
    fields = [
        (key, value)
        for key, values in request.form.lists()
        if key not in ("csrf_token", "confirm")
        for value in values
    ]
    return render_template(
        "confirm.html", title=title, consequences=consequences, button=button, back=back,
        action=request.path, fields=fields, danger=danger,
    )  # fmt: skip
