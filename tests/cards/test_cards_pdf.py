"""Cards, letters and badge sheets as printed: decoded by a QR reader, Chinese drawn in ink."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from PIL import Image

from cards.layouts import CARD_HEIGHT_MM, CARD_WIDTH_MM, LAYOUTS, Rect
from cards.pdf import (
    CARD_TEXT,
    CODE_BOX,
    CardFace,
    Letter,
    card_codes,
    fit_text,
    render_badge_sheet,
    render_card_pdf,
    render_letters_pdf,
    text_width,
)
from cards.qr import QUIET_ZONE
from tests.cards.pdfcheck import crop_mm, decode_all, ink_fraction, mm_to_px, share_differing

Rasterise = Callable[..., list[Image.Image]]
MakeFace = Callable[..., CardFace]
# An area of the card design that stays empty: between the branch line and the instruction.
EMPTY_CARD_AREA = Rect(4.0, 13.5, 45.0, 5.0)


def on_badge(badge: Rect, scale: float, box: Rect) -> tuple[float, float, float, float]:
    """A box given in card coordinates, placed on a page where the card is ``badge``."""
    return (badge.x + box.x * scale, badge.y + box.y * scale, box.width * scale, box.height * scale)


def test_card_is_credit_card_sized_with_every_field_and_a_readable_code(
    make_face: MakeFace, rasterise: Rasterise, text_of: Callable[[bytes], str]
) -> None:
    face = make_face(7, member_name="李华", branch_name="海淀支部 Haidian", version=3)
    pdf = render_card_pdf(face)
    (page,) = rasterise(pdf, 300)
    assert page.width == pytest.approx(mm_to_px(CARD_WIDTH_MM, 300), abs=1)
    assert page.height == pytest.approx(mm_to_px(CARD_HEIGHT_MM, 300), abs=1)
    assert [r.text for r in decode_all(page)] == [face.url]
    text = text_of(pdf)
    for expected in (
        "中华示例协会 Example Association",
        "李华",
        "党员编号 No. 100007",
        "海淀支部 Haidian",
        "扫码查看我的电子活动证 / Scan to open your card",
        "2025-03-01",
        "Version 3",
    ):
        assert expected in text


def test_card_code_keeps_its_quiet_zone_clear(make_face: MakeFace, rasterise: Rasterise) -> None:
    face = make_face(8, member_name="名" * 80, member_number="8" * 80, branch_name="支" * 80)
    (page,) = rasterise(render_card_pdf(face), 300)
    matrix = card_codes([face.url], processes=1)[0]
    module = CODE_BOX.width / (matrix.size + 2 * QUIET_ZONE)
    quiet = QUIET_ZONE * module
    inner = 0.3  # stay clear of the symbol's own antialiased edge
    for strip in (
        (CODE_BOX.x, CODE_BOX.y, quiet - inner, CODE_BOX.height),
        (CODE_BOX.right - quiet + inner, CODE_BOX.y, quiet - inner, CODE_BOX.height),
        (CODE_BOX.x, CODE_BOX.y, CODE_BOX.width, quiet - inner),
        (CODE_BOX.x, CODE_BOX.top - quiet + inner, CODE_BOX.width, quiet - inner),
    ):
        assert ink_fraction(page, strip, 300) == 0.0
    assert [r.text for r in decode_all(page)] == [face.url]


def test_chinese_text_is_drawn_in_ink_not_only_extractable(
    make_face: MakeFace,
    rasterise: Rasterise,
    text_of: Callable[[bytes], str],
    fonts_of: Callable[[bytes], list[dict[str, str]]],
) -> None:
    # Two cards whose Chinese fields have the same lengths but different characters: a font
    # that is not embedded is drawn as identical empty boxes, and pdftotext would not notice.
    first = make_face(9, member_name="欧阳娜娜", org_name="中华示例协会", branch_name="浦东支部")
    second = make_face(9, member_name="王小明明", org_name="南方科技学会", branch_name="海淀分会")
    first_pdf = render_card_pdf(first)
    assert "欧阳娜娜" in text_of(first_pdf)
    (page_one,) = rasterise(first_pdf, 150)
    (page_two,) = rasterise(render_card_pdf(second), 150)
    assert ink_fraction(page_one, EMPTY_CARD_AREA, 150) == 0.0
    for field in ("name", "org", "branch"):
        box = CARD_TEXT[field].rect
        assert ink_fraction(page_one, box, 150) > 0.05, field
        assert ink_fraction(page_two, box, 150) > 0.05, field
        assert share_differing(crop_mm(page_one, box, 150), crop_mm(page_two, box, 150)) > 0.05
    # The Chinese font travels inside the PDF (reportlab's STSong-Light CID font would not).
    fonts = fonts_of(first_pdf)
    assert any("DroidSansFallback" in font["name"] for font in fonts)
    for font in fonts:
        if "Droid" in font["name"]:
            assert font["emb"] == "yes"
    assert not any("STSong" in font["name"] for font in fonts)


def test_long_names_shrink_and_never_leave_their_box(
    make_face: MakeFace, rasterise: Rasterise, text_of: Callable[[bytes], str]
) -> None:
    name_box = CARD_TEXT["name"]
    width_pt = name_box.width * 72 / 25.4
    for name in (
        "诸葛亮",
        "欧阳" + "明" * 10,
        "Maximilian Alexander von Hohenberg-Schillingsfürst",
    ):
        fitted, size = fit_text(name, width_pt, name_box.max_size, name_box.min_size)
        assert text_width(fitted, size) <= width_pt
        assert name_box.min_size <= size <= name_box.max_size
    # Too long even at the smallest size: cut with an ellipsis, still inside.
    endless = "欧阳" + "明" * 200
    fitted, size = fit_text(endless, width_pt, name_box.max_size, name_box.min_size)
    assert fitted.endswith("…") and size == name_box.min_size
    assert text_width(fitted, size) <= width_pt

    face = make_face(10, member_name="欧阳" + "明" * 10)
    pdf = render_card_pdf(face)
    assert "欧阳明明" in text_of(pdf)
    (page,) = rasterise(pdf, 300)
    band = name_box.rect
    # Between the end of the name box and the code's quiet zone nothing is drawn on that line.
    assert (
        ink_fraction(page, (band.right, band.y, CODE_BOX.x - band.right + 1.0, band.height), 300)
        == 0
    )
    assert ink_fraction(page, band, 300) > 0.04
    assert [r.text for r in decode_all(page)] == [face.url]


def test_letters_carry_the_card_the_pin_and_instructions_per_member(
    make_face: MakeFace, rasterise: Rasterise, text_of: Callable[[bytes], str]
) -> None:
    letters = [
        Letter(make_face(21, member_name="张伟"), "PIN-4829"),
        Letter(make_face(22, member_name="陈静"), "PIN-7316"),
    ]
    pdf = render_letters_pdf(letters)
    pages = rasterise(pdf, 150)
    assert len(pages) == 2
    for page, letter in zip(pages, letters, strict=True):
        assert page.width == pytest.approx(mm_to_px(210, 150), abs=1)
        assert [r.text for r in decode_all(page)] == [letter.face.url]
    texts = text_of(pdf).split("\f")
    assert "PIN-4829" in texts[0] and "PIN-7316" not in texts[0]
    assert "PIN-7316" in texts[1] and "PIN-4829" not in texts[1]
    assert "张伟" in texts[0] and "陈静" in texts[1]
    assert "扫描卡片上的二维码" in texts[0] and "Scan the code on the card" in texts[0]


@pytest.mark.parametrize(
    ("lang", "present", "absent"),
    [("zh", "首次打开时输入", "The first time"), ("en", "The first time", "首次打开时输入")],
)
def test_letter_in_one_language(
    make_face: MakeFace, text_of: Callable[[bytes], str], lang: str, present: str, absent: str
) -> None:
    text = text_of(render_letters_pdf([Letter(make_face(30), "1234-5678")], lang=lang))
    assert present in text and absent not in text
    assert "1234-5678" in text


def test_letters_need_a_pin_and_a_known_language(make_face: MakeFace) -> None:
    with pytest.raises(ValueError, match="PIN"):
        render_letters_pdf([Letter(make_face(31), " ")])
    with pytest.raises(ValueError, match="lang"):
        render_letters_pdf([Letter(make_face(31), "1234")], lang="fr")


def test_card_letter_and_sheet_are_vector_codes_without_images(make_face: MakeFace) -> None:
    face = make_face(40)
    for pdf in (
        render_card_pdf(face),
        render_letters_pdf([Letter(face, "9999")]),
        render_badge_sheet([face]),
    ):
        # A raster code would be an image XObject; ours is a path, crisp at any zoom.
        assert b"/Subtype /Image" not in pdf


def test_empty_sheet_is_refused() -> None:
    with pytest.raises(ValueError, match="no badges"):
        render_badge_sheet([])


@pytest.mark.slow
def test_thousand_badge_sheet_every_code_decodes_to_its_member(
    make_face: MakeFace, rasterise: Rasterise, text_of: Callable[[bytes], str]
) -> None:
    names = "王李张刘陈杨黄赵吴周"
    given = "伟芳娜敏静丽强磊军洋"
    faces = [
        make_face(
            1000 + i, member_name=names[i % 10] + given[(3 * i + 1) % 10] + given[(7 * i + 3) % 10]
        )
        for i in range(1000)
    ]
    # Half the codes kept from an earlier encoding, half encoded now on worker processes.
    kept = card_codes([face.url for face in faces[::2]], processes=2)
    faces[::2] = [dataclasses.replace(f, qr=c) for f, c in zip(faces[::2], kept, strict=True)]
    calls: list[tuple[int, int]] = []
    pdf = render_badge_sheet(
        faces, "a4-10", progress=lambda done, total: calls.append((done, total))
    )

    assert calls == [(done, 1000) for done in range(10, 1001, 10)]
    # Compact enough to email: the font subset and all 1,000 codes included.
    assert len(pdf) / 1000 <= 1500

    layout = LAYOUTS["a4-10"]
    badges = layout.badges()
    pages = rasterise(pdf, 150)
    assert len(pages) == 100
    for number, page in enumerate(pages):
        expected = faces[number * 10 : number * 10 + 10]
        found: dict[int, str] = {}
        for result in decode_all(page):
            centre = result.position.top_left
            x_mm = (centre.x + result.position.bottom_right.x) / 2 / 150 * 25.4
            y_mm = (page.height - (centre.y + result.position.bottom_right.y) / 2) / 150 * 25.4
            (cell,) = [i for i, b in enumerate(badges) if b.contains(Rect(x_mm, y_mm, 0, 0))]
            found[cell] = result.text
        assert found == {i: face.url for i, face in enumerate(expected)}, f"page {number + 1}"
    # The Chinese names are drawn on the sheet, and differ from badge to badge (not empty boxes).
    first = pages[0]
    scale = layout.badge_scale
    name_crops = []
    for badge in badges:
        name_area = on_badge(badge, scale, CARD_TEXT["name"].rect)
        assert ink_fraction(first, name_area, 150) > 0.05
        assert ink_fraction(first, on_badge(badge, scale, EMPTY_CARD_AREA), 150) == 0.0
        name_crops.append(crop_mm(first, name_area, 150))
    for upper, lower in zip(name_crops, name_crops[2:], strict=False):
        size = (min(upper.width, lower.width), min(upper.height, lower.height))
        assert share_differing(upper.crop((0, 0, *size)), lower.crop((0, 0, *size))) > 0.03
    text = text_of(pdf)
    assert all(face.member_name in text for face in faces[:50])
