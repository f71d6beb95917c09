"""The card signing keys of this installation, kept in ``<instance>/signing_keys.json`` (0600).

The newest non-retired key signs new cards; every non-retired key verifies, so adding a key
needs no reprinting. Retiring a key makes every card it signed stop working.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, current_app

from cards.tokens import KeyRing, SigningKey

FILENAME = "signing_keys.json"


def _path(instance: Path) -> Path:
    return instance / FILENAME


def load_keys(instance: Path) -> list[dict[str, object]]:
    """The stored keys, oldest first; a first key is created when there is none."""
    path = _path(instance)
    if path.exists():
        return json.loads(path.read_text())["keys"]
    keys = [_new_key("k1")]
    save_keys(instance, keys)
    return keys


def save_keys(instance: Path, keys: list[dict[str, object]]) -> None:
    instance.mkdir(parents=True, exist_ok=True)
    path = _path(instance)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"keys": keys}, f, indent=1)
    os.replace(tmp, path)


def _new_key(kid: str) -> dict[str, object]:
    return {
        "kid": kid,
        "secret": secrets.token_urlsafe(32),
        "retired": False,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def add_key(instance: Path) -> str:
    keys = load_keys(instance)
    taken = {str(k["kid"]) for k in keys}
    n = len(keys) + 1
    while f"k{n}" in taken:
        n += 1
    keys.append(_new_key(f"k{n}"))
    save_keys(instance, keys)
    return f"k{n}"


def retire_key(instance: Path, kid: str) -> None:
    keys = load_keys(instance)
    match = [k for k in keys if k["kid"] == kid]
    if not match:
        raise ValueError(f"no key {kid!r}")
    if sum(1 for k in keys if not k["retired"] and k["kid"] != kid) == 0:
        raise ValueError("this is the only active key: add a new key before retiring it")
    match[0]["retired"] = True
    save_keys(instance, keys)


def ring_from(keys: list[dict[str, object]]) -> KeyRing:
    return KeyRing(SigningKey(str(k["kid"]), str(k["secret"]), bool(k["retired"])) for k in keys)


def init_app(app: Flask) -> None:
    app.extensions["key_ring"] = ring_from(load_keys(Path(app.instance_path)))


def key_ring() -> KeyRing:
    return current_app.extensions["key_ring"]
