"""CLI commands for the trace of meetings (痕迹管理): minutes, photos, overdue traces."""

from __future__ import annotations

from pathlib import Path

import click

from qrservice.commands import local_text, meeting_or_fail

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


def _refusal(errors: dict[str, str]) -> click.ClickException:
    return click.ClickException("; ".join(f"{k}: {message}" for k, message in errors.items()))


@click.group()
def trace() -> None:
    """The trace of meetings (痕迹管理): minutes, photos, meetings without their minutes."""


@trace.command("show")
@click.argument("meeting_id", type=int)
def trace_show(meeting_id: int) -> None:
    """MEETING_ID's minutes, photos and attendance as recorded (with corrections)."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.trace import trace_of

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        meeting = meeting_or_fail(s, meeting_id)
        t = trace_of(s, meeting)
        click.echo(f"{meeting.title} ({local_text(meeting.starts_at)}, {meeting.status})")
        if t.filed:
            click.echo(
                f"Minutes, filed by {meeting.minutes_by} at {local_text(meeting.minutes_at)}:"
            )
            click.echo(meeting.minutes)
        else:
            click.echo("Minutes: not filed")
        click.echo(f"Photos: {len(t.photos)}")
        for p in t.photos:
            when = local_text(p.uploaded_at)
            click.echo(f"  #{p.id}\t{p.width}x{p.height}\t{p.size_bytes} bytes\t"
                       f"{p.uploaded_by}, {when}\t{p.caption or ''}")  # fmt: skip
        click.echo(f"Attendance: {len(t.attendance)} members")
        for line in t.attendance:
            status = line.status or "not recorded"
            click.echo(f"  {line.member.number}\t{line.member.name}\t{status}")
            for c in line.corrections:
                click.echo(f"\t  corrected {c.from_status} -> {c.to_status} by {c.corrected_by}: "
                           f"{c.reason}")  # fmt: skip


@trace.command("minutes")
@click.argument("meeting_id", type=int)
@click.option("--file", "file", type=click.File("r", encoding="utf-8"), required=True,
              help="A UTF-8 text file with the minutes ('-': standard input).")  # fmt: skip
def trace_minutes(meeting_id: int, file) -> None:  # type: ignore[no-untyped-def]
    """File MEETING_ID's minutes from a text file (replacing earlier ones)."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.trace import TraceError, file_minutes

    text = file.read()
    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            file_minutes(s, Actor.system(), meeting_or_fail(s, meeting_id), text)
    except TraceError as exc:
        raise _refusal(exc.errors) from None
    click.echo(f"Minutes of meeting {meeting_id} filed ({len(text.strip())} characters).")


@trace.command("add-photo")
@click.argument("meeting_id", type=int)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--caption", default="", help="A caption (up to 200 characters).")
def trace_add_photo(meeting_id: int, file: Path, caption: str) -> None:
    """Add FILE (JPEG, PNG or HEIC) to MEETING_ID's photos, re-encoded without metadata."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.life.photos import PhotoError, read_capped
    from qrservice.life.trace import TraceError, add_photo

    app = _app()
    _require_current_schema(app)
    try:
        with open(file, "rb") as f:
            data = read_capped(f, app.config["PHOTO_MAX_BYTES"])
        with app.app_context(), db.transaction(app) as s:
            photo = add_photo(s, Actor.system(), meeting_or_fail(s, meeting_id), data, caption,
                              Path(app.config["UPLOADS_DIR"]),
                              app.config["PHOTOS_PER_MEETING"])  # fmt: skip
            photo_id, width, height = photo.id, photo.width, photo.height
    except (PhotoError, TraceError) as exc:
        raise _refusal(exc.errors) from None
    click.echo(f"Photo #{photo_id} added to meeting {meeting_id} ({width}x{height}).")


@trace.command("overdue")
@click.option("--unit", "unit_code", help="Only this unit's subtree (default: everything).")
def trace_overdue(unit_code: str | None) -> None:
    """Closed meetings still without minutes a week after they closed."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema, _scope
    from qrservice.life.trace import overdue_traces
    from qrservice.timeutil import utcnow

    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        meetings = overdue_traces(s, _scope(s, unit_code), utcnow())
        click.echo(f"{len(meetings)} meetings without minutes a week after closing")
        for m in meetings:
            click.echo(f"{m.id}\t{m.unit.code}\t{local_text(m.starts_at)}\t{m.title}\t"
                       f"closed {local_text(m.closed_at)}")  # fmt: skip


COMMANDS.append(trace)


@click.command("backup")
@click.option("--output", "output", required=True,
              type=click.Path(file_okay=False, path_type=Path),
              help="A new or empty folder to write the copy into.")  # fmt: skip
def backup(output: Path) -> None:
    """Copy what must be backed up together: the SQLite database (a consistent copy, taken
    with SQLite's backup API while the service runs) and the uploads folder (meeting photos).
    On PostgreSQL, dump the database with pg_dump; this copies the uploads folder."""
    import shutil
    import sqlite3

    from sqlalchemy.engine import make_url

    from qrservice.cli import _app

    app = _app()
    if output.exists() and any(output.iterdir()):
        raise click.ClickException(f"{output} is not empty")
    output.mkdir(parents=True, exist_ok=True)
    url = make_url(app.config["DATABASE_URL"])
    if url.get_backend_name() == "sqlite" and url.database:
        source = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        target = sqlite3.connect(output / "qrservice.db")
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        click.echo(f"Database copied to {output / 'qrservice.db'}.")
    else:
        click.echo("The database is not SQLite: back it up with pg_dump as well.")
    uploads = Path(app.config["UPLOADS_DIR"])
    if uploads.is_dir():
        shutil.copytree(uploads, output / "uploads")
        count = sum(1 for p in (output / "uploads").rglob("*") if p.is_file())
        click.echo(f"Uploads folder copied to {output / 'uploads'} ({count} files).")
    else:
        click.echo("No uploads folder yet: nothing else to copy.")


COMMANDS.append(backup)
