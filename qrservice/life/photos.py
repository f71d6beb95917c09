"""Photos as phones send them (JPEG, PNG, HEIC), made safe to keep and to serve.

A photo is accepted by its content, never by its name or declared type: Pillow must open it
(pillow-heif registered for HEIC). Its bytes are capped before decoding and its pixels before
the image is loaded (a decompression bomb is refused, not a crash). The EXIF orientation is
applied, then the picture is re-encoded as a JPEG of at most ``MAX_SIDE`` pixels per side
with no metadata at all (no EXIF, GPS, XMP or ICC): no uploaded file is ever kept or served as
it came. No Flask here: the meeting trace and make-up notes both use it.
"""

from __future__ import annotations

import contextlib
import io
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

try:  # HEIC, as iPhones send photos; without the plug-in such photos are refused as unreadable.
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - the dependency is declared
    pillow_heif = None

#: The longest side of a stored photo, in pixels.
MAX_SIDE = 2560
#: The most pixels a photo may declare before it is decoded (a 50-megapixel phone fits).
MAX_PIXELS = 60_000_000
#: JPEG quality of the stored copy.
JPEG_QUALITY = 85
#: The formats a photo may really be, whatever its name says.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "HEIF", "MPO"})


class PhotoError(ValueError):
    """A refused photo; ``errors`` maps the form's field to the message."""

    def __init__(self, message: str, field: str = "photo") -> None:
        super().__init__(f"{field}: {message}")
        self.errors = {field: message}


@dataclass
class StoredPhoto:
    """A photo written under the uploads folder."""

    #: Path relative to the uploads folder (what the database keeps).
    path: str
    width: int
    height: int
    size_bytes: int


def read_capped(stream: BinaryIO, max_bytes: int) -> bytes:
    """At most ``max_bytes`` of ``stream``; a longer one is refused after reading one byte more,
    never read whole."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PhotoError(_("The photo is larger than %(mb)s MB.", mb=_megabytes(max_bytes)))
    if not data:
        raise PhotoError(_("Choose a photo to upload."))
    return data


def _megabytes(n: int) -> str:
    return f"{n / (1024 * 1024):g}"


def reencode(data: bytes) -> tuple[bytes, int, int]:
    """The photo in ``data`` re-encoded as a metadata-free JPEG: (bytes, width, height).

    Refuses (PhotoError on "photo") anything Pillow cannot open as a JPEG, PNG or HEIC, one
    whose pixels exceed ``MAX_PIXELS``, and one that is damaged.
    """
    not_a_photo = _("This file is not a photo: send a JPEG, PNG or HEIC picture.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in ACCEPTED_FORMATS:
                raise PhotoError(not_a_photo)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise PhotoError(_("The photo has too many pixels."))
            image.load()
            image = ImageOps.exif_transpose(image)
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError(_("The photo has too many pixels.")) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise PhotoError(not_a_photo) from None
    if image.mode not in ("RGB", "L"):
        if image.mode in ("RGBA", "LA", "P", "PA") or "A" in image.getbands():
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            image = flat
        else:
            image = image.convert("RGB")
    image.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    # A fresh image holds pixels only: nothing of the original's info (EXIF, XMP, ICC, text)
    # can reach the file.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), clean.width, clean.height


def store_photo(uploads_dir: Path, folder: str, data: bytes) -> StoredPhoto:
    """Re-encode ``data`` and write it as ``<uploads>/<folder>/<random token>.jpg``.

    The caller records the returned path, and removes the file (``remove_photo``) if its
    transaction fails.
    """
    jpeg, width, height = reencode(data)
    relative = f"{folder.strip('/')}/{secrets.token_urlsafe(18)}.jpg"
    target = uploads_dir / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as f:
        f.write(jpeg)
    return StoredPhoto(path=relative, width=width, height=height, size_bytes=len(jpeg))


def photo_file(uploads_dir: Path, relative: str) -> Path:
    """The file of a stored photo; a path leaving the uploads folder is refused."""
    base = uploads_dir.resolve()
    target = (base / relative).resolve()
    if base not in target.parents:
        raise PhotoError(_("This photo is not in the uploads folder."))
    return target


def remove_photo(uploads_dir: Path, relative: str) -> None:
    """Remove a stored photo's file; one already gone is not an error."""
    with contextlib.suppress(PhotoError):
        photo_file(uploads_dir, relative).unlink(missing_ok=True)


def thumbnail(path: Path, side: int = 480) -> bytes:
    """A smaller JPEG of a stored (already clean) photo."""
    with Image.open(path) as image:
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()
