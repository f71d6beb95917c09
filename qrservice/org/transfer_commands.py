"""CLI commands for transfers (组织关系转接), hosting and political birthdays."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
