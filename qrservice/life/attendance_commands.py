"""CLI commands for attendance after a meeting: corrections."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
