"""Signed, compact, versioned tokens for member cards and on-screen meeting codes.

A token is what the QR code carries, so every character costs printed area. It holds only
identifiers (never a name, phone number or ID number):

    1.c.<kid>.<member_id base36>.<card_version base36>.<signature>    card
    1.m.<kid>.<meeting_id base36>.<issued_at base36>.<signature>      meeting on-screen code

The leading "1" is the payload format version. The purpose tag ("c"/"m") is part of the signed
text and each purpose also has its own salt, so a genuine token shown to the wrong endpoint is
refused as ``wrong_purpose`` while an edited purpose tag simply fails the signature.

Verification raises ``TokenError`` whose ``reason`` comes from the fixed set ``REASONS`` so that
every client (web page, USB scanner desk, offline app) can show the same explanation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from itsdangerous.signer import HMACAlgorithm, Signer

FORMAT_VERSION = "1"
PURPOSE_CARD = "c"
PURPOSE_MEETING = "m"

# One salt per purpose: a signature made for a meeting code never validates a card payload.
_SALTS = {PURPOSE_CARD: "qrservice.card.v1", PURPOSE_MEETING: "qrservice.meeting.v1"}

REASONS = frozenset(
    {
        "malformed",
        "bad_signature",
        "retired_key",
        "unknown_key",
        "wrong_purpose",
        "unsupported_version",
        "expired",
    }
)

# A meeting code shown on a screen may be verified by a server whose clock runs slightly behind
# the one that issued it; beyond this it is refused rather than treated as valid for longer.
CLOCK_SKEW_SECONDS = 30

_KID_RE = re.compile(r"[A-Za-z0-9_-]{1,16}")
_B36_RE = re.compile(r"[0-9a-z]{1,13}")
# Shape only (verification decides): used to recognise a bare token typed by a USB scanner.
_TOKEN_SHAPE_RE = re.compile(r"[0-9]{1,3}\.[A-Za-z0-9_.-]{4,250}")
_CARD_PATH_RE = re.compile(r"(?:^|/)c/([^/]+)/?$")
_MAX_TOKEN_LENGTH = 256
# 128-bit HMAC-SHA256 tag: 22 characters instead of 43, still far beyond guessing range.
_TAG_BYTES = 16
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


class TokenError(ValueError):
    """A token was refused; ``reason`` is one of ``REASONS``, ``message`` explains it."""

    def __init__(self, reason: str, message: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown token error reason {reason!r}")
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class SigningKey:
    """One secret of the key ring. ``kid`` is printed in every token, so keep it short."""

    kid: str
    secret: str
    retired: bool = False

    def __post_init__(self) -> None:
        if not _KID_RE.fullmatch(self.kid):
            raise ValueError(f"key id {self.kid!r} must be 1-16 characters of A-Z a-z 0-9 _ -")
        if len(self.secret) < 16:
            raise ValueError(f"secret of key {self.kid!r} is too short (at least 16 characters)")

    def __repr__(self) -> str:
        # Keep secrets out of logs and tracebacks.
        return f"SigningKey(kid={self.kid!r}, retired={self.retired!r})"


class KeyRing:
    """The keys a service knows: the newest non-retired key signs, all non-retired keys verify.

    Retired keys stay in the ring so that their tokens get a precise ``retired_key`` refusal
    instead of a vague ``unknown_key``.
    """

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self.keys: tuple[SigningKey, ...] = tuple(keys)
        self._by_kid: dict[str, SigningKey] = {}
        for key in self.keys:
            if key.kid in self._by_kid:
                raise ValueError(f"duplicate key id {key.kid!r} in key ring")
            self._by_kid[key.kid] = key
        self._signers: dict[tuple[str, str], Signer] = {}

    @property
    def signing_key(self) -> SigningKey:
        active = [key for key in self.keys if not key.retired]
        if not active:
            raise ValueError("key ring has no active (non-retired) key to sign with")
        return active[-1]

    def get(self, kid: str) -> SigningKey | None:
        return self._by_kid.get(kid)

    def signer(self, kid: str, purpose: str) -> Signer:
        signer = self._signers.get((kid, purpose))
        if signer is None:
            signer = Signer(
                self._by_kid[kid].secret,
                salt=_SALTS[purpose],
                sep=".",
                key_derivation="hmac",
                digest_method=hashlib.sha256,
                algorithm=_TruncatedHMAC(hashlib.sha256),
            )
            self._signers[(kid, purpose)] = signer
        return signer

    def __repr__(self) -> str:
        return f"KeyRing({list(self.keys)!r})"


class _TruncatedHMAC(HMACAlgorithm):
    def get_signature(self, key: bytes, value: bytes) -> bytes:
        return super().get_signature(key, value)[:_TAG_BYTES]


@dataclass(frozen=True)
class CardClaim:
    member_id: int
    version: int
    kid: str


@dataclass(frozen=True)
class MeetingClaim:
    meeting_id: int
    issued_at: int
    kid: str


def _base36(number: int) -> str:
    if number < 0:
        raise ValueError("identifiers in tokens must be non-negative")
    digits = []
    while True:
        number, rest = divmod(number, 36)
        digits.append(_BASE36[rest])
        if not number:
            return "".join(reversed(digits))


def _sign(ring: KeyRing, purpose: str, first: int, second: int) -> str:
    key = ring.signing_key
    payload = ".".join((FORMAT_VERSION, purpose, key.kid, _base36(first), _base36(second)))
    return payload + "." + ring.signer(key.kid, purpose).get_signature(payload).decode("ascii")


def _verify(ring: KeyRing, token: str, purpose: str) -> tuple[int, int, str]:
    if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN_LENGTH:
        raise TokenError("malformed", "not a token")
    parts = token.split(".")
    if parts[0] != FORMAT_VERSION:
        if parts[0].isdecimal() and parts[0].isascii():
            raise TokenError("unsupported_version", f"token format {parts[0]} is not supported")
        raise TokenError("malformed", "not a token")
    if len(parts) != 6:
        raise TokenError("malformed", "token has the wrong number of fields")
    _, tag, kid, first, second, signature = parts
    if (
        tag not in _SALTS
        or not _KID_RE.fullmatch(kid)
        or not _B36_RE.fullmatch(first)
        or not _B36_RE.fullmatch(second)
    ):
        raise TokenError("malformed", "token fields are not valid")
    key = ring.get(kid)
    if key is None:
        raise TokenError("unknown_key", f"token was signed with an unknown key {kid!r}")
    payload = token[: -len(signature) - 1]
    expected = ring.signer(kid, tag).get_signature(payload)
    # Compare the encoded text, not decoded bytes: base64 has spare bits in its last character,
    # and a decoded comparison would accept a token whose last character was changed.
    if not hmac.compare_digest(expected, signature.encode("ascii", "replace")):
        raise TokenError("bad_signature", "token signature does not match; it was altered")
    if key.retired:
        raise TokenError("retired_key", f"token was signed with retired key {kid!r}")
    if tag != purpose:
        raise TokenError("wrong_purpose", "token was issued for another purpose")
    return int(first, 36), int(second, 36), kid


def sign_card(ring: KeyRing, member_id: int, version: int) -> str:
    """Token for a member's card; a new card version makes the app refuse older tokens."""
    return _sign(ring, PURPOSE_CARD, member_id, version)


def verify_card(ring: KeyRing, token: str) -> CardClaim:
    """Check a card token; raises ``TokenError``. The app still compares the version."""
    member_id, version, kid = _verify(ring, token, PURPOSE_CARD)
    return CardClaim(member_id=member_id, version=version, kid=kid)


def sign_meeting(ring: KeyRing, meeting_id: int, now: int, ttl_seconds: int) -> str:
    """Short-lived token for a meeting's on-screen code, issued at ``now`` (Unix seconds).

    ``ttl_seconds`` is not stored in the token (it would lengthen it); the verifier applies its
    own, so it is checked here only for sense.
    """
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    return _sign(ring, PURPOSE_MEETING, meeting_id, now)


def verify_meeting(ring: KeyRing, token: str, now: int, ttl_seconds: int) -> MeetingClaim:
    """Check a meeting token at time ``now``: refused as ``expired`` after ``ttl_seconds``."""
    meeting_id, issued_at, kid = _verify(ring, token, PURPOSE_MEETING)
    if now - issued_at > ttl_seconds:
        raise TokenError("expired", "this meeting code has expired; scan the current one")
    if issued_at - now > CLOCK_SKEW_SECONDS:
        raise TokenError("expired", "this meeting code is not valid yet; check the clock")
    return MeetingClaim(meeting_id=meeting_id, issued_at=issued_at, kid=kid)


def card_url(base_url: str, token: str) -> str:
    """The URL printed in a card's QR code."""
    return base_url.rstrip("/") + "/c/" + token


def token_from_text(text: str) -> str | None:
    """The token in scanned text: a card URL of any host (path ``.../c/<token>``) or a bare token.

    USB scanners type what they read followed by Enter, hence the stripping. Returns ``None`` when
    the text is neither; whether the token is genuine is for ``verify_card`` to decide.
    """
    text = text.strip()
    if _TOKEN_SHAPE_RE.fullmatch(text):
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    match = _CARD_PATH_RE.search(parts.path)
    if match is None:
        return None
    candidate = unquote(match.group(1))
    return candidate if _TOKEN_SHAPE_RE.fullmatch(candidate) else None
