"""CLI commands for setting up the organisation and its units: init-org, org-settings, units,
roles. They act as the command line (the audit trail's "cli"), over the whole tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

#: Added to the ``qrservice`` command by qrservice.cli.
COMMANDS: list[click.Command] = []


def _fail(errors: dict[str, str], what: str) -> click.ClickException:
    for field, message in errors.items():
        click.echo(f"{field}: {message}", err=True)
    return click.ClickException(what)


def _unit(s: Any, code: str | None, option: str = "--unit") -> Any:
    from qrservice.org.units import unit_by_code

    unit = unit_by_code(s, code) if code else None
    if unit is None:
        raise click.ClickException(f"{option}: no unit with code {code!r}")
    return unit


def _root(s: Any) -> Any:
    from sqlalchemy import select

    from qrservice.models import Unit

    root = s.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id).limit(1))
    if root is None:
        raise click.ClickException("no organisation yet: run 'qrservice init-org' first")
    return root


# The organisation


@click.command("init-org")
@click.option("--name", "org_name", default=None, help="The organisation's name, e.g. 某某党委.")
@click.option("--code", default=None, help="Code of the top committee [prompted; C01].")
@click.option("--committee-name", default=None, help="The committee's name [the organisation's].")
@click.option(
    "--dues-from", default=None, help="First month dues are tracked, YYYY-MM [this month]."
)
@click.option("--username", default=None, help="The first organiser's login.")
@click.option("--display-name", default=None, help="The first organiser's name [the username].")
@click.option("--password", default=None, help="Prompted for, hidden, if not given.")
def init_org_cmd(
    org_name: str | None,
    code: str | None,
    committee_name: str | None,
    dues_from: str | None,
    username: str | None,
    display_name: str | None,
    password: str | None,
) -> None:
    """Set up your own organisation in a new database: its top committee and first organiser.

    Creates or migrates the database first. Asks for what the options do not give.
    """
    from qrservice import db, schema
    from qrservice.audit import Actor
    from qrservice.cli import _app
    from qrservice.org.organisation import (
        OrganisationError,
        current_month,
        current_organisation,
        init_org,
    )

    app = _app()
    schema.upgrade(db.engine_of(app))
    with db.transaction(app) as s:
        existing = current_organisation(s)
        if existing is not None:
            raise click.ClickException(
                f"this database already holds the organisation {existing.name}; "
                "init-org runs once (rename it with 'qrservice org-settings')"
            )
    org_name = org_name or click.prompt("Organisation name")
    code = code or click.prompt("Code of the top committee", default="C01")
    committee_name = committee_name or click.prompt("Name of the top committee", default=org_name)
    dues_from = dues_from or click.prompt(
        "First month dues are tracked (YYYY-MM)", default=current_month().strftime("%Y-%m")
    )
    username = username or click.prompt("Username of the first organiser", default="organiser")
    display_name = display_name or click.prompt("Their name", default=username)
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with app.app_context(), db.transaction(app) as s:
            _org, committee, user = init_org(
                s, Actor.system(), org_name=org_name, committee_code=code,
                committee_name=committee_name, dues_tracked_from=dues_from, username=username,
                display_name=display_name, password=password,
            )  # fmt: skip
            made = (committee.code, committee.name, user.username)
    except OrganisationError as exc:
        raise _fail(exc.errors, "Nothing was created: correct the values above.") from None
    click.echo(f"Organisation {org_name} set up: committee {made[1]} ({made[0]}), "
               f"organiser {made[2]}.")  # fmt: skip
    click.echo("Next:")
    click.echo("  qrservice serve                       then log in as " + made[2])
    click.echo("  qrservice units import units.csv      your branches and groups "
               "(sample: data/samples/units-sample.csv)")  # fmt: skip
    click.echo("  qrservice import-members members.csv  your members")
    click.echo("  qrservice create-user --role secretary --unit B01 --username ...  "
               "an account per branch secretary")  # fmt: skip


COMMANDS.append(init_org_cmd)


@click.command("org-settings")
@click.option("--name", default=None, help="New name of the organisation.")
@click.option("--dues-from", default=None, help="First month dues are tracked, YYYY-MM.")
def org_settings_cmd(name: str | None, dues_from: str | None) -> None:
    """Show the organisation's settings, or change its name or dues tracking start."""
    from qrservice import db
    from qrservice.audit import Actor
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.organisation import (
        OrganisationError,
        current_organisation,
        update_organisation,
    )

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            changed = False
            if name is not None or dues_from is not None:
                changed = update_organisation(
                    s, Actor.system(), name=name, dues_tracked_from=dues_from
                )
            org = current_organisation(s)
            if org is None:
                raise click.ClickException("no organisation yet: run 'qrservice init-org' first")
            shown = (org.name, org.dues_tracked_from.strftime("%Y-%m"))
    except OrganisationError as exc:
        raise _fail(exc.errors, "Nothing was changed.") from None
    if name is not None or dues_from is not None:
        click.echo("Saved." if changed else "Nothing changed.")
    click.echo(f"name: {shown[0]}\ndues tracked from: {shown[1]}")


COMMANDS.append(org_settings_cmd)


# Units


@click.group("units")
def units_group() -> None:
    """List, add, rename, move, close, reopen, import and export units."""


@units_group.command("list")
@click.option("--unit", "unit_code", default=None, help="Only this unit's subtree.")
@click.option("--closed", is_flag=True, help="Closed units too.")
def units_list(unit_code: str | None, closed: bool) -> None:
    """The tree: code, kind, name, active members; closed units marked."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.members import units_in_scope
    from qrservice.org.units import open_units_in_scope, subtree_member_counts

    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        scope = _unit(s, unit_code) if unit_code else _root(s)
        units = units_in_scope(s, scope) if closed else open_units_in_scope(s, scope)
        totals = subtree_member_counts(s, units)
        base = scope.path.count("/")
        for unit in units:
            indent = "  " * (unit.path.count("/") - base)
            state = "  (closed)" if unit.closed_at else ""
            click.echo(
                f"{indent}{unit.code}\t{unit.kind}\t{unit.name}\t{totals[unit.id]} members{state}"
            )


@units_group.command("add")
@click.option("--kind", type=click.Choice(["committee", "branch", "group"]), required=True)
@click.option("--code", required=True)
@click.option("--name", required=True)
@click.option("--parent", "parent_code", required=True, help="Code of the unit above it.")
def units_add(kind: str, code: str, name: str, parent_code: str) -> None:
    """Add a branch, group or committee under PARENT."""
    from qrservice.org.units import create_unit

    def change(s: Any, root: Any) -> str:
        unit = create_unit(s, _actor(), kind=kind, name=name, code=code,
                           parent=_unit(s, parent_code, "--parent"), scope=root)  # fmt: skip
        return f"Unit {unit.code} ({unit.kind}, {unit.name}) added under {parent_code}."

    _change_tree(change)


@units_group.command("rename")
@click.argument("code")
@click.option("--name", default=None, help="New name.")
@click.option("--code", "new_code", default=None, help="New code.")
def units_rename(code: str, name: str | None, new_code: str | None) -> None:
    """Rename unit CODE, or give it a new code."""
    from qrservice.org.units import edit_unit

    if name is None and new_code is None:
        raise click.UsageError("give --name, --code or both")

    def change(s: Any, root: Any) -> str:
        unit = _unit(s, code, "CODE")
        changed = edit_unit(s, _actor(), unit, name=name, code=new_code, scope=root)
        return f"Unit {unit.code}: {unit.name}." if changed else "Nothing changed."

    _change_tree(change)


@units_group.command("move")
@click.argument("code")
@click.option("--parent", "parent_code", required=True, help="Code of the new unit above it.")
def units_move(code: str, parent_code: str) -> None:
    """Move unit CODE, with everything under it, under PARENT."""
    from qrservice.org.units import move_unit

    def change(s: Any, root: Any) -> str:
        unit = _unit(s, code, "CODE")
        moved = move_unit(s, _actor(), unit, _unit(s, parent_code, "--parent"), scope=root)
        return f"Unit {code} moved under {parent_code}." if moved else "Nothing changed."

    _change_tree(change)


@units_group.command("close")
@click.argument("code")
def units_close(code: str) -> None:
    """Close unit CODE (and the units under it): it must hold no active member and no
    scheduled or open meeting."""
    from qrservice.org.units import close_unit

    def change(s: Any, root: Any) -> str:
        n = close_unit(s, _actor(), _unit(s, code, "CODE"), scope=root)
        return f"Unit {code} closed ({n} units)." if n else f"Unit {code} was closed already."

    _change_tree(change)


@units_group.command("reopen")
@click.argument("code")
def units_reopen(code: str) -> None:
    """Reopen closed unit CODE (and the units closed with it)."""
    from qrservice.org.units import reopen_unit

    def change(s: Any, root: Any) -> str:
        n = reopen_unit(s, _actor(), _unit(s, code, "CODE"), scope=root)
        return f"Unit {code} reopened ({n} units)." if n else f"Unit {code} was open already."

    _change_tree(change)


def _actor() -> Any:
    from qrservice.audit import Actor

    return Actor.system()


def _change_tree(change: Any) -> None:
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.units import UnitError

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            said = change(s, _root(s))
    except UnitError as exc:
        raise _fail(exc.errors, "Nothing was changed.") from None
    click.echo(said)


@units_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_code", default=None, help="Scope: only units under this code.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
def units_import(file: Path, unit_code: str | None, dry_run: bool) -> None:
    """Import units from CSV or XLSX (code, name, kind, parent code): every row or none."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.members_io import ImportFileError
    from qrservice.org.units_io import UnitImportRejected, apply_units, plan_units, read_units

    app = _app()
    _require_current_schema(app)
    try:
        rows = read_units(file.read_bytes(), file.name)
    except ImportFileError as exc:
        for err in exc.errors:
            click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
        raise click.ClickException(str(exc)) from None
    try:
        with app.app_context(), db.transaction(app) as s:
            scope = _unit(s, unit_code) if unit_code else _root(s)
            if dry_run:
                report = plan_units(s, scope, rows).report
            else:
                report = apply_units(s, _actor(), scope, rows)
    except UnitImportRejected as exc:
        report = exc.report
    for err in report.errors:
        click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
    written = not dry_run and not report.errors
    for change in report.lines():
        click.echo(("  " if written else "  would ") + change)
    click.echo(
        f"{report.total} rows: {'created' if written else 'would create'} {len(report.created)}, "
        f"{'updated' if written else 'would update'} {len(report.updated)}, "
        f"unchanged {report.unchanged}, errors {len(report.errors)}."
    )
    if report.errors:
        raise click.ClickException("Nothing was imported: correct the rows above and try again.")


@units_group.command("export")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--unit", "unit_code", default=None, help="Only this unit's subtree.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Headers and kinds in Chinese or English.")  # fmt: skip
def units_export(file: Path, unit_code: str | None, lang: str) -> None:
    """Export the open units to FILE (.csv or .xlsx), in the import's columns."""
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.units_io import export_units

    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise click.ClickException("FILE must end in .csv or .xlsx")
    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        data = export_units(s, _unit(s, unit_code) if unit_code else _root(s), fmt, lang)
    file.write_bytes(data)
    click.echo(f"Wrote {file} ({len(data)} bytes).")


COMMANDS.append(units_group)


# Offices: branch committee members and group leaders


@click.group("roles")
def roles_group() -> None:
    """Branch committee members (支委) and group leaders: list, add, remove."""


@roles_group.command("list")
@click.option("--unit", "unit_code", required=True, help="A branch (its groups too) or a group.")
def roles_list(unit_code: str) -> None:
    """Who holds which office in a branch and its groups."""
    from sqlalchemy import select

    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.models import Unit
    from qrservice.org.roles import unit_roles

    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        unit = _unit(s, unit_code)
        units = [unit]
        if unit.kind == "branch":
            units += list(
                s.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.code))
            )
        offices = unit_roles(s, units)
        for each in units:
            for office in offices[each.id]:
                since = f"\tsince {office.since}" if office.since else ""
                click.echo(f"{each.code}\t{office.role}\t{office.member.number}\t"
                           f"{office.member.name}{since}")  # fmt: skip
        if not any(offices.values()):
            click.echo(f"No offices recorded in {unit.code}.")


def _role_change(change: Any) -> None:
    from qrservice import db
    from qrservice.cli import _app, _require_current_schema
    from qrservice.org.roles import RoleError

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            said = change(s)
    except RoleError as exc:
        raise _fail(exc.errors, "Nothing was changed.") from None
    click.echo(said)


_ROLE_CHOICE = click.Choice(
    ["secretary", "deputy_secretary", "organisation", "publicity", "discipline",
     "committee_member", "group_leader"]
)  # fmt: skip


@roles_group.command("add")
@click.option("--unit", "unit_code", required=True, help="The branch, or the group for a leader.")
@click.option("--member", "number", required=True, help="Member number.")
@click.option("--role", type=_ROLE_CHOICE, required=True)
@click.option("--since", default=None, help="Date the office was taken up, YYYY-MM-DD.")
def roles_add(unit_code: str, number: str, role: str, since: str | None) -> None:
    """Record that a member holds an office in a branch or group."""
    from qrservice.org.roles import add_role

    def change(s: Any) -> str:
        office = add_role(s, _actor(), _unit(s, unit_code), member_number=number, role=role,
                          since=since)  # fmt: skip
        return f"{office.member.number} {office.member.name}: {role} of {unit_code}."

    _role_change(change)


@roles_group.command("remove")
@click.option("--unit", "unit_code", required=True)
@click.option("--member", "number", required=True, help="Member number.")
@click.option("--role", type=_ROLE_CHOICE, required=True)
def roles_remove(unit_code: str, number: str, role: str) -> None:
    """Record that a member no longer holds an office."""
    from qrservice.org.roles import remove_role

    def change(s: Any) -> str:
        member = remove_role(s, _actor(), _unit(s, unit_code), member_number=number, role=role)
        return f"{member.number} {member.name} is no longer {role} of {unit_code}."

    _role_change(change)


COMMANDS.append(roles_group)
