"""The audit trail as sentences in the viewer's language.

``describe_event`` turns one recorded event into a sentence such as
"组织委员 organiser 补发了 王洋 的活动证（第 2 版，原因：遗失）"; ``audit_trail`` does it for a list
of events with the names they mention loaded in a few queries. Every page that shows the trail
uses them, so an action reads the same everywhere. An action this module does not know still
reads as a sentence, with its recorded values named.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from qrservice.models import AuditEvent, Meeting, Member, ScannerDevice, Unit, User
from qrservice.org.roles import role_label
from qrservice.timeutil import local_time


@dataclass(frozen=True)
class TrailEntry:
    """One line of the trail: when, and what happened as a sentence."""

    at: datetime
    sentence: str
    event: AuditEvent


@dataclass
class Names:
    """What the sentences name, by id: officer accounts, members, units and meetings."""

    users: dict[int, User] = field(default_factory=dict)
    members: dict[int, str] = field(default_factory=dict)
    units: dict[int, str] = field(default_factory=dict)
    meetings: dict[int, str] = field(default_factory=dict)
    devices: dict[int, str] = field(default_factory=dict)


def _zh() -> bool:
    return str(get_locale()).startswith("zh")


def _join(parts: Iterable[str]) -> str:
    return ("；" if _zh() else "; ").join(parts)


def _load(value: str | None) -> dict[str, Any]:
    if not value:
        return {}
    try:
        loaded = json.loads(value)
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def role_name(role: str) -> str:
    return {"organiser": _("Organiser"), "secretary": _("Secretary")}.get(role, role)


def actor_name(label: str, user: User | None = None) -> str:
    """Who did it, as the viewer reads it: "组织委员 organiser", "命令行", "党员本人"."""
    kind, _sep, rest = label.partition(":")
    if kind == "user":
        if user is not None:
            return _("%(role)s %(username)s", role=role_name(user.role), username=rest)
        return rest
    if label == "cli":
        return _("the command line")
    if label == "demo":
        return _("the demo loader")
    if label == "member":
        return _("the member")
    if label == "visitor":
        return _("someone on the card page")
    if kind == "member" and rest:
        return _("member %(number)s", number=rest)
    if kind == "device" and rest:
        return _("scanner device %(name)s", name=rest)
    return label


def _device_actor(label: str, names: Names) -> str:
    kind, _sep, rest = label.partition(":")
    if kind == "device" and rest.isdigit() and int(rest) in names.devices:
        return _("scanner device “%(name)s”", name=names.devices[int(rest)])
    return actor_name(label)


def field_names() -> dict[str, str]:
    """Recorded field names as the viewer reads them (the member form's and the import's)."""
    return {
        "number": _("Member number"),
        "name": _("Name"),
        "gender": _("Gender"),
        "phone": _("Phone"),
        "joined_on": _("Date joined"),
        "status": _("Member status"),
        "unit": _("Home unit"),
        "floating": _("Floating member"),
        "floating_location": _("Floating location"),
        "floating_since": _("Floating since"),
        "active": _("On the roll"),
        "dues_from": _("Dues owed from"),
        "national_id": _("ID number"),
        "version": _("Version"),
        "reason": _("Reason"),
        "why": _("Reason"),
        "kid": _("Signing key"),
        "title": _("Title"),
        "meeting": _("Meeting"),
        "months": _("Months"),
        "first_month": _("From month"),
        "receipt": _("Receipt"),
        "format": _("Format"),
        "username": _("Username"),
        "role": _("Role"),
        "sessions_ended": _("Sessions ended"),
        "rows": _("Rows"),
        "created": _("Created"),
        "updated": _("Updated"),
        "unchanged": _("Unchanged"),
        "absent": _("Absent"),
        "awarded": _("Earned points"),
        "code": _("Code"),
        "kind": _("Kind"),
        "locked_until": _("PIN locked until"),
        "lockouts": _("Lockouts"),
        "expires_at": _("Expires"),
        "pairing_expires_at": _("Pairing code expires"),
        "paired_at": _("Paired"),
        "revoked_at": _("Revoked"),
    }


def card_reason(reason: str) -> str:
    return {
        "new": _("new"),
        "lost": _("lost"),
        "damaged": _("damaged"),
        "copied": _("suspected copied"),
        "other": _("other"),
    }.get(reason, reason)


def end_reason_text(why: str) -> str:
    """A card's recorded end reason ("lost: left on a bus") with its fixed word translated."""
    if why == "revoked":  # a revocation without a note
        return _("revoked")
    word, sep, note = why.partition(": ")
    translated = card_reason(word)
    if translated == word:
        return why
    return f"{translated}{'：' if _zh() else ': '}{note}" if sep else translated


def value_text(key: str, value: Any, names: Names | None = None) -> str:
    """A recorded value as the viewer reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key == "gender":
        return {"male": _("Male"), "female": _("Female")}.get(value, str(value))
    if key == "status":
        return {"full": _("Full member"), "probationary": _("Probationary member")}.get(
            value, str(value)
        )
    if key == "national_id":
        return {"(set)": _("on file"), "(hidden)": _("on file"), "(changed)": _("changed")}.get(
            value, _("on file")
        )
    if key == "role":
        return role_name(str(value))
    if key == "reason":
        return card_reason(str(value))
    if key == "meeting" and names is not None and isinstance(value, int):
        return "“" + names.meetings.get(value, f"#{value}") + "”"
    if key in ("first_month", "dues_from") and isinstance(value, str):
        return value[:7]
    if key.endswith(("_at", "_until")) and isinstance(value, str):
        try:
            return local_time(datetime.fromisoformat(value)).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return str(value)


def _details(values: dict[str, Any], names: Names) -> str:
    labels = field_names()
    return ("，" if _zh() else ", ").join(
        f"{labels.get(k, k)}{'：' if _zh() else ': '}{value_text(k, v, names)}"
        for k, v in values.items()
    )


def _changes(before: dict[str, Any], after: dict[str, Any], names: Names) -> str:
    """Changed fields in the member form's order (the trail stores them alphabetically)."""
    labels = field_names()
    order = {key: index for index, key in enumerate(labels)}
    after = dict(sorted(after.items(), key=lambda item: order.get(item[0], len(order))))
    return _join(
        f"{labels.get(k, k)} {value_text(k, before.get(k), names)} → {value_text(k, value, names)}"
        for k, value in after.items()
    )


def _subject(event: AuditEvent, names: Names) -> str:
    entity_id = event.entity_id
    if entity_id is None:
        return ""
    if event.entity_type == "member":
        return names.members.get(entity_id, _("member #%(id)d", id=entity_id))
    if event.entity_type == "unit":
        return names.units.get(entity_id, _("unit #%(id)d", id=entity_id))
    if event.entity_type == "meeting":
        return names.meetings.get(entity_id, _("meeting #%(id)d", id=entity_id))
    if event.entity_type == "user":
        user = names.users.get(entity_id)
        return user.username if user is not None else _("account #%(id)d", id=entity_id)
    if event.entity_type == "scanner_device":
        name = names.devices.get(entity_id)
        return (
            _("scanner device “%(name)s”", name=name)
            if name
            else _("scanner device #%(id)d", id=entity_id)
        )
    return f"{event.entity_type} #{entity_id}"


Sentence = Callable[[str, str, dict[str, Any], dict[str, Any], Names], str]


def _card_issue(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    version = a.get("version", 0)
    if a.get("reason", "new") == "new":
        return _("%(actor)s issued %(member)s's card (version %(v)s)",
                 actor=actor, member=subject, v=version)  # fmt: skip
    return _("%(actor)s reissued %(member)s's card (version %(v)s, reason: %(reason)s)",
             actor=actor, member=subject, v=version, reason=card_reason(a["reason"]))  # fmt: skip


def _card_end(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    why = end_reason_text(str(a.get("why", "")))
    if a.get("status") == "revoked":
        return _("%(actor)s revoked %(member)s's card (version %(v)s, reason: %(why)s)",
                 actor=actor, member=subject, v=a.get("version", "?"), why=why)  # fmt: skip
    return _("%(actor)s stopped version %(v)s of %(member)s's card (replaced: %(why)s)",
             actor=actor, member=subject, v=a.get("version", "?"), why=why)  # fmt: skip


def _member_create(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s created the record of %(member)s (member number %(number)s, %(unit)s)",
             actor=actor, member=subject, number=a.get("number", "?"),
             unit=a.get("unit", "?"))  # fmt: skip


def _member_update(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s changed the record of %(member)s: %(changes)s",
             actor=actor, member=subject, changes=_changes(b, a, n))  # fmt: skip


def months_from(months: int, month: str) -> str:
    """ "3 months from 2026-01", with the plural the language needs."""
    return ngettext("%(num)d month from %(month)s", "%(num)d months from %(month)s", months,
                    month=month)  # fmt: skip


def _dues_period(a: dict[str, Any]) -> str:
    months, first = a.get("months"), value_text("first_month", a.get("first_month"))
    return months_from(months, first) if isinstance(months, int) else first


def _yuan(value: Any) -> str:
    return "%.2f" % (int(value) / 100) if isinstance(value, int) else "?"


def _dues_pay(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    text = _("%(actor)s recorded dues of %(member)s: %(period)s, receipt %(receipt)s",
             actor=actor, member=subject, period=_dues_period(a),
             receipt=a.get("receipt", "—"))  # fmt: skip
    if "amount_fen" in a:
        text += ("，" if _zh() else ", ") + _("%(amount)s yuan", amount=_yuan(a["amount_fen"]))
    return text


def _dues_rate(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    text = _("%(actor)s set the monthly dues of %(member)s to %(amount)s yuan from %(month)s",
             actor=actor, member=subject, amount=_yuan(a.get("amount_fen", 0)),
             month=value_text("first_month", a.get("from")))  # fmt: skip
    if "amount_fen" in b:
        text += ("（" if _zh() else " (") + _("was %(amount)s yuan", amount=_yuan(
            b["amount_fen"])) + ("）" if _zh() else ")")  # fmt: skip
    return text


def _dues_exempt(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    first = value_text("first_month", a.get("first_month"))
    if a.get("last_month"):
        return _("%(actor)s exempted %(member)s from dues from %(first)s to %(last)s (reason: "
                 "%(why)s)", actor=actor, member=subject, first=first,
                 last=value_text("first_month", a["last_month"]),
                 why=a.get("reason", "—"))  # fmt: skip
    return _("%(actor)s exempted %(member)s from dues from %(first)s until further notice "
             "(reason: %(why)s)", actor=actor, member=subject, first=first,
             why=a.get("reason", "—"))  # fmt: skip


def _dues_exempt_end(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    return _("%(actor)s ended the dues exemption of %(member)s from %(first)s with %(last)s: "
             "the month after is owed again", actor=actor, member=subject,
             first=value_text("first_month", a.get("first_month")),
             last=value_text("first_month", a.get("last_month")))  # fmt: skip


def _dues_exempt_void(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    return _("%(actor)s voided the dues exemption of %(member)s from %(first)s (reason: "
             "%(why)s)", actor=actor, member=subject,
             first=value_text("first_month", a.get("first_month")),
             why=a.get("reason", "—"))  # fmt: skip


def _dues_void(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s voided the dues payment of %(member)s with receipt %(receipt)s "
             "(%(period)s, %(amount)s yuan; reason: %(why)s)", actor=actor, member=subject,
             receipt=a.get("receipt", "—"), period=_dues_period(a),
             amount=_yuan(a.get("amount_fen")), why=a.get("reason", "—"))  # fmt: skip


def _dues_import(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s imported %(payments)s dues payments for %(unit)s (%(amount)s yuan)",
             actor=actor, unit=subject, payments=a.get("payments", 0),
             amount=_yuan(a.get("amount_fen", 0)))  # fmt: skip


def _dues_export(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s exported the dues list of %(unit)s for %(month)s (%(format)s)",
             actor=actor, unit=subject, month=a.get("month", "?"),
             format=str(a.get("format", "")).upper())  # fmt: skip


def _attendance_undo(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    meeting = a.get("meeting", b.get("meeting"))
    return _("%(actor)s took back the check-in of %(member)s at %(meeting)s",
             actor=actor, member=subject, meeting=value_text("meeting", meeting, n))  # fmt: skip


def _meeting_close(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s closed check-in of “%(meeting)s”: %(absent)s absent, %(awarded)s earned "
             "points", actor=actor, meeting=subject, absent=a.get("absent", 0),
             awarded=a.get("awarded", 0))  # fmt: skip


def _import_apply(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s imported members into %(unit)s: %(created)s created, %(updated)s "
             "updated, %(unchanged)s unchanged", actor=actor, unit=subject,
             created=a.get("created", 0), updated=a.get("updated", 0),
             unchanged=a.get("unchanged", 0))  # fmt: skip


def _user_create(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s created the officer account %(username)s (%(role)s, %(unit)s)",
             actor=actor, username=a.get("username", subject),
             role=role_name(str(a.get("role", ""))), unit=a.get("unit", "?"))  # fmt: skip


def _pin_wrong(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    text = _("A wrong PIN was entered for %(member)s's card (version %(v)s)",
             member=subject, v=a.get("version", "?"))  # fmt: skip
    if a.get("locked_until"):
        text += ("；" if _zh() else "; ") + _(
            "the PIN is locked until %(time)s",
            time=value_text("locked_until", a["locked_until"]),
        )
    return text


def _device_create(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s added %(device)s for %(unit)s",
             actor=actor, device=subject, unit=a.get("unit", "?"))  # fmt: skip


def _attendance_correct(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    from qrservice.life.attendance import status_name  # on use: no import cycle via life

    return _("%(actor)s corrected the attendance of %(member)s at %(meeting)s: %(before)s → "
             "%(after)s (reason: %(why)s)", actor=actor, member=subject,
             meeting=value_text("meeting", a.get("meeting", b.get("meeting")), n),
             before=status_name(str(b.get("status", "?"))),
             after=status_name(str(a.get("status", "?"))), why=a.get("why", "—"))  # fmt: skip


# Meetings administered: changed, cancelled, deleted, planned.
def _meeting_field_names() -> dict[str, str]:
    return {
        "title": _("Title"),
        "kind": _("Kind"),
        "unit": _("Unit"),
        "starts_at": _("Start"),
        "ends_at": _("End"),
        "place": _("Place"),
        "remote_allowed": _("Remote attendance"),
        "points": _("Points for attending"),
        "late_after_min": _("Late after (minutes)"),
        "opens_before_min": _("Check-in opens before the start (minutes)"),
        "closes_after_min": _("Check-in closes after the end (minutes)"),
    }


def _meeting_value(key: str, value: Any) -> str:
    if key == "kind" and isinstance(value, str):
        from qrservice.life.views.meetings import meeting_kind_names

        return meeting_kind_names().get(value, value)
    return value_text(key, value)


def _meeting_update(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    labels = _meeting_field_names()
    order = {key: index for index, key in enumerate(labels)}
    changes = _join(
        f"{labels.get(k, k)} {_meeting_value(k, b.get(k))} → {_meeting_value(k, a[k])}"
        for k in sorted(a, key=lambda k: order.get(k, len(order)))
    )
    return _("%(actor)s changed the meeting “%(meeting)s”: %(changes)s",
             actor=actor, meeting=subject, changes=changes)  # fmt: skip


def _meeting_cancel(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    return _("%(actor)s cancelled the meeting “%(meeting)s” (reason: %(reason)s)",
             actor=actor, meeting=subject, reason=a.get("reason", "—"))  # fmt: skip


def _meeting_delete(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    return _("%(actor)s deleted the meeting “%(meeting)s” of %(unit)s, planned for %(time)s",
             actor=actor, meeting=b.get("title", subject), unit=b.get("unit", "?"),
             time=value_text("starts_at", b.get("starts_at")))  # fmt: skip


def _meeting_plan(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    count = a.get("count", 0)
    return ngettext(
        "%(actor)s planned %(num)d meeting “%(title)s” for %(unit)s from %(time)s",
        "%(actor)s planned %(num)d meetings “%(title)s” for %(unit)s from %(time)s",
        count if isinstance(count, int) else 0,
        actor=actor, title=a.get("title", "?"), unit=a.get("unit", "?"),
        time=value_text("first_at", a.get("first")),
    )  # fmt: skip


def _transfer(message: str) -> Sentence:
    """A transfer step: ``message`` names %(actor)s, %(member)s, %(from)s and %(to)s."""

    def sentence(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
        text = message % {"actor": actor, "member": subject, "from": a.get("from", "?"),
                          "to": a.get("to", "?")}  # fmt: skip
        if a.get("reason"):
            text += ("：" if _zh() else ": ") + str(a["reason"])
        return text

    return sentence


def _points_add(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    from qrservice.life.points_ledger import source_names

    return _("%(actor)s recorded %(points)s points (%(source)s) for %(member)s: %(reason)s",
             actor=actor, member=subject, points=f"{int(a.get('points', 0)):+d}",
             source=source_names().get(str(a.get("kind")), str(a.get("kind"))),
             reason=a.get("reason", "—"))  # fmt: skip


def _points_correct(
    actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names
) -> str:
    return _("%(actor)s corrected points line #%(entry)s of %(member)s (%(points)s points "
             "reversed; reason: %(reason)s)", actor=actor, member=subject,
             entry=b.get("entry", "?"), points=f"{int(a.get('points', 0)):+d}",
             reason=a.get("reason", "—"))  # fmt: skip


def _points_rule(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    return _("%(actor)s set the default points of %(kind)s to %(points)s (was %(before)s)",
             actor=actor, kind=_meeting_value("kind", a.get("kind")), points=a.get("points"),
             before=(b or {}).get("points", "—"))  # fmt: skip


def _org_change(k: str, b: dict[str, Any], a: dict[str, Any]) -> str:
    """One change of the organisation's settings, as org.update's sentence lists it."""
    if k == "name":
        return _("name %(before)s → %(after)s", before=b.get(k) or "—", after=a[k])
    if k == "dues_tracked_from":
        return _("dues tracked from %(before)s → %(after)s",
                 before=str(b.get(k) or "—")[:7], after=str(a[k])[:7])  # fmt: skip
    labels = {
        "makeup_days": _("days for make-up study"),
        "makeup_min_chars": _("shortest make-up text"),
        "makeup_points": _("points for make-up study"),
        "dues_on_time_points": _("points per month of dues paid on time"),
        "assessment_threshold": _("assessment follow-up threshold"),
        "rankings_enabled": _("rankings shown"),
    }
    return _("%(setting)s %(before)s → %(after)s", setting=labels.get(k, k),
             before=value_text(k, b.get(k)), after=value_text(k, a.get(k)))  # fmt: skip


# Leave and make-up.
def _request_sentence(template: str) -> Sentence:
    """A leave or make-up sentence (``template`` translated, its placeholders unfilled): the
    member, the meeting, then the reason or comment."""

    def sentence(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
        meeting = value_text("meeting", a.get("meeting"), n)
        text = template % {"actor": actor, "member": subject, "meeting": meeting}
        note = a.get("why") or a.get("comment")
        return _("%(sentence)s (%(note)s)", sentence=text, note=note) if note else text

    return sentence


# Boards: 三会一课 rules, targets, plan–do–check–act notes.
def _rule_text(values: dict[str, Any]) -> str:
    from qrservice.boards.compliance import frequency_names, per_unit_names

    if not values:
        return "—"
    return _("at least %(minimum)s %(frequency)s %(per_unit)s",
             minimum=values.get("minimum", "?"),
             frequency=frequency_names().get(str(values.get("frequency")), "?"),
             per_unit=per_unit_names().get(str(values.get("per_unit")), "?"))  # fmt: skip


def _target_text(values: dict[str, Any]) -> str:
    from qrservice.boards.targets import measure_unit

    if not values:
        return "—"
    unit = measure_unit(str(values.get("measure")))
    return _("must-reach %(must)s, stretch %(stretch)s",
             must=f"{values['must_reach']}{unit}" if values.get("must_reach") else "—",
             stretch=f"{values['stretch']}{unit}" if values.get("stretch") else "—")  # fmt: skip


def _target_measure(b: dict[str, Any], a: dict[str, Any]) -> str:
    from qrservice.boards.targets import measure_name

    return measure_name(str(a.get("measure") or b.get("measure") or "?"))


def _board_sentences() -> dict[str, Sentence]:
    return {
        "compliance_rule.set": lambda actor, subject, b, a, n: _(
            "%(actor)s set the meeting rule for %(kind)s: %(rule)s (was: %(before)s)",
            actor=actor,
            kind=_meeting_value("kind", a.get("kind")),
            rule=_rule_text(a),
            before=_rule_text(b),
        ),  # fmt: skip
        "compliance_rule.remove": lambda actor, subject, b, a, n: _(
            "%(actor)s removed the meeting rule for %(kind)s (was: %(before)s)",
            actor=actor,
            kind=_meeting_value("kind", b.get("kind")),
            before=_rule_text(b),
        ),  # fmt: skip
        "target.set": lambda actor, subject, b, a, n: _(
            "%(actor)s set the targets of %(unit)s for %(measure)s: %(after)s (was: %(before)s)",
            actor=actor,
            unit=subject,
            measure=_target_measure(b, a),
            after=_target_text(a),
            before=_target_text(b),
        ),  # fmt: skip
        "target.remove": lambda actor, subject, b, a, n: _(
            "%(actor)s removed the targets of %(unit)s for %(measure)s (were: %(before)s)",
            actor=actor,
            unit=subject,
            measure=_target_measure(b, a),
            before=_target_text(b),
        ),  # fmt: skip
        "target.note": lambda actor, subject, b, a, n: _(
            "%(actor)s wrote the plan–do–check–act note of %(unit)s on %(measure)s for %(period)s",
            actor=actor,
            unit=subject,
            measure=_target_measure(b, a),
            period=a.get("period", "?"),
        ),  # fmt: skip
    }


# Exports.
def _export_table(actor: str, subject: str, b: dict[str, Any], a: dict[str, Any], n: Names) -> str:
    from qrservice.boards.exports import kind_name

    where = subject
    if a.get("period"):
        where = _("%(unit)s, %(period)s", unit=subject, period=a["period"])
    if a.get("meeting_id"):
        where = _("%(unit)s, meeting %(meeting)s", unit=subject, meeting=a["meeting_id"])
    return _("%(actor)s exported the %(export)s of %(where)s (%(format)s, %(rows)s rows)",
             actor=actor, export=kind_name(str(a.get("kind", ""))), where=where,
             format=str(a.get("format", "")).upper(), rows=a.get("rows", "?"))  # fmt: skip


def _sentences() -> dict[str, Sentence]:
    def simple(message: str) -> Sentence:
        # ``message`` is already translated; it names %(actor)s and %(subject)s.
        return lambda actor, subject, b, a, n: message % {"actor": actor, "subject": subject}

    return {
        "card.issue": _card_issue,
        "card.supersede": _card_end,
        "card.revoke": _card_end,
        "member.create": _member_create,
        "member.update": _member_update,
        "member.deactivate": simple(_("%(actor)s marked %(subject)s as left (off the roll)")),
        "member.reactivate": simple(_("%(actor)s put %(subject)s back on the roll")),
        "member.export": lambda actor, subject, b, a, n: _(
            "%(actor)s exported the member list of %(unit)s (%(format)s)",
            actor=actor,
            unit=subject,
            format=str(a.get("format", "")).upper(),
        ),  # fmt: skip
        "import.apply": _import_apply,
        "unit.export": lambda actor, subject, b, a, n: _(
            "%(actor)s exported the unit tree of %(unit)s (%(format)s)",
            actor=actor,
            unit=subject,
            format=str(a.get("format", "")).upper(),
        ),  # fmt: skip
        "unit.create": lambda actor, subject, b, a, n: _(
            "%(actor)s created the unit %(unit)s (%(code)s)",
            actor=actor,
            unit=subject,
            code=a.get("code", "?"),
        ),  # fmt: skip
        "user.create": _user_create,
        "user.password": simple(
            _("%(actor)s changed their password; every login of the account ended")
        ),
        "user.deactivate": simple(_("%(actor)s deactivated the account %(subject)s")),
        "user.activate": simple(_("%(actor)s reactivated the account %(subject)s")),
        "meeting.create": simple(_("%(actor)s created the meeting “%(subject)s”")),
        "meeting.open": simple(_("%(actor)s opened check-in of “%(subject)s”")),
        "meeting.close": _meeting_close,
        "attendance.undo": _attendance_undo,
        "dues.pay": _dues_pay,
        "card.pin_wrong": _pin_wrong,
        "device.create": _device_create,
        "device.pairing_code": simple(_("%(actor)s made a new pairing code for %(subject)s")),
        "device.pair": simple(_("%(subject)s was paired with a browser")),
        "device.revoke": simple(_("%(actor)s revoked %(subject)s")),
        "device.refused": simple(_("%(subject)s was refused: its access has ended")),
        # The organisation and its units.
        "org.create": lambda actor, subject, b, a, n: _(
            "%(actor)s set up the organisation %(name)s", actor=actor, name=a.get("name", "?")
        ),
        "org.update": lambda actor, subject, b, a, n: _(
            "%(actor)s changed the organisation's settings: %(changes)s",
            actor=actor,
            changes=_join(_org_change(k, b, a) for k in a),
        ),
        "unit.update": lambda actor, subject, b, a, n: _(
            "%(actor)s changed the unit %(unit)s: %(changes)s",
            actor=actor,
            unit=subject,
            changes=_join(
                _("name %(before)s → %(after)s", before=b.get(k) or "—", after=a[k])
                if k == "name"
                else _("code %(before)s → %(after)s", before=b.get(k) or "—", after=a[k])
                for k in a
            ),
        ),
        "unit.move": lambda actor, subject, b, a, n: _(
            "%(actor)s moved the unit %(unit)s from %(before)s to %(after)s",
            actor=actor,
            unit=subject,
            before=b.get("parent") or "—",
            after=a.get("parent") or "—",
        ),
        "unit.close": simple(_("%(actor)s closed the unit %(subject)s")),
        "unit.reopen": simple(_("%(actor)s reopened the unit %(subject)s")),
        "unit.import": lambda actor, subject, b, a, n: _(
            "%(actor)s imported units into %(unit)s: %(created)s created, %(updated)s updated, "
            "%(unchanged)s unchanged",
            actor=actor,
            unit=subject,
            created=a.get("created", 0),
            updated=a.get("updated", 0),
            unchanged=a.get("unchanged", 0),
        ),
        "unit.role_add": lambda actor, subject, b, a, n: _(
            "%(actor)s recorded %(member)s as %(role)s of %(unit)s",
            actor=actor,
            member=a.get("name") or a.get("member", "?"),
            role=role_label(a.get("role")),
            unit=subject,
        ),
        "unit.role_remove": lambda actor, subject, b, a, n: _(
            "%(actor)s recorded that %(member)s is no longer %(role)s of %(unit)s",
            actor=actor,
            member=b.get("name") or b.get("member", "?"),
            role=role_label(b.get("role")),
            unit=subject,
        ),
        # Officers.
        "user.reset_password": lambda actor, subject, b, a, n: (
            _(
                "%(actor)s reset the password of %(subject)s to a temporary one, to be changed at "
                "the next login; every login of the account ended",
                actor=actor,
                subject=subject,
            )
            if a.get("temporary")
            else _(
                "%(actor)s set a new password for %(subject)s; every login of the account ended",
                actor=actor,
                subject=subject,
            )
        ),  # fmt: skip
        "user.update": lambda actor, subject, b, a, n: _join(
            [
                _(
                    "%(actor)s changed the account %(subject)s: %(changes)s",
                    actor=actor,
                    subject=subject,
                    changes=("，" if _zh() else ", ").join(
                        f"{label} {value_text(key, b.get(key), n)} → {value_text(key, a[key], n)}"
                        for key, label in (
                            ("role", _("Role")),
                            ("unit", _("Unit")),
                            ("display_name", _("Name")),
                        )
                        if key in a
                    ),
                )
            ]
            + ([_("every login of the account ended")] if "sessions_ended" in a else [])
        ),  # fmt: skip
        # Meetings and attendance.
        "meeting.update": _meeting_update,
        "meeting.cancel": _meeting_cancel,
        "meeting.delete": _meeting_delete,
        "meeting.plan": _meeting_plan,
        "meeting.reopen": simple(_("%(actor)s reopened check-in of “%(subject)s”")),
        "attendance.correct": _attendance_correct,
        "attention.export": lambda actor, subject, b, a, n: _(
            "%(actor)s exported the list of members needing attention in %(unit)s (%(format)s)",
            actor=actor,
            unit=subject,
            format=str(a.get("format", "")).upper(),
        ),  # fmt: skip
        # Leave and make-up.
        "leave.request": _request_sentence(
            _("%(actor)s asked for leave of %(member)s from %(meeting)s")
        ),
        "leave.withdraw": _request_sentence(
            _("%(actor)s withdrew the request for leave of %(member)s from %(meeting)s")
        ),
        "leave.approve": _request_sentence(
            _("%(actor)s approved the leave of %(member)s from %(meeting)s")
        ),
        "leave.refuse": _request_sentence(
            _("%(actor)s refused the leave of %(member)s from %(meeting)s")
        ),
        "leave.record": _request_sentence(
            _("%(actor)s recorded leave of %(member)s from %(meeting)s")
        ),
        "makeup.submit": _request_sentence(
            _("%(actor)s submitted make-up study of %(member)s for %(meeting)s")
        ),
        "makeup.accept": _request_sentence(
            _("%(actor)s accepted the make-up study of %(member)s for %(meeting)s")
        ),
        "makeup.return": _request_sentence(
            _("%(actor)s returned the make-up study of %(member)s for %(meeting)s")
        ),
        # Points.
        "points.add": _points_add,
        "points.correct": _points_correct,
        "points.rule": _points_rule,
        # Transfers, hosting, birthdays.
        "transfer.start": _transfer(
            _("%(actor)s started the transfer of %(member)s from %(from)s to %(to)s")
        ),
        "transfer.release": _transfer(
            _("%(actor)s released %(member)s from %(from)s for the transfer to %(to)s")
        ),
        "transfer.accept": _transfer(
            _("%(actor)s accepted %(member)s into %(to)s (transferred from %(from)s)")
        ),
        "transfer.refuse": _transfer(
            _("%(actor)s refused the transfer of %(member)s from %(from)s to %(to)s")
        ),
        "transfer.cancel": _transfer(
            _("%(actor)s cancelled the transfer of %(member)s from %(from)s to %(to)s")
        ),
        "member.host": lambda actor, subject, b, a, n: _(
            "%(actor)s recorded that %(host)s hosts the floating member %(member)s",
            actor=actor,
            member=subject,
            host=a.get("host_name") or a.get("host", "?"),
        ),  # fmt: skip
        "member.unhost": lambda actor, subject, b, a, n: _(
            "%(actor)s ended the hosting of %(member)s by %(host)s",
            actor=actor,
            member=subject,
            host=b.get("host_name") or b.get("host", "?"),
        ),  # fmt: skip
        # Traces of meetings.
        "trace.minutes": simple(_("%(actor)s filed the minutes of “%(subject)s”")),
        "trace.photo_add": simple(_("%(actor)s added a photo to the trace of “%(subject)s”")),
        "trace.photo_delete": simple(
            _("%(actor)s deleted a photo from the trace of “%(subject)s”")
        ),
        # Boards: 三会一课 rules, targets, plan–do–check–act notes.
        **_board_sentences(),
        # Exports.
        "export.table": _export_table,
        # Reports.
        "report.branch": lambda actor, subject, b, a, n: _(
            "%(actor)s printed the report of %(unit)s for %(period)s",
            actor=actor,
            unit=subject,
            period=a.get("period", "?"),
        ),  # fmt: skip
        "report.committee": lambda actor, subject, b, a, n: _(
            "%(actor)s printed the committee report of %(unit)s for %(period)s",
            actor=actor,
            unit=subject,
            period=a.get("period", "?"),
        ),  # fmt: skip
        # Dues.
        "dues.rate": _dues_rate,
        "dues.void": _dues_void,
        "dues.exempt": _dues_exempt,
        "dues.exempt_end": _dues_exempt_end,
        "dues.exempt_void": _dues_exempt_void,
        "dues.import": _dues_import,
        "dues.export": _dues_export,
    }


def describe_event(event: AuditEvent, names: Names | None = None) -> str:
    """The event as one sentence in the viewer's language (the request's locale)."""
    names = names or Names()
    user = names.users.get(event.actor_id or 0)
    actor = actor_name(event.actor, user) if user else _device_actor(event.actor, names)
    subject = _subject(event, names)
    before, after = _load(event.before), _load(event.after)
    sentence = _sentences().get(event.action)
    if sentence is not None:
        text = sentence(actor, subject, before, after, names)
    else:
        text = _unknown(event.action, actor, subject, before, after, names)
    return text[:1].upper() + text[1:]


def _unknown(
    action: str, actor: str, subject: str, before: dict[str, Any], after: dict[str, Any],
    names: Names,
) -> str:  # fmt: skip
    """An action added after this module was written: said plainly, with what it recorded."""
    if subject:
        text = _("%(actor)s recorded “%(action)s” for %(subject)s",
                 actor=actor, action=action, subject=subject)  # fmt: skip
    else:
        text = _("%(actor)s recorded “%(action)s”", actor=actor, action=action)
    if before and after:
        details = _changes(before, after, names)
    else:
        details = _details(after or before, names)
    if details:
        text += ("（%s）" if _zh() else " (%s)") % details
    return text


def load_names(s: Session, events: list[AuditEvent]) -> Names:
    """The accounts, members, units and meetings the events mention, one query per kind."""
    names = Names()
    ids: dict[str, set[int]] = {
        "user": set(), "member": set(), "unit": set(), "meeting": set(), "scanner_device": set(),
    }  # fmt: skip
    for event in events:
        if event.actor_id is not None:
            ids["user"].add(event.actor_id)
        kind, _sep, rest = event.actor.partition(":")
        if kind == "device" and rest.isdigit():
            ids["scanner_device"].add(int(rest))
        if event.entity_id is not None and event.entity_type in ids:
            ids[event.entity_type].add(event.entity_id)
        for values in (_load(event.before), _load(event.after)):
            if isinstance(values.get("meeting"), int):
                ids["meeting"].add(values["meeting"])
    if ids["user"]:
        names.users = {u.id: u for u in s.scalars(select(User).where(User.id.in_(ids["user"])))}
    if ids["member"]:
        query = select(Member.id, Member.name).where(Member.id.in_(ids["member"]))
        names.members = dict(s.execute(query).all())  # type: ignore[arg-type]
    if ids["unit"]:
        query = select(Unit.id, Unit.name).where(Unit.id.in_(ids["unit"]))
        names.units = dict(s.execute(query).all())  # type: ignore[arg-type]
    if ids["meeting"]:
        query = select(Meeting.id, Meeting.title).where(Meeting.id.in_(ids["meeting"]))
        names.meetings = dict(s.execute(query).all())  # type: ignore[arg-type]
    if ids["scanner_device"]:
        query = select(ScannerDevice.id, ScannerDevice.name).where(
            ScannerDevice.id.in_(ids["scanner_device"])
        )
        names.devices = dict(s.execute(query).all())  # type: ignore[arg-type]
    return names


def audit_trail(s: Session, events: Iterable[AuditEvent]) -> list[TrailEntry]:
    """The events as sentences, in the order given."""
    events = list(events)
    names = load_names(s, events)
    return [TrailEntry(e.at, describe_event(e, names), e) for e in events]
