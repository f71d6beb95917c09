"""Scanner devices: a phone a secretary hands to a helper at the door, paired to scan at one
branch's meetings without anyone's password.

An officer creates a device for a branch (optionally for one meeting only, optionally until a
time) and gets a one-time pairing code, valid ``PAIRING_TTL``. The phone pairs with the code and
receives a device token, which it keeps and sends as ``Authorization: Bearer``. Only SHA-256
hashes of the code and of the token are stored. Revoking stops the token at once; a new pairing
code for the same device ("re-pair") stops the old token too and keeps the device's row, so its
attendance rows and its trail stay together. Pairing, re-pairing, revocation and refused use of
a revoked token are written to the audit trail; what a device records carries its id.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from qrservice.audit import Actor, record
from qrservice.models import Attendance, AuditEvent, Meeting, ScannerDevice, Unit
from qrservice.timeutil import utcnow

#: Letters and digits nobody confuses when reading a code aloud or off a screen (no 0/O, 1/I/L).
PAIRING_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PAIRING_LENGTH = 8
PAIRING_TTL = timedelta(minutes=10)
#: The pairing QR's payload format: {"v": 1, "t": "qrservice-pair", "url": ..., "code": ...}.
PAIRING_FORMAT = 1
PAIRING_TAG = "qrservice-pair"
#: A device's last-seen time is written at most this often (not on every call).
SEEN_EVERY = timedelta(minutes=1)
#: Refused use of a revoked token is written to the trail at most this often per device.
REFUSAL_AUDIT_EVERY = timedelta(minutes=1)
MAX_NAME = 64

#: Why a device token is refused (401): fixed reasons every client can show.
TOKEN_REFUSALS = ("device_unknown", "device_revoked", "device_expired")
#: Why a pairing code is refused (400).
PAIRING_REFUSALS = ("pairing_invalid", "pairing_expired", "device_expired")


class DeviceError(ValueError):
    """A rejected device form; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class DeviceRefused(Exception):
    """A device token that may not be used; ``reason`` is one of ``TOKEN_REFUSALS``."""

    def __init__(self, reason: str, device: ScannerDevice | None = None) -> None:
        assert reason in TOKEN_REFUSALS
        super().__init__(reason)
        self.reason = reason
        self.device = device

    @property
    def message(self) -> str:
        return token_refusal_message(self.reason)


class PairingRefused(Exception):
    """A pairing code that cannot pair; ``reason`` is one of ``PAIRING_REFUSALS``."""

    def __init__(self, reason: str) -> None:
        assert reason in PAIRING_REFUSALS
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        if self.reason == "pairing_expired":
            return _("This pairing code has expired. Ask the secretary for a new one.")
        if self.reason == "device_expired":
            return _("This device's time is over. Ask the secretary for a new device.")
        return _(
            "This pairing code is not valid: it may be mistyped or already used. "
            "Ask the secretary for a new one."
        )


def token_refusal_message(reason: str) -> str:
    if reason == "device_expired":
        return _("This device's time is over. Ask the secretary to pair it again.")
    return _("This device was unpaired. Ask the secretary for a new pairing code.")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(text: str) -> str:
    """A typed pairing code as stored: upper case, without spaces or dashes."""
    return "".join(ch for ch in text.upper() if ch not in " -\t\r\n")


def format_code(code: str) -> str:
    """ABCD-EFGH: easier to read out and to type."""
    return code[:4] + "-" + code[4:]


def pairing_payload(base_url: str, code: str) -> str:
    """What the pairing QR holds: a small versioned JSON object."""
    return json.dumps(
        {"v": PAIRING_FORMAT, "t": PAIRING_TAG, "url": base_url.rstrip("/"), "code": code},
        separators=(",", ":"),
    )


def device_label(device_id: int) -> str:
    """How a device is named where it recorded something: attendance rows, the trail."""
    return f"device:{device_id}"


def _issue_code(s: Session, device: ScannerDevice, now: datetime) -> str:
    for _attempt in range(5):
        code = "".join(secrets.choice(PAIRING_ALPHABET) for _ in range(PAIRING_LENGTH))
        code_hash = _sha256(code)
        taken = s.scalar(
            select(ScannerDevice.id).where(ScannerDevice.pairing_code_hash == code_hash)
        )
        if taken is None:
            device.pairing_code_hash = code_hash
            device.pairing_expires_at = now + PAIRING_TTL
            return code
    raise RuntimeError("could not draw an unused pairing code")  # 31**8 codes: never


def check_fields(
    unit: Unit, name: str, meeting: Meeting | None, expires_at: datetime | None, now: datetime
) -> str:
    """The cleaned name; raises DeviceError naming every bad field."""
    errors = {}
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        errors["name"] = _("A name of 1 to %(n)d characters is required.", n=MAX_NAME)
    if unit.kind != "branch":
        errors["unit"] = _("A scanner device belongs to a branch.")
    if meeting is not None and (
        not meeting.unit.path.startswith(unit.path) or meeting.status == "closed"
    ):
        errors["meeting_id"] = _("Choose a meeting of this branch that is not closed.")
    if expires_at is not None and expires_at <= now:
        errors["expires_at"] = _("The end must be in the future.")
    if errors:
        raise DeviceError(errors)
    return name


def create_device(
    s: Session,
    actor: Actor,
    *,
    unit: Unit,
    name: str,
    meeting: Meeting | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[ScannerDevice, str]:
    """A new device of a branch and its first pairing code (shown once, stored hashed)."""
    now = now or utcnow()
    name = check_fields(unit, name, meeting, expires_at, now)
    device = ScannerDevice(
        unit_id=unit.id, unit=unit, name=name, meeting_id=meeting.id if meeting else None,
        meeting=meeting, expires_at=expires_at, created_by=actor.label, created_at=now,
    )  # fmt: skip
    code = _issue_code(s, device, now)
    s.add(device)
    s.flush()
    record(
        s, actor, "device.create", "scanner_device", device.id,
        after={"name": name, "unit": unit.code, "meeting": device.meeting_id,
               "expires_at": expires_at},
    )  # fmt: skip
    return device, code


def new_pairing_code(
    s: Session, actor: Actor, device: ScannerDevice, now: datetime | None = None
) -> str:
    """Re-pair: a new one-time code for the same device; its current token stops at once.

    A revoked device becomes usable again once the new code is used; its row, its attendance
    rows and its trail stay.
    """
    now = now or utcnow()
    before = {"paired": device.token_hash is not None, "revoked_at": device.revoked_at}
    code = _issue_code(s, device, now)
    device.token_hash = None
    device.revoked_at = None
    device.revoked_by = None
    s.flush()
    record(s, actor, "device.pairing_code", "scanner_device", device.id, before=before,
           after={"pairing_expires_at": device.pairing_expires_at})  # fmt: skip
    return code


def pair_device(s: Session, code: str, now: datetime | None = None) -> tuple[ScannerDevice, str]:
    """Use a pairing code: the device's new token (returned once, stored hashed).

    A code works once and for ``PAIRING_TTL``; raises PairingRefused otherwise.
    """
    now = now or utcnow()
    code = normalise_code(code)
    if len(code) != PAIRING_LENGTH or any(ch not in PAIRING_ALPHABET for ch in code):
        raise PairingRefused("pairing_invalid")
    # Locked: of two phones using one code at once, the second finds it used (PostgreSQL; on
    # SQLite the pairing request holds the write lock from its start).
    device = s.scalar(
        select(ScannerDevice)
        .options(joinedload(ScannerDevice.unit))
        .where(ScannerDevice.pairing_code_hash == _sha256(code))
        .with_for_update(of=ScannerDevice)
    )
    if device is None or device.revoked_at is not None:
        raise PairingRefused("pairing_invalid")
    if device.pairing_expires_at is None or device.pairing_expires_at <= now:
        raise PairingRefused("pairing_expired")
    if device.expires_at is not None and device.expires_at <= now:
        raise PairingRefused("device_expired")
    token = secrets.token_urlsafe(32)
    device.token_hash = _sha256(token)
    device.pairing_code_hash = None
    device.pairing_expires_at = None
    device.paired_at = now
    device.last_seen_at = now
    s.flush()
    record(s, Actor(device_label(device.id)), "device.pair", "scanner_device", device.id,
           after={"paired_at": now})  # fmt: skip
    return device, token


#: Built once: a device's every call reads it (building a select costs more than running it).
_DEVICE_OF_TOKEN = (
    select(ScannerDevice)
    .options(joinedload(ScannerDevice.unit))
    .where(ScannerDevice.token_hash == bindparam("token_hash"))
)


def device_for_token(s: Session, token: str, now: datetime | None = None) -> ScannerDevice:
    """The paired device of this token, with its unit; raises DeviceRefused otherwise."""
    now = now or utcnow()
    if not token or len(token) > 200:
        raise DeviceRefused("device_unknown")
    device = s.scalar(_DEVICE_OF_TOKEN, {"token_hash": _sha256(token)})
    if device is None:
        raise DeviceRefused("device_unknown")
    if device.revoked_at is not None:
        raise DeviceRefused("device_revoked", device)
    if device.expires_at is not None and device.expires_at <= now:
        raise DeviceRefused("device_expired", device)
    return device


def revoke_device(
    s: Session, actor: Actor, device: ScannerDevice, now: datetime | None = None
) -> bool:
    """Unpair: the device's next call is refused. False when it was revoked already."""
    if device.revoked_at is not None:
        return False
    now = now or utcnow()
    device.revoked_at = now
    device.revoked_by = actor.label
    device.pairing_code_hash = None
    device.pairing_expires_at = None
    s.flush()
    record(s, actor, "device.revoke", "scanner_device", device.id,
           after={"revoked_at": now, "name": device.name})  # fmt: skip
    return True


def note_refused_use(s: Session, device_id: int, reason: str, now: datetime | None = None) -> bool:
    """Write a refused use of a revoked (or expired) token to the trail, at most once a minute
    per device; True when it was written."""
    now = now or utcnow()
    recent = s.scalar(
        select(AuditEvent.id)
        .where(
            AuditEvent.entity_type == "scanner_device",
            AuditEvent.entity_id == device_id,
            AuditEvent.action == "device.refused",
            AuditEvent.at > now - REFUSAL_AUDIT_EVERY,
        )
        .limit(1)
    )
    if recent is not None:
        return False
    record(s, Actor(device_label(device_id)), "device.refused", "scanner_device", device_id,
           after={"reason": reason})  # fmt: skip
    return True


def touch(s: Session, device_id: int, now: datetime | None = None) -> bool:
    """Set the last-seen time if it is older than ``SEEN_EVERY``; True when it was written."""
    now = now or utcnow()
    result = s.execute(
        update(ScannerDevice)
        .where(
            ScannerDevice.id == device_id,
            or_(
                ScannerDevice.last_seen_at.is_(None),
                ScannerDevice.last_seen_at <= now - SEEN_EVERY,
            ),
        )
        .values(last_seen_at=now)
    )
    return bool(result.rowcount)


def needs_touch(device: ScannerDevice, now: datetime) -> bool:
    return device.last_seen_at is None or device.last_seen_at <= now - SEEN_EVERY


def device_state(device: ScannerDevice, now: datetime) -> str:
    """revoked, expired, paired, waiting (a pairing code is out) or unpaired."""
    if device.revoked_at is not None:
        return "revoked"
    if device.expires_at is not None and device.expires_at <= now:
        return "expired"
    if device.token_hash is not None:
        return "paired"
    if device.pairing_expires_at is not None and device.pairing_expires_at > now:
        return "waiting"
    return "unpaired"


@dataclass(frozen=True)
class DeviceRow:
    device: ScannerDevice
    state: str
    #: Attendance rows this device recorded (derived, never stored).
    scans: int


def devices_in(s: Session, scope_path: str, now: datetime | None = None) -> list[DeviceRow]:
    """Every device of the branches under ``scope_path``, newest first, with its scans."""
    now = now or utcnow()
    scans = (
        select(Attendance.device_id, func.count().label("n"))
        .where(Attendance.device_id.is_not(None))
        .group_by(Attendance.device_id)
        .subquery()
    )
    rows = s.execute(
        select(ScannerDevice, func.coalesce(scans.c.n, 0))
        .join(ScannerDevice.unit)
        .outerjoin(scans, scans.c.device_id == ScannerDevice.id)
        .options(joinedload(ScannerDevice.unit), joinedload(ScannerDevice.meeting))
        .where(Unit.path.startswith(scope_path, autoescape=True))
        .order_by(ScannerDevice.created_at.desc(), ScannerDevice.id.desc())
    ).all()
    return [DeviceRow(device, device_state(device, now), n) for device, n in rows]


def scans_of(s: Session, device_id: int) -> int:
    return s.scalar(select(func.count()).where(Attendance.device_id == device_id)) or 0


def open_meetings(s: Session, device: ScannerDevice) -> list[Meeting]:
    """The meetings whose scanner this device may open: its branch's open meetings."""
    query = (
        select(Meeting)
        .join(Meeting.unit)
        .options(joinedload(Meeting.unit))
        .where(Meeting.status == "open", Unit.path.startswith(device.unit.path, autoescape=True))
        .order_by(Meeting.starts_at)
    )
    if device.meeting_id is not None:
        query = query.where(Meeting.id == device.meeting_id)
    return list(s.scalars(query))
