"""Members and the organisation tree: validation, changes and searches.

``clean_member`` is the one validator of member fields; the web form and the importer both
use it, so a rule holds wherever a member is written. Errors are keyed by field name.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.life.dues import MONTHS_AHEAD
from qrservice.life.dues_settled import refresh_settled
from qrservice.models import Member, Unit
from qrservice.tables import FORMULA_PREFIXES
from qrservice.timeutil import add_months, local_today, month_start, parse_month, utcnow

#: Fields of a member as the forms, imports and exports name them, in export order.
MEMBER_FIELDS = (
    "number",
    "name",
    "gender",
    "phone",
    "joined_on",
    "status",
    "unit",
    "floating",
    "floating_location",
    "floating_since",
    "active",
    "dues_from",
)

NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 -]{4,19}$")
ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")
EARLIEST_JOINED = date(1921, 7, 1)

_GENDERS = {
    "male": "male",
    "m": "male",
    "男": "male",
    "female": "female",
    "f": "female",
    "女": "female",
}
_STATUSES = {
    "full": "full",
    "正式": "full",
    "正式党员": "full",
    "probationary": "probationary",
    "预备": "probationary",
    "预备党员": "probationary",
}
_BOOLS = {
    "yes": True, "y": True, "true": True, "1": True, "是": True,
    "no": False, "n": False, "false": False, "0": False, "否": False, "": False,
}  # fmt: skip


class MemberError(ValueError):
    """Rejected member fields: ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def cell_text(value: Any) -> str:
    """A form value or spreadsheet cell as trimmed text (whole-number floats without ".0")."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = cell_text(value).replace("/", "-").replace(".", "-")
    try:
        return date.fromisoformat("-".join(p.zfill(2) for p in text.split("-")))
    except ValueError:
        raise ValueError(_("not a date; write it as YYYY-MM-DD")) from None


def normalise_national_id(raw: str) -> str:
    """An 18-character ID number with a valid check digit (GB 11643), uppercased."""
    text = raw.strip().upper()
    if not ID_RE.match(text):
        raise ValueError(_("an ID number has 17 digits and a final digit or X"))
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(text[:17], weights, strict=True)) % 11]
    if text[17] != check:
        raise ValueError(_("the ID number's check digit is wrong"))
    return text


def hash_national_id(key: str, raw: str) -> str:
    """The keyed hash stored in place of an ID number; only equality look-ups can use it."""
    digest = hmac.new(key.encode(), normalise_national_id(raw).encode(), hashlib.sha256)
    return digest.hexdigest()


def clean_member(
    raw: dict[str, Any], units_by_code: dict[str, Unit], today: date | None = None
) -> dict[str, Any]:
    """Validate and normalise member fields; raises MemberError naming every bad field.

    ``raw`` holds strings (or cell values) under MEMBER_FIELDS names plus an optional
    ``national_id``; missing optional fields get their defaults.
    """
    today = today or date.today()
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}

    for key, value in raw.items():
        text = value.strip() if isinstance(value, str) else ""
        if text.startswith(FORMULA_PREFIXES) and not (key == "phone" and PHONE_RE.match(text)):
            errors[key] = _("looks like a spreadsheet formula; enter the value itself")

    number = cell_text(raw.get("number"))
    if not number:
        errors.setdefault("number", _("required"))
    elif not NUMBER_RE.match(number):
        errors.setdefault("number", _("1–32 letters, digits or '-'"))
    out["number"] = number

    name = cell_text(raw.get("name"))
    if not name:
        errors.setdefault("name", _("required"))
    elif len(name) > 64:
        errors.setdefault("name", _("at most 64 characters"))
    elif re.search(r"[<>&\"{}\x00-\x1f\x7f]", name):
        errors.setdefault("name", _('must not contain markup or control characters (< > & " { })'))
    out["name"] = name

    gender = _GENDERS.get(cell_text(raw.get("gender")).lower())
    if gender is None:
        errors.setdefault("gender", _("male or female (男/女)"))
    out["gender"] = gender

    phone = cell_text(raw.get("phone")) or None
    if phone and not PHONE_RE.match(phone):
        errors.setdefault("phone", _("digits, spaces or '-', 5–20 long"))
    out["phone"] = phone

    out["joined_on"] = _field_date(raw.get("joined_on"), "joined_on", errors, required=True)
    if out["joined_on"] and not (EARLIEST_JOINED <= out["joined_on"] <= today):
        errors.setdefault(
            "joined_on", _("must be between %(first)s and today", first=EARLIEST_JOINED)
        )

    status = _STATUSES.get(cell_text(raw.get("status")).lower())
    if status is None:
        errors.setdefault("status", _("full or probationary (正式/预备)"))
    out["status"] = status

    code = cell_text(raw.get("unit"))
    unit = units_by_code.get(code)
    if not code:
        errors.setdefault("unit", _("required"))
    elif unit is None:
        errors.setdefault("unit", _("no unit with code %(code)s here", code=code))
    elif unit.kind == "committee":
        errors.setdefault("unit", _("a member belongs to a branch or a group, not a committee"))
    out["unit"] = unit

    out["floating"] = _field_bool(raw.get("floating"), "floating", errors)
    location = cell_text(raw.get("floating_location")) or None
    if location and re.search(r"[<>\x00-\x1f]", location):
        errors.setdefault("floating_location", _("must not contain markup or control characters"))
    if out["floating"] and not location:
        errors.setdefault("floating_location", _("required for a floating member"))
    out["floating_location"] = location if out["floating"] else None
    since = _field_date(raw.get("floating_since"), "floating_since", errors, required=False)
    if since and since > today:
        errors.setdefault("floating_since", _("must not be in the future"))
    out["floating_since"] = since if out["floating"] else None

    active = raw.get("active")
    out["active"] = True if cell_text(active) == "" else _field_bool(active, "active", errors)

    out["dues_from"] = _dues_from(raw.get("dues_from"), out["joined_on"], today, errors)

    national_id = cell_text(raw.get("national_id"))
    if national_id:
        try:
            out["national_id"] = normalise_national_id(national_id)
        except ValueError as exc:
            errors.setdefault("national_id", str(exc))

    if errors:
        raise MemberError(errors)
    return out


def _field_date(value: Any, field: str, errors: dict[str, str], required: bool) -> date | None:
    if value is None or cell_text(value) == "":
        if required:
            errors.setdefault(field, _("required"))
        return None
    try:
        return _date(value)
    except ValueError as exc:
        errors.setdefault(field, str(exc))
        return None


def _dues_from(
    value: Any, joined_on: date | None, today: date, errors: dict[str, str]
) -> date | None:
    """The first month whose dues are owed (YYYY-MM), or None when left blank."""
    if value is None or cell_text(value) == "":
        return None
    try:
        month = parse_month(value)
    except ValueError as exc:
        errors.setdefault("dues_from", str(exc))
        return None
    latest = add_months(month_start(today), MONTHS_AHEAD)
    if joined_on is not None and month < month_start(joined_on):
        errors.setdefault("dues_from", _("must not be before the month joined"))
    elif month > latest:
        errors.setdefault("dues_from", _("must not be after %(month)s", month=f"{latest:%Y-%m}"))
    return month


def default_dues_from(joined_on: date, today: date | None = None) -> date | None:
    """Where a new member's dues start when nobody said: this month if they joined before it
    (a member recorded today is not in arrears for last year), else None (the month joined)."""
    this_month = month_start(today or local_today())  # the organisation's today
    return this_month if joined_on < this_month else None


def _field_bool(value: Any, field: str, errors: dict[str, str]) -> bool:
    if isinstance(value, bool):
        return value
    parsed = _BOOLS.get(cell_text(value).lower())
    if parsed is None:
        errors.setdefault(field, _("yes or no (是/否)"))
        return False
    return parsed


def member_values(member: Member) -> dict[str, Any]:
    """A member's fields under MEMBER_FIELDS names, as stored (unit as its code)."""
    return {
        "number": member.number,
        "name": member.name,
        "gender": member.gender,
        "phone": member.phone,
        "joined_on": member.joined_on,
        "status": member.status,
        "unit": member.unit.code,
        "floating": member.floating,
        "floating_location": member.floating_location,
        "floating_since": member.floating_since,
        "active": member.active,
        "dues_from": member.dues_from,
    }


def id_digest(clean: dict[str, Any], id_hash_key: str) -> str | None:
    """The keyed hash of the ID number in ``clean``, or None. An importer that kept its checked
    rows without the number itself gives the hash as ``id_hash`` instead of ``national_id``."""
    if clean.get("id_hash"):
        return clean["id_hash"]
    if clean.get("national_id"):
        return hash_national_id(id_hash_key, clean["national_id"])
    return None


def member_columns(
    clean: dict[str, Any], id_hash_key: str, was_active: bool | None = None
) -> dict[str, Any]:
    """The columns ``clean`` sets on a member (``was_active``: the member's state before, None
    for a new one): what create_member and update_member write, and the importer in bulk."""
    columns = {f: clean[f] for f in MEMBER_FIELDS if f not in ("unit", "active")}
    columns["unit_id"] = clean["unit"].id
    if was_active and not clean["active"]:
        columns["left_on"] = date.today()
    elif clean["active"]:
        columns["left_on"] = None
    columns["active"] = clean["active"]
    if digest := id_digest(clean, id_hash_key):
        columns["id_hash"] = digest
    return columns


def _apply(member: Member, clean: dict[str, Any], id_hash_key: str) -> None:
    for name, value in member_columns(clean, id_hash_key, member.active).items():
        setattr(member, name, value)
    member.unit = clean["unit"]


def audit_values(clean: dict[str, Any]) -> dict[str, Any]:
    """What the audit trail records of ``clean``: the unit by code, an ID number only as set."""
    values = {f: clean[f] for f in MEMBER_FIELDS}
    values["unit"] = clean["unit"].code
    if clean.get("national_id") or clean.get("id_hash"):
        values["national_id"] = "(set)"  # never the number itself, not even in the trail
    return values


#: The member's fields their dues months depend on.
DUES_START_FIELDS = frozenset({"joined_on", "dues_from"})


def create_member(s: Session, actor: Actor, clean: dict[str, Any], id_hash_key: str) -> Member:
    if s.scalar(select(Member.id).where(Member.number == clean["number"])) is not None:
        raise MemberError(
            {"number": _("member number %(number)s already exists", number=clean["number"])}
        )
    now = utcnow()
    member = Member(created_at=now, updated_at=now)
    _apply(member, clean, id_hash_key)
    s.add(member)
    s.flush()
    refresh_settled(s, [member.id])
    record(s, actor, "member.create", "member", member.id, after=audit_values(clean))
    return member


def member_changes(
    member: Member, clean: dict[str, Any], id_hash_key: str
) -> dict[str, tuple[Any, Any]]:
    """The fields ``clean`` would change, {field: (before, after)}; an ID number shows only
    as changed, never as itself."""
    old = member_values(member)
    new = audit_values(clean)
    diff = {k: (old[k], new[k]) for k in MEMBER_FIELDS if old[k] != new[k]}
    digest = id_digest(clean, id_hash_key)
    if digest and member.id_hash != digest:
        diff["national_id"] = ("(hidden)", "(changed)")
    return diff


def update_member(
    s: Session, actor: Actor, member: Member, clean: dict[str, Any], id_hash_key: str
) -> bool:
    """Apply changed fields; True if anything changed. The number is the key and stays."""
    if clean["number"] != member.number:
        taken = s.scalar(select(Member.id).where(Member.number == clean["number"]))
        if taken is not None:
            raise MemberError(
                {"number": _("member number %(number)s already exists", number=clean["number"])}
            )
    diff = member_changes(member, clean, id_hash_key)
    before = {k: b for k, (b, _a) in diff.items()}
    after = {k: a for k, (_b, a) in diff.items()}
    if not after:
        return False
    _apply(member, clean, id_hash_key)
    member.updated_at = utcnow()
    s.flush()
    if DUES_START_FIELDS & after.keys():
        refresh_settled(s, [member.id])
    record(s, actor, "member.update", "member", member.id, before=before, after=after)
    return True


def set_member_active(s: Session, actor: Actor, member: Member, active: bool) -> None:
    if member.active == active:
        return
    member.active = active
    member.left_on = None if active else date.today()
    member.updated_at = utcnow()
    s.flush()
    action = "member.reactivate" if active else "member.deactivate"
    record(s, actor, action, "member", member.id, {"active": not active}, {"active": active})


def find_by_national_id(s: Session, scope: Unit, id_hash_key: str, raw: str) -> Member | None:
    digest = hash_national_id(id_hash_key, raw)
    return s.scalar(
        select(Member).join(Member.unit).where(Member.id_hash == digest, _in_scope(scope))
    )


def _in_scope(scope: Unit) -> Any:
    return Unit.path.startswith(scope.path, autoescape=True)


def units_in_scope(s: Session, scope: Unit) -> list[Unit]:
    """The scope's subtree in tree order: each unit followed by its own units, by code."""
    return tree_order(list(s.scalars(select(Unit).where(_in_scope(scope)))))


def code_order(code: str) -> tuple[Any, ...]:
    """A sort key that puts B2 before B10 and B01 before B04 (numbers compared as numbers)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", code))


def tree_order(units: list[Unit]) -> list[Unit]:
    """Depth first, siblings by code. Paths hold ids, and sorting them as text would put /1/11/
    (created later) before /1/2/."""
    ids = {u.id for u in units}
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        parent = unit.parent_id if unit.parent_id in ids else None
        children.setdefault(parent, []).append(unit)
    ordered: list[Unit] = []

    def walk(parent: int | None) -> None:
        for unit in sorted(children.get(parent, []), key=lambda u: code_order(u.code)):
            ordered.append(unit)
            walk(unit.id)

    walk(None)
    return ordered


@dataclass(frozen=True)
class MemberFilter:
    q: str = ""
    unit_id: int | None = None
    status: str | None = None
    floating: bool | None = None
    active: bool | None = True


@dataclass(frozen=True)
class Page:
    items: list[Member]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_members(
    s: Session, scope: Unit, filt: MemberFilter, page: int = 1, per_page: int = 25
) -> Page:
    query = select(Member).join(Member.unit).where(_in_scope(scope))
    if filt.q:
        q = filt.q.strip()
        query = query.where(
            or_(
                Member.name.contains(q, autoescape=True), Member.number.contains(q, autoescape=True)
            )
        )
    if filt.unit_id is not None:
        unit = s.get(Unit, filt.unit_id)
        if unit is not None:
            query = query.where(_in_scope(unit))
    if filt.status:
        query = query.where(Member.status == filt.status)
    if filt.floating is not None:
        query = query.where(Member.floating == filt.floating)
    if filt.active is not None:
        query = query.where(Member.active == filt.active)
    total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
    page = max(1, min(page, max(1, -(-total // per_page))))
    items = s.scalars(
        query.order_by(Member.number).offset((page - 1) * per_page).limit(per_page)
    ).all()
    return Page(list(items), total, page, per_page)
