"""CLI commands for the trace of meetings (痕迹管理): minutes, photos, overdue traces."""

from __future__ import annotations

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []
