"""CLI commands for exports (CSV/XLSX), with progress for long ones."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from qrservice.boards.exports import FORMATS, KINDS, LANGS

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


@click.command("export")
@click.argument("kind", type=click.Choice(KINDS))
@click.option("--unit", "unit_code", default=None, help="Scope: a unit code [default: the top].")
@click.option("--period", default="", help="2026-08, 2026-Q3 or 2026 [default: this month].")
@click.option("--meeting", default="", help="The meeting's number (attendance only).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="[default: the output file's suffix]")  # fmt: skip
@click.option("--lang", type=click.Choice(LANGS), default="zh", show_default=True,
              help="Language of the headers and labels.")  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export_cmd(
    kind: str, unit_code: str | None, period: str, meeting: str, fmt: str | None, lang: str,
    output: Path,
) -> None:  # fmt: skip
    """Export KIND (roster, attendance, matrix, points, dues, warnings) of a unit to a CSV
    or XLSX file. The data is read without the write lock (check-ins go on meanwhile); the
    export is recorded in the trail."""
    from flask_babel import force_locale

    from qrservice import db
    from qrservice.audit import Actor, record
    from qrservice.boards import exports
    from qrservice.cli import _app, _require_current_schema, _scope
    from qrservice.tables import table_bytes
    from qrservice.timeutil import local_today

    if fmt is None:
        fmt = output.suffix.lower().lstrip(".")
        if fmt not in FORMATS:
            raise click.UsageError("give --format csv|xlsx or an output file ending in one")
    app = _app()
    _require_current_schema(app)
    today = local_today()
    with app.app_context(), force_locale(lang):
        # A plain read: no write lock, so scanners keep checking in while a long export runs.
        with db.new_session() as s:
            try:
                choice = exports.check_choice(
                    s, kind, _scope(s, unit_code), fmt, period, meeting, today
                )
            except exports.ExportError as exc:
                # Each error under its option, whatever the language of its message.
                raise click.UsageError(
                    "; ".join(f"--{field}: {message}" for field, message in exc.errors.items())
                ) from exc
            except LookupError as exc:
                raise click.UsageError(f"meeting: no meeting {meeting} in that unit") from exc
            headers, rows = exports.export_table(s, choice, lang, today)
            unit_id, unit_code = choice.unit.id, choice.unit.code
            after = choice.audit_after(len(rows))
        label = f"{kind} ({unit_code})"
        with click.progressbar(rows, label=label, file=sys.stderr) as bar:
            data = table_bytes(headers, bar, choice.fmt, choice.kind)
        output.write_bytes(data)
        with db.write_transaction() as w:
            record(w, Actor.system(), "export.table", "unit", unit_id, after=after)
    click.echo(f"Wrote {output}: {len(rows)} rows ({len(data)} bytes).")


COMMANDS.append(export_cmd)
