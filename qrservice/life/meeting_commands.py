"""CLI commands for meetings: list, plan, edit, cancel, delete."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
