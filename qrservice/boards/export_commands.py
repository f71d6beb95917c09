"""CLI commands for exports (CSV/XLSX), with progress for long ones."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
