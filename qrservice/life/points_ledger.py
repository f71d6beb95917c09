"""The points ledger beyond attendance: officers' entries and their corrections, the points
rules per meeting kind, and points for dues paid on time.

Officers (the member's branch secretary, organisers above) record volunteer service, study,
awards and deductions, each with a reason and a date. A mistaken line is never edited: a
"correction" line reverses it, its reason naming the line ("更正：#12 …"). Lines derived from
attendance, make-up or dues are corrected by changing what they follow.

Dues on time: a payment paid by the end of the last month it covers earns the organisation's
``dues_on_time_points`` for each month covered; its "dues" lines are derived like attendance
points (``settle_dues_points``: their sum equals what the payment earns now), so a void takes
them back with a negative line.

Plain functions on a session: they add and flush, never commit, and raise ``PointsError``
with ``errors`` by field name for bad input.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.life.points import REASON_LENGTH, reversal_reason
from qrservice.models import POINTS_RULE_KINDS, DuesPayment, Member, PointsEntry, PointsRule
from qrservice.org.organisation import current_organisation
from qrservice.timeutil import add_months, from_local, local_today, month_start, parse_day, utcnow

#: What an officer may record by hand.
OFFICER_KINDS = ("volunteer", "study", "award", "deduction")
#: Lines that follow a record elsewhere (settled, never corrected by hand).
DERIVED_KINDS = ("attendance", "make_up", "dues")
#: The largest number of points one line (or a rule) may give or take.
MAX_ENTRY_POINTS = 100
#: How a correction's reason names the line it reverses, in the organisation's language.
CORRECTION_MARKERS = {"zh": "更正：#{id} ", "en": "Correction of #{id}: "}
#: A dues line's reason: the payment's receipt, in the organisation's language.
DUES_REASONS = {
    "zh": "按时交纳党费（收据 {receipt}）",
    "en": "Dues paid on time (receipt {receipt})",
}


class PointsError(ValueError):
    """Rejected points input: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _org_language() -> str:
    locale = current_app.config.get("BABEL_DEFAULT_LOCALE", "zh") if has_app_context() else "zh"
    language = str(locale).split("_")[0]
    return language if language in CORRECTION_MARKERS else "zh"


def parse_points(value: Any, errors: dict[str, str], *, allow_zero: bool = False) -> int | None:
    """Whole points from a form or the CLI, between −100 and 100 (0 only if ``allow_zero``)."""
    text = str(value if value is not None else "").strip().replace("−", "-").replace("＋", "+")
    try:
        points = int(text)
    except ValueError:
        errors["points"] = _("enter whole points, e.g. 5 or -3")
        return None
    if not -MAX_ENTRY_POINTS <= points <= MAX_ENTRY_POINTS:
        errors["points"] = _("points must be between -100 and 100")
        return None
    if points == 0 and not allow_zero:
        errors["points"] = _("points must not be 0")
        return None
    return points


def _reason(value: Any, errors: dict[str, str]) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        errors["reason"] = _("a reason is required")
    elif len(text) > REASON_LENGTH - 20:
        errors["reason"] = _("at most %(n)s characters", n=REASON_LENGTH - 20)
    return text


def entry_time(day: date) -> datetime:
    """When a line recorded for a local ``day`` counts: that day's local noon, as naive UTC."""
    return from_local(datetime.combine(day, time(12, 0)))


def add_entry(
    s: Session,
    actor: Actor,
    member: Member,
    *,
    kind: str,
    points: Any,
    reason: Any,
    on: Any,
    today: date | None = None,
) -> PointsEntry:
    """An officer's line: volunteer service, study, an award (+) or a deduction (−). A
    deduction's points are taken whatever sign they are given in; the others must be positive."""
    today = today or local_today()
    errors: dict[str, str] = {}
    if kind not in OFFICER_KINDS:
        errors["kind"] = _("choose volunteer service, study, an award or a deduction")
    value = parse_points(points, errors)
    if value is not None and kind == "deduction":
        value = -abs(value)
    elif value is not None and kind in OFFICER_KINDS and value < 0:
        errors["points"] = _("points of this source must be positive; use a deduction to take")
    text = _reason(reason, errors)
    day: date | None = None
    if isinstance(on, date):
        day = on
    elif not str(on or "").strip():
        errors["on"] = _("required")
    else:
        try:
            day = parse_day(on)
        except ValueError as exc:
            errors["on"] = str(exc)
    if day is not None and "on" not in errors:
        if day > today:
            errors["on"] = _("the date must not be in the future")
        elif day.year < 2000:
            errors["on"] = _("the date is too early")
    if errors:
        raise PointsError(errors)
    assert value is not None and day is not None
    entry = PointsEntry(
        member_id=member.id, at=entry_time(day), points=value, kind=kind, reason=text,
        recorded_by=actor.label,
    )  # fmt: skip
    s.add(entry)
    s.flush()
    record(s, actor, "points.add", "member", member.id,
           after={"entry": entry.id, "kind": kind, "points": value, "reason": text,
                  "on": day})  # fmt: skip
    return entry


def correction_prefix(entry_id: int) -> str:
    return CORRECTION_MARKERS[_org_language()].format(id=entry_id)


def corrections_of(s: Session, entry: PointsEntry) -> list[PointsEntry]:
    """The correction lines that name ``entry`` (in either language's marker)."""
    patterns = [m.format(id=entry.id) + "%" for m in CORRECTION_MARKERS.values()]
    return list(
        s.scalars(
            select(PointsEntry).where(
                PointsEntry.member_id == entry.member_id,
                PointsEntry.kind == "correction",
                or_(*(PointsEntry.reason.like(p) for p in patterns)),
            )
        )
    )


def correct_entry(s: Session, actor: Actor, entry: PointsEntry, reason: Any) -> PointsEntry:
    """Reverse a mistaken officer's line with a new "correction" line of the opposite points,
    counted at the same time (the month's score is then as if the line had never been)."""
    errors: dict[str, str] = {}
    if entry.kind in DERIVED_KINDS:
        errors["entry"] = _(
            "this line follows attendance, make-up or dues: change that record instead"
        )
    elif entry.kind == "correction":
        errors["entry"] = _("a correction cannot itself be corrected")
    text = _reason(reason, errors)
    if not errors:
        s.execute(select(Member.id).where(Member.id == entry.member_id).with_for_update())
        if corrections_of(s, entry):
            errors["entry"] = _("this line has already been corrected")
    if errors:
        raise PointsError(errors)
    line = PointsEntry(
        member_id=entry.member_id, at=entry.at, points=-entry.points, kind="correction",
        reason=(correction_prefix(entry.id) + text)[:REASON_LENGTH], recorded_by=actor.label,
    )  # fmt: skip
    s.add(line)
    s.flush()
    record(s, actor, "points.correct", "member", entry.member_id,
           before={"entry": entry.id, "kind": entry.kind, "points": entry.points},
           after={"entry": line.id, "points": line.points, "reason": text})  # fmt: skip
    return line


def rules(s: Session) -> dict[str, int | None]:
    """Every meeting kind → its default points (None where no rule is set)."""
    held = dict(s.execute(select(PointsRule.meeting_kind, PointsRule.points)).all())
    return {kind: held.get(kind) for kind in POINTS_RULE_KINDS}


def rule_points(s: Session, kind: str) -> int | None:
    """The default points of a new meeting of ``kind``, if a rule sets them."""
    return s.scalar(select(PointsRule.points).where(PointsRule.meeting_kind == kind))


def default_meeting_points(s: Session, kind: str) -> int:
    """The points a new meeting of ``kind`` is given unless its creator says otherwise: its
    rule's, else 1."""
    points = rule_points(s, kind)
    return 1 if points is None else points


def set_rule(s: Session, actor: Actor, kind: Any, points: Any) -> PointsRule:
    """Set the points a kind of meeting earns by default (0–100). Meetings made before keep
    their own points."""
    errors: dict[str, str] = {}
    if kind not in POINTS_RULE_KINDS:
        errors["kind"] = _("unknown meeting kind")
    value = parse_points(points, errors, allow_zero=True)
    if value is not None and value < 0:
        errors["points"] = _("points must be between 0 and 100")
    if errors:
        raise PointsError(errors)
    assert value is not None
    rule = s.scalar(select(PointsRule).where(PointsRule.meeting_kind == kind))
    before = None if rule is None else {"kind": kind, "points": rule.points}
    if rule is None:
        rule = PointsRule(meeting_kind=kind, points=value, updated_by=actor.label,
                          updated_at=utcnow())  # fmt: skip
        s.add(rule)
    else:
        rule.points, rule.updated_by, rule.updated_at = value, actor.label, utcnow()
    s.flush()
    record(s, actor, "points.rule", "points_rule", rule.id, before=before,
           after={"kind": kind, "points": value})  # fmt: skip
    return rule


def dues_on_time(payment: DuesPayment) -> bool:
    """A payment is on time if paid by the end of the last month it covers (advance payments
    are on time; a payment of December and January made on 31 January is on time for both,
    one made on 1 February for neither)."""
    after_last = add_months(month_start(payment.first_month), payment.months)
    return payment.paid_on < after_last


def dues_earned(payment: DuesPayment, per_month: int) -> int:
    """The points a payment earns now: ``per_month`` for each month covered if on time and not
    voided."""
    if payment.voided_at is not None or not dues_on_time(payment):
        return 0
    return per_month * payment.months


def settle_dues_points(s: Session, payment: DuesPayment, by: str) -> int:
    """Make the sum of the payment's "dues" lines equal what it earns now (``dues_earned``
    with the organisation's dues_on_time_points): one line for the difference, if any.
    Returns the points added (negative when taken back, as on a void)."""
    organisation = current_organisation(s)
    per_month = organisation.dues_on_time_points if organisation is not None else 0
    held = int(
        s.scalar(
            select(func.coalesce(func.sum(PointsEntry.points), 0)).where(
                PointsEntry.payment_id == payment.id, PointsEntry.kind == "dues"
            )
        )
        or 0
    )
    difference = dues_earned(payment, per_month) - held
    if difference == 0:
        return 0
    reason = DUES_REASONS[_org_language()].format(receipt=payment.receipt_no)
    if difference < 0:
        reason = reversal_reason(reason)
    s.add(
        PointsEntry(
            member_id=payment.member_id, at=entry_time(payment.paid_on), points=difference,
            kind="dues", payment_id=payment.id, reason=reason[:REASON_LENGTH], recorded_by=by,
        )
    )  # fmt: skip
    s.flush()
    return difference


def source_names() -> dict[str, str]:
    """Each kind of line as pages name its source."""
    return {
        "attendance": _("attendance"),
        "make_up": _("make-up study"),
        "dues": _("dues paid on time"),
        "volunteer": _("volunteer service"),
        "study": _("study"),
        "award": _("award"),
        "deduction": _("deduction"),
        "correction": _("correction"),
    }
