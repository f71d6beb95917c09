"""CLI commands for leave requests and make-up study: `qrservice leave list|record|approve|refuse`
and `qrservice makeup list|accept|return`. The command line acts as the system actor ("cli")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from qrservice.commands import local_text

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


@contextmanager
def _session() -> Iterator[Any]:
    """A transaction on the app's database; a refusal becomes a CLI error naming the fields."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.requests import RequestError

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            yield s
    except RequestError as exc:
        raise click.ClickException(
            "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
        ) from None


def _scope(s, unit_code: str | None):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from qrservice.models import Unit

    if unit_code is None:
        root = s.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
        if root is None:
            raise click.ClickException("no units yet")
        return root
    unit = s.scalar(select(Unit).where(Unit.code == unit_code))
    if unit is None:
        raise click.ClickException(f"--unit: no unit with code {unit_code!r}")
    return unit


def _get(s, model, item_id: int, what: str):  # type: ignore[no-untyped-def]
    item = s.get(model, item_id) if 1 <= item_id <= 2**31 - 1 else None
    if item is None:
        raise click.ClickException(f"no {what} with id {item_id}")
    return item


@click.group()
def leave() -> None:
    """Leave (请假): pending requests, leave given by phone, decisions."""


@leave.command("list")
@click.option("--unit", "unit_code", default=None, help="Only meetings of this unit's subtree.")
def leave_list(unit_code: str | None) -> None:
    """Pending requests for leave, soonest meeting first."""
    from qrservice.life.requests import pending_leave

    with _session() as s:
        rows = pending_leave(s, _scope(s, unit_code))
        click.echo(f"{len(rows)} pending requests for leave")
        for r in rows:
            click.echo(f"{r.id}\t{local_text(r.meeting.starts_at)}\t{r.meeting.title}\t"
                       f"{r.member.number}\t{r.member.name}\t{r.reason}")  # fmt: skip


@leave.command("record")
@click.argument("meeting_id", type=int)
@click.option("--member", "number", required=True, help="Member number.")
@click.option("--reason", required=True, help="Why (1 to 200 characters).")
def leave_record(meeting_id: int, number: str, reason: str) -> None:
    """Record leave given by phone for a scheduled or open meeting: approved at once."""
    from qrservice.audit import Actor
    from qrservice.cli import _member
    from qrservice.life.requests import record_leave
    from qrservice.models import Meeting

    with _session() as s:
        meeting = _get(s, Meeting, meeting_id, "meeting")
        record_leave(s, Actor.system(), meeting, _member(s, number), reason)
    click.echo(f"{number}: on leave from meeting {meeting_id}.")


def _decide(action: Callable[..., None], done: str) -> Callable[[int, str], None]:
    def command(request_id: int, comment: str) -> None:
        from qrservice.audit import Actor
        from qrservice.models import LeaveRequest

        with _session() as s:
            request = _get(s, LeaveRequest, request_id, "request for leave")
            action(s, Actor.system(), request, comment)
            number = request.member.number
        click.echo(f"Request {request_id} ({number}) {done}.")

    return command


@leave.command("approve")
@click.argument("request_id", type=int)
@click.option("--comment", default="", help="A comment for the member (optional).")
def leave_approve(request_id: int, comment: str) -> None:
    """Approve a pending request until check-in closes: the member is excused."""
    from qrservice.life.requests import approve_leave

    _decide(approve_leave, "approved")(request_id, comment)


@leave.command("refuse")
@click.argument("request_id", type=int)
@click.option("--comment", required=True, help="Why it is refused (1 to 200 characters).")
def leave_refuse(request_id: int, comment: str) -> None:
    """Refuse a pending request, saying why."""
    from qrservice.life.requests import refuse_leave

    _decide(refuse_leave, "refused")(request_id, comment)


@click.group()
def makeup() -> None:
    """Make-up study (补课): pending submissions and decisions."""


@makeup.command("list")
@click.option("--unit", "unit_code", default=None, help="Only meetings of this unit's subtree.")
def makeup_list(unit_code: str | None) -> None:
    """Pending make-up study, oldest submission first."""
    from qrservice.life.requests import pending_makeup

    with _session() as s:
        rows = pending_makeup(s, _scope(s, unit_code))
        click.echo(f"{len(rows)} pending make-up submissions")
        for r in rows:
            text = " ".join(r.text.split())
            click.echo(f"{r.id}\t{local_text(r.meeting.starts_at)}\t{r.meeting.title}\t"
                       f"{r.member.number}\t{r.member.name}\t{text[:60]}")  # fmt: skip


def _study(action: Callable[..., None], done: str) -> Callable[[int, str], None]:
    def command(study_id: int, comment: str) -> None:
        from qrservice.audit import Actor
        from qrservice.models import MakeupStudy

        with _session() as s:
            study = _get(s, MakeupStudy, study_id, "make-up")
            action(s, Actor.system(), study, comment)
            number = study.member.number
        click.echo(f"Make-up {study_id} ({number}) {done}.")

    return command


@makeup.command("accept")
@click.argument("study_id", type=int)
@click.option("--comment", default="", help="A comment for the member (optional).")
def makeup_accept(study_id: int, comment: str) -> None:
    """Accept pending make-up: the attendance becomes "made up" and earns make-up points."""
    from qrservice.life.requests import accept_makeup

    _study(accept_makeup, "accepted")(study_id, comment)


@makeup.command("return")
@click.argument("study_id", type=int)
@click.option("--comment", required=True, help="What to improve (1 to 200 characters).")
def makeup_return(study_id: int, comment: str) -> None:
    """Return pending make-up with a comment; the member may submit again in the period."""
    from qrservice.life.requests import return_makeup

    _study(return_makeup, "returned")(study_id, comment)


COMMANDS.extend([leave, makeup])
