"""Card and meeting tokens: what a scanner desk accepts, and the reason it gives when it refuses."""

from __future__ import annotations

import string

import pytest

from cards.tokens import (
    REASONS,
    KeyRing,
    SigningKey,
    TokenError,
    card_url,
    sign_card,
    sign_meeting,
    token_from_text,
    verify_card,
    verify_meeting,
)

SECRET_1 = "first-secret-0123456789abcdef"
SECRET_2 = "second-secret-0123456789abcdef"
TOKEN_ALPHABET = string.ascii_letters + string.digits + "-_."
NOW = 1_750_000_000


def refusal(call, *args) -> str:
    with pytest.raises(TokenError) as caught:
        call(*args)
    assert caught.value.reason in REASONS
    return caught.value.reason


def test_card_token_names_the_member_and_card_version(ring: KeyRing) -> None:
    token = sign_card(ring, 123_456, 7)
    claim = verify_card(ring, token)
    assert (claim.member_id, claim.version, claim.kid) == (123_456, 7, "k1")


def test_card_token_is_short_and_carries_only_identifiers(ring: KeyRing) -> None:
    token = sign_card(ring, 123_456, 7)
    # A short token keeps the printed QR code small (fewer, larger modules).
    assert len(token) <= 40
    assert token.split(".")[:5] == ["1", "c", "k1", "2n9c", "7"]


@pytest.mark.parametrize("purpose", ["card", "meeting"])
def test_every_single_character_change_is_refused(ring: KeyRing, purpose: str) -> None:
    if purpose == "card":
        token = sign_card(ring, 98_765, 3)

        def verify(candidate: str) -> object:
            return verify_card(ring, candidate)
    else:
        token = sign_meeting(ring, 42, NOW, 300)

        def verify(candidate: str) -> object:
            return verify_meeting(ring, candidate, NOW, 300)

    verify(token)
    accepted = []
    tried = 0
    for position, original in enumerate(token):
        for replacement in TOKEN_ALPHABET:
            if replacement == original:
                continue
            candidate = token[:position] + replacement + token[position + 1 :]
            tried += 1
            try:
                verify(candidate)
            except TokenError:
                continue
            accepted.append(candidate)
    assert tried > 30 * 60
    assert accepted == []


def test_dropping_or_adding_a_character_is_refused(ring: KeyRing) -> None:
    token = sign_card(ring, 98_765, 3)
    for position in range(len(token)):
        assert refusal(verify_card, ring, token[:position] + token[position + 1 :])
    assert refusal(verify_card, ring, token + "A")


def test_changed_member_id_breaks_the_signature(ring: KeyRing) -> None:
    token = sign_card(ring, 100, 1)
    forged = token.replace(".2s.", ".2t.", 1)
    assert forged != token
    assert refusal(verify_card, ring, forged) == "bad_signature"


def test_changed_purpose_tag_breaks_the_signature(ring: KeyRing) -> None:
    meeting_token = sign_meeting(ring, 5, NOW, 300)
    relabelled = meeting_token.replace(".m.", ".c.", 1)
    assert refusal(verify_card, ring, relabelled) == "bad_signature"


def test_genuine_token_for_another_purpose_is_refused_as_wrong_purpose(ring: KeyRing) -> None:
    assert refusal(verify_card, ring, sign_meeting(ring, 5, NOW, 300)) == "wrong_purpose"
    assert refusal(verify_meeting, ring, sign_card(ring, 5, 1), NOW, 300) == "wrong_purpose"


def test_token_of_a_retired_key_is_refused_as_retired_key() -> None:
    old_ring = KeyRing([SigningKey("k1", SECRET_1)])
    token = sign_card(old_ring, 10, 1)
    rotated = KeyRing([SigningKey("k1", SECRET_1, retired=True), SigningKey("k2", SECRET_2)])
    assert refusal(verify_card, rotated, token) == "retired_key"


def test_token_of_a_key_the_ring_does_not_know_is_refused_as_unknown_key() -> None:
    token = sign_card(KeyRing([SigningKey("k9", SECRET_1)]), 10, 1)
    assert refusal(verify_card, KeyRing([SigningKey("k1", SECRET_1)]), token) == "unknown_key"


def test_same_kid_with_another_secret_is_a_bad_signature() -> None:
    token = sign_card(KeyRing([SigningKey("k1", SECRET_1)]), 10, 1)
    assert refusal(verify_card, KeyRing([SigningKey("k1", SECRET_2)]), token) == "bad_signature"


def test_key_rotation_newest_active_key_signs_and_older_active_keys_still_verify() -> None:
    ring = KeyRing([SigningKey("k1", SECRET_1), SigningKey("k2", SECRET_2)])
    assert verify_card(ring, sign_card(ring, 1, 1)).kid == "k2"
    old_token = sign_card(KeyRing([SigningKey("k1", SECRET_1)]), 1, 1)
    assert verify_card(ring, old_token).kid == "k1"
    # The newest key retired: the previous active one signs again.
    ring = KeyRing([SigningKey("k1", SECRET_1), SigningKey("k2", SECRET_2, retired=True)])
    assert verify_card(ring, sign_card(ring, 1, 1)).kid == "k1"


def test_ring_without_an_active_key_cannot_sign() -> None:
    ring = KeyRing([SigningKey("k1", SECRET_1, retired=True)])
    with pytest.raises(ValueError, match="no active"):
        sign_card(ring, 1, 1)


def test_keys_are_checked_and_secrets_never_shown() -> None:
    with pytest.raises(ValueError, match="too short"):
        SigningKey("k1", "short")
    with pytest.raises(ValueError, match="key id"):
        SigningKey("k.1", SECRET_1)
    with pytest.raises(ValueError, match="duplicate"):
        KeyRing([SigningKey("k1", SECRET_1), SigningKey("k1", SECRET_2)])
    assert SECRET_1 not in repr(KeyRing([SigningKey("k1", SECRET_1)]))


def test_other_payload_format_version_is_unsupported(ring: KeyRing) -> None:
    token = sign_card(ring, 10, 1)
    assert refusal(verify_card, ring, "2" + token[1:]) == "unsupported_version"


@pytest.mark.parametrize(
    "text",
    ["", "hello", "1.c.k1", "1.c.k1.a.b", "1.c.k1.A.1.sig", "1.x.k1.a.1.sig", "1.c.k1.a.1.sig.x"],
)
def test_garbage_is_malformed(ring: KeyRing, text: str) -> None:
    assert refusal(verify_card, ring, text) == "malformed"


def test_meeting_code_is_valid_for_its_ttl_then_expired(ring: KeyRing) -> None:
    token = sign_meeting(ring, 77, NOW, 300)
    claim = verify_meeting(ring, token, NOW + 300, 300)
    assert (claim.meeting_id, claim.issued_at) == (77, NOW)
    assert refusal(verify_meeting, ring, token, NOW + 301, 300) == "expired"
    # Issued far in the future (a wrong clock): refused, not valid for longer.
    assert refusal(verify_meeting, ring, token, NOW - 3600, 300) == "expired"


def test_error_reasons_are_the_fixed_set() -> None:
    assert {
        "malformed",
        "bad_signature",
        "retired_key",
        "unknown_key",
        "wrong_purpose",
        "unsupported_version",
        "expired",
    } == REASONS
    with pytest.raises(ValueError):
        TokenError("nope", "not a reason")


def test_card_url_joins_base_and_token() -> None:
    assert card_url("https://x.example/", "1.c.k1.a.1.s") == "https://x.example/c/1.c.k1.a.1.s"
    assert card_url("https://x.example/m", "T") == "https://x.example/m/c/T"


def test_scanned_url_or_bare_token_gives_the_token(ring: KeyRing) -> None:
    token = sign_card(ring, 55, 2)
    url = card_url("https://card.example.org", token)
    # USB scanners type the text and press Enter; any host of ours, any base path.
    assert token_from_text(url + "\r\n") == token
    assert token_from_text(card_url("http://10.0.0.5:8080/members", token)) == token
    assert token_from_text(url + "?utm=x#top") == token
    assert token_from_text(url + "/") == token
    assert token_from_text("  " + token + "\n") == token
    assert verify_card(ring, token_from_text(url)).member_id == 55


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "https://card.example.org/",
        "https://card.example.org/m/1.c.k1.a.1.sig",
        "ftp://card.example.org/c/1.c.k1.a.1.sig",
        "https://card.example.org/c/not a token",
        "WIFI:S:office;T:WPA;P:secret;;",
    ],
)
def test_text_that_is_not_a_card_gives_none(text: str) -> None:
    assert token_from_text(text) is None
