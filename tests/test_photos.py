"""Photos as phones send them: refused unless really an image, re-encoded without metadata."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from qrservice.life import photos
from qrservice.life.photos import PhotoError, read_capped, reencode, store_photo


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int | None = None) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 27.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 17.0)
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, "JPEG", exif=exif)
    return out.getvalue()


def test_photo_with_gps_exif_is_stored_without_any_exif(tmp_path: Path) -> None:
    data = jpeg_with_gps()
    with Image.open(io.BytesIO(data)) as original:
        assert original.getexif().get_ifd(0x8825)  # the test photo really carries a location
    stored = store_photo(tmp_path, "meetings/1", data)
    with Image.open(tmp_path / stored.path) as image:
        assert image.format == "JPEG"
        assert not image.getexif()
        assert "exif" not in image.info and "icc_profile" not in image.info
        assert "xmp" not in image.info
    assert b"PhoneMaker" not in (tmp_path / stored.path).read_bytes()
    assert stored.path.startswith("meetings/1/") and stored.path.endswith(".jpg")
    assert stored.size_bytes == (tmp_path / stored.path).stat().st_size


def test_exif_orientation_is_applied_before_the_metadata_goes() -> None:
    # Orientation 6: the camera held sideways; the picture must come out turned upright.
    jpeg, width, height = reencode(jpeg_with_gps((64, 32), orientation=6))
    assert (width, height) == (32, 64)
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.size == (32, 64) and not image.getexif()


def test_png_with_text_chunks_is_reencoded_as_jpeg_without_them() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "secret location 39.9N")
    out = io.BytesIO()
    Image.new("RGBA", (40, 40), (0, 128, 0, 128)).save(out, "PNG", pnginfo=info)
    jpeg, width, height = reencode(out.getvalue())
    assert (width, height) == (40, 40)
    assert b"secret location" not in jpeg
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG" and image.mode == "RGB"
        assert "Comment" not in image.info


def test_text_file_named_jpg_is_refused_naming_photo(tmp_path: Path) -> None:
    with pytest.raises(PhotoError) as exc:
        store_photo(tmp_path, "meetings/1", b"#!/bin/sh\nrm -rf /\n")
    assert "photo" in exc.value.errors
    assert not any(tmp_path.rglob("*.jpg"))


def test_pdf_pretending_to_be_a_photo_is_refused() -> None:
    with pytest.raises(PhotoError) as exc:
        reencode(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
    assert list(exc.value.errors) == ["photo"]


def test_other_image_formats_are_refused_as_not_a_photo() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8, 8)).save(out, "GIF")
    with pytest.raises(PhotoError):
        reencode(out.getvalue())


def test_photo_over_the_byte_cap_is_refused_without_reading_it_all() -> None:
    stream = io.BytesIO(b"x" * 5000)
    with pytest.raises(PhotoError) as exc:
        read_capped(stream, 1000)
    assert "photo" in exc.value.errors
    assert stream.tell() == 1001


def test_decompression_bomb_is_refused_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(photos, "MAX_PIXELS", 100 * 100)
    out = io.BytesIO()
    Image.new("L", (200, 200)).save(out, "PNG")
    with pytest.raises(PhotoError) as exc:
        reencode(out.getvalue())
    assert "pixels" in exc.value.errors["photo"]


def test_large_photo_is_scaled_to_the_longest_side() -> None:
    out = io.BytesIO()
    Image.new("RGB", (3000, 1500), (1, 2, 3)).save(out, "JPEG")
    _jpeg, width, height = reencode(out.getvalue())
    assert (width, height) == (photos.MAX_SIDE, photos.MAX_SIDE // 2)


def heic_bytes() -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    try:
        Image.new("RGB", (48, 24), (10, 20, 200)).save(out, "HEIF")
    except (KeyError, OSError, ValueError) as exc:  # pragma: no cover - depends on the wheel
        pytest.skip(f"this pillow-heif build cannot encode HEIC here: {exc}")
    return out.getvalue()


def test_heic_photo_from_a_phone_is_accepted_as_jpeg() -> None:
    jpeg, width, height = reencode(heic_bytes())
    assert (width, height) == (48, 24)
    with Image.open(io.BytesIO(jpeg)) as image:
        assert image.format == "JPEG"
