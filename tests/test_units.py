"""The organisation tree: organisers create, edit, move, close and reopen units, import and
export the tree; each change is checked, scoped and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import event, func, select, update

from qrservice import db
from qrservice.audit import Actor
from qrservice.cli import main
from qrservice.life.meetings import MeetingError, MeetingFields, create_meeting
from qrservice.models import AuditEvent, Member, Unit, User
from qrservice.org.accounts import create_user
from qrservice.org.units import UnitError, create_unit, edit_unit
from qrservice.timeutil import utcnow
from tests.conftest import make_app

EN = {"Accept-Language": "en"}
OTHER_ORGANISER = ("organiser-b02", "Another-organiser-2026")


@dataclass(frozen=True)
class Seen:
    """A unit's columns as read (the row itself would expire with its session)."""

    id: int
    code: str
    name: str
    kind: str
    path: str
    parent_id: int | None
    closed_at: datetime | None


def unit_of(app, code: str) -> Seen:
    with app.app_context():
        unit = db.session().scalar(select(Unit).where(Unit.code == code))
        assert unit is not None, code
        return Seen(unit.id, unit.code, unit.name, unit.kind, unit.path, unit.parent_id,
                    unit.closed_at)  # fmt: skip


def paths(app) -> dict[str, str]:
    with app.app_context():
        return dict(db.session().execute(select(Unit.code, Unit.path)).all())


def audit_actions(app) -> list[str]:
    with app.app_context():
        return list(db.session().scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def add_committee(app, code: str, parent: str) -> None:
    with app.app_context():
        s = db.session()
        above = s.scalar(select(Unit).where(Unit.code == parent))
        create_unit(s, Actor.system("test"), kind="committee", name=f"{code} 委员会", code=code,
                    parent=above)  # fmt: skip
        s.commit()


# Creating and editing on the pages


def test_an_organiser_adds_a_branch_and_a_group_under_it(client, auth, app):
    auth.login()
    c01 = unit_of(app, "C01")
    response = client.post(
        "/units/new",
        data={"kind": "branch", "name": "第五党支部", "code": "B05", "parent_id": c01.id},
    )
    assert response.status_code == 302
    b05 = unit_of(app, "B05")
    assert response.headers["Location"] == f"/units/{b05.id}"
    response = client.post(
        "/units/new", data={"kind": "group", "name": "第一党小组", "code": "B05-G1",
                            "parent_id": b05.id},
    )  # fmt: skip
    assert response.status_code == 302
    assert unit_of(app, "B05-G1").path == f"{c01.path}{b05.id}/{unit_of(app, 'B05-G1').id}/"
    tree = client.get("/units").get_data(as_text=True)
    assert '<span class="code">B05-G1</span>' in tree
    assert audit_actions(app)[-2:] == ["unit.create", "unit.create"]


def test_the_new_unit_form_names_each_bad_field_and_saves_nothing(client, auth, app):
    auth.login()
    c01 = unit_of(app, "C01")
    before = paths(app)
    response = client.post(
        "/units/new", data={"kind": "group", "name": "", "code": "B 05", "parent_id": c01.id},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("name", "code", "parent"):
        assert f'id="{field}-error"' in page, field
    assert "a group sits under a branch" in page
    assert paths(app) == before


def test_a_code_differing_only_by_case_is_refused(client, auth, app):
    auth.login()
    c01 = unit_of(app, "C01")
    response = client.post(
        "/units/new", data={"kind": "branch", "name": "重复", "code": "b01", "parent_id": c01.id},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    assert "clashes with B01" in response.get_data(as_text=True)
    b02 = unit_of(app, "B02")
    response = client.post(
        f"/units/{b02.id}/edit", data={"name": "机关第二党支部", "code": "B01",
                                      "parent_id": c01.id}, headers=EN,
    )  # fmt: skip
    assert response.status_code == 422 and "code B01 is taken" in response.get_data(as_text=True)


def test_rename_and_recode_are_audited_with_before_and_after(client, auth, app):
    auth.login()
    b04 = unit_of(app, "B04")
    response = client.post(
        f"/units/{b04.id}/edit",
        data={"name": "老干部党支部", "code": "B04X", "parent_id": b04.parent_id},
    )
    assert response.status_code == 302
    assert unit_of(app, "B04X").name == "老干部党支部"
    with app.test_request_context(headers=EN):
        from qrservice.audit_sentences import describe_event

        s = db.session()
        event_ = s.scalar(select(AuditEvent).where(AuditEvent.action == "unit.update"))
        assert "离退休党支部" in event_.before and "B04" in event_.before
        assert "老干部党支部" in event_.after and "B04X" in event_.after
        sentence = describe_event(event_)
    assert "name 离退休党支部 → 老干部党支部" in sentence and "code B04 → B04X" in sentence


# Moving


def test_moving_a_branch_rewrites_its_subtree_in_a_fixed_number_of_statements(app):
    add_committee(app, "C02", "C01")
    before = paths(app)
    statements: list[str] = []
    engine = db.engine_of(app)

    def count(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE UNIT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        with app.app_context():
            s = db.session()
            b01 = s.scalar(select(Unit).where(Unit.code == "B01"))
            c02 = s.scalar(select(Unit).where(Unit.code == "C02"))
            assert edit_unit(s, Actor.system("test"), b01, parent=c02)
            s.commit()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    after = paths(app)
    c02_path = before["C02"]
    for code in ("B01", "B01-G1", "B01-G2"):
        assert after[code] == c02_path + before[code][len(before["C01"]) :], code
    assert after["B02"] == before["B02"]
    assert len(statements) == 2  # the unit's parent, then every path of its subtree
    assert audit_actions(app)[-1] == "unit.move"


def test_moving_a_unit_under_itself_or_its_own_unit_is_refused_naming_parent(app):
    add_committee(app, "C02", "C01")
    add_committee(app, "C03", "C02")
    with app.app_context():
        s = db.session()
        c02 = s.scalar(select(Unit).where(Unit.code == "C02"))
        c03 = s.scalar(select(Unit).where(Unit.code == "C03"))
        for target in (c03, c02):
            with pytest.raises(UnitError) as refused:
                edit_unit(s, Actor.system("test"), c02, parent=target)
            assert set(refused.value.errors) == {"parent"}
            assert "under itself or one of its own units" in refused.value.errors["parent"]
        s.rollback()
    assert paths(app)["C03"].startswith(paths(app)["C02"])


def test_the_move_page_refuses_a_group_under_a_committee(client, auth, app):
    auth.login()
    group, c01 = unit_of(app, "B01-G1"), unit_of(app, "C01")
    response = client.post(
        f"/units/{group.id}/edit", data={"name": group.name, "code": group.code,
                                        "parent_id": c01.id}, headers=EN,
    )  # fmt: skip
    assert response.status_code == 422
    assert 'id="parent-error"' in response.get_data(as_text=True)
    assert unit_of(app, "B01-G1").parent_id == group.parent_id


# Closing and reopening


def move_members(app, from_code: str, to_code: str) -> None:
    with app.app_context():
        s = db.session()
        source = s.scalar(select(Unit).where(Unit.code == from_code))
        target = s.scalar(select(Unit).where(Unit.code == to_code))
        s.execute(update(Member).where(Member.unit_id == source.id).values(unit_id=target.id))
        s.commit()


def test_closing_is_refused_while_members_remain_and_allowed_after_moving_them(client, auth, app):
    auth.login()
    group = unit_of(app, "B01-G2")
    refused = client.post(f"/units/{group.id}/close", data={"confirm": "yes"}, headers=EN)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "still has 15 active members" in page and "Move its members" in page
    assert unit_of(app, "B01-G2").closed_at is None

    move_members(app, "B01-G2", "B01-G1")
    asked = client.post(f"/units/{group.id}/close", headers=EN)
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.get_data(True)
    assert unit_of(app, "B01-G2").closed_at is None
    done = client.post(f"/units/{group.id}/close", data={"confirm": "yes"})
    assert done.status_code == 302
    assert unit_of(app, "B01-G2").closed_at is not None
    assert '<span class="code">B01-G2</span>' not in client.get("/units").get_data(True)
    assert '<span class="code">B01-G2</span>' in client.get("/units?closed=1").get_data(True)
    form = client.get("/members/new").get_data(as_text=True)
    assert 'value="B01-G2"' not in form and 'value="B01-G1"' in form

    assert client.post(f"/units/{group.id}/reopen").status_code == 302
    assert unit_of(app, "B01-G2").closed_at is None
    assert audit_actions(app)[-2:] == ["unit.close", "unit.reopen"]


def test_closing_is_refused_while_a_meeting_is_scheduled(app):
    move_members(app, "B02-G1", "B02-G2")
    group = unit_of(app, "B02-G1")
    start = utcnow() + timedelta(days=3)
    with app.app_context():
        s = db.session()
        unit = s.get(Unit, group.id)
        create_meeting(s, Actor.system("test"), MeetingFields(
            unit=unit, kind="group", title="小组会", starts_at=start,
            ends_at=start + timedelta(hours=1),
        ))  # fmt: skip
        s.commit()
    from qrservice.org.units import close_unit

    with app.app_context():
        s = db.session()
        with pytest.raises(UnitError) as refused:
            close_unit(s, Actor.system("test"), s.get(Unit, group.id))
        assert "1 scheduled or open meeting" in refused.value.errors["unit"]


def test_a_closed_unit_takes_no_member_and_no_meeting(client, auth, app):
    move_members(app, "B03-G2", "B03-G1")
    with app.app_context():
        s = db.session()
        from qrservice.org.units import close_unit

        close_unit(s, Actor.system("test"), s.scalar(select(Unit).where(Unit.code == "B03-G2")))
        s.commit()
    auth.login()
    response = client.post(
        "/members/new",
        data={"number": "20269999", "name": "新党员", "gender": "male", "joined_on": "2020-07-01",
              "status": "full", "unit": "B03-G2", "floating": "no"},
        headers=EN,
    )  # fmt: skip
    assert response.status_code == 422 and 'id="unit-error"' in response.get_data(True)
    start = utcnow() + timedelta(days=3)
    with app.app_context():
        s = db.session()
        closed = s.scalar(select(Unit).where(Unit.code == "B03-G2"))
        with pytest.raises(MeetingError) as refused:
            create_meeting(s, Actor.system("test"), MeetingFields(
                unit=closed, kind="group", title="小组会", starts_at=start,
                ends_at=start + timedelta(hours=1),
            ))  # fmt: skip
        assert "unit" in refused.value.errors
        with pytest.raises(UnitError) as nothing_under:
            create_unit(s, Actor.system("test"), kind="group", name="x", code="B03-G3",
                        parent=closed.parent)  # fmt: skip
            create_unit(s, Actor.system("test"), kind="group", name="y", code="B03-G2-X",
                        parent=closed)  # fmt: skip
        assert "parent" in nothing_under.value.errors


# Scope


def other_organiser(app) -> None:
    with app.app_context():
        s = db.session()
        create_user(s, Actor.system("test"), username=OTHER_ORGANISER[0], role="organiser",
                    unit=s.scalar(select(Unit).where(Unit.code == "B02")),
                    password=OTHER_ORGANISER[1])  # fmt: skip
        s.commit()


def test_a_secretary_cannot_create_or_change_units(client, auth, app):
    auth.as_secretary(1)
    b01 = unit_of(app, "B01")
    assert client.get("/units/new").status_code == 403
    assert client.post("/units/new", data={"kind": "group", "name": "x", "code": "B01-G5",
                                           "parent_id": b01.id}).status_code == 403  # fmt: skip
    assert client.post(f"/units/{b01.id}/edit", data={"name": "x"}).status_code == 403
    assert client.post(f"/units/{b01.id}/close", data={"confirm": "yes"}).status_code == 403
    assert client.get("/units/import").status_code == 403
    assert client.get(f"/units/{b01.id}").status_code == 200
    assert client.get(f"/units/{unit_of(app, 'B02').id}").status_code == 404


def test_an_organiser_of_a_branch_cannot_reach_outside_it_nor_move_or_close_their_own(
    client, auth, app
):
    other_organiser(app)
    auth.login(*OTHER_ORGANISER)
    b01, b02, c01 = unit_of(app, "B01"), unit_of(app, "B02"), unit_of(app, "C01")
    assert client.get(f"/units/{b01.id}").status_code == 404
    assert client.get(f"/units/{b01.id}/edit").status_code == 404
    refused = client.post(
        "/units/new", data={"kind": "group", "name": "x", "code": "B01-G7", "parent_id": b01.id}
    )
    assert refused.status_code == 422
    own = client.post(f"/units/{b02.id}/edit", data={"name": "改名", "code": "B02",
                                                     "parent_id": c01.id})  # fmt: skip
    assert own.status_code == 302 and unit_of(app, "B02").name == "改名"  # a rename is allowed
    assert unit_of(app, "B02").parent_id == c01.id
    close = client.post(f"/units/{b02.id}/close", data={"confirm": "yes"}, headers=EN)
    assert close.status_code == 422
    add_committee(app, "C02", "C01")
    form = {"name": "改名", "code": "B02", "parent_id": unit_of(app, "C02").id}
    moved = client.post(f"/units/{b02.id}/edit", data=form)
    assert moved.status_code == 302 and unit_of(app, "B02").parent_id == c01.id  # not offered
    with app.app_context():
        s = db.session()
        scope = s.scalar(select(User).where(User.username == OTHER_ORGANISER[0])).unit
        c02 = s.scalar(select(Unit).where(Unit.code == "C02"))
        with pytest.raises(UnitError) as refused:
            edit_unit(s, Actor.system("test"), scope, parent=c02, scope=scope)
        assert "your own unit" in refused.value.errors["parent"]


# Import and export


def write_csv(tmp_path: Path, lines: list[str], name: str = "units.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_import_with_a_bad_row_writes_nothing(runner, tmp_path, app):
    before = paths(app)
    file = write_csv(tmp_path, [
        "编码,名称,类型,上级编码",
        "B05,第五党支部,党支部,C01",
        "B05-G1,第一党小组,党小组,B05",
        "B06,第六党支部,党总支,C01",
        "B07,第七党支部,党支部,C99",
    ])  # fmt: skip
    result = runner.invoke(main, ["units", "import", str(file)])
    assert result.exit_code != 0
    assert "row 4, column 类型:" in result.output
    assert "row 5, column 上级编码: no unit with code C99" in result.output
    assert "would create 2" in result.output and "Nothing was imported" in result.output
    assert paths(app) == before


def test_a_parent_defined_below_its_child_is_created_first(runner, tmp_path, app):
    file = write_csv(tmp_path, [
        "code,name,kind,parent",
        "B05-G1,第一党小组,group,B05",
        "B05-G2,第二党小组,小组,b05",
        "B05,第五党支部,branch,C01",
    ])  # fmt: skip
    dry = runner.invoke(main, ["units", "import", str(file), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would create B05 (branch, 第五党支部) under C01" in dry.output
    assert "B05" not in paths(app)
    result = runner.invoke(main, ["units", "import", str(file)])
    assert result.exit_code == 0, result.output
    assert "created 3" in result.output
    after = paths(app)
    b05 = unit_of(app, "B05")
    assert after["B05-G1"].startswith(after["B05"]) and after["B05-G2"].startswith(after["B05"])
    assert b05.kind == "branch" and unit_of(app, "B05-G2").parent_id == b05.id
    assert audit_actions(app)[-4:] == ["unit.create", "unit.create", "unit.create", "unit.import"]


def test_cycles_and_wrong_kinds_are_row_errors(runner, tmp_path, app):
    add_committee(app, "C02", "C01")
    file = write_csv(tmp_path, [
        "编码,名称,类型,上级编码",
        "C02,第二委员会,党委,C03",
        "C03,第三委员会,党委,C02",
        "B01,机关第一党支部,党支部,B02",
        "B08,第八党支部,党支部,B08",
    ])  # fmt: skip
    result = runner.invoke(main, ["units", "import", str(file)])
    assert result.exit_code != 0
    assert "row 2, column 上级编码: the parents go round in a circle" in result.output
    assert "row 3, column 上级编码: the parents go round in a circle" in result.output
    assert "row 4, column 上级编码: a branch sits under a committee" in result.output
    assert "row 5, column 上级编码:" in result.output
    assert "C03" not in paths(app)


def test_an_import_renames_and_moves_known_units_and_reimporting_changes_nothing(
    runner, tmp_path, app
):
    add_committee(app, "C02", "C01")
    file = write_csv(tmp_path, [
        "编码,名称,类型,上级编码",
        "B01,机关一支部,党支部,C02",
        "B01-G1,第一党小组,党小组,B01",
    ])  # fmt: skip
    result = runner.invoke(main, ["units", "import", str(file)])
    assert result.exit_code == 0, result.output
    assert "updated 1" in result.output and "unchanged 1" in result.output
    b01 = unit_of(app, "B01")
    assert b01.name == "机关一支部" and b01.parent_id == unit_of(app, "C02").id
    assert paths(app)["B01-G2"].startswith(paths(app)["C02"])
    again = runner.invoke(main, ["units", "import", str(file)])
    assert "updated 0" in again.output and "unchanged 2" in again.output


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_reimports_unchanged(runner, tmp_path, app, fmt):
    exported = tmp_path / f"units.{fmt}"
    result = runner.invoke(main, ["units", "export", str(exported)])
    assert result.exit_code == 0, result.output
    again = runner.invoke(main, ["units", "import", str(exported)])
    assert again.exit_code == 0, again.output
    assert "13 rows: created 0, updated 0, unchanged 13, errors 0." in again.output


def test_the_export_neutralises_formula_cells_and_names_kinds_in_chinese(runner, tmp_path, app):
    with app.app_context():
        s = db.session()
        b02 = s.scalar(select(Unit).where(Unit.code == "B02"))
        edit_unit(s, Actor.system("test"), b02, name="=HYPERLINK(1)")
        s.commit()
    csv_path, xlsx_path = tmp_path / "units.csv", tmp_path / "units.xlsx"
    assert runner.invoke(main, ["units", "export", str(csv_path)]).exit_code == 0
    text = csv_path.read_text(encoding="utf-8-sig")
    assert text.splitlines()[0] == "编码,名称,类型,上级编码"
    assert "B02,'=HYPERLINK(1),党支部,C01" in text and "C01,示范党委,党委," in text
    assert runner.invoke(main, ["units", "export", str(xlsx_path)]).exit_code == 0
    sheet = openpyxl.load_workbook(xlsx_path).worksheets[0]
    cells = {row[0].value: row[1] for row in sheet.iter_rows(min_row=2)}
    assert cells["B02"].value == "=HYPERLINK(1)" and cells["B02"].data_type == "s"
    reimport = runner.invoke(main, ["units", "import", str(csv_path)])
    assert "unchanged 13" in reimport.output, reimport.output


def test_the_import_page_shows_a_dry_run_then_applies_it(client, auth, app):
    auth.login()
    data = "编码,名称,类型,上级编码\nB05-G1,第一党小组,党小组,B05\nB05,第五党支部,党支部,C01\n"
    from io import BytesIO

    response = client.post(
        "/units/import",
        data={"file": (BytesIO(data.encode("utf-8")), "units.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Apply: create 2, update 0" in page and "B05" not in paths(app)
    kept = page.split('name="rows" value="', 1)[1].split('"', 1)[0]
    import html

    applied = client.post("/units/import/apply", data={"rows": html.unescape(kept),
                                                       "filename": "units.csv"})  # fmt: skip
    assert applied.status_code == 302
    assert unit_of(app, "B05-G1").parent_id == unit_of(app, "B05").id


def test_the_import_page_reports_each_bad_row_and_applies_nothing(client, auth, app):
    auth.login()
    from io import BytesIO

    data = "code,name,kind,parent\nB05,,branch,C01\nB06,第六,branch,B01\n"
    response = client.post(
        "/units/import",
        data={"file": (BytesIO(data.encode()), "units.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "<td>2</td><td>name</td>" in page and "<td>3</td><td>parent</td>" in page
    assert 'name="rows"' not in page
    tampered = client.post(
        "/units/import/apply",
        data={"rows": '{"v": 1, "rows": [{"#row": 2, "code": "B09", "name": "x", "kind": '
                      '"branch", "parent": "B01"}], "columns": {"code": "code", "name": '
                      '"name", "kind": "kind", "parent": "parent"}}'},
    )  # fmt: skip
    assert tampered.status_code == 422
    assert "B09" not in paths(app) and "B05" not in paths(app)


def test_an_organiser_of_a_branch_imports_only_inside_it(tmp_path, data_dir, app):
    other_organiser(app)
    client = make_app(data_dir).test_client()
    client.post("/login", data={"username": OTHER_ORGANISER[0], "password": OTHER_ORGANISER[1]})
    from io import BytesIO

    data = "code,name,kind,parent\nB02-G3,第三党小组,group,B02\nB01-G3,x,group,B01\n"
    response = client.post(
        "/units/import",
        data={"file": (BytesIO(data.encode()), "units.csv")},
        content_type="multipart/form-data",
        headers=EN,
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "no unit with code B01 in the file or in your units" in page
    exported = client.get("/units/export.csv").get_data(as_text=True)
    assert "B02" in exported and "B01" not in exported


# The command line


def test_units_commands_add_rename_move_close_reopen_and_list(runner, app):
    def run(*args: str) -> str:
        result = runner.invoke(main, ["units", *args])
        assert result.exit_code == 0, result.output
        return result.output

    assert "B05" in run("add", "--kind", "branch", "--code", "B05", "--name", "第五党支部",
                        "--parent", "C01")  # fmt: skip
    run("add", "--kind", "committee", "--code", "C02", "--name", "二级党委", "--parent", "C01")
    run("rename", "B05", "--name", "第五支部", "--code", "B5")
    run("move", "B5", "--parent", "C02")
    assert "closed (1 units)" in run("close", "B5")
    listing = run("list")
    assert "B5" not in listing and "B01-G1\tgroup" in listing
    assert "B5\tbranch\t第五支部\t0 members  (closed)" in run("list", "--closed")
    run("reopen", "B5")
    assert paths(app)["B5"].startswith(paths(app)["C02"])
    refused = runner.invoke(main, ["units", "close", "B01"])
    assert refused.exit_code != 0 and "30 active members" in refused.output
    top = runner.invoke(main, ["units", "move", "C01", "--parent", "C02"])
    assert top.exit_code != 0 and "parent:" in top.output
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(Unit)) == 13 + 2


def test_the_tree_offers_changes_to_organisers_only(client, auth, app):
    b01 = unit_of(app, "B01")
    auth.login()
    tree = client.get("/units").get_data(as_text=True)
    assert f'href="/units/{b01.id}/edit"' in tree and f'action="/units/{b01.id}/close"' in tree
    assert f'action="/units/{unit_of(app, "C01").id}/close"' not in tree  # the top committee
    assert 'href="/units/new"' in tree and 'href="/settings/organisation"' in tree
    auth.logout()
    auth.as_secretary(1)
    tree = client.get("/units").get_data(as_text=True)
    assert "/edit" not in tree and "/close" not in tree and 'href="/units/new"' not in tree
    assert f'href="/units/{b01.id}"' in tree


def test_the_web_export_of_the_tree_is_in_the_trail(client, auth, app):
    auth.login()
    response = client.get("/units/export.xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment; filename=units-")
    with app.app_context():
        event = db.session().scalar(select(AuditEvent).where(AuditEvent.action == "unit.export"))
        assert event is not None and event.actor == "user:organiser"
        assert '"format": "xlsx"' in event.after
