"""CLI commands for dues: amounts, exemptions, payments, imports, status."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
