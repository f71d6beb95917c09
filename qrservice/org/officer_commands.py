"""CLI commands for officer accounts: list-users, reset-password, deactivate-user, …"""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
