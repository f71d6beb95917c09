"""Cards in the app: issue, reissue, revoke, downloads, sheets, letters, keys, through the
web pages and the CLI, checked by decoding real PDFs and images with a real QR reader."""

from __future__ import annotations

import io
import re
import threading

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import func, select

from cards.tokens import card_url
from qrservice import create_app, db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.config import ConfigError
from qrservice.models import Card, Member, Unit
from qrservice.org.issuance import active_card, issue_card
from qrservice.signing_keys import key_ring
from tests.cards.pdfcheck import pdf_text, rasterise_pdf
from tests.scanhelpers import card_url_of, member_id, nonce, open_meeting_id

REGULAR = "20260001"
EN = {"Accept-Language": "en"}


def new_member(client, number="90000009", unit="B02-G1", name="新党员"):
    client.post(
        "/members/new",
        data={"number": number, "name": name, "gender": "male", "joined_on": "2021-07-01",
              "status": "full", "unit": unit, "floating": "no"},
    )  # fmt: skip
    return member_id(client.application, number)


def cards_of(app, mid):
    with app.app_context():
        return [
            (c.version, c.status, c.reason)
            for c in db.session().scalars(
                select(Card).where(Card.member_id == mid).order_by(Card.version)
            )
        ]


def test_organiser_issues_a_card_once(client, auth, app):
    auth.login()
    mid = new_member(client)
    assert cards_of(app, mid) == []
    page = client.get(f"/members/{mid}").get_data(as_text=True)
    assert f"/members/{mid}/card/issue" in page
    client.post(f"/members/{mid}/card/issue")
    client.post(f"/members/{mid}/card/issue")
    assert cards_of(app, mid) == [(1, "active", "new")]


def test_reissue_makes_the_old_code_stop_at_once_with_the_reason_kept(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)
    old = card_url_of(app, REGULAR)
    response = client.post(
        f"/members/{mid}/card/reissue", data={"reason": "lost", "note": "丢失", "confirm": "yes"}
    )
    assert response.status_code == 302
    assert cards_of(app, mid) == [(1, "superseded", "new"), (2, "active", "lost")]
    old_page = client.get(old.replace("https://cards.example.org", ""), headers=EN)
    assert old_page.status_code == 200
    assert "no longer valid" in old_page.get_data(as_text=True)
    assert "replaced by a newer one" in old_page.get_data(as_text=True)
    history = client.get(f"/members/{mid}").get_data(as_text=True)
    assert "丢失" in history


def test_reissue_needs_a_reason(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)
    client.post(f"/members/{mid}/card/reissue", data={"reason": "new"})
    assert cards_of(app, mid) == [(1, "active", "new")]


def test_revoked_card_page_says_so(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)
    url = card_url_of(app, REGULAR).replace("https://cards.example.org", "")
    client.post(f"/members/{mid}/card/revoke", data={"note": "离开"})
    auth.logout()
    page = client.get(url).get_data(as_text=True)
    assert "✘" in page
    assert cards_of(app, mid)[-1][1] == "revoked"


def test_issuing_at_the_same_moment_yields_one_card_version(app, data_dir):
    from tests.conftest import make_app

    with app.app_context():
        s = db.session()
        unit = s.scalar(select(Unit).where(Unit.code == "B02-G1"))
        from qrservice.org.members import clean_member, create_member

        raw = {"number": "90000010", "name": "并发", "gender": "female",
               "joined_on": "2020-01-01", "status": "full", "unit": "B02-G1"}  # fmt: skip
        mid = create_member(
            s, Actor.system("t"), clean_member(raw, {"B02-G1": unit}), app.config["ID_HASH_KEY"]
        ).id
        s.commit()
    barrier = threading.Barrier(6)
    errors = []
    apps = [make_app(data_dir) for _ in range(6)]

    def issuer(other):
        try:
            with other.app_context():
                s = db.session()
                barrier.wait(timeout=120)
                db.begin_write(s)
                issue_card(s, Actor.system("t"), s.get(Member, mid), key_ring())
                s.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.engine_of(other).dispose()

    threads = [threading.Thread(target=issuer, args=(other,)) for other in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert cards_of(app, mid) == [(1, "active", "new")]


def test_card_png_and_svg_decode_to_the_card_url(client, auth, app):
    auth.login()
    mid = member_id(app, REGULAR)
    expected = card_url_of(app, REGULAR).replace(
        "https://cards.example.org", app.config["PUBLIC_BASE_URL"]
    )
    png = client.get(f"/members/{mid}/card.png")
    assert png.mimetype == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)))
    assert [d.text for d in decoded] == [expected]
    svg = client.get(f"/members/{mid}/card.svg").get_data(as_text=True)
    assert svg.startswith("<svg") or "<svg" in svg[:200]
    pdf = client.get(f"/members/{mid}/card.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_member_without_a_card_has_no_downloads(client, auth):
    auth.login()
    mid = new_member(client)
    assert client.get(f"/members/{mid}/card.pdf").status_code == 404


def test_badge_sheet_for_a_branch_decodes_to_its_members_cards(client, auth, app, tmp_path):
    auth.login()
    with app.app_context():
        s = db.session()
        branch = s.scalar(select(Unit).where(Unit.code == "B02"))
        branch_id = branch.id
        base = app.config["PUBLIC_BASE_URL"]
        expected = {
            card_url(base, c.token)
            for c in s.scalars(
                select(Card).join(Card.member).join(Member.unit)
                .where(Card.status == "active", Unit.path.startswith(branch.path))
            )
        }  # fmt: skip
    response = client.post(
        "/cards/badges.pdf",
        data={"unit_id": branch_id, "layout": "a4-10", "only": "all", "sort": "name"},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pages = rasterise_pdf(response.data, 150, tmp_path / "r")
    assert len(pages) == 3  # 30 members, 10 a page
    found = {code.text for page in pages for code in zxingcpp.read_barcodes(page)}
    assert found == expected
    # printed once: "only cards not printed yet" now has nothing for this branch
    again = client.post(
        "/cards/badges.pdf", data={"unit_id": branch_id, "layout": "a4-10", "only": "new"}
    )
    assert again.status_code == 422


@pytest.mark.parametrize(
    ("form", "field"),
    [({"layout": "no-such-stock"}, "layout"), ({"only": "everything"}, "only")],
)
def test_badge_sheet_form_errors_name_the_field(client, auth, app, form, field):
    auth.login()
    with app.app_context():
        branch_id = db.session().scalar(select(Unit.id).where(Unit.code == "B02"))
    response = client.post("/cards/badges.pdf", data={"unit_id": branch_id, **form})
    assert response.status_code == 422
    assert f'id="{field}-error"' in response.get_data(as_text=True) or field == "only"


def test_letter_pin_unlocks_the_members_full_card(client, auth, app, tmp_path):
    auth.login()
    mid = member_id(app, REGULAR)
    letter = client.post(f"/members/{mid}/letter.pdf")
    assert letter.mimetype == "application/pdf"
    text = pdf_text(letter.data, tmp_path)
    with app.app_context():
        name = db.session().get(Member, mid).name
    assert name in text
    pin = re.search(r"\b(\d{6})\b", text.split("PIN", 1)[1]).group(1)
    auth.logout()
    url = card_url_of(app, REGULAR).replace("https://cards.example.org", "")
    assert REGULAR not in client.get(url).get_data(as_text=True)  # a stranger: no member number
    client.post(url + "/unlock", data={"pin": pin})
    assert REGULAR in client.get(url).get_data(as_text=True)


def test_base_url_must_be_https_in_production(data_dir):
    with pytest.raises(ConfigError, match="https"):
        create_app({"ENV": "production", "PUBLIC_BASE_URL": "http://cards.example.org"},
                   data_dir=data_dir)  # fmt: skip
    with pytest.raises(ConfigError):
        create_app({"PUBLIC_BASE_URL": "cards.example.org"}, data_dir=data_dir)


def test_cli_badges_letters_and_issue(runner, tmp_path, app):
    out = tmp_path / "b.pdf"
    result = runner.invoke(main, ["badges", "--unit", "B04-G1", "--layout", "letter-8",
                                  "-o", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "15 badges" in result.output and out.read_bytes().startswith(b"%PDF")
    bad = runner.invoke(main, ["badges", "--layout", "nope", "-o", str(out)])
    assert bad.exit_code != 0 and "a4-10" in bad.output
    letters = runner.invoke(
        main, ["letters", "--unit", "B04-G1", "--yes", "-o", str(tmp_path / "l.pdf")]
    )
    assert letters.exit_code == 0 and "15 letters" in letters.output
    issued = runner.invoke(main, ["cards", "issue", "--all"])
    assert issued.exit_code == 0 and "0 cards issued" in issued.output
    layouts = runner.invoke(main, ["badges", "--list-layouts"])
    assert "a4-10" in layouts.output and "letter-8" in layouts.output


def test_cli_reissue_and_revoke(runner, app):
    result = runner.invoke(main, ["cards", "reissue", "--member", REGULAR, "--reason", "damaged"])
    assert result.exit_code == 0 and "version 2" in result.output
    result = runner.invoke(main, ["cards", "revoke", "--member", REGULAR, "--note", "left"])
    assert result.exit_code == 0
    again = runner.invoke(main, ["cards", "revoke", "--member", REGULAR, "--note", "left"])
    assert again.exit_code != 0 and "no active card" in again.output
    unknown = runner.invoke(main, ["cards", "reissue", "--member", "nobody", "--reason", "lost"])
    assert unknown.exit_code != 0 and "no member" in unknown.output


def test_key_rotation_without_reprinting_then_retiring(runner, data_dir, auth, client):
    from tests.conftest import make_app

    added = runner.invoke(main, ["keys", "add"])
    assert added.exit_code == 0 and "k2" in added.output
    app = make_app(data_dir)  # a restarted service knows the new key
    client = app.test_client()
    client.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    meeting = open_meeting_id(app)
    old_code = card_url_of(app, REGULAR)
    answer = client.post(
        f"/api/v1/meetings/{meeting}/checkins", json={"code": old_code, "nonce": nonce()}
    ).get_json()
    assert answer["status"] == "ok"
    listing = runner.invoke(main, ["keys", "list"])
    assert "k1\tactive" in listing.output and "120 active cards" in listing.output
    refused = runner.invoke(main, ["keys", "retire", "k1"])
    assert refused.exit_code != 0 and "120 active cards" in refused.output
    done = runner.invoke(main, ["keys", "retire", "k1", "--yes"])
    assert done.exit_code == 0
    app = make_app(data_dir)
    client = app.test_client()
    client.post("/login", data={"username": "secretary1", "password": "demo-secretary-2026"})
    other = card_url_of(app, "20260002")
    answer = client.post(f"/api/v1/meetings/{meeting}/checkins",
                         json={"code": other, "nonce": nonce()}).get_json()  # fmt: skip
    assert answer["reason"] == "retired_key"
    # a reissued card is signed with the new key and works
    runner.invoke(main, ["cards", "reissue", "--member", "20260002", "--reason", "other"])
    with app.app_context():
        s = db.session()
        card = active_card(s, s.scalar(select(Member.id).where(Member.number == "20260002")))
        assert card.kid == "k2"
        assert s.scalar(select(func.count()).where(Card.kid == "k2")) == 1
