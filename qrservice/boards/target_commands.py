"""CLI commands for 三会一课 rules, branch targets and their plan–do–check–act notes."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
