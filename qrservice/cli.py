"""The ``qrservice`` command: set up the database, load the demo, manage accounts, serve."""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from qrservice import config, create_app, db, schema
from qrservice.audit import Actor


def _app() -> Flask:
    app = create_app()
    # Close the command's connections when it ends (a command may run inside a longer process).
    click.get_current_context().call_on_close(db.engine_of(app).dispose)
    return app


def _require_current_schema(app: Flask) -> None:
    engine = db.engine_of(app)
    if not schema.is_current(engine):
        raise click.ClickException(
            f"The database at {engine.url.render_as_string()} is not initialised or is out of "
            "date: run 'qrservice init-db' first."
        )


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qrservice", prog_name="qrservice")
def main() -> None:
    """QR-code member cards and meeting check-in.

    Configuration comes from environment variables (DATABASE_URL, QRSERVICE_DATA,
    QRSERVICE_BASE_URL, QRSERVICE_ORG_NAME, QRSERVICE_ENV) and data/instance/config.py.
    """


@main.command("init-db")
def init_db() -> None:
    """Create the database or migrate it to the newest schema. Never deletes data."""
    app = _app()
    engine = db.engine_of(app)
    before = schema.current_revision(engine)
    schema.upgrade(engine)
    after = schema.current_revision(engine)
    where = engine.url.render_as_string()
    if before == after:
        click.echo(f"Database {where} is up to date (revision {after}).")
    else:
        click.echo(f"Database {where} migrated from {before or 'empty'} to {after}.")


@main.command()
def demo() -> None:
    """Initialise the database and load the demo organisation, unless it has data already."""
    from cards.tokens import card_url
    from qrservice.demo import (
        DRIFTED,
        MEMBERS_PER_GROUP,
        ORGANISER,
        REGULAR,
        SECRETARY_PASSWORD,
        build_demo,
        demo_present,
    )
    from qrservice.models import Member
    from qrservice.org.issuance import active_card, set_new_pin
    from qrservice.signing_keys import key_ring

    app = _app()
    schema.upgrade(db.engine_of(app))
    with app.app_context(), db.transaction(app) as s:
        if demo_present(s):
            click.echo("The database already holds an organisation; the demo was not loaded.")
            return
        with click.progressbar(length=4 * 2 * MEMBERS_PER_GROUP, label="Demo members") as bar:
            made = build_demo(s, app.config["ID_HASH_KEY"], date.today(), bar.update, key_ring())
        tries = []
        for number in (REGULAR, DRIFTED):
            member = s.scalar(select(Member).where(Member.number == number))
            card = active_card(s, member.id)
            pin = set_new_pin(card, app.config["SECRET_KEY"])
            url = card_url(app.config["PUBLIC_BASE_URL"], card.token)
            tries.append(f"  {member.name} ({number}): {url}  PIN {pin}")
    click.echo(
        f"Demo loaded: {made['units']} units, {made['members']} members "
        f"({made['floating']} floating), {made['users']} officer accounts, "
        f"{made['meetings']} meetings ({made['attendance']} attendance records)."
    )
    click.echo(f"  organiser login: {ORGANISER[0]} / {ORGANISER[1]}")
    click.echo(f"  secretary logins: secretary1 … secretary4 / {SECRETARY_PASSWORD}")
    click.echo("Open these cards on a phone (the URL is what their QR code holds):")
    click.echo("\n".join(tries))


@main.command("create-user")
@click.option("--username", required=True)
@click.option("--role", type=click.Choice(["organiser", "secretary"]), required=True)
@click.option(
    "--unit", "unit_code", required=True, help="Code of the unit the account is scoped to."
)
@click.option("--name", "display_name", default=None, help="Display name.")
@click.password_option(help="Prompted for, hidden, if not given.")
def create_user_cmd(
    username: str, role: str, unit_code: str, display_name: str | None, password: str
) -> None:
    """Create an officer account."""
    from qrservice.models import Unit
    from qrservice.org.accounts import AccountError, create_user

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:  # the app's ENV: password rules
            unit = s.scalar(select(Unit).where(Unit.code == unit_code))
            if unit is None:
                raise AccountError("unit", f"no unit with code {unit_code!r}")
            create_user(
                s, Actor.system(), username=username, password=password, role=role, unit=unit,
                display_name=display_name,
            )  # fmt: skip
    except AccountError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    click.echo(f"Account {username} ({role}, {unit_code}) created.")


@main.command("import-members")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--unit", "unit_code", default=None, help="Scope: only units under this code.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
def import_members(file: Path, unit_code: str | None, dry_run: bool) -> None:
    """Import members from CSV or XLSX (upsert by member number): every row or none."""
    from qrservice.org.members_io import (
        ImportFileError,
        ImportRejected,
        apply_import,
        plan_import,
        read_table,
    )

    app = _app()
    _require_current_schema(app)
    try:
        rows = read_table(file.read_bytes(), file.name, app.config["IMPORT_MAX_ROWS"])
    except ImportFileError as exc:
        for err in exc.errors:
            click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
        raise click.ClickException(str(exc)) from None
    key = app.config["ID_HASH_KEY"]
    try:
        with db.transaction(app) as s:
            scope = _scope(s, unit_code)
            if dry_run:
                report = plan_import(s, scope, rows, key)
            else:
                report = apply_import(s, Actor.system(), scope, rows, key)
    except ImportRejected as exc:
        report = exc.report
    for err in report.errors:
        click.echo(f"row {err.row}, column {err.column}: {err.message}", err=True)
    # With any error nothing is written: the counts are what the file would do once corrected.
    written = not dry_run and not report.errors
    click.echo(
        f"{report.total} rows: {'created' if written else 'would create'} {len(report.created)}, "
        f"{'updated' if written else 'would update'} {len(report.updated)}, "
        f"unchanged {report.unchanged}, errors {len(report.errors)}."
    )
    if report.errors:
        raise click.ClickException("Nothing was imported: correct the rows above and try again.")


@main.command("export-members")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--unit", "unit_code", default=None, help="Only members under this unit code.")
def export_members_cmd(file: Path, unit_code: str | None) -> None:
    """Export members to FILE (.csv or .xlsx), in the import's columns."""
    from qrservice.org.members_io import export_members

    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise click.ClickException("FILE must end in .csv or .xlsx")
    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        data = export_members(s, _scope(s, unit_code), fmt)
    file.write_bytes(data)
    click.echo(f"Wrote {file} ({len(data)} bytes).")


def _scope(s, unit_code: str | None):  # type: ignore[no-untyped-def]
    from qrservice.models import Unit

    query = (
        select(Unit).where(Unit.code == unit_code)
        if unit_code
        else select(Unit).where(Unit.parent_id.is_(None))
    )
    unit = s.scalars(query.order_by(Unit.id)).first()
    if unit is None:
        raise click.ClickException(f"no unit with code {unit_code!r}" if unit_code else "no units")
    return unit


def _organisation_name() -> str:
    """The organisation's name as cards and letters print it (in an app context)."""
    from qrservice.org.organisation import organisation_name

    with db.new_session() as s:
        return organisation_name(s)


def _member(s, number: str):  # type: ignore[no-untyped-def]
    from qrservice.models import Member

    member = s.scalar(select(Member).where(Member.number == number))
    if member is None:
        raise click.ClickException(f"no member with number {number!r}")
    return member


@main.group()
def cards() -> None:
    """Issue, reissue and revoke members' cards."""


@cards.command("issue")
@click.option("--member", "number", default=None, help="One member, by member number.")
@click.option("--unit", "unit_code", default=None, help="Every member of this unit's subtree.")
@click.option("--all", "everyone", is_flag=True, help="Everyone not yet carded.")
def cards_issue(number: str | None, unit_code: str | None, everyone: bool) -> None:
    """Issue a card to each active member who has none (members with a card keep theirs)."""
    from qrservice.org.issuance import CardError, issue_card, issue_cards, members_in
    from qrservice.signing_keys import key_ring

    if sum(bool(x) for x in (number, unit_code, everyone)) != 1:
        raise click.UsageError("give exactly one of --member, --unit, --all")
    app = _app()
    _require_current_schema(app)
    with app.app_context(), db.transaction(app) as s:
        if number:
            try:
                card, created = issue_card(s, Actor.system(), _member(s, number), key_ring())
            except CardError as exc:
                raise click.ClickException(str(exc)) from None
            state = "issued" if created else "already active"
            click.echo(f"{number}: card version {card.version} {state}.")
            return
        members = members_in(s, _scope(s, unit_code))
        with click.progressbar(length=len(members), label="Issuing") as bar:
            made = issue_cards(s, Actor.system(), members, key_ring(), bar.update)
    click.echo(f"{made} cards issued; {len(members) - made} members already had one.")


@cards.command("reissue")
@click.option("--member", "number", required=True, help="Member number.")
@click.option("--reason", type=click.Choice(["lost", "damaged", "copied", "other"]), required=True)
@click.option("--note", default="", help="Free text kept with the card history.")
def cards_reissue(number: str, reason: str, note: str) -> None:
    """Reissue a member's card: the old code stops working at once."""
    from qrservice.org.issuance import CardError, reissue_card
    from qrservice.signing_keys import key_ring

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            card = reissue_card(s, Actor.system(), _member(s, number), key_ring(), reason, note)
            version = card.version
    except CardError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{number}: card reissued as version {version}; earlier codes are refused.")


@cards.command("revoke")
@click.option("--member", "number", required=True, help="Member number.")
@click.option("--note", required=True, help="Why, kept with the card history.")
def cards_revoke(number: str, note: str) -> None:
    """Revoke a member's active card (for example when the member has left)."""
    from qrservice.org.issuance import CardError, revoke_card

    app = _app()
    _require_current_schema(app)
    try:
        with app.app_context(), db.transaction(app) as s:
            revoke_card(s, Actor.system(), _member(s, number), note)
    except CardError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{number}: card revoked.")


def _sheet_card_ids(unit_code: str | None, only: str, sort: str) -> list[int]:
    """The cards to print, chosen in a read; their missing codes then kept in short writes
    (in an app context). No transaction stays open while pages are drawn."""
    from flask import current_app

    from qrservice.org.issuance import SheetChoice, keep_codes_batched, sheet_card_ids

    with db.new_session() as s:
        card_ids = sheet_card_ids(s, _scope(s, unit_code), SheetChoice(only=only, sort=sort))
    if not card_ids:
        raise click.ClickException(
            "no active cards match: issue cards first (qrservice cards issue)"
        )
    keep_codes_batched(card_ids, current_app.config["PUBLIC_BASE_URL"])
    return card_ids


@main.command()
@click.option("--unit", "unit_code", default=None, help="Unit code [default: everything].")
@click.option(
    "--layout", default="a4-10", show_default=True, help="Sheet layout (see --list-layouts)."
)
@click.option(
    "--only", type=click.Choice(["all", "new", "reissued"]), default="all", show_default=True
)
@click.option("--sort", type=click.Choice(["unit", "name"]), default="unit", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--list-layouts", is_flag=True, help="List the layouts and exit.")
def badges(
    unit_code: str | None, layout: str, only: str, sort: str, output: Path | None,
    list_layouts: bool,
) -> None:  # fmt: skip
    """Print badge sheets (PDF) of members' active cards."""
    from cards.layouts import LAYOUTS, LayoutError
    from cards.pdf import render_badge_sheet
    from qrservice.org.issuance import iter_sheet_cards, mark_printed_ids

    if list_layouts:
        for name, spec in LAYOUTS.items():
            click.echo(f"{name}\t{getattr(spec, 'description', '')}")
        return
    if layout not in LAYOUTS:
        raise click.BadParameter(f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
    if output is None:
        raise click.UsageError("give the output file with -o FILE.pdf")
    app = _app()
    _require_current_schema(app)
    with app.app_context():
        try:
            LAYOUTS[layout].badges()
        except LayoutError as exc:
            raise click.ClickException(str(exc)) from None
        card_ids = _sheet_card_ids(unit_code, only, sort)
        base, org = app.config["PUBLIC_BASE_URL"], _organisation_name()
        printed: list[int] = []
        faces = (card.face for card in iter_sheet_cards(card_ids, org, base, printed))
        with click.progressbar(length=len(card_ids), label="Badges") as bar:
            data = render_badge_sheet(
                faces, LAYOUTS[layout], progress=lambda done, total: bar.update(done - bar.pos),
                total=len(card_ids),
            )  # fmt: skip
        with db.write_transaction() as w:
            mark_printed_ids(w, printed)
    output.write_bytes(data)
    click.echo(f"Wrote {output}: {len(printed)} badges, {len(data)} bytes.")


@main.command()
@click.option("--unit", "unit_code", default=None, help="Unit code [default: everything].")
@click.option("--sort", type=click.Choice(["unit", "name"]), default="unit", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--yes", is_flag=True, help="Do not ask before resetting the PINs.")
def letters(unit_code: str | None, sort: str, output: Path, yes: bool) -> None:
    """Print card letters (A4, one per member) with new PINs; earlier letters' PINs stop working."""
    from cards.pdf import render_letters_pdf
    from qrservice.org.issuance import (
        SheetChoice,
        iter_sheet_cards,
        keep_pins,
        sheet_card_ids,
        sheet_letters,
    )

    app = _app()
    _require_current_schema(app)
    if not yes:  # asked before the transaction, so that no lock is held while waiting
        with db.transaction(app) as s:
            count = len(sheet_card_ids(s, _scope(s, unit_code), SheetChoice(sort=sort)))
        if count:
            click.confirm(
                f"{count} members get a new PIN: the PINs on their earlier letters stop "
                "working at once. Continue?",
                abort=True,
            )
    with app.app_context():
        card_ids = _sheet_card_ids(unit_code, "all", sort)
        base, org = app.config["PUBLIC_BASE_URL"], _organisation_name()
        pins: list[dict[str, object]] = []
        cards = iter_sheet_cards(card_ids, org, base)
        data = render_letters_pdf(sheet_letters(cards, app.config["SECRET_KEY"], pins))
        with db.write_transaction() as w:  # the PINs printed, kept once the letters are made
            keep_pins(w, pins)
    output.write_bytes(data)
    click.echo(f"Wrote {output}: {len(pins)} letters.")


@main.group()
def keys() -> None:
    """Card signing keys: the newest signs, all verify. Restart the service after a change."""


@keys.command("list")
def keys_list() -> None:
    """List the keys and how many active cards each signed."""
    from qrservice.org.issuance import cards_signed_with
    from qrservice.signing_keys import load_keys

    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        for key in load_keys(Path(app.instance_path)):
            state = "retired" if key["retired"] else "active"
            n = cards_signed_with(s, str(key["kid"]))
            click.echo(f"{key['kid']}\t{state}\tcreated {key['created']}\t{n} active cards")


@keys.command("add")
def keys_add() -> None:
    """Add a new key; it signs every card issued from now on."""
    from qrservice.signing_keys import add_key

    app = _app()
    kid = add_key(Path(app.instance_path))
    click.echo(f"Added key {kid}; new and reissued cards are signed with it. Restart the service.")


@keys.command("retire")
@click.argument("kid")
@click.option("--yes", is_flag=True, help="Retire even if printed cards still depend on the key.")
def keys_retire(kid: str, yes: bool) -> None:
    """Retire key KID: every card it signed stops working (reissue those cards)."""
    from qrservice.org.issuance import cards_signed_with
    from qrservice.signing_keys import retire_key

    app = _app()
    _require_current_schema(app)
    with db.transaction(app) as s:
        n = cards_signed_with(s, kid)
    click.echo(f"{n} active cards were signed with {kid} and stop working when it is retired.")
    if n and not yes:
        raise click.ClickException("not retired: reissue those cards first, or add --yes")
    try:
        retire_key(Path(app.instance_path), kid)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Key {kid} retired. Restart the service.")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="Worker processes [default: cores].")
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the app with gunicorn (sync workers, one per core)."""
    from gunicorn.app.base import BaseApplication

    from qrservice.org.officer_commands import warn_of_published_passwords

    app = _app()
    _require_current_schema(app)
    warn_of_published_passwords(app)
    db.engine_of(app).dispose()  # each worker opens its own connections
    if not _base_url_configured(app):
        # Printed and on-screen codes must point at where this server answers.
        app.config["PUBLIC_BASE_URL"] = f"http://{_reachable_host(host)}:{port}"

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or os.cpu_count() or 1)
            self.cfg.set("worker_class", "sync")
            self.cfg.set("accesslog", "-")
            # Long requests (a 10,000-badge sheet, a 20,000-row XLSX) take tens of seconds.
            self.cfg.set("timeout", 120)

        def load(self) -> Flask:
            return app

    click.echo(f"Serving on http://{host}:{port}/  (Ctrl-C to stop)")
    click.echo(
        f"Card and meeting codes point at {app.config['PUBLIC_BASE_URL']} "
        "(set QRSERVICE_BASE_URL to change it)."
    )
    Server().run()


def _base_url_configured(app: Flask) -> bool:
    """Whether QRSERVICE_BASE_URL or the instance config chose the public base URL."""
    default = config.defaults(Path(app.instance_path).parent)["PUBLIC_BASE_URL"]
    return "QRSERVICE_BASE_URL" in os.environ or app.config["PUBLIC_BASE_URL"] != default


def _reachable_host(host: str) -> str:
    """The address phones should use for a server bound to ``host``: for every interface
    (0.0.0.0, ::), this machine's address on its outgoing network, else loopback."""
    if host not in ("0.0.0.0", "::", ""):  # noqa: S104
        return f"[{host}]" if ":" in host else host
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
            return probe.getsockname()[0]
    except OSError:
        return "127.0.0.1"


def _add_area_commands() -> None:
    from qrservice.boards import board_commands, export_commands, report_commands, target_commands
    from qrservice.life import (
        attendance_commands,
        dues_commands,
        meeting_commands,
        points_commands,
        request_commands,
        trace_commands,
    )
    from qrservice.org import officer_commands, transfer_commands, unit_commands

    for module in (unit_commands, officer_commands, meeting_commands, attendance_commands,
                   dues_commands, request_commands, points_commands, transfer_commands,
                   trace_commands, board_commands, target_commands, export_commands,
                   report_commands):  # fmt: skip
        for command in module.COMMANDS:
            main.add_command(command)


_add_area_commands()

if __name__ == "__main__":
    sys.exit(main())
