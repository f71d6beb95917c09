"""CLI commands for boards: a branch's board and the organiser's overview, as text."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
