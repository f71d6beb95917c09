"""The audit trail reads as sentences in the viewer's language, wherever it is shown; and no
page shows a code word (attendance ``via``, refusal reasons) where a Chinese reader expects words.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from qrservice import db
from qrservice.audit import Actor, record
from qrservice.audit_sentences import _sentences, audit_trail, describe_event, load_names
from qrservice.models import AuditEvent, Member, User
from qrservice.org.issuance import reissue_card
from qrservice.signing_keys import key_ring
from tests.scanhelpers import card_url_of, open_meeting_id

REGULAR = "20260001"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
EN = {"Accept-Language": "en"}
ROOT = Path(__file__).resolve().parent.parent


def reissue_as_organiser(app) -> tuple[int, str]:
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == REGULAR))
        organiser = s.scalar(select(User).where(User.username == "organiser"))
        reissue_card(s, Actor.of(organiser), member, key_ring(), "lost", "")
        s.commit()
        return member.id, member.name


def sentences_for(app, member_id: int, headers: dict[str, str]) -> list[str]:
    with app.test_request_context(headers=headers):
        s = db.session()
        events = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity_type == "member", AuditEvent.entity_id == member_id)
            .order_by(AuditEvent.id.desc())
        )
        return [entry.sentence for entry in audit_trail(s, events)]


def test_a_reissue_reads_as_a_chinese_sentence(app):
    member_id, name = reissue_as_organiser(app)
    sentences = sentences_for(app, member_id, ZH)
    assert sentences[0] == f"组织委员 organiser 补发了 {name} 的活动证（第 2 版，原因：遗失）"
    assert sentences[1] == f"组织委员 organiser 停用了 {name} 的活动证第 1 版（已被新版取代：遗失）"


def test_the_same_event_reads_in_english_for_an_english_viewer(app):
    member_id, name = reissue_as_organiser(app)
    sentence = sentences_for(app, member_id, EN)[0]
    assert sentence == f"Organiser organiser reissued {name}'s card (version 2, reason: lost)"


def test_the_member_page_shows_sentences_not_action_codes_or_json(client, auth, app):
    member_id, name = reissue_as_organiser(app)
    auth.login()
    page = client.get(f"/members/{member_id}", headers=ZH).get_data(as_text=True)
    history = page.split('<ul class="history">')[1].split("</ul>")[0]
    assert f"补发了 {name} 的活动证" in history
    assert f"演示数据 新建了 {name} 的党员档案" in history
    for raw in ("card.issue", "member.create", "{", "user:", "demo ·"):
        assert raw not in history


def test_an_edit_names_the_fields_and_values_in_chinese(client, auth, app):
    auth.login()
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == REGULAR))
        organiser = s.scalar(select(User).where(User.username == "organiser"))
        record(
            s, Actor.of(organiser), "member.update", "member", member.id,
            before={"status": "probationary", "floating": False, "phone": None},
            after={"status": "full", "floating": True, "phone": "13900000000"},
        )  # fmt: skip
        s.commit()
        member_id, name = member.id, member.name
    (sentence, *_rest) = sentences_for(app, member_id, ZH)
    assert sentence == (
        f"组织委员 organiser 修改了 {name} 的档案：手机 — → 13900000000；"
        "党员类别 预备党员 → 正式党员；流动党员 否 → 是"
    )


def test_an_unknown_action_still_reads_as_a_sentence(app):
    with app.app_context():
        s = db.session()
        member = s.scalar(select(Member).where(Member.number == REGULAR))
        event = record(
            s, Actor.system("cli"), "points.award", "member", member.id,
            after={"points": 3, "reason": "志愿服务"},
        )  # fmt: skip
        s.commit()
        event_id, name = event.id, member.name
    said = {}
    for lang, headers in (("zh", ZH), ("en", EN)):
        with app.test_request_context(headers=headers):
            s = db.session()
            event = s.get(AuditEvent, event_id)
            said[lang] = describe_event(event, load_names(s, [event]))
    assert said["zh"] == f"命令行 对 {name} 进行了操作“points.award”（points：3，原因：志愿服务）"
    assert said["en"] == (
        f"The command line recorded “points.award” for {name} (points: 3, Reason: 志愿服务)"
    )


def test_every_action_the_code_records_has_its_own_sentence():
    families = "member|card|user|meeting|attendance|dues|import|unit|device"
    literal = re.compile(rf'"((?:{families})\.[a-z_]+)"')
    recorded = set()
    for path in [*ROOT.glob("qrservice/**/*.py"), *ROOT.glob("scan/**/*.py")]:
        if path.name not in ("audit_sentences.py", "access.py"):  # access.py names endpoints
            recorded.update(literal.findall(path.read_text(encoding="utf-8")))
    recorded = {action for action in recorded if not action.endswith(".id")}
    assert {"card.issue", "member.update", "member.deactivate"} <= recorded
    recorded |= {"card.supersede", "card.revoke"}  # written as f"card.{...}"
    missing = sorted(recorded - set(_sentences()))
    assert missing == [], f"add a sentence to qrservice/audit_sentences.py for {missing}"


def test_the_meeting_page_says_how_each_member_checked_in_and_its_history(client, auth, app):
    auth.as_secretary(1)
    meeting = open_meeting_id(app)
    page = client.get(f"/meetings/{meeting}", headers=ZH).get_data(as_text=True)
    attendance = page.split("<h2>签到情况</h2>")[1].split("</ul>")[0]
    for code in ("scan", "screen_code", "remote", "manual", "offline", "closing"):
        assert f"<small>{code}</small>" not in attendance
    assert "<small>" in attendance
    history = page.split('<ul class="history">')[1].split("</ul>")[0]
    assert "开始了" in history and "的签到" in history and "meeting.open" not in history


@pytest.mark.parametrize(
    ("part", "value", "expected"), [(5, "A" * 22, "签名不符"), (2, "zz", "不是本服务")]
)
def test_a_refused_card_code_is_explained_in_chinese(client, app, part, value, expected):
    url = card_url_of(app, REGULAR).replace("https://cards.example.org", "")
    prefix, token = url.rsplit("/", 1)
    parts = token.split(".")
    parts[part] = value
    page = client.get(f"{prefix}/{'.'.join(parts)}", headers=ZH).get_data(as_text=True)
    main = page.split("<main", 1)[1]
    assert expected in main
    assert "signature" not in main and "token" not in main.lower()


def test_every_badge_layout_is_named_in_chinese(client, auth):
    from cards.layouts import LAYOUTS

    auth.login()
    page = client.get("/cards/", headers=ZH).get_data(as_text=True)
    select_ = page.split('<select id="layout"', 1)[1].split("</select>", 1)[0]
    options = re.findall(r'<option value="([^"]+)"[^>]*>([^<]+)</option>', select_)
    assert [value for value, _text in options] == list(LAYOUTS)
    for value, text in options:
        assert LAYOUTS[value].description not in text
        assert re.search(r"[\u4e00-\u9fff]", text), text


def test_the_card_history_names_who_issued_and_why_in_chinese(client, auth, app):
    member_id, _name = reissue_as_organiser(app)
    auth.login()
    page = client.get(f"/members/{member_id}", headers=ZH).get_data(as_text=True)
    history = page.split("<h3>", 1)[1].split("</table>", 1)[0]
    assert "演示数据" in history and "遗失" in history
    for raw in ("demo", "user:", "lost"):
        assert raw not in history


@pytest.mark.parametrize(
    ("language", "months", "text"),
    [("en", 1, "1 month from 2026-01"), ("en", 3, "3 months from 2026-01"),
     ("zh", 1, "自 2026-01 起 1 个月")],
)  # fmt: skip
def test_months_of_dues_read_with_the_languages_plural(app, language, months, text):
    from qrservice.audit_sentences import months_from

    with app.test_request_context(headers={"Accept-Language": language}):
        assert months_from(months, "2026-01") == text
