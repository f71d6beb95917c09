"""The demo organisation: one committee, four branches of two groups, about 120 members.

Deterministic (a fixed seed), so the README can name logins and members that exist.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from .accounts import create_user
from .audit import Actor
from .members import clean_member, create_member, create_unit
from .models import Unit

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
    s: Session, id_hash_key: str, today: date, progress: Callable[[int], None] | None = None
) -> dict[str, int]:
    """Create the demo organisation in an empty database; returns counts of what was made."""
    rng = random.Random(20260701)
    actor = Actor.system("demo")
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
    return made
