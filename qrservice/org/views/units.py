"""The organisation tree as an officer sees it (their own unit's subtree), and its changes.

Every officer sees the tree and the pages of the units in their scope; organisers create,
edit, move, close, reopen, import and export units; an organiser over a branch and the
branch's secretary record its committee members and its groups' leaders.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.models import Unit
from qrservice.org.accounts import can_see_unit, officer_required, organiser_required, unit_or_404
from qrservice.org.members import units_in_scope
from qrservice.org.members_io import ImportFileError, RowError
from qrservice.org.roles import (
    RoleError,
    add_role,
    eligible_members,
    remove_role,
    role_label,
    roles_for,
    unit_roles,
)
from qrservice.org.units import (
    PARENT_KIND,
    UnitError,
    blockers,
    blockers_message,
    close_unit,
    create_unit,
    edit_unit,
    kind_label,
    open_units_in_scope,
    reopen_unit,
)
from qrservice.org.units import subtree_member_counts as _counts
from qrservice.org.units_io import (
    COLUMNS,
    UnitImportRejected,
    UnitImportReport,
    UnitRows,
    apply_units,
    export_units,
    plan_units,
    read_units,
)
from qrservice.web import send_export

bp = Blueprint("org", __name__)

#: A report shows at most this many rows of each table; the counts are always complete.
SHOWN = 500


def subtree_member_counts(units: list[Unit]) -> Counter[int]:
    """Active members in each unit's subtree, from one grouped query."""
    return _counts(db.session(), units)


@bp.app_template_filter("unit_label")
def unit_label(unit: Unit) -> str:
    """A unit's name, with its branch's for a group: every branch has a 第一党小组."""
    if unit.kind == "group" and unit.parent is not None:
        return f"{unit.parent.name} · {unit.name}"
    return unit.name


@bp.app_template_global("unit_kind_label")
def unit_kind_label(kind: str) -> str:
    return kind_label(kind)


@bp.app_template_global("unit_role_label")
def unit_role_label(role: str) -> str:
    return role_label(role)


def _scope() -> Unit:
    """The officer's own unit, in the request's session."""
    unit = db.session().get(Unit, current_user.unit.id)
    if unit is None:
        abort(404)
    return unit


def _is_organiser() -> bool:
    return current_user.role == "organiser"


@bp.route("/units")
@officer_required
def tree() -> Any:
    s = db.session()
    show_closed = request.args.get("closed") == "1"
    scope = current_user.unit
    units = units_in_scope(s, scope) if show_closed else open_units_in_scope(s, scope)
    return render_template(
        "units/tree.html", units=units, totals=subtree_member_counts(units),
        show_closed=show_closed, can_manage=_is_organiser(),
    )  # fmt: skip


# Creating and editing units


def _parent_choices(kind: str | None, unit: Unit | None = None) -> list[Unit]:
    """Open units of the scope a unit of ``kind`` may sit under (not ``unit``'s own)."""
    kinds = {PARENT_KIND[kind]} if kind in PARENT_KIND else {"committee", "branch"}
    return [
        u
        for u in open_units_in_scope(db.session(), current_user.unit)
        if u.kind in kinds and (unit is None or not u.path.startswith(unit.path))
    ]


def _parent_from_form() -> Unit | None:
    parent_id = db.parse_id(request.form.get("parent_id"))
    return db.session().get(Unit, parent_id) if parent_id is not None else None


@bp.route("/units/new", methods=["GET", "POST"])
@organiser_required
def new_unit() -> Any:
    if request.method == "POST":
        form = request.form.to_dict()
        kind = form.get("kind", "")
        try:
            parent = _parent_from_form()
            if parent is None or not can_see_unit(current_user, parent):
                raise UnitError({"parent": _("Choose the unit it belongs to.")})
            unit = create_unit(
                db.session(), Actor.of(current_user), kind=kind, name=form.get("name", ""),
                code=form.get("code", ""), parent=parent, scope=current_user.unit,
            )  # fmt: skip
        except UnitError as exc:
            return render_template(
                "units/form.html", unit=None, form=form, errors=exc.errors,
                parents=_parent_choices(kind if kind in PARENT_KIND else None),
            ), 422  # fmt: skip
        flash(_("Unit %(name)s (%(code)s) created.", name=unit.name, code=unit.code), "notice")
        return redirect(url_for(".show_unit", unit_id=unit.id))
    kind = request.args.get("kind") if request.args.get("kind") in PARENT_KIND else "branch"
    form = {"kind": kind, "parent_id": request.args.get("parent", "")}
    return render_template(
        "units/form.html", unit=None, form=form, errors={}, parents=_parent_choices(None)
    )


@bp.route("/units/<int:unit_id>/edit", methods=["GET", "POST"], endpoint="edit_unit")
@organiser_required
def edit_unit_view(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    movable = unit.parent_id is not None and unit.id != current_user.unit.id
    parents = _parent_choices(unit.kind, unit) if movable else []
    if request.method == "POST":
        form = request.form.to_dict()
        parent: Unit | str = "keep"
        try:
            if movable:
                chosen = _parent_from_form()
                if chosen is None or not can_see_unit(current_user, chosen):
                    raise UnitError({"parent": _("Choose the unit it belongs to.")})
                parent = chosen
            changed = edit_unit(
                db.session(), Actor.of(current_user), unit, name=form.get("name", ""),
                code=form.get("code", ""), parent=parent, scope=current_user.unit,
            )  # fmt: skip
        except UnitError as exc:
            return render_template(
                "units/form.html", unit=unit, form=form, errors=exc.errors, parents=parents
            ), 422
        flash(_("Changes saved.") if changed else _("Nothing changed."), "notice")
        return redirect(url_for(".show_unit", unit_id=unit.id))
    form = {"name": unit.name, "code": unit.code, "parent_id": str(unit.parent_id or "")}
    return render_template("units/form.html", unit=unit, form=form, errors={}, parents=parents)


@bp.route("/units/<int:unit_id>/close", methods=["POST"], endpoint="close_unit")
@organiser_required
def close_unit_view(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    if unit.closed_at is None:
        members, meetings = blockers(db.session(), unit)
        if members or meetings:
            return _unit_page(unit, close_error=blockers_message(unit, members, meetings)), 422
        if not confirmed():
            return ask_to_confirm(
                _("Close %(unit)s?", unit=unit_label(unit)),
                [
                    _("%(unit)s and the units under it leave the tree and the unit lists: no "
                      "member, meeting or unit can be added to them.", unit=unit_label(unit)),
                    _("Its records and history stay; you can reopen it later."),
                ],
                _("Close the unit"),
                url_for(".show_unit", unit_id=unit.id),
            )  # fmt: skip
    try:
        closed = close_unit(db.session(), Actor.of(current_user), unit, scope=current_user.unit)
    except UnitError as exc:
        return _unit_page(unit, close_error=" ".join(exc.errors.values())), 422
    if closed:
        flash(_("%(unit)s is closed.", unit=unit_label(unit)), "notice")
    return redirect(url_for(".tree"))


@bp.route("/units/<int:unit_id>/reopen", methods=["POST"], endpoint="reopen_unit")
@organiser_required
def reopen_unit_view(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    try:
        reopened = reopen_unit(db.session(), Actor.of(current_user), unit, scope=current_user.unit)
    except UnitError as exc:
        return _unit_page(unit, close_error=" ".join(exc.errors.values())), 422
    if reopened:
        flash(_("%(unit)s is open again.", unit=unit_label(unit)), "notice")
    return redirect(url_for(".show_unit", unit_id=unit.id))


# A unit's page: its facts, its offices, its groups


def _unit_page(
    unit: Unit,
    close_error: str | None = None,
    role_errors: dict[int, dict[str, str]] | None = None,
    role_form: dict[int, dict[str, str]] | None = None,
) -> str:
    s = db.session()
    children = [u for u in units_in_scope(s, unit) if u.parent_id == unit.id]
    shown_children = [u for u in children if u.closed_at is None or request.args.get("closed")]
    totals = _counts(s, [unit, *children])
    offices = unit_roles(s, [unit, *children]) if roles_for(unit) else {}
    may_assign = (
        can_see_unit(current_user, unit) and unit.closed_at is None and bool(roles_for(unit))
    )
    # Whom the forms offer: the unit's members, and each of a branch's groups' own.
    candidates = {}
    if may_assign:
        holders = [unit, *(c for c in children if c.kind == "group" and c.closed_at is None)]
        candidates = {u.id: eligible_members(s, u) for u in holders}
    return render_template(
        "units/show.html", unit=unit, children=shown_children, totals=totals, offices=offices,
        candidates=candidates, may_assign=may_assign, can_manage=_is_organiser(),
        own_unit=unit.id == current_user.unit.id, close_error=close_error,
        role_errors=role_errors or {}, role_sent=role_form or {}, roles_for=roles_for,
    )  # fmt: skip


@bp.route("/units/<int:unit_id>")
@officer_required
def show_unit(unit_id: int) -> Any:
    return _unit_page(unit_or_404(unit_id))


def _role_page_unit(unit: Unit) -> Unit:
    """The page a unit's office forms are on: a group's are on its branch's page."""
    if unit.kind == "group" and unit.parent is not None and can_see_unit(current_user, unit.parent):
        return unit.parent
    return unit


@bp.route("/units/<int:unit_id>/roles", methods=["POST"], endpoint="add_role")
@officer_required
def add_role_view(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    form = request.form.to_dict()
    page = _role_page_unit(unit)
    try:
        if unit.closed_at is not None:
            raise RoleError({"unit": _("%(unit)s is closed.", unit=unit_label(unit))})
        office = add_role(
            db.session(), Actor.of(current_user), unit, member_number=form.get("member", ""),
            role=form.get("role", ""), since=form.get("since") or None,
        )  # fmt: skip
    except RoleError as exc:
        return _unit_page(page, role_errors={unit.id: exc.errors}, role_form={unit.id: form}), 422
    flash(_("%(name)s recorded as %(role)s of %(unit)s.", name=office.member.name,
            role=role_label(office.role), unit=unit_label(unit)), "notice")  # fmt: skip
    return redirect(url_for(".show_unit", unit_id=page.id))


@bp.route("/units/<int:unit_id>/roles/remove", methods=["POST"], endpoint="remove_role")
@officer_required
def remove_role_view(unit_id: int) -> Any:
    unit = unit_or_404(unit_id)
    page = _role_page_unit(unit)
    number, role = request.form.get("member", ""), request.form.get("role", "")
    if not confirmed():
        holder = next(
            (o for o in unit_roles(db.session(), [unit])[unit.id]
             if o.member.number == number and o.role == role), None,
        )  # fmt: skip
        if holder is None:
            abort(404)
        return ask_to_confirm(
            _("Remove %(name)s from the office of %(role)s?", name=holder.member.name,
              role=role_label(role)),
            [_("%(name)s is no longer recorded as %(role)s of %(unit)s; their membership does "
               "not change.", name=holder.member.name, role=role_label(role),
               unit=unit_label(unit))],
            _("Remove from office"),
            url_for(".show_unit", unit_id=page.id),
        )  # fmt: skip
    try:
        member = remove_role(
            db.session(), Actor.of(current_user), unit, member_number=number, role=role
        )
    except RoleError:
        abort(404)
    flash(_("%(name)s is no longer %(role)s of %(unit)s.", name=member.name,
            role=role_label(role), unit=unit_label(unit)), "notice")  # fmt: skip
    return redirect(url_for(".show_unit", unit_id=page.id))


# The tree in and out


def _report_page(
    filename: str,
    report: UnitImportReport | None = None,
    problem: str | None = None,
    errors: list[RowError] | None = None,
    rows: UnitRows | None = None,
) -> Any:
    errors = report.errors if report is not None else (errors or [])
    failed = bool(problem or errors)
    kept = json.dumps(rows.to_dict(), ensure_ascii=False) if rows is not None else None
    page = render_template(
        "units/report.html", filename=filename, report=report, problem=problem,
        errors=errors[:SHOWN], error_count=len(errors), kept=kept, shown=SHOWN,
    )  # fmt: skip
    return page, 422 if failed else 200


@bp.route("/units/import", methods=["GET", "POST"])
@organiser_required
def import_units() -> Any:
    if request.method == "GET":
        return render_template("units/import.html", columns=COLUMNS)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV or XLSX file to import."), "error")
        return render_template("units/import.html", columns=COLUMNS), 400
    filename = Path(upload.filename).name[:200]
    try:
        rows = read_units(upload.read(), filename)
    except ImportFileError as exc:
        return _report_page(filename, problem=exc.message, errors=exc.errors)
    # A dry run only reads: a session of its own, never the request's writer (a POST).
    with db.new_session() as s:
        scope = s.get(Unit, current_user.unit.id)
        assert scope is not None
        plan = plan_units(s, scope, rows)
    changes = bool(plan.steps)
    return _report_page(filename, plan.report, rows=rows if plan.report.ok and changes else None)


@bp.route("/units/import/apply", methods=["POST"])
@organiser_required
def apply_import() -> Any:
    """Apply the rows a dry run showed: checked again, against the tree as it is now."""
    filename = request.form.get("filename", "")[:200]
    try:
        rows = UnitRows.from_dict(json.loads(request.form.get("rows", "")))
    except ValueError:
        flash(_("Nothing to apply: upload the file again."), "error")
        return redirect(url_for(".import_units"))
    try:
        report = apply_units(db.session(), Actor.of(current_user), _scope(), rows)
    except UnitImportRejected as exc:
        return _report_page(filename, exc.report)
    flash(
        _("Import applied: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
          created=len(report.created), updated=len(report.updated),
          unchanged=report.unchanged),
        "notice",
    )  # fmt: skip
    return redirect(url_for(".tree"))


@bp.route("/units/export.<any(csv, xlsx):fmt>", endpoint="export_units")
@organiser_required
def export_units_view(fmt: str) -> Any:
    lang = "zh" if str(get_locale()).startswith("zh") else "en"
    scope = _scope()
    data = export_units(db.session(), scope, fmt, lang)
    return send_export(
        data, fmt, f"units-{date.today():%Y%m%d}.{fmt}", "unit.export", scope, {"format": fmt}
    )
