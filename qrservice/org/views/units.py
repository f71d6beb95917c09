"""The organisation tree as an officer sees it: their own unit's subtree."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import func, select

from qrservice import db
from qrservice.models import Member, Unit
from qrservice.org.accounts import officer_required
from qrservice.org.members import units_in_scope

bp = Blueprint("org", __name__)


def subtree_member_counts(units: list[Unit]) -> Counter[int]:
    """Active members in each unit's subtree, from one grouped query."""
    by_id = {u.id: u for u in units}
    rows = db.session().execute(
        select(Member.unit_id, func.count())
        .where(Member.active.is_(True), Member.unit_id.in_(list(by_id)))
        .group_by(Member.unit_id)
    )
    totals: Counter[int] = Counter()
    for unit_id, n in rows:
        for ancestor in by_id[unit_id].path.strip("/").split("/"):
            totals[int(ancestor)] += n
    return totals


@bp.app_template_filter("unit_label")
def unit_label(unit: Unit) -> str:
    """A unit's name, with its branch's for a group: every branch has a 第一党小组."""
    if unit.kind == "group" and unit.parent is not None:
        return f"{unit.parent.name} · {unit.name}"
    return unit.name


@bp.route("/units")
@officer_required
def tree() -> Any:
    units = units_in_scope(db.session(), current_user.unit)
    return render_template("units/tree.html", units=units, totals=subtree_member_counts(units))
