"""Issuing member cards: issue, reissue, revoke, PINs, and the codes kept for printing.

Every change to a member's cards first locks that member's row, so two organisers issuing at
the same moment end up with one card version, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from flask_babel import gettext as _
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, aliased, joinedload

from cards.qr import QRMatrix
from cards.tokens import KeyRing, TokenError, card_url, sign_card, verify_card
from qrservice.audit import Actor, record
from qrservice.models import CARD_REASONS, Card, Member, Unit
from qrservice.timeutil import utcnow

if TYPE_CHECKING:
    from cards.pdf import CardFace, Letter

PIN_DIGITS = 6


class CardError(ValueError):
    """A card operation that cannot be done; the message says why."""


class CardRefused(ValueError):
    """A scanned card code that does not open a card; ``reason`` is a fixed word."""

    def __init__(self, reason: str, message: str, card: Card | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.card = card


def lock_member(s: Session, member_id: int) -> None:
    """Serialise card changes for one member: a no-op write takes the row's write lock."""
    # synchronize_session=False: the no-op changes nothing to bring into loaded objects, and the
    # default ("auto") evaluates the criteria against every object in the session: with many
    # members loaded (issuing a whole unit's cards) each lock would cost O(members).
    s.execute(
        update(Member)
        .where(Member.id == member_id)
        .values(id=Member.id)
        .execution_options(synchronize_session=False)
    )


def active_card(s: Session, member_id: int) -> Card | None:
    return s.scalar(select(Card).where(Card.member_id == member_id, Card.status == "active"))


def _next_version(s: Session, member_id: int) -> int:
    latest = s.scalar(select(func.max(Card.version)).where(Card.member_id == member_id))
    return (latest or 0) + 1


def _new_card(s: Session, actor: Actor, member: Member, ring: KeyRing, reason: str) -> Card:
    version = _next_version(s, member.id)
    card = Card(
        member_id=member.id,
        member=member,
        version=version,
        status="active",
        reason=reason,
        kid=ring.signing_key.kid,
        token=sign_card(ring, member.id, version),
        issued_at=utcnow(),
        issued_by=actor.label,
    )
    s.add(card)
    s.flush()
    record(
        s, actor, "card.issue", "member", member.id,
        after={"version": version, "reason": reason, "kid": card.kid},
    )  # fmt: skip
    return card


def issue_card(s: Session, actor: Actor, member: Member, ring: KeyRing) -> tuple[Card, bool]:
    """The member's active card, issued now if there is none; (card, whether it is new)."""
    if not member.active:
        raise CardError(_("%(name)s has left; no card is issued.", name=member.name))
    lock_member(s, member.id)
    card = active_card(s, member.id)
    if card is not None:
        return card, False
    return _new_card(s, actor, member, ring, "new"), True


def reissue_card(
    s: Session, actor: Actor, member: Member, ring: KeyRing, reason: str, note: str = ""
) -> Card:
    """Supersede the active card and issue the next version: the old code stops at once."""
    if reason not in CARD_REASONS or reason == "new":
        raise CardError(_("Choose why the card is reissued: lost, damaged, copied or other."))
    if not member.active:
        raise CardError(_("%(name)s has left; no card is issued.", name=member.name))
    lock_member(s, member.id)
    old = active_card(s, member.id)
    if old is not None:
        _end(s, actor, old, "superseded", f"{reason}: {note}".strip(": "))
    return _new_card(s, actor, member, ring, reason)


def revoke_card(s: Session, actor: Actor, member: Member, note: str) -> Card:
    lock_member(s, member.id)
    card = active_card(s, member.id)
    if card is None:
        raise CardError(_("%(name)s has no active card.", name=member.name))
    _end(s, actor, card, "revoked", note.strip() or "revoked")
    return card


def _end(s: Session, actor: Actor, card: Card, status: str, why: str) -> None:
    card.status = status
    card.ended_at = utcnow()
    card.end_reason = why[:200]
    s.flush()
    record(
        s, actor, f"card.{'revoke' if status == 'revoked' else 'supersede'}", "member",
        card.member_id, before={"version": card.version, "status": "active"},
        after={"version": card.version, "status": status, "why": card.end_reason},
    )  # fmt: skip


def issue_cards(
    s: Session,
    actor: Actor,
    members: Iterable[Member],
    ring: KeyRing,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Issue a card to each active member without one; returns how many were issued."""
    made = 0
    for member in members:
        if member.active:
            made += issue_card(s, actor, member, ring)[1]
        if progress:
            progress(1)
    return made


def card_history(s: Session, member_id: int) -> list[Card]:
    return list(s.scalars(select(Card).where(Card.member_id == member_id).order_by(Card.version)))


def members_in(s: Session, unit: Unit, active_only: bool = True) -> list[Member]:
    query = select(Member).join(Member.unit).where(Unit.path.startswith(unit.path))
    if active_only:
        query = query.where(Member.active.is_(True))
    return list(s.scalars(query.order_by(Member.number)))


def keep_codes(cards: Sequence[Card], base_url: str, processes: int | None = None) -> int:
    """Encode the QR code of every card whose kept code is missing or stale; returns how many.

    Encoding costs milliseconds per code and depends only on the URL, so it is done once per
    card version and URL and kept in the card row.
    """
    stale = [c for c in cards if c.qr is None or c.qr_url != card_url(base_url, c.token)]
    if not stale:
        return 0
    from cards.pdf import card_codes  # the error level suits the code's printed size

    urls = [card_url(base_url, c.token) for c in stale]
    for card, url, matrix in zip(stale, urls, card_codes(urls, processes), strict=True):
        card.qr = matrix.to_bytes()
        card.qr_url = url
    return len(stale)


#: How long a GET waits to keep a freshly encoded code; busier than that, it keeps it next time.
KEEP_CODE_WAIT = 0.5


def kept_code(card: Card, base_url: str) -> QRMatrix:
    """The card's code for a page that only reads (a GET): the kept one, or encoded now.

    A code encoded now is kept by a short write of its own, after the read and outside the
    request's transaction, and only while the card still has this token; when another write
    holds the lock it is not kept (the next view keeps it) rather than waited for. ``card`` is
    not changed, so the request's own session stays a reader.
    """
    from qrservice import db

    url = card_url(base_url, card.token)
    if card.qr is not None and card.qr_url == url:
        return QRMatrix.from_bytes(card.qr)
    from cards.pdf import card_codes  # the error level suits the code's printed size

    matrix = card_codes([url], 1)[0]
    try:
        with db.write_transaction(timeout=KEEP_CODE_WAIT) as w:
            w.execute(
                update(Card)
                .where(Card.id == card.id, Card.token == card.token)
                .values(qr=matrix.to_bytes(), qr_url=url)
                .execution_options(synchronize_session=False)
            )
    except db.WriteBusy:
        pass
    return matrix


def card_face(card: Card, org_name: str, base_url: str) -> CardFace:
    from cards.pdf import CardFace  # reportlab loads only where PDFs are made

    member = card.member
    branch = branch_of(member.unit)
    url = card_url(base_url, card.token)
    qr = QRMatrix.from_bytes(card.qr) if card.qr is not None and card.qr_url == url else None
    return CardFace(
        org_name=org_name,
        member_name=member.name,
        member_number=member.number,
        branch_name=branch.name,
        url=url,
        issued_on=card.issued_at.date(),
        version=card.version,
        qr=qr,
    )


def _pin_digest(secret_key: str, card: Card, pin: str) -> str:
    # A PIN has few possible values, so a slow hash would not protect it offline; a keyed
    # HMAC does (the key is not in the database) and the online attempts are rate limited.
    message = f"{card.id}:{card.version}:{pin}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()


def new_pin() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(PIN_DIGITS))


def set_new_pin(card: Card, secret_key: str) -> str:
    """A fresh PIN for the card letter; only its keyed hash is stored."""
    pin = new_pin()
    card.pin_hash = _pin_digest(secret_key, card, pin)
    card.pin_set_at = utcnow()
    return pin


def pin_matches(card: Card, secret_key: str, pin: str) -> bool:
    if card.pin_hash is None:
        return False
    return hmac.compare_digest(card.pin_hash, _pin_digest(secret_key, card, pin.strip()))


#: Wrong PINs in a row before each short wait; the fifth locks the PIN (a lockout).
PIN_WAITS = {3: timedelta(seconds=30), 4: timedelta(minutes=1)}
PIN_GUESSES_PER_LOCKOUT = 5
#: The first lockout lasts this long, each further one twice as long as the one before,
#: up to a day: 5 guesses in 15 minutes, about 45 in the first day, then 5 a day.
PIN_FIRST_LOCKOUT = timedelta(minutes=15)
PIN_LONGEST_LOCKOUT = timedelta(days=1)


@dataclass(frozen=True)
class PinOutcome:
    #: unlocked, wrong, locked (not checked: wait until ``until``) or no_pin.
    result: str
    until: datetime | None = None


def try_pin(
    s: Session, actor: Actor, card: Card, secret_key: str, pin: str, *, known_browser: bool
) -> PinOutcome:
    """Check a PIN typed on the card page, counting wrong ones on the locked card row.

    The card row is locked first, so simultaneous guesses are counted one after another
    (on PostgreSQL as on SQLite) and none is checked while the card waits. A browser that
    unlocked this member's card before (an earlier version, or before the PIN was reset)
    is still heard while the card waits: strangers guessing cannot lock the owner out.
    """
    # OF card: PostgreSQL locks no row of the outer joins that load the card's member.
    s.refresh(card, with_for_update={"of": Card})
    now = utcnow()
    if card.pin_hash is None:
        return PinOutcome("no_pin")
    waiting = card.pin_locked_until is not None and card.pin_locked_until > now
    if waiting and not known_browser:
        return PinOutcome("locked", card.pin_locked_until)
    if pin_matches(card, secret_key, pin):
        card.pin_failures, card.pin_lockouts, card.pin_locked_until = 0, 0, None
        return PinOutcome("unlocked")
    card.pin_failures += 1
    if card.pin_failures >= PIN_GUESSES_PER_LOCKOUT:
        card.pin_failures = 0
        card.pin_lockouts += 1
        wait = min(PIN_FIRST_LOCKOUT * 2 ** (card.pin_lockouts - 1), PIN_LONGEST_LOCKOUT)
    else:
        wait = PIN_WAITS.get(card.pin_failures)
    if wait is not None:
        card.pin_locked_until = now + wait
    record(
        s, actor, "card.pin_wrong", "member", card.member_id,
        after={"version": card.version, "locked_until": card.pin_locked_until if wait else None,
               "lockouts": card.pin_lockouts},
    )  # fmt: skip
    return PinOutcome("wrong", card.pin_locked_until if wait else None)


#: The card a token names, with its member, home unit and branch (the card page shows it).
_CARD_OF_CLAIM = (
    select(Card)
    .options(joinedload(Card.member).joinedload(Member.unit).joinedload(Unit.parent))
    .where(Card.member_id == bindparam("member_id"), Card.version == bindparam("version"))
)


def token_refusal_message(reason: str) -> str:
    """Why a code was refused (``cards.tokens.REASONS``), in the viewer's language: the token
    library has no Flask and explains itself in English, for logs."""
    messages = {
        "retired_key": _(
            "This card's code was signed with a key that has been retired; "
            "ask your organiser to reissue the card."
        ),
        "wrong_purpose": _("This is a meeting's check-in code, not a member's card."),
        "expired": _("This code has expired."),
        "unsupported_version": _("This code was made in a format this service cannot read."),
        "unknown_key": _("This code was not signed by this service."),
        "bad_signature": _(
            "This code's signature does not match: it was not issued here, or it was altered."
        ),
    }
    return messages.get(reason, _("This is not a card code of ours."))


def _claim(ring: KeyRing, token: str) -> dict[str, int]:
    try:
        claim = verify_card(ring, token)
    except TokenError as exc:
        raise CardRefused(exc.reason, token_refusal_message(exc.reason)) from None
    return {"member_id": claim.member_id, "version": claim.version}


def _refuse_unless_active(card: Any, token: str) -> None:
    if card is None or card.token != token:
        raise CardRefused("no_card", _("This code is not a card issued here."))
    if card.status == "superseded":
        raise CardRefused(
            "superseded", _("This card was replaced by a newer one; see your organiser."), card
        )
    if card.status == "revoked":
        raise CardRefused("revoked", _("This card was withdrawn; see your organiser."), card)


def resolve_card(s: Session, ring: KeyRing, token: str) -> Card:
    """The card a scanned token opens, or CardRefused with the reason it does not."""
    card = s.scalar(_CARD_OF_CLAIM, _claim(ring, token))
    _refuse_unless_active(card, token)
    return card


@dataclass(frozen=True)
class UnitView:
    """A unit as ``card_view`` reads it: the attributes of ``Unit`` the card page uses."""

    id: int
    name: str
    kind: str
    path: str
    parent_id: int | None
    parent: UnitView | None


@dataclass(frozen=True)
class MemberView:
    """A member as ``card_view`` reads it (see ``UnitView``)."""

    id: int
    name: str
    number: str
    floating: bool
    floating_location: str | None
    joined_on: date
    unit_id: int
    host_unit_id: int | None
    unit: UnitView


@dataclass(frozen=True)
class CardView:
    """A card as ``card_view`` reads it (see ``UnitView``)."""

    id: int
    member_id: int
    version: int
    token: str
    status: str
    member: MemberView


_parent = aliased(Unit, name="parent_unit")
_CARD_VIEW = (
    select(
        Card.id.label("card_id"), Card.version, Card.token, Card.status,
        Member.id.label("member_id"), Member.name, Member.number, Member.floating,
        Member.floating_location, Member.joined_on, Member.unit_id,
        Member.host_unit_id, Unit.name.label("unit_name"), Unit.kind.label("unit_kind"),
        Unit.path.label("unit_path"), Unit.parent_id.label("unit_parent_id"),
        _parent.name.label("parent_name"), _parent.kind.label("parent_kind"),
        _parent.path.label("parent_path"), _parent.parent_id.label("parent_parent_id"),
    )
    .join(Member, Member.id == Card.member_id)
    .join(Unit, Unit.id == Member.unit_id)
    .outerjoin(_parent, _parent.id == Unit.parent_id)
    .where(Card.member_id == bindparam("member_id"), Card.version == bindparam("version"))
)  # fmt: skip


def card_view(s: Session, ring: KeyRing, token: str) -> CardView:
    """The card a scanned token opens, read to be shown: like ``resolve_card``, but one Core
    row instead of four ORM objects (a fifth of the card page's time, its most viewed page)."""
    row = s.connection().execute(_CARD_VIEW, _claim(ring, token)).first()
    card = None
    if row is not None:
        parent = None
        if row.unit_parent_id is not None:
            parent = UnitView(
                row.unit_parent_id, row.parent_name, row.parent_kind, row.parent_path,
                row.parent_parent_id, None,
            )  # fmt: skip
        unit = UnitView(
            row.unit_id, row.unit_name, row.unit_kind, row.unit_path, row.unit_parent_id, parent
        )
        member = MemberView(
            row.member_id, row.name, row.number, row.floating, row.floating_location,
            row.joined_on, row.unit_id, row.host_unit_id, unit,
        )  # fmt: skip
        card = CardView(row.card_id, row.member_id, row.version, row.token, row.status, member)
    _refuse_unless_active(card, token)
    return card  # type: ignore[return-value]


@dataclass(frozen=True)
class SheetChoice:
    """Which cards go on a badge sheet."""

    only: str = "all"  # all, new (never printed) or reissued (version > 1, never printed)
    sort: str = "unit"  # unit (branch, then member number) or name


def cards_for_sheet(s: Session, scope: Unit, choice: SheetChoice) -> list[Card]:
    query = (
        select(Card)
        .join(Card.member)
        .join(Member.unit)
        .options(joinedload(Card.member).joinedload(Member.unit).joinedload(Unit.parent))
        .where(Card.status == "active", Unit.path.startswith(scope.path))
    )
    if choice.only == "new":
        query = query.where(Card.printed_at.is_(None))
    elif choice.only == "reissued":
        query = query.where(Card.printed_at.is_(None), Card.version > 1)
    cards = list(s.scalars(query).unique())
    if choice.sort == "name":
        cards.sort(key=lambda c: (c.member.name, c.member.number))
    else:
        cards.sort(key=lambda c: (branch_of(c.member.unit).code, c.member.number))
    return cards


def branch_of(unit: Unit) -> Unit:
    """The branch a unit is or belongs to (a committee is its own answer)."""
    return unit.parent if unit.kind == "group" and unit.parent is not None else unit


def mark_printed(cards: Iterable[Card]) -> None:
    now = utcnow()
    for card in cards:
        if card.printed_at is None:
            card.printed_at = now


# -- Sheets and letters of many cards, with no transaction open while codes are encoded or
# pages drawn (both take seconds to minutes for a large unit, and a check-in must not wait):
# the cards are chosen by id in a read, their missing codes encoded and kept in short write
# transactions of a batch each, the pages drawn from rows read a chunk at a time (memory stays
# bounded whatever the number of cards), and what printing changes written in one short write.

#: Cards per short write of kept codes, and per read of the rows a sheet is drawn from.
SHEET_BATCH = 500

_sheet_parent = aliased(Unit, name="sheet_parent")


def sheet_card_ids(s: Session, scope: Unit, choice: SheetChoice) -> list[int]:
    """The ids of the active cards for a sheet of ``scope``, in print order (as
    ``cards_for_sheet``, reading ids and sort keys only)."""
    query = (
        select(Card.id, Member.name, Member.number, Unit.kind, Unit.code, _sheet_parent.code)
        .join(Member, Member.id == Card.member_id)
        .join(Unit, Unit.id == Member.unit_id)
        .outerjoin(_sheet_parent, _sheet_parent.id == Unit.parent_id)
        .where(Card.status == "active", Unit.path.startswith(scope.path))
    )
    if choice.only == "new":
        query = query.where(Card.printed_at.is_(None))
    elif choice.only == "reissued":
        query = query.where(Card.printed_at.is_(None), Card.version > 1)
    rows = s.execute(query).all()
    if choice.sort == "name":
        rows.sort(key=lambda r: (r[1], r[2]))
    else:  # the branch's code (a group's parent), then the member number
        rows.sort(key=lambda r: (r[5] if r[3] == "group" and r[5] else r[4], r[2]))
    return [r[0] for r in rows]


def _batches(ids: Sequence[int], size: int = SHEET_BATCH) -> Iterator[Sequence[int]]:
    for first in range(0, len(ids), size):
        yield ids[first : first + size]


_CODES_OF = select(Card.id, Card.token, Card.qr_url, Card.qr.is_(None).label("no_qr")).where(
    Card.id.in_(bindparam("ids", expanding=True))
)
_KEEP_CODE = (
    update(Card.__table__)
    .where(Card.__table__.c.id == bindparam("b_id"), Card.__table__.c.token == bindparam("b_token"))
    .values(qr=bindparam("b_qr"), qr_url=bindparam("b_url"))
)


def keep_codes_batched(card_ids: Sequence[int], base_url: str, processes: int | None = None) -> int:
    """Encode and keep the missing or stale codes of these cards; returns how many.

    A batch at a time: its rows read in a session of their own, its codes encoded with no
    transaction open (on every core: seconds for a large batch), then kept in a short write
    transaction of their own (``db.write_transaction``: it waits a bounded time for its turn).
    """
    from cards.pdf import card_codes  # the error level suits the code's printed size
    from qrservice import db

    made = 0
    for ids in _batches(card_ids):
        with db.new_session() as s:
            rows = s.execute(_CODES_OF, {"ids": list(ids)}).all()
        stale = [
            (row.id, row.token, card_url(base_url, row.token))
            for row in rows
            if row.no_qr or row.qr_url != card_url(base_url, row.token)
        ]
        if not stale:
            continue
        matrices = card_codes([url for _, _, url in stale], processes)
        values = [
            {"b_id": card_id, "b_token": token, "b_url": url, "b_qr": matrix.to_bytes()}
            for (card_id, token, url), matrix in zip(stale, matrices, strict=True)
        ]
        with db.write_transaction() as w:
            w.execute(_KEEP_CODE, values)
        made += len(stale)
    return made


@dataclass(frozen=True)
class SheetCard:
    """A card to print: what ``_pin_digest`` needs, and its face."""

    id: int
    version: int
    face: CardFace


_SHEET_ROWS = (
    select(
        Card.id, Card.version, Card.token, Card.issued_at, Card.qr, Card.qr_url, Member.name,
        Member.number, Unit.kind, Unit.name.label("unit_name"),
        _sheet_parent.name.label("parent_name"),
    )
    .join(Member, Member.id == Card.member_id)
    .join(Unit, Unit.id == Member.unit_id)
    .outerjoin(_sheet_parent, _sheet_parent.id == Unit.parent_id)
    .where(Card.id.in_(bindparam("ids", expanding=True)), Card.status == "active")
)  # fmt: skip


def iter_sheet_cards(
    card_ids: Sequence[int], org_name: str, base_url: str, printed: list[int] | None = None
) -> Iterator[SheetCard]:
    """The cards' faces in the order of ``card_ids``, read a chunk at a time in short sessions
    (nothing is open between chunks, nor while the caller draws). A card reissued or revoked
    since it was chosen is left out; ``printed`` collects the ids of those given."""
    from cards.pdf import CardFace
    from qrservice import db

    for ids in _batches(card_ids):
        with db.new_session() as s:
            rows = {row.id: row for row in s.execute(_SHEET_ROWS, {"ids": list(ids)})}
        for card_id in ids:
            row = rows.pop(card_id, None)
            if row is None:
                continue
            url = card_url(base_url, row.token)
            qr = QRMatrix.from_bytes(row.qr) if row.qr is not None and row.qr_url == url else None
            branch = row.parent_name if row.kind == "group" and row.parent_name else row.unit_name
            face = CardFace(
                org_name=org_name, member_name=row.name, member_number=row.number,
                branch_name=branch, url=url, issued_on=row.issued_at.date(), version=row.version,
                qr=qr,
            )  # fmt: skip
            if printed is not None:
                printed.append(card_id)
            yield SheetCard(card_id, row.version, face)


_MARK_PRINTED = (
    update(Card.__table__)
    .where(Card.__table__.c.id.in_(bindparam("ids", expanding=True)))
    .where(Card.__table__.c.printed_at.is_(None))
    .values(printed_at=bindparam("now"))
)


def mark_printed_ids(s: Session, card_ids: Sequence[int]) -> None:
    """Mark these cards printed (those not printed before), in statements of a batch each."""
    now = utcnow()
    for ids in _batches(card_ids):
        s.execute(_MARK_PRINTED, {"ids": list(ids), "now": now})


def sheet_letters(
    cards: Iterable[SheetCard], secret_key: str, pins: list[dict[str, Any]]
) -> Iterator[Letter]:
    """Letters with a new PIN each, as the cards come; ``pins`` collects what ``set_new_pin``
    would have set, for ``keep_pins`` to write once the letters are printed."""
    from cards.pdf import Letter

    now = utcnow()
    for card in cards:
        pin = new_pin()
        pins.append({"b_id": card.id, "b_version": card.version,
                     "b_hash": _pin_digest(secret_key, card, pin), "b_now": now})  # fmt: skip
        yield Letter(card.face, pin)


_KEEP_PIN = (
    update(Card.__table__)
    .where(
        Card.__table__.c.id == bindparam("b_id"), Card.__table__.c.version == bindparam("b_version")
    )
    .values(pin_hash=bindparam("b_hash"), pin_set_at=bindparam("b_now"))
)


def keep_pins(s: Session, pins: list[dict[str, Any]]) -> None:
    """Store the PINs ``sheet_letters`` printed (one statement per batch)."""
    for first in range(0, len(pins), SHEET_BATCH):
        s.execute(_KEEP_PIN, pins[first : first + SHEET_BATCH])


def cards_signed_with(s: Session, kid: str) -> int:
    """Active cards whose code was signed with this key: they stop working if it is retired."""
    return s.scalar(select(func.count()).where(Card.kid == kid, Card.status == "active")) or 0
