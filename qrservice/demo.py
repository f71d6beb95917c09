"""The demo organisation: one committee, four branches of two groups, about 120 members.

Deterministic (a fixed seed), so the README can name logins and members that exist.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cards.tokens import KeyRing
from qrservice.audit import Actor
from qrservice.life.dues import add_months, month_start, record_payment, set_dues_rate
from qrservice.life.meetings import MeetingFields, close_checkin, create_meeting, open_checkin
from qrservice.models import Attendance, Member, PointsEntry, Unit
from qrservice.org.accounts import create_user
from qrservice.org.issuance import issue_cards
from qrservice.org.members import clean_member, create_member
from qrservice.org.organisation import create_organisation
from qrservice.org.units import create_unit
from qrservice.timeutil import from_local, utcnow

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
    create_organisation(s, actor, "示范党委", add_months(month_start(today), -12))
    committee = create_unit(s, actor, kind="committee", name="示范党委", code="C01", parent=None)
    create_user(
        s, actor, username=ORGANISER[0], password=ORGANISER[1], role="organiser",
        unit=committee, display_name="组织委员 陈明",
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


def _organisational_life(
    s: Session, rng: random.Random, committee: Unit, ring: KeyRing, today: date, now: datetime
) -> dict[str, int]:
    actor = Actor.system("demo")
    members = list(s.scalars(select(Member).order_by(Member.number)))
    issue_cards(s, actor, members, ring)
    branches = [u for u in committee.children]
    floating = [m for m in members if m.floating]
    # Two floating members are hosted by a branch where they live; the rest stay at home.
    for member, host in zip(floating[-2:], branches[-2:], strict=True):
        if host.id != member.unit.parent_id:
            member.host_unit_id = host.id
    away_months = {m.id: rng.choice((4, 5, 7, 8)) for m in floating}
    by_number = {m.number: m for m in members}
    away_months[by_number[DRIFTED].id] = 7
    away_months[by_number[SLIPPING].id] = 4
    rates = {}
    for m in members:
        rates[m.id] = rng.choice((200, 500, 800, 1000, 1500, 2000, 3000))
        set_dues_rate(s, actor, m, add_months(month_start(today), -12), rates[m.id])

    meetings = attendance_rows = 0
    first_month = add_months(month_start(today), -12)
    for i in range(13):  # the same month last year up to this month, past meetings only
        month = add_months(first_month, i)
        for branch in branches:
            plan = [(branch, "theme_day", f"{month:%Y年%m月}主题党日", 2, 10)]
            plan += [(g, "group", f"{g.name}{month:%m月}学习会", 1, 20) for g in branch.children]
            if month.month % 3 == 0:
                plan.append(
                    (
                        branch,
                        "branch_general",
                        f"{month:%Y年}第{month.month // 3}季度支部党员大会",
                        2,
                        5,
                    )
                )
                plan.append((branch, "lecture", f"{month:%Y年}第{month.month // 3}季度党课", 2, 12))
            for unit, kind, title, points, day in plan:
                starts = from_local(datetime(month.year, month.month, day, MEETING_HOUR))
                if starts + timedelta(hours=2) >= now:
                    continue
                attendance_rows += _past_meeting(
                    s, rng, actor, unit, kind, title, points, starts, away_months, now
                )
                meetings += 1
    _points_and_dues(s, rng, actor, members, away_months, today, rates)
    _meeting_open_now(s, rng, actor, branches[0], now)
    return {"meetings": meetings + 1, "attendance": attendance_rows}


def _past_meeting(
    s: Session, rng: random.Random, actor: Actor, unit: Unit, kind: str, title: str,
    points: int, starts: datetime, away_months: dict[int, int], now: datetime,
) -> int:  # fmt: skip
    meeting = create_meeting(
        s, actor, MeetingFields(
            unit=unit, kind=kind, title=title, starts_at=starts,
            ends_at=starts + timedelta(minutes=90), place="党员活动室", points=points,
            remote_allowed=kind == "lecture",
        ),
    )  # fmt: skip
    open_checkin(s, actor, meeting)
    expected = s.scalars(
        select(Member).join(Member.unit).where(Unit.path.startswith(unit.path))
    ).all()
    rows = 0
    for member in expected:
        months_ago = (now - starts).days / 30.4
        if member.id in away_months and months_ago < away_months[member.id]:
            continue  # away and out of touch: absent when the meeting closes
        roll = rng.random()
        if roll < 0.06:
            continue
        status, via = "present", rng.choice(("scan", "scan", "scan", "manual"))
        at = starts - timedelta(minutes=rng.randint(0, 15))
        if roll < 0.12:
            status, via, at = "excused", "leave", starts - timedelta(days=1)
        elif roll < 0.19:
            status, at = "late", starts + timedelta(minutes=rng.randint(12, 40))
        s.add(
            Attendance(
                meeting_id=meeting.id, member_id=member.id, status=status, via=via,
                checked_in_at=at, recorded_by="demo",
            )
        )  # fmt: skip
        rows += 1
    s.flush()
    close_checkin(s, actor, meeting)
    meeting.closed_at = starts + timedelta(minutes=120)
    return rows


def _points_and_dues(
    s: Session, rng: random.Random, actor: Actor, members: list[Member],
    away_months: dict[int, int], today: date, rates: dict[int, int],
) -> None:  # fmt: skip
    receipt = 0
    last_month = add_months(month_start(today), -1)
    for member in members:
        if rng.random() < 0.15:
            s.add(
                PointsEntry(
                    member_id=member.id, at=from_local(datetime(today.year, 3, 5, 9)),
                    points=5, kind="award", reason="学雷锋志愿服务", recorded_by="demo",
                )
            )  # fmt: skip
        owed_until = add_months(last_month, -away_months.get(member.id, 0))
        # Dues are owed from the tracking start, or from the month joined if later.
        month = max(add_months(month_start(today), -12), month_start(member.joined_on))
        quarterly = rng.random() < 0.4
        while month <= owed_until:
            span = 3 if quarterly else 1
            span = min(
                span, (owed_until.year - month.year) * 12 + owed_until.month - month.month + 1
            )
            receipt += 1
            record_payment(
                s, actor, member, first_month=month, months=span,
                amount_fen=rates[member.id] * span,
                method=rng.choice(("cash", "transfer", "online")),
                receipt_no=f"DF{today.year}{receipt:05d}", paid_on=add_months(month, span - 1),
            )  # fmt: skip
            month = add_months(month, span)


def _meeting_open_now(
    s: Session, rng: random.Random, actor: Actor, branch: Unit, now: datetime
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
        s.add(
            Attendance(
                meeting_id=meeting.id, member_id=member.id, status="present", via="scan",
                checked_in_at=now - timedelta(minutes=rng.randint(1, 14)), recorded_by="demo",
            )
        )  # fmt: skip
