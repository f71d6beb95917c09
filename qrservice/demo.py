"""The demo organisation: one committee, four branches of two groups, about 120 members.

Deterministic (a fixed seed), so the README can name logins and members that exist. It is
built with the officers' own operations (set-up, units, offices, member records, dues
amounts and payments, an exemption, meetings checked in through the check-in itself, closed,
corrected with reasons, a plan of coming meetings and a cancelled one), so that every record
a page shows is one an officer can make and correct.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from io import BytesIO
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from cards.tokens import KeyRing
from qrservice.audit import Actor
from qrservice.boards.periods import period_of
from qrservice.boards.targets import set_target_under, write_note
from qrservice.life.attendance import correct_attendance
from qrservice.life.dues import add_exemption, record_payment, set_dues_rate
from qrservice.life.meeting_plans import PlanFields, create_plan
from qrservice.life.meetings import (
    MeetingFields,
    cancel_meeting,
    close_checkin,
    create_meeting,
    expected_members,
    open_checkin,
)
from qrservice.life.points_ledger import add_entry, set_rule
from qrservice.life.requests import accept_makeup, record_leave, request_leave, submit_makeup
from qrservice.life.trace import add_photo, file_minutes
from qrservice.models import Attendance, Meeting, Member, Unit
from qrservice.org.accounts import create_user
from qrservice.org.issuance import issue_cards
from qrservice.org.members import clean_member, create_member
from qrservice.org.organisation import init_org
from qrservice.org.roles import add_role
from qrservice.org.transfers import set_host, start_transfer
from qrservice.org.units import create_unit
from qrservice.timeutil import add_months, from_local, month_start, months_between, utcnow
from scan.checkin import redeem

#: Published demo logins (the README lists them); never used outside the demo.
ORGANISER = ("organiser", "demo-organiser-2026")
SECRETARY_PASSWORD = "demo-secretary-2026"  # noqa: S105
BRANCHES = ("机关第一党支部", "机关第二党支部", "生产一线党支部", "离退休党支部")
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋"
    "余于杜叶程魏苏吕丁任沈姚卢"
)
GIVEN = (
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛",
    "明", "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "志强", "海燕", "玉兰", "红梅",
    "晓东", "晓燕", "文斌", "国庆", "春生", "秋菊", "宏伟", "丹", "鹏", "辉", "欣怡", "子涵",
    "浩然", "思远", "雨桐", "嘉怡",
)  # fmt: skip
CITIES = (
    "深圳",
    "广州",
    "上海",
    "北京",
    "杭州",
    "苏州",
    "东莞",
    "成都",
    "武汉",
    "厦门",
    "宁波",
    "西安",
)
MEMBERS_PER_GROUP = 15


def demo_present(s: Session) -> bool:
    return s.scalar(select(Unit.id).limit(1)) is not None


def build_demo(
    s: Session,
    id_hash_key: str,
    today: date,
    progress: Callable[[int], None] | None = None,
    ring: KeyRing | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """Create the demo organisation in an empty database; returns counts of what was made.

    With a key ring it also issues every member a card and records a year of organisational
    life up to ``now``: meetings with attendance, points, dues, and one meeting open now.
    """
    rng = random.Random(20260701)
    actor = Actor.system("demo")
    _org, committee, _organiser = init_org(
        s, actor, org_name="示范党委", committee_code="C01",
        dues_tracked_from=add_months(month_start(today), -12), username=ORGANISER[0],
        display_name="组织委员 陈明", password=ORGANISER[1],
    )  # fmt: skip
    made = {"units": 1, "members": 0, "floating": 0, "users": 1}
    floating_left = 12
    serial = 0
    for b, branch_name in enumerate(BRANCHES, start=1):
        branch = create_unit(
            s, actor, kind="branch", name=branch_name, code=f"B{b:02d}", parent=committee
        )
        create_user(
            s, actor, username=f"secretary{b}", password=SECRETARY_PASSWORD, role="secretary",
            unit=branch, display_name=f"{branch_name}书记",
        )  # fmt: skip
        made["units"] += 1
        made["users"] += 1
        units = {}
        for g in (1, 2):
            group = create_unit(
                s, actor, kind="group", name=f"第{'一二'[g - 1]}党小组", code=f"B{b:02d}-G{g}",
                parent=branch,
            )  # fmt: skip
            units[group.code] = group
            made["units"] += 1
        for code, group in units.items():
            for _ in range(MEMBERS_PER_GROUP):
                serial += 1
                joined = today - timedelta(days=rng.randint(200, 40 * 365))
                floating = floating_left > 0 and rng.random() < 0.12
                floating_left -= floating
                raw = {
                    "number": f"2026{serial:04d}",
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "gender": rng.choice(("male", "female")),
                    "phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                    "joined_on": joined.isoformat(),
                    "status": "probationary" if today - joined < timedelta(days=365) else "full",
                    "unit": code,
                    "floating": "yes" if floating else "no",
                    "floating_location": rng.choice(CITIES) if floating else "",
                    "floating_since": (
                        (today - timedelta(days=rng.randint(60, 700))).isoformat()
                        if floating
                        else ""
                    ),
                    # Dues are tracked from a year ago, or from the month joined if later.
                    "dues_from": max(add_months(month_start(today), -12), joined).strftime("%Y-%m"),
                }
                create_member(s, actor, clean_member(raw, {code: group}, today), id_hash_key)
                made["members"] += 1
                made["floating"] += floating
                if progress:
                    progress(1)
    if ring is not None:
        made.update(_organisational_life(s, rng, committee, ring, today, now or utcnow()))
    return made


#: Demo members whose stories the README tells: a floating member who has drifted away
#: (red warning), one catching up (yellow), and a regular.
DRIFTED = "20260005"
SLIPPING = "20260020"
REGULAR = "20260001"
#: Local wall-clock hour at which demo meetings start.
MEETING_HOUR = 15


#: Offices of each branch committee (支委), held by the branch's first members.
OFFICES = ("secretary", "organisation", "publicity")
#: 三会一课 meetings the demo's branches did not hold (unit, kind, months ago), and the
#: branch that held no party lecture last quarter: the boards' gaps.
SKIPPED = {("B03-G2", "group", 2), ("B02", "branch_committee", 4)}
LECTURE_SKIPPED = ("B04", "lecture")
#: The committee's targets for its branches (measure, must-reach, stretch).
TARGETS = (("compliance", 100, None), ("attendance", 80, 90), ("dues", 85, 95),
           ("warnings", 3, 0))  # fmt: skip
#: The demo member exempt from dues (long-term sick leave), with the reason.
EXEMPT = ("20260090", "长期病休，经支部委员会研究免交党费")


def _organisational_life(
    s: Session, rng: random.Random, committee: Unit, ring: KeyRing, today: date, now: datetime
) -> dict[str, int]:
    actor = Actor.system("demo")
    members = list(s.scalars(select(Member).order_by(Member.number)))
    issue_cards(s, actor, members, ring)
    branches = list(committee.children)
    for branch in branches:
        home = [m for m in members if m.unit.parent_id == branch.id and not m.floating]
        for member, office in zip(home, OFFICES, strict=False):
            add_role(s, actor, branch, member_number=member.number, role=office)
    away_months = {m.id: rng.choice((4, 5, 7, 8)) for m in members if m.floating}
    by_number = {m.number: m for m in members}
    away_months[by_number[DRIFTED].id] = 7
    away_months[by_number[SLIPPING].id] = 4
    first_month = add_months(month_start(today), -12)
    rates = {}
    for m in members:
        rates[m.id] = rng.choice((200, 500, 800, 1000, 1500, 2000, 3000))
        set_dues_rate(s, actor, m, first_month, rates[m.id], today=today)
    exempt = by_number[EXEMPT[0]]
    add_exemption(s, actor, exempt, add_months(month_start(today), -5), None, EXEMPT[1], today)

    meetings = attendance_rows = 0
    for i in range(13):  # the same month last year up to this month, past meetings only
        month = add_months(first_month, i)
        for branch in branches:
            plan = [(branch, "theme_day", f"{month:%Y年%m月}主题党日", 2, 10)]
            plan.append((branch, "branch_committee", f"{month:%Y年%m月}支委会", 1, 3))
            plan += [(g, "group", f"{g.name}{month:%m月}学习会", 1, 20) for g in branch.children]
            if month.month % 3 == 0:
                quarter = f"{month:%Y年}第{month.month // 3}季度"
                plan.append((branch, "branch_general", f"{quarter}支部党员大会", 2, 5))
                plan.append((branch, "lecture", f"{quarter}党课", 2, 12))
            for unit, kind, title, points, day in plan:
                if (unit.code, kind, 12 - i) in SKIPPED or (
                    (branch.code, kind) == LECTURE_SKIPPED and i < 12 and i >= 9
                ):
                    continue  # not held: the boards show the gap
                starts = from_local(datetime(month.year, month.month, day, MEETING_HOUR))
                if starts + timedelta(hours=2) >= now:
                    continue
                attendance_rows += _past_meeting(
                    s, rng, ring, actor, unit, kind, title, points, starts, away_months, now
                )
                meetings += 1
    _dues(s, rng, actor, members, away_months, today, rates, exempt)
    _meeting_open_now(s, rng, ring, actor, branches[0], now)
    _coming_meetings(s, actor, committee, branches[0], today)
    _life(s, rng, actor, members, branches, today, now)
    _targets(s, actor, committee, branches[3], today)
    return {"meetings": meetings + 1, "attendance": attendance_rows}


def _targets(s: Session, actor: Actor, committee: Unit, branch: Unit, today: date) -> None:
    """The committee's targets for every branch, and the plan–do–check–act note the branch
    without a lecture last quarter wrote on its missed 三会一课 target."""
    for measure, must, stretch in TARGETS:
        set_target_under(s, actor, committee, measure, must, stretch)
    last_quarter = period_of("quarter", today).previous()
    write_note(
        s, actor, branch, "compliance", last_quarter.key,
        plan="每季度第三个月第二周安排党课，由书记讲授。",
        do="上季度因换届筹备未安排党课。",
        check="三会一课完成率未达必达目标，缺党课一次。",
        act="本季度首月补上党课，并列入支部工作计划。",
    )  # fmt: skip


def _past_meeting(
    s: Session, rng: random.Random, ring: KeyRing, actor: Actor, unit: Unit, kind: str,
    title: str, points: int, starts: datetime, away_months: dict[int, int], now: datetime,
) -> int:  # fmt: skip
    """A meeting as its secretary ran it: opened, members checked in by scan or by hand at
    the time they came, closed (the rest absent), leave given by phone recorded after."""
    meeting = create_meeting(
        s, actor, MeetingFields(
            unit=unit, kind=kind, title=title, starts_at=starts,
            ends_at=starts + timedelta(minutes=90), place="党员活动室", points=points,
            remote_allowed=kind == "lecture",
        ),
    )  # fmt: skip
    open_checkin(s, actor, meeting)
    rows, on_leave = 0, []
    for member in expected_members(s, meeting):
        months_ago = (now - starts).days / 30.4
        if member.id in away_months and months_ago < away_months[member.id]:
            continue  # away and out of touch: absent when the meeting closes
        roll = rng.random()
        if roll < 0.06:
            continue
        if roll < 0.12:
            on_leave.append(member)
            continue
        at = starts - timedelta(minutes=rng.randint(0, 15))
        if roll < 0.19:
            at = starts + timedelta(minutes=rng.randint(12, 40))
        via = rng.choice(("scan", "scan", "scan", "manual"))
        result = redeem(
            s, ring=ring, meeting_id=meeting.id, via="manual" if via == "manual" else "scan",
            recorded_by="demo", member_id=member.id, now=at,
        )  # fmt: skip
        rows += result.status == "ok"
    close_checkin(s, actor, meeting)
    for member in on_leave:
        correct_attendance(s, actor, meeting, member, "excused", "会前电话请假，书记同意")
        rows += 1
    meeting.closed_at = starts + timedelta(minutes=120)
    return rows


def _dues(
    s: Session, rng: random.Random, actor: Actor, members: list[Member],
    away_months: dict[int, int], today: date, rates: dict[int, int], exempt: Member,
) -> None:  # fmt: skip
    """Payments as a treasurer records them, monthly or quarterly, up to last month; members
    away and out of touch stopped paying when they drifted off."""
    receipt = 0
    last_month = add_months(month_start(today), -1)
    exempt_from = add_months(month_start(today), -5)
    for member in members:
        owed_until = add_months(last_month, -away_months.get(member.id, 0))
        if member.id == exempt.id:
            owed_until = min(owed_until, add_months(exempt_from, -1))
        month = max(add_months(month_start(today), -12), month_start(member.joined_on))
        quarterly = rng.random() < 0.4
        while month <= owed_until:
            span = min(3 if quarterly else 1, months_between(month, owed_until) + 1)
            receipt += 1
            record_payment(
                s, actor, member, first_month=month, months=span,
                amount_fen=rates[member.id] * span,
                method=rng.choice(("cash", "transfer", "online")),
                receipt_no=f"DF{today.year}{receipt:05d}",
                paid_on=min(add_months(month, span - 1), today), today=today,
            )  # fmt: skip
            month = add_months(month, span)


def _meeting_open_now(
    s: Session, rng: random.Random, ring: KeyRing, actor: Actor, branch: Unit, now: datetime
) -> None:
    meeting = create_meeting(
        s, actor, MeetingFields(
            unit=branch, kind="theme_day", title="主题党日：学习交流（线上线下同步）",
            starts_at=now - timedelta(minutes=10), ends_at=now + timedelta(hours=3),
            place="党员活动室 / 线上", remote_allowed=True, points=2, late_after_min=15,
        ),
    )  # fmt: skip
    open_checkin(s, actor, meeting)
    members = s.scalars(
        select(Member)
        .join(Member.unit)
        .where(Unit.path.startswith(branch.path), Member.floating.is_(False))
        .order_by(Member.number)
    ).all()
    for member in members[1:12]:
        redeem(
            s, ring=ring, meeting_id=meeting.id, via="scan", recorded_by="demo",
            member_id=member.id, now=now - timedelta(minutes=rng.randint(1, 9)),
        )  # fmt: skip


def _coming_meetings(s: Session, actor: Actor, committee: Unit, branch: Unit, today: date) -> None:
    """The committee's theme days for the next three months, planned in one step for every
    branch; one branch's first one cancelled (the hall is taken), so the list shows both."""
    first = add_months(month_start(today), 1).replace(day=10)
    _plan, planned = create_plan(
        s, actor, PlanFields(
            unit=committee, kind="theme_day", title="{month}主题党日",
            first=datetime(first.year, first.month, first.day, MEETING_HOUR), minutes=90,
            place="党员活动室", points=2, repeat="monthly", occurrences=3,
        ),
    )  # fmt: skip
    theirs = [m for m in planned if m.unit_id == branch.id]
    cancel_meeting(s, actor, min(theirs, key=lambda m: m.starts_at), "活动室另有安排，改期举行")


#: What the demo's members wrote as make-up study (补课), at least the minimum length.
MAKEUP_TEXT = (
    "补学了本次主题党日的学习内容：认真阅读了会议材料和讲话原文，重点学习了加强基层党组织建设、"
    "发挥党员先锋模范作用的要求，结合本职工作写了学习体会，今后按时参加组织生活，主动向支部汇报思想。"
)
MINUTES = (
    "会议由支部书记主持。一、传达学习上级有关文件精神；二、通报本月党费收缴和组织生活情况；"
    "三、围绕本职工作开展交流发言，{n}名党员发言；四、布置下月工作：开展志愿服务，做好流动党员联系。"
)
#: A member of 机关第一党支部 moving to 生产一线党支部 (pending: released, not yet accepted).
TRANSFERRING = "20260025"


def _life(
    s: Session, rng: random.Random, actor: Actor, members: list[Member], branches: list[Unit],
    today: date, now: datetime,
) -> None:  # fmt: skip
    """Organisational life on the officers' and members' own operations: points rules and
    awards, hosting, a pending transfer, leave asked and given, make-up pending and accepted,
    minutes and photos of recent meetings (older ones left without, so follow-up lists show)."""
    for kind, points in (("theme_day", 2), ("branch_general", 2), ("lecture", 2),
                         ("group", 1), ("branch_committee", 1), ("volunteer", 3)):  # fmt: skip
        set_rule(s, actor, kind, points)
    award_day = min(date(today.year, 3, 5), today)
    for member in members:
        if rng.random() < 0.15:
            add_entry(s, actor, member, kind="volunteer", points=3, reason="学雷锋志愿服务",
                      on=award_day, today=today)  # fmt: skip
        elif rng.random() < 0.1:
            add_entry(s, actor, member, kind="study", points=2, reason="完成网上党课学习",
                      on=today - timedelta(days=rng.randint(5, 120)), today=today)  # fmt: skip
    # Two floating members are hosted by a branch where they live; the rest stay at home.
    floating = [m for m in members if m.floating]
    for member, host in zip(floating[-2:], branches[-2:], strict=True):
        if host.id != member.unit.parent_id:
            set_host(s, actor, member, host.code)
    by_number = {m.number: m for m in members}
    start_transfer(s, actor, None, member_number=TRANSFERRING, to_unit=branches[2].code,
                   reason="工作调动到生产一线")  # fmt: skip
    # Leave: asked by a member for the next theme day, and given by phone to another.
    coming = s.scalars(
        select(Meeting)
        .where(Meeting.status == "scheduled", Meeting.unit_id == branches[1].id)
        .order_by(Meeting.starts_at)
    ).first()
    if coming is not None:
        branch_members = [m for m in members if m.unit.parent_id == branches[1].id]
        request_leave(s, branch_members[3], coming, "当天在外地出差")
        record_leave(s, actor, coming, branch_members[4], "住院治疗，电话请假")
    # Make-up: members who missed last month's meetings; one submitted and waiting, one
    # accepted.
    recent = now - timedelta(days=25)
    for number, accept in ((SLIPPING, True), (DRIFTED, False)):
        member = by_number[number]
        missed = s.scalars(
            select(Meeting)
            .join(Attendance, Attendance.meeting_id == Meeting.id)
            .where(Attendance.member_id == member.id, Attendance.status == "absent",
                   Meeting.status == "closed", Meeting.starts_at >= recent)
            .order_by(Meeting.starts_at.desc())
        ).first()  # fmt: skip
        if missed is None:
            continue
        study = submit_makeup(s, member, missed, MAKEUP_TEXT, today=today)
        if accept:
            accept_makeup(s, actor, study, "体会认真，同意补课")
    # Traces: the last weeks' theme days, general meetings and lectures have minutes, some
    # photos; older ones are left without, so the follow-up list has something to show.
    uploads = Path(current_app.config["UPLOADS_DIR"])
    recent_meetings = s.scalars(
        select(Meeting)
        .where(Meeting.status == "closed", Meeting.starts_at >= now - timedelta(days=40),
               Meeting.kind.in_(("theme_day", "branch_general", "lecture")))
        .order_by(Meeting.starts_at)
    ).all()  # fmt: skip
    for i, meeting in enumerate(recent_meetings):
        file_minutes(s, actor, meeting, MINUTES.format(n=rng.randint(3, 8)))
        if i % 2 == 0:
            add_photo(s, actor, meeting, _photo(rng), "会议现场", uploads, 20)


def _photo(rng: random.Random) -> bytes:
    """A stand-in photo of a meeting room: drawn, then stored by the same pipeline that takes
    phones' photos (re-encoded, no metadata)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (960, 640), (236, 226, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 960, 120), fill=(180, 30, 30))
    for k in range(12):
        x = 60 + k * 75
        draw.ellipse((x, 380 + rng.randint(-20, 20), x + 50, 430), fill=(60, 60, 80))
        draw.rectangle((x - 5, 430, x + 55, 560), fill=(70, 90, 120))
    out = BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()
