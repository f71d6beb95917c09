"""CLI commands for points: rules, officers' awards and deductions, the monthly assessment."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
