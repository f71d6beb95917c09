"""What the areas' command-line modules share: finding a record named on the command line and
showing a stored time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from qrservice.db import MAX_ID
from qrservice.models import Meeting
from qrservice.timeutil import local_time


def meeting_or_fail(s: Any, meeting_id: int) -> Meeting:
    """The meeting with this id, or a click error saying there is none."""
    meeting = s.get(Meeting, meeting_id) if 1 <= meeting_id <= MAX_ID else None
    if meeting is None:
        raise click.ClickException(f"no meeting with id {meeting_id}")
    return meeting


def local_text(at: datetime) -> str:
    """A stored (UTC) time as the organisation's local date and time."""
    return local_time(at).strftime("%Y-%m-%d %H:%M")
