"""Political birthdays (政治生日): a branch's month list, the card's greeting, greeting cards."""

from __future__ import annotations

import re
import subprocess
from datetime import date, timedelta

from sqlalchemy import select

from qrservice import db
from qrservice.cli import main
from qrservice.models import Member
from qrservice.org.issuance import active_card, set_new_pin
from qrservice.timeutil import local_today
from tests.scanhelpers import card_url_of, member_in_branch

EN = {"Accept-Language": "en"}


def _set_joined(app, joined: dict[str, date]) -> dict[str, str]:
    """Give these members these joining dates; their names by number."""
    with app.app_context():
        s = db.session()
        names = {}
        for number, day in joined.items():
            member = s.scalar(select(Member).where(Member.number == number))
            member.joined_on = day
            names[number] = member.name
        s.commit()
        return names


def _b01_members(app, n: int) -> list[str]:
    return [member_in_branch(app, "B01", skip=i) for i in range(n)]


def _month_edges(app) -> dict[str, date]:
    first, last, before, after, this_year = _b01_members(app, 5)
    return {
        first: date(2001, 12, 1),
        last: date(2000, 12, 31),
        before: date(2010, 11, 30),
        after: date(2011, 1, 1),
        this_year: date(2026, 12, 5),
    }


def test_the_month_list_holds_the_months_first_and_last_days_only(client, app, auth):
    joined = _month_edges(app)
    _set_joined(app, joined)
    first, last, before, after, this_year = joined
    auth.as_secretary(1)
    response = client.get("/birthdays?unit=B01&month=2026-12", headers=EN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f"({first})" in page and f"({last})" in page
    assert f"({before})" not in page and f"({after})" not in page
    assert f"({this_year})" not in page  # joined this year: no anniversary yet
    # By day: the 1st before the 31st; years = 2026 - the joining year.
    assert page.index(f"({first})") < page.index(f"({last})")
    row_first = page[page.index(f"({first})") :].split("</tr>")[0]
    row_last = page[page.index(f"({last})") :].split("</tr>")[0]
    assert "<td>25</td>" in row_first and "<td>26</td>" in row_last


def test_the_command_line_lists_and_prints_the_months_cards(runner, app, tmp_path):
    joined = _month_edges(app)
    names = _set_joined(app, joined)
    first, last, *_others = joined
    listed = runner.invoke(main, ["birthdays", "list", "--unit", "B01", "--month", "2026-12"])
    assert listed.exit_code == 0, listed.output
    assert f"2026-12-01\t25\t{first}\t{names[first]}" in listed.output
    assert f"2026-12-31\t26\t{last}\t{names[last]}" in listed.output
    out = tmp_path / "cards.pdf"
    made = runner.invoke(
        main, ["birthdays", "cards", "--unit", "B01", "--month", "2026-12", "-o", str(out)]
    )
    assert made.exit_code == 0, made.output
    pages = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True)
    listed_here = [line for line in listed.output.splitlines() if line.startswith("2026-12-")]
    assert re.search(rf"^Pages:\s+{len(listed_here)}$", pages.stdout, re.M)
    bad = runner.invoke(main, ["birthdays", "list", "--unit", "B01", "--month", "2026-13"])
    assert bad.exit_code != 0 and "--month" in bad.output


def test_a_greeting_card_embeds_the_chinese_font_and_names_the_member(client, app, auth, tmp_path):
    number = member_in_branch(app, "B01")
    names = _set_joined(app, {number: date(1996, 7, 1)})
    with app.app_context():
        member_id = db.session().scalar(select(Member.id).where(Member.number == number))
    auth.as_secretary(1)
    response = client.get(f"/birthdays/members/{member_id}.pdf?year=2026")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    pdf = tmp_path / "greeting.pdf"
    pdf.write_bytes(response.data)
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    droid = [line for line in fonts.stdout.splitlines() if "DroidSansFallback" in line]
    assert droid and all(" yes " in line for line in droid)  # embedded (a subset)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True)
    flat = "".join(text.stdout.split())
    assert names[number] in flat and "30周年政治生日" in flat
    # Another branch's secretary cannot print it.
    auth.logout()
    auth.as_secretary(2)
    assert client.get(f"/birthdays/members/{member_id}.pdf?year=2026").status_code == 404


def test_another_branchs_secretary_gets_404_for_the_list(client, auth):
    auth.as_secretary(2)
    assert client.get("/birthdays?unit=B01&month=2026-12").status_code == 404
    assert client.get("/birthdays/cards.pdf?unit=B01&month=2026-12").status_code == 404
    assert client.get("/birthdays?unit=B02&month=2026-13").status_code == 400


def _unlock(client, app, number: str) -> str:
    path = card_url_of(app, number).replace("https://cards.example.org", "")
    with app.app_context():
        s = db.session()
        card = active_card(s, s.scalar(select(Member.id).where(Member.number == number)))
        pin = set_new_pin(card, app.config["SECRET_KEY"])
        s.commit()
    client.post(path + "/unlock", data={"pin": pin})
    return path


def test_the_card_greets_the_member_on_the_day_and_in_the_month(client, app):
    today = local_today()
    on_the_day, in_the_month, other_month = _b01_members(app, 3)
    same_month_other_day = today.replace(day=2 if today.day == 1 else 1)
    _set_joined(app, {
        on_the_day: today.replace(year=today.year - 10),
        in_the_month: same_month_other_day.replace(year=today.year - 7),
        other_month: (today.replace(day=1) - timedelta(days=1)).replace(year=today.year - 3),
    })  # fmt: skip
    page = client.get(_unlock(client, app, on_the_day), headers=EN).get_data(as_text=True)
    assert "Today is your political birthday: 10 years in the Party." in page
    page = client.get(_unlock(client, app, in_the_month), headers=EN).get_data(as_text=True)
    assert "This month is your 7-year anniversary of joining the Party." in page
    page = client.get(_unlock(client, app, other_month), headers=EN).get_data(as_text=True)
    assert "political birthday" not in page and "anniversary of joining" not in page
    # A stranger never sees it.
    stranger = app.test_client().get(card_url_of(app, on_the_day).replace(
        "https://cards.example.org", ""), headers=EN).get_data(as_text=True)  # fmt: skip
    assert "political birthday" not in stranger
