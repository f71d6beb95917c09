"""三会一课 rules, branch targets (必达/挑战) and their plan–do–check–act notes.

Every officer reads the rules; the top committee's organisers change them (403 for others).
A branch's targets page and its notes are for the officers whose scope holds the branch (404
for anyone else); its secretary reads the targets and writes the notes, the organisers over
it set the targets (403 for a secretary's POST). A refused form is shown again with its
errors by field (422), nothing written.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from qrservice import db
from qrservice.audit import Actor
from qrservice.boards.compliance import (
    ComplianceError,
    frequency_names,
    may_change_rules,
    per_unit_names,
    remove_rule,
    rules,
    set_rule,
    slot_label,
)
from qrservice.boards.figures import BranchMeasures
from qrservice.boards.periods import Period, PeriodError, parse_period
from qrservice.boards.targets import (
    LOWER_IS_BETTER,
    NOTE_FIELDS,
    NOTE_LENGTH,
    TargetError,
    clean_target,
    may_set_targets,
    measure_name,
    measure_unit,
    note_of,
    set_target,
    set_target_under,
    state_names,
    targets_of,
    write_note,
)
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.models import (
    BOARD_MEASURES,
    COMPLIANCE_FREQUENCIES,
    COMPLIANCE_UNITS,
    MEETING_KINDS,
    Unit,
)
from qrservice.org.accounts import can_see_unit, officer_required, unit_or_404
from qrservice.timeutil import local_today

bp = Blueprint("targets", __name__, url_prefix="/boards")


@bp.app_template_global()
def board_measure_name(measure: str) -> str:
    return measure_name(measure)


@bp.app_template_global()
def board_measure_unit(measure: str) -> str:
    return measure_unit(measure)


# The rules.


def _rules_page(
    errors: dict[str, str], failed: str | None, form: dict[str, str], status: int
) -> Any:
    held = rules(db.session())
    ruled = {rule.meeting_kind for rule in held}
    if failed is not None and failed not in ruled:
        failed = "new"  # a kind with no rule (or none at all): the errors go with the add form
    return render_template(
        "targets/rules.html", rules=held, unruled=[k for k in MEETING_KINDS if k not in ruled],
        frequencies=COMPLIANCE_FREQUENCIES, units=COMPLIANCE_UNITS,
        frequency_names=frequency_names(), per_unit_names=per_unit_names(),
        may_change=may_change_rules(Actor.of(current_user)), errors=errors, failed=failed,
        form=form,
    ), status  # fmt: skip


@bp.route("/rules", methods=["GET", "POST"])
@officer_required
def rules_page() -> Any:
    if request.method == "GET":
        return _rules_page({}, None, {}, 200)
    actor = Actor.of(current_user)
    if not may_change_rules(actor):
        abort(403)
    s = db.session()
    form = {k: request.form.get(k, "") for k in ("kind", "frequency", "per_unit", "minimum")}
    failed = request.form.get("form") or form["kind"]
    try:
        if request.form.get("action") == "remove":
            if not confirmed():
                from qrservice.boards.compliance import kind_name

                return ask_to_confirm(
                    _("Remove the rule for %(kind)s?", kind=kind_name(form["kind"])),
                    [_("Boards stop counting these meetings as required, for every period, "
                       "past ones included.")],
                    _("Remove the rule"), url_for(".rules_page"),
                )  # fmt: skip
            remove_rule(s, actor, form["kind"])
            flash(_("The rule was removed."), "notice")
        else:
            set_rule(s, actor, form["kind"], form["frequency"], form["per_unit"], form["minimum"])
            flash(_("The rule was saved."), "notice")
    except ComplianceError as exc:
        s.rollback()
        return _rules_page(exc.errors, failed, form, 422)
    return redirect(url_for(".rules_page"), code=303)


# A branch's targets.


def _period() -> tuple[Period, str | None]:
    today = local_today()
    try:
        return parse_period(request.args.get("period"), today), None
    except PeriodError as exc:
        return parse_period("", today), exc.errors["period"]


def branch_row(unit: Unit, period: Period) -> BranchMeasures:
    """The branch's measures for the period, with its target checks."""
    from qrservice.boards.measures import branch_measures

    return branch_measures(db.session(), [unit], period, local_today())[unit.id]


def _committee_of(unit: Unit) -> Unit | None:
    """The committee an organiser may apply a target to all branches of: their own unit."""
    own = current_user.unit
    if (
        current_user.role == "organiser"
        and own.kind == "committee"
        and can_see_unit(current_user, unit)
    ):
        return own
    return None


def _targets_page(
    unit: Unit, errors: dict[str, str], form: dict[str, str] | None, status: int
) -> Any:
    period, period_error = _period()
    if period_error:
        errors = {**errors, "period": period_error}
        status = max(status, 422)
    row = branch_row(unit, period)
    held = row.targets  # each target's check holds its must-reach and stretch
    if form is None:
        form = {}
        for measure, target in held.items():
            for field in ("must_reach", "stretch"):
                value = getattr(target, field)
                form[f"{field}-{measure}"] = "" if value is None else str(value)
    return render_template(
        "targets/unit.html", unit=unit, period=period, row=row, measures=BOARD_MEASURES,
        lower_is_better=LOWER_IS_BETTER, state_names=state_names(), form=form, errors=errors,
        may_set=may_set_targets(Actor.of(current_user), unit), committee=_committee_of(unit),
        missed=row.compliance.missed, slot_label=slot_label,
    ), status  # fmt: skip


@bp.route("/<int:unit_id>/targets", methods=["GET", "POST"])
@officer_required
def unit_targets(unit_id: int) -> Any:
    unit = unit_or_404(unit_id, "branch")
    if request.method == "GET":
        return _targets_page(unit, {}, None, 200)
    actor = Actor.of(current_user)
    if not may_set_targets(actor, unit):
        abort(403)
    s = db.session()
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "confirm")}
    everywhere = form.get("apply") == "all"
    committee = _committee_of(unit) if everywhere else None
    if everywhere and committee is None:
        abort(403)
    errors: dict[str, str] = {}
    wanted = []
    for measure in BOARD_MEASURES:
        must, stretch = form.get(f"must_reach-{measure}", ""), form.get(f"stretch-{measure}", "")
        if everywhere and not (must.strip() or stretch.strip()):
            continue  # for every branch: only the measures filled in
        try:
            clean_target(measure, must, stretch)
        except TargetError as exc:
            errors.update({f"{field}-{measure}": message for field, message in exc.errors.items()})
        wanted.append((measure, must, stretch))
    if everywhere and not wanted and not errors:
        errors["apply"] = _("fill in the targets to set for every branch")
    if errors:
        return _targets_page(unit, errors, form, 422)
    if committee is not None:
        if not confirmed():
            return ask_to_confirm(
                _("Set these targets for every branch of %(unit)s?", unit=committee.name),
                [_("%(measure)s: the targets of every open branch under %(unit)s are replaced.",
                   measure=measure_name(m), unit=committee.name) for m, _a, _b in wanted],
                _("Set for every branch"), url_for(".unit_targets", unit_id=unit.id),
                danger=False,
            )  # fmt: skip
        changed = sum(set_target_under(s, actor, committee, *w) for w in wanted)
        flash(_("Targets set: %(n)d changes across the branches.", n=changed), "notice")
    else:
        for w in wanted:
            set_target(s, actor, unit, *w)
        flash(_("The targets were saved."), "notice")
    period = request.args.get("period")
    return redirect(url_for(".unit_targets", unit_id=unit.id, period=period or None), code=303)


# Plan–do–check–act notes.


@bp.route("/<int:unit_id>/notes/<measure>", methods=["GET", "POST"])
@officer_required
def note(unit_id: int, measure: str) -> Any:
    unit = unit_or_404(unit_id, "branch")
    if measure not in BOARD_MEASURES:
        abort(404)
    period, period_error = _period()
    s = db.session()
    errors: dict[str, str] = {"period": period_error} if period_error else {}
    held = note_of(s, unit.id, measure, period.key)
    form = {name: (getattr(held, f"{name}_text") or "") if held else "" for name in NOTE_FIELDS}
    status = 422 if errors else 200
    if request.method == "POST" and not errors:
        form = {name: request.form.get(name, "") for name in NOTE_FIELDS}
        try:
            write_note(s, Actor.of(current_user), unit, measure, period.key, *form.values())
        except TargetError as exc:
            s.rollback()
            errors, status = exc.errors, 422
        else:
            flash(_("The note was saved."), "notice")
            return redirect(url_for(".unit_targets", unit_id=unit.id, period=period.key), code=303)
    target = targets_of(s, [unit.id])[unit.id].get(measure)
    return render_template(
        "targets/note.html", unit=unit, measure=measure, period=period, note=held, form=form,
        errors=errors, target=target, max_length=NOTE_LENGTH,
    ), status  # fmt: skip
