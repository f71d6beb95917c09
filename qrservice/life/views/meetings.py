"""Meeting pages for officers: the list by month with filters and the coming meetings (an
officer's landing page), a month calendar, create, plan, edit, cancel and delete, open and
close check-in, attendance."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor
from qrservice.audit_sentences import audit_trail
from qrservice.confirm import ask_to_confirm, confirmed
from qrservice.life.meeting_plans import MOST_OCCURRENCES, PlanFields, create_plan, plan_meetings
from qrservice.life.meetings import (
    REASON_MAX,
    MeetingError,
    MeetingFields,
    MeetingFilter,
    cancel_meeting,
    close_checkin,
    coming_meetings,
    counts,
    create_meeting,
    delete_meeting,
    deletion_problem,
    fields_of,
    find_meetings,
    has_opened,
    meeting_time_problem,
    meetings_between,
    missing_members,
    month_bounds,
    month_calendar,
    open_checkin,
    parse_month,
    update_meeting,
)
from qrservice.models import (
    MEETING_KINDS,
    MEETING_STATUSES,
    PLAN_REPEATS,
    Attendance,
    AuditEvent,
    Meeting,
    Unit,
)
from qrservice.org.accounts import can_see_unit, officer_required
from qrservice.org.members import units_in_scope
from qrservice.org.units import open_units_in_scope
from qrservice.timeutil import from_local, local_time, utcnow

bp = Blueprint("meetings", __name__, url_prefix="/meetings")

#: Meetings per page of the list.
PER_PAGE = 50


def _this_month() -> date:
    return local_time(utcnow()).date().replace(day=1)


def _month_shift(month: date, months: int) -> date:
    index = month.year * 12 + month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _list_filter(units: list[Unit]) -> tuple[MeetingFilter, dict[str, str], date | None]:
    """The list's filter from the query string; bad values are named in the errors. Without
    a period the list shows this month (local)."""
    args = request.args
    errors: dict[str, str] = {}
    unit = None
    if args.get("unit"):
        unit = next((u for u in units if str(u.id) == args["unit"]), None)
        if unit is None:
            errors["unit"] = _("Choose a unit.")
    kind = args.get("kind") or None
    if kind is not None and kind not in MEETING_KINDS:
        errors["kind"] = _("Choose a kind of meeting.")
    state = args.get("state") or None
    if state is not None and state not in MEETING_STATUSES:
        errors["state"] = _("Choose a state.")
    month = None
    starts_from = starts_before = None
    if args.get("from") or args.get("to"):
        first = _day(args.get("from", ""), "from", errors)
        last = _day(args.get("to", ""), "to", errors)
        if first and last and last < first:
            errors["to"] = _("The end must not be before the start.")
        midnight = datetime.min.time()
        if first:
            starts_from = from_local(datetime.combine(first, midnight))
        if last:
            starts_before = from_local(datetime.combine(last + timedelta(days=1), midnight))
    else:
        month = parse_month(args["month"]) if args.get("month") else _this_month()
        if month is None:
            errors["month"] = _("Enter a month as YYYY-MM.")
        else:
            starts_from, starts_before = month_bounds(month)
    filt = MeetingFilter(unit, kind, state, starts_from, starts_before)
    return filt, errors, month


def _day(value: str, field: str, errors: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors[field] = _("Enter a date as YYYY-MM-DD.")
        return None
    if problem := meeting_time_problem(datetime.combine(day, datetime.min.time())):
        errors[field] = problem
        return None
    return day


@bp.route("/")
@officer_required
def index() -> Any:
    """Where an officer lands: the meetings open now and coming in the next 30 days, then the
    list of a month (this one unless chosen) with filters by unit, kind and state."""
    s = db.session()
    units = units_in_scope(s, current_user.unit)
    filt, errors, month = _list_filter(units)
    page = None
    if not errors:
        page = find_meetings(
            s, current_user.unit, filt, page=db.parse_id(request.args.get("page")) or 1,
            per_page=PER_PAGE,
        )  # fmt: skip
    landing = not any(request.args.get(k) for k in ("unit", "kind", "state", "month", "from", "to"))
    coming = coming_meetings(s, current_user.unit, utcnow()) if landing else []
    return render_template(
        "meetings/index.html", page=page, units=units, args=request.args, errors=errors,
        month=month, coming=coming, landing=landing, kinds=MEETING_KINDS,
        states=MEETING_STATUSES,
        previous_month=_month_shift(month, -1) if month else None,
        next_month=_month_shift(month, 1) if month else None,
    ), 400 if errors else 200  # fmt: skip


@bp.route("/calendar")
@officer_required
def calendar() -> Any:
    """A month as a grid of weeks, Monday to Sunday, each day with its meetings."""
    s = db.session()
    units = units_in_scope(s, current_user.unit)
    filt, errors, month = _list_filter(units)
    if month is None and "month" not in errors:
        errors["month"] = _("Enter a month as YYYY-MM.")  # a calendar shows a month
    weeks = []
    if not errors:
        assert month is not None
        weeks = month_calendar(month, meetings_between(s, current_user.unit, filt))
    return render_template(
        "meetings/calendar.html", weeks=weeks, month=month, units=units, args=request.args,
        errors=errors, kinds=MEETING_KINDS, states=MEETING_STATUSES,
        previous_month=_month_shift(month, -1) if month else None,
        next_month=_month_shift(month, 1) if month else None,
    ), 400 if errors else 200  # fmt: skip


def meeting_or_404(meeting_id: int) -> Meeting:
    meeting = db.session().get(Meeting, meeting_id)
    if meeting is None or not can_see_unit(current_user, meeting.unit):
        abort(404)
    return meeting


def _local(value: str, field: str, errors: dict[str, str]) -> datetime:
    """A form's local date and time as stored (naive UTC); a bad one is named in ``errors``."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        errors[field] = _("Enter a date and time.")
        return datetime(2000, 1, 1)
    # Checked before the conversion: a zone or a year 0001 must not reach the arithmetic.
    if problem := meeting_time_problem(at):
        errors[field] = problem
        return datetime(2000, 1, 1)
    return from_local(at)


def _int(value: str, field: str, errors: dict[str, str], default: int) -> int:
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        errors[field] = _("Enter a whole number.")
        return default


def form_time(at: datetime) -> str:
    """A stored time as a datetime-local input's value (local, to the minute)."""
    return local_time(at).strftime("%Y-%m-%dT%H:%M")


def _meeting_units() -> list[Unit]:
    return [
        u for u in open_units_in_scope(db.session(), current_user.unit) if u.kind != "committee"
    ]


def _fields_from_form(
    units: list[Unit], errors: dict[str, str], base: MeetingFields | None = None
) -> MeetingFields:
    """The meeting fields a form sent; with ``base`` (an edit), a field the form leaves out
    keeps its value, and a time sent back as shown keeps its seconds."""
    form = request.form

    def text(name: str, default: str) -> str:
        return form.get(name, default)

    def when(name: str, current: datetime | None) -> datetime:
        value = form.get(name)
        if current is not None and (value is None or value == form_time(current)):
            return current
        return _local(value or "", name, errors)

    unit = base.unit if base is not None else None
    if "unit_id" in form or base is None:
        unit = next((u for u in units if str(u.id) == form.get("unit_id")), None)
        if unit is None:
            errors["unit"] = _("Choose a unit.")
    numbers = {
        name: _int(
            text(name, str(getattr(base, name)) if base is not None else ""),
            name, errors, default,
        )
        for name, default in (
            ("points", 1), ("late_after_min", 10), ("opens_before_min", 30),
            ("closes_after_min", 30),
        )
    }  # fmt: skip
    remote = base.remote_allowed if base is not None else False
    if "remote_allowed" in form:
        remote = form.get("remote_allowed") == "yes"
    return MeetingFields(
        unit=unit or (base.unit if base is not None else current_user.unit),
        kind=text("kind", base.kind if base is not None else ""),
        title=text("title", base.title if base is not None else ""),
        starts_at=when("starts_at", base.starts_at if base is not None else None),
        ends_at=when("ends_at", base.ends_at if base is not None else None),
        place=text("place", (base.place or "") if base is not None else ""),
        remote_allowed=remote,
        **numbers,
    )


@bp.route("/new", methods=["GET", "POST"])
@officer_required
def new() -> Any:
    s = db.session()
    units = _meeting_units()
    form = request.form
    if request.method == "POST":
        errors: dict[str, str] = {}
        fields = _fields_from_form(units, errors)
        try:
            if errors:
                raise MeetingError(errors)
            meeting = create_meeting(s, Actor.of(current_user), fields)
        except MeetingError as exc:
            return render_template(
                "meetings/new.html", units=units, kinds=MEETING_KINDS, form=form,
                errors={**errors, **exc.errors},
            ), 422  # fmt: skip
        flash(_("Meeting created."), "notice")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    from qrservice.life.points_ledger import default_meeting_points

    # ?kind= picks the kind, and its points rule fills the points.
    kind = request.args.get("kind", "")
    prefill = {"kind": kind} if kind in MEETING_KINDS else {}
    prefill["points"] = str(default_meeting_points(s, kind or MEETING_KINDS[0]))
    return render_template(
        "meetings/new.html", units=units, kinds=MEETING_KINDS, form=prefill, errors={}
    )


@bp.route("/<int:meeting_id>/edit", methods=["GET", "POST"])
@officer_required
def edit(meeting_id: int) -> Any:
    """Change a meeting: everything before check-in opens, then only its title and place."""
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    if meeting.status == "cancelled":
        flash(_("A cancelled meeting cannot be changed."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    units = _meeting_units()
    opened = has_opened(meeting)
    current = fields_of(meeting)
    shown = {
        "unit_id": str(meeting.unit_id), "kind": meeting.kind, "title": meeting.title,
        "starts_at": form_time(meeting.starts_at), "ends_at": form_time(meeting.ends_at),
        "place": meeting.place or "", "remote_allowed": "yes" if meeting.remote_allowed else "no",
        "points": str(meeting.points), "late_after_min": str(meeting.late_after_min),
        "opens_before_min": str(meeting.opens_before_min),
        "closes_after_min": str(meeting.closes_after_min),
    }  # fmt: skip
    if request.method == "POST":
        errors: dict[str, str] = {}
        fields = _fields_from_form(units, errors, base=current)
        try:
            if errors:
                raise MeetingError(errors)
            changed = update_meeting(s, Actor.of(current_user), meeting, fields)
        except MeetingError as exc:
            return render_template(
                "meetings/edit.html", meeting=meeting, units=units, kinds=MEETING_KINDS,
                form={**shown, **request.form.to_dict()}, errors={**errors, **exc.errors},
                opened=opened,
            ), 422  # fmt: skip
        if changed:
            flash(_("Meeting changed."), "notice")
        else:
            flash(_("Nothing was changed."), "notice")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    return render_template(
        "meetings/edit.html", meeting=meeting, units=units, kinds=MEETING_KINDS, form=shown,
        errors={}, opened=opened,
    )  # fmt: skip


@bp.route("/<int:meeting_id>/cancel", methods=["GET", "POST"])
@officer_required
def cancel(meeting_id: int) -> Any:
    """Cancel with a reason. The page with the reason's field is the confirmation: a POST
    without ``confirm=yes`` changes nothing and shows it again."""
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    reason = request.form.get("reason", "")
    errors: dict[str, str] = {}
    if request.method == "POST" and confirmed():
        try:
            cancel_meeting(s, Actor.of(current_user), meeting, reason)
        except MeetingError as exc:
            errors = exc.errors
        else:
            flash(_("Meeting cancelled."), "notice")
            return redirect(url_for("meetings.show", meeting_id=meeting.id))
    tally = counts(s, meeting) if meeting.status == "open" else None
    return render_template(
        "meetings/cancel.html", meeting=meeting, reason=reason, errors=errors, tally=tally,
        reason_max=REASON_MAX,
    ), 422 if errors else 200  # fmt: skip


@bp.route("/<int:meeting_id>/delete", methods=["GET", "POST"])
@officer_required
def delete(meeting_id: int) -> Any:
    """Delete a meeting that never opened (confirmed first); any other is cancelled."""
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    problem = deletion_problem(s, meeting)
    if problem is None and request.method == "POST" and confirmed():
        title = meeting.title
        try:
            delete_meeting(s, Actor.of(current_user), meeting)
        except MeetingError as exc:  # it opened meanwhile
            problem = exc.errors["meeting"]
        else:
            flash(_("Meeting “%(title)s” deleted.", title=title), "notice")
            return redirect(url_for("meetings.index"))
    return render_template(
        "meetings/delete.html", meeting=meeting, problem=problem
    ), 409 if problem and request.method == "POST" else 200  # fmt: skip


def _plan_from_form(units: list[Unit], errors: dict[str, str]) -> PlanFields:
    form = request.form
    unit = next((u for u in units if str(u.id) == form.get("unit_id")), None)
    if unit is None:
        errors["unit"] = _("Choose a unit.")
    first = datetime(2000, 1, 1)
    try:
        first = datetime.fromisoformat(form.get("first", ""))
    except ValueError:
        errors["first"] = _("Enter a date and time.")
    return PlanFields(
        unit=unit or current_user.unit,
        kind=form.get("kind", ""),
        title=form.get("title", ""),
        first=first,
        minutes=_int(form.get("minutes", ""), "minutes", errors, 90),
        place=form.get("place") or None,
        remote_allowed=form.get("remote_allowed") == "yes",
        points=_int(form.get("points", ""), "points", errors, 1),
        repeat=form.get("repeat", ""),
        occurrences=_int(form.get("occurrences", ""), "occurrences", errors, 1),
    )


@bp.route("/plan", methods=["GET", "POST"])
@officer_required
def plan() -> Any:
    """Plan meetings: the form, then a preview of every meeting, then all of them at once."""
    s = db.session()
    units = units_in_scope(s, current_user.unit)
    form = request.form
    context = {
        "units": units, "kinds": MEETING_KINDS, "repeats": PLAN_REPEATS,
        "most": MOST_OCCURRENCES,
    }  # fmt: skip
    if request.method == "GET":
        return render_template("meetings/plan.html", form={}, errors={}, planned=None, **context)
    errors: dict[str, str] = {}
    fields = _plan_from_form(units, errors)
    try:
        if errors:
            raise MeetingError(errors)
        planned = plan_meetings(s, fields)
        if not confirmed():
            return render_template(
                "meetings/plan.html", form=form, errors={}, planned=planned, **context
            )
        _plan, meetings = create_plan(s, Actor.of(current_user), fields)
    except MeetingError as exc:
        return render_template(
            "meetings/plan.html", form=form, errors={**errors, **exc.errors}, planned=None,
            **context,
        ), 422  # fmt: skip
    flash(
        ngettext("%(num)d meeting planned.", "%(num)d meetings planned.", len(meetings)),
        "notice",
    )
    first = local_time(meetings[0].starts_at).date().replace(day=1)
    return redirect(url_for("meetings.index", month=first.strftime("%Y-%m")))


@bp.route("/<int:meeting_id>")
@officer_required
def show(meeting_id: int) -> Any:
    s = db.session()
    meeting = meeting_or_404(meeting_id)
    rows = s.scalars(
        select(Attendance)
        .where(Attendance.meeting_id == meeting.id, Attendance.status != "undone")
        .order_by(Attendance.checked_in_at)
    ).all()
    history = s.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "meeting", AuditEvent.entity_id == meeting.id)
        .order_by(AuditEvent.id.desc())
        .limit(50)
    )
    return render_template(
        "meetings/show.html",
        meeting=meeting,
        attendance=rows,
        counts=counts(s, meeting),
        missing=missing_members(s, meeting) if meeting.status != "closed" else [],
        history=audit_trail(s, history),
        opened=has_opened(meeting),
    )


@bp.route("/<int:meeting_id>/open", methods=["POST"])
@officer_required
def open_(meeting_id: int) -> Any:
    meeting = meeting_or_404(meeting_id)
    try:
        open_checkin(db.session(), Actor.of(current_user), meeting)
    except MeetingError as exc:
        flash(" ".join(exc.errors.values()), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    flash(_("Check-in is open."), "notice")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.route("/<int:meeting_id>/close", methods=["POST"])
@officer_required
def close(meeting_id: int) -> Any:
    meeting = meeting_or_404(meeting_id)
    if meeting.status == "cancelled":
        flash(_("This meeting was cancelled."), "error")
        return redirect(url_for("meetings.show", meeting_id=meeting.id))
    if meeting.status == "open" and not confirmed():
        tally = counts(db.session(), meeting)
        attended = tally.present + tally.late
        return ask_to_confirm(
            _("Close check-in of “%(title)s”?", title=meeting.title),
            [
                _("%(n)d expected members who have not checked in or asked for leave are "
                  "recorded absent.", n=tally.missing),
                _("%(n)d members who attended earn %(points)d points each.",
                  n=attended, points=meeting.points),
                _("Scanners and the on-screen code stop checking anyone in; scans saved offline "
                  "before now still count when they sync."),
            ],
            _("Close check-in"),
            url_for("meetings.show", meeting_id=meeting.id),
        )  # fmt: skip
    done = close_checkin(db.session(), Actor.of(current_user), meeting)
    flash(_("Check-in closed: %(absent)d absent, %(awarded)d earned points.", **done), "notice")
    return redirect(url_for("meetings.show", meeting_id=meeting.id))


@bp.app_template_global()
def meeting_kind_names() -> dict[str, str]:
    return {
        "branch_general": _("Branch general meeting"),
        "branch_committee": _("Branch committee meeting"),
        "group": _("Group meeting"),
        "lecture": _("Party lecture"),
        "theme_day": _("Theme party day"),
        "org_life": _("Organisational-life meeting"),
        "volunteer": _("Volunteer service"),
        "other": _("Other"),
    }


@bp.app_template_global()
def meeting_status_names() -> dict[str, str]:
    return {
        "scheduled": _("scheduled"),
        "open": _("check-in open"),
        "closed": _("closed"),
        "cancelled": _("cancelled"),
    }


@bp.app_template_global()
def plan_repeat_names() -> dict[str, str]:
    return {"once": _("Once"), "monthly": _("Monthly"), "quarterly": _("Quarterly")}


@bp.app_template_global()
def checkin_via_names() -> dict[str, str]:
    """How an attendance row came to be (Attendance.via), as the viewer reads it."""
    return {
        "scan": _("scanned by an officer"),
        "screen_code": _("scanned the on-screen code"),
        "remote": _("checked in remotely"),
        "manual": _("recorded by hand"),
        "offline": _("scanned offline, synced later"),
        "closing": _("recorded at closing"),
        "leave": _("leave approved"),
        "device": _("scanned by a scanner device"),
    }


@bp.app_template_global()
def attendance_status_names() -> dict[str, str]:
    return {
        "present": _("present"),
        "late": _("late"),
        "excused": _("on leave"),
        "absent": _("absent"),
        "made_up": _("made up"),
        "visitor": _("visitor"),
    }
