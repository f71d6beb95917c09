"""CLI commands for setting up the organisation and its units: init-org, units, roles."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
