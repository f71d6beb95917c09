"""Synthetic organisations for the benchmarks, built with bulk inserts and cached.

    python bench/dataset.py --members 100000        # build (or reuse) and print where it is
    python bench/dataset.py --branches 1000 [--per-branch 50]   # the boards' organisation

An organisation of ``members`` members: one committee (C01), branches of two groups of 15
members each (B0001, B0001-G1, ...), a year of organisational life per branch (a monthly theme
day and group meetings, a quarterly general meeting) with attendance (mostly present, some late,
on leave or absent), attendance points, dues payments, a few floating members hosted by another
branch and a few who have left. Every member has an active card (code not yet encoded unless
``encode_codes``). Accounts: ``organiser`` (C01) and ``secretary1`` (B0001), passwords as in the
demo.

The app's own functions would take an hour for 100,000 members (one ORM object and an audit row
at a time), so the rows are written with ``sqlite3.executemany``, in the formats SQLAlchemy
writes (datetimes with microseconds, booleans as 0/1), after ``qrservice init-db`` made the
schema. A built data folder is kept in ``bench/.cache/`` and reused; ``init-db`` runs on it
again at each use, so a newer migration is applied to the cached copy instead of rebuilding it.

The boards' organisations (``cached_boards``, for ``bench/boards.py``) are shaped for what a
board measures instead: B branches of M members in two or three groups, a branch committee,
every 三会一课 meeting kind (some left out, some cancelled), attendance habits that differ
between branches, officers' points, dues with arrears of three and six months and more,
exemptions, pending leave, make-up and transfers, minutes on most meetings, branch targets;
the settled dues months are then derived by the app's own ``rebuild_settled``. A cached copy
that lacks a table, column or index of the models is built again.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CACHE = Path(__file__).resolve().parent / ".cache"
#: Bump when the generated data changes: older cached folders are then rebuilt.
BUILD_VERSION = 1
MEMBERS_PER_GROUP = 15
GROUPS_PER_BRANCH = 2
MEMBERS_PER_BRANCH = MEMBERS_PER_GROUP * GROUPS_PER_BRANCH
SECRETARY = "secretary1"  # of branch B0001
ORGANISER = "organiser"  # of the committee C01
SCAN_BRANCH = "B0001"  # the branch whose open meetings the check-in benchmark uses
STATUS_BRANCH = "B0002"  # the branch whose one open meeting the status call reads
OPEN_TITLE = "bench open meeting"


def sql_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def sql_date(value: date) -> str:
    return value.isoformat()


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QRSERVICE_ENV")}
    env["QRSERVICE_DATA"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def init_db(data_dir: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "qrservice.cli", "init-db"],
        env=server_env(data_dir),
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=600,
    )


def db_path(data_dir: Path) -> Path:
    return data_dir / "qrservice.db"


def connect(data_dir: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(db_path(data_dir), timeout=30, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def _months_back(today: date, n: int) -> list[date]:
    first = date(today.year, today.month, 1)
    out = []
    for i in range(n, 0, -1):
        index = first.year * 12 + first.month - 1 - i
        out.append(date(index // 12, index % 12 + 1, 1))
    return out


def _insert(conn: sqlite3.Connection, table: str, columns: str, rows: Iterable[tuple]) -> int:
    marks = ", ".join("?" for _ in columns.split(","))
    cursor = conn.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    return cursor.rowcount


def build(data_dir: Path, n_members: int, *, encode_codes: bool = False, seed: int = 1) -> None:
    """Make ``data_dir`` hold the organisation (an empty or missing folder)."""
    from werkzeug.security import generate_password_hash

    from cards.tokens import sign_card
    from qrservice import create_app
    from qrservice.demo import GIVEN, SECRETARY_PASSWORD, SURNAMES
    from qrservice.demo import ORGANISER as DEMO_ORGANISER
    from qrservice.signing_keys import key_ring
    from qrservice.timeutil import from_local, utcnow

    data_dir.mkdir(parents=True, exist_ok=True)
    init_db(data_dir)
    app = create_app(data_dir=data_dir)
    with app.app_context():
        ring = key_ring()
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    today = now.date()
    created = sql_time(now)
    conn = connect(data_dir)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    # The organisation's row (migration 0006 made it for folders cached before it existed).
    _insert(
        conn,
        "organisation",
        "id, name, dues_tracked_from, created_at, updated_at",
        [(1, "示范党委", sql_date(_months_back(today, 12)[0]), created, created)],
    )

    n_branches = -(-n_members // MEMBERS_PER_BRANCH)
    units = [(1, "committee", "示范党委", "C01", None, "/1/", created)]
    branches: list[tuple[int, list[int]]] = []  # (branch id, group ids)
    next_id = 2
    for b in range(1, n_branches + 1):
        branch_id = next_id
        units.append(
            (branch_id, "branch", f"第{b}党支部", f"B{b:04d}", 1, f"/1/{branch_id}/", created)
        )
        next_id += 1
        groups = []
        for g in range(1, GROUPS_PER_BRANCH + 1):
            units.append(
                (
                    next_id,
                    "group",
                    f"第{g}党小组",
                    f"B{b:04d}-G{g}",
                    branch_id,
                    f"/1/{branch_id}/{next_id}/",
                    created,
                )
            )
            groups.append(next_id)
            next_id += 1
        branches.append((branch_id, groups))
    _insert(conn, "unit", "id, kind, name, code, parent_id, path, created_at", units)

    organiser_hash = generate_password_hash(DEMO_ORGANISER[1])
    secretary_hash = generate_password_hash(SECRETARY_PASSWORD)
    _insert(
        conn,
        "user_account",
        "id, username, display_name, password_hash, role, unit_id, active, created_at",
        [
            (1, ORGANISER, "组织委员", organiser_hash, "organiser", 1, 1, created),
            (
                2,
                SECRETARY,
                "第1党支部书记",
                secretary_hash,
                "secretary",
                branches[0][0],
                1,
                created,
            ),
        ],
    )

    # Members: branch by branch, group by group; member ids follow their numbers.
    members = []  # (id, group id, branch index, active, joined, monthly dues)
    member_id = 0
    for index, (_branch_id, groups) in enumerate(branches):
        for group_id in groups:
            for _ in range(MEMBERS_PER_GROUP):
                if member_id == n_members:
                    break
                member_id += 1
                joined = today - timedelta(days=rng.randint(400, 40 * 365))
                active = rng.random() >= 0.02
                members.append(
                    (
                        member_id,
                        group_id,
                        index,
                        active,
                        joined,
                        rng.choice((200, 500, 800, 1000, 1500, 2000)),
                    )
                )

    def member_rows() -> Iterator[tuple]:
        for mid, group_id, index, active, joined, _dues in members:
            floating = rng.random() < 0.02
            host = None
            if floating and len(branches) > 1:
                host = branches[(index + 1 + rng.randrange(len(branches) - 1)) % len(branches)][0]
            yield (
                mid,
                f"9{mid:08d}",
                rng.choice(SURNAMES) + rng.choice(GIVEN),
                rng.choice(("male", "female")),
                f"13{rng.randint(100000000, 999999999)}",
                sql_date(joined),
                "full",
                group_id,
                int(floating),
                "深圳" if floating else None,
                sql_date(today - timedelta(days=200)) if floating else None,
                host,
                None,
                int(active),
                None if active else sql_date(today - timedelta(days=30)),
                created,
                created,
            )

    _insert(
        conn,
        "member",
        "id, number, name, gender, phone, joined_on, status, unit_id, floating, "
        "floating_location, floating_since, host_unit_id, dues_from, active, left_on, "
        "created_at, updated_at",
        member_rows(),
    )

    _insert(
        conn,
        "dues_rate",
        "member_id, effective_from, amount_fen, recorded_by, recorded_at",
        ((mid, "2000-01-01", dues, "bench", created) for mid, *_r, dues in members),
    )

    def card_rows() -> Iterator[tuple]:
        for mid, *_ in members:
            yield (
                mid,
                mid,
                1,
                "active",
                "new",
                ring.signing_key.kid,
                sign_card(ring, mid, 1),
                created,
                "bench",
            )

    _insert(
        conn,
        "card",
        "id, member_id, version, status, reason, kid, token, issued_at, issued_by",
        card_rows(),
    )

    # A year of organisational life, month by month, branch by branch.
    by_branch: dict[int, list[tuple]] = {}
    for row in members:
        by_branch.setdefault(row[2], []).append(row)
    meeting_id = 0
    for month in _months_back(today, 12):  # written month by month to keep memory small
        meetings: list[tuple] = []
        attendance: list[tuple] = []
        points: list[tuple] = []
        for index, (branch_id, groups) in enumerate(branches):
            plan = [(branch_id, None, "theme_day", f"{month:%Y年%m月}主题党日", 2, 10)]
            plan += [(g, g, "group", f"{month:%m月}小组学习", 1, 20) for g in groups]
            if month.month % 3 == 0:
                plan.append((branch_id, None, "branch_general", f"{month:%Y年%m月}党员大会", 2, 5))
            for unit_id, group_only, kind, title, pts, day in plan:
                meeting_id += 1
                starts = from_local(datetime(month.year, month.month, day, 15))
                meetings.append(
                    (
                        meeting_id,
                        unit_id,
                        kind,
                        title,
                        sql_time(starts),
                        sql_time(starts + timedelta(minutes=90)),
                        "党员活动室",
                        0,
                        30,
                        30,
                        10,
                        pts,
                        30,
                        "closed",
                        sql_time(starts - timedelta(minutes=30)),
                        sql_time(starts + timedelta(minutes=120)),
                        "bench",
                        created,
                    )
                )
                for mid, group_id, _i, active, _joined, _dues in by_branch.get(index, ()):
                    if group_only is not None and group_id != group_only:
                        continue
                    roll = rng.random()
                    status, via = "present", "scan"
                    at = starts - timedelta(minutes=rng.randint(0, 15))
                    if roll < 0.06 or not active:
                        status, via, at = "absent", "closing", starts + timedelta(minutes=120)
                    elif roll < 0.12:
                        status, via, at = "excused", "leave", starts - timedelta(days=1)
                    elif roll < 0.19:
                        status, at = "late", starts + timedelta(minutes=rng.randint(12, 40))
                    attendance.append((meeting_id, mid, status, via, sql_time(at), "bench"))
                    if status in ("present", "late"):
                        points.append(
                            (mid, sql_time(starts), pts, "attendance", meeting_id, title, "bench")
                        )
        _insert(
            conn,
            "meeting",
            "id, unit_id, kind, title, starts_at, ends_at, place, remote_allowed, "
            "opens_before_min, closes_after_min, late_after_min, points, screen_code_ttl, status, "
            "opened_at, closed_at, created_by, created_at",
            meetings,
        )
        _insert(
            conn,
            "attendance",
            "meeting_id, member_id, status, via, checked_in_at, recorded_by",
            attendance,
        )
        _insert(
            conn,
            "points_entry",
            "member_id, at, points, kind, meeting_id, reason, recorded_by",
            points,
        )

    def dues_rows() -> Iterator[tuple]:
        receipt = 0
        months = _months_back(today, 12)
        for mid, _g, _i, active, _joined, dues in members:
            if not active:
                continue
            span = 3 if rng.random() < 0.4 else 1
            owed = len(months) - (rng.choice((4, 7)) if rng.random() < 0.05 else 0)
            for start in range(0, owed, span):
                receipt += 1
                first = months[start]
                n = min(span, owed - start)
                yield (
                    mid,
                    sql_date(first),
                    n,
                    dues * n,
                    "cash",
                    f"R{receipt:09d}",
                    sql_date(first + timedelta(days=5)),
                    "bench",
                    created,
                )

    _insert(
        conn,
        "dues_payment",
        "member_id, first_month, months, amount_fen, method, receipt_no, paid_on, recorded_by, "
        "recorded_at",
        dues_rows(),
    )
    conn.execute("COMMIT")
    conn.close()
    if encode_codes:
        from qrservice import db
        from qrservice.models import Card
        from qrservice.org.issuance import keep_codes

        with app.app_context(), db.transaction(app) as s:
            from sqlalchemy import select

            keep_codes(list(s.scalars(select(Card))), app.config["PUBLIC_BASE_URL"])
    from qrservice import db

    db.engine_of(app).dispose()


@dataclass(frozen=True)
class Organisation:
    data_dir: Path
    members: int


def cached(n_members: int, *, encode_codes: bool = False, log=print) -> Organisation:  # noqa: ANN001
    """The cached organisation of ``n_members`` members, built on first use."""
    name = f"org-{n_members}-v{BUILD_VERSION}{'-codes' if encode_codes else ''}"
    folder = CACHE / name
    CACHE.mkdir(exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    if not (folder / "complete").exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        log(f"building {n_members:,} members with a year of history in {folder} (once) ...")
        started = time.monotonic()
        build(folder / "data", n_members, encode_codes=encode_codes)
        (folder / "complete").write_text(f"{time.monotonic() - started:.1f} s\n")
        log(f"  built in {time.monotonic() - started:.0f} s")
    else:
        init_db(folder / "data")  # applies migrations newer than the cached copy
    return Organisation(folder / "data", n_members)


# -- the boards' organisations --------------------------------------------------------------

#: Bump when the boards' organisations change: older cached folders are then rebuilt.
BOARDS_VERSION = 2  # 2: built with migration 0008 as it landed (its covering indexes)
#: The branch committee (支委): who a branch committee meeting expects.
COMMITTEE_ROLES = ("secretary", "deputy_secretary", "organisation", "publicity", "discipline")
#: Targets set for some branches, so the overview colours rows: (measure, must-reach, stretch).
BOARD_TARGETS = (
    ("compliance", 90, 100),
    ("attendance", 85, 95),
    ("dues", 90, 100),
    ("points", 12, 20),
    ("warnings", 2, 0),
)
MINUTES_TEXT = "会议传达学习了上级精神,{n}名党员发言,明确了下一步工作。"


@dataclass(frozen=True)
class BranchHabits:
    """How a branch keeps its organisational life: drawn once per branch, so that boards differ."""

    skips: float  # chance of leaving out a required meeting
    absent: float  # chance of a member's absence
    excused: float
    late: float
    traced: float  # chance that a meeting older than a month has its minutes


@dataclass
class Person:
    """A member of a boards' organisation as the builder draws them."""

    id: int
    group: int
    branch: int  # index into branches
    active: bool
    left_on: date | None
    joined: date
    dues: int
    quiet_from: date | None  # absent from meetings from this month on
    pays_until: date  # last month paid
    exempt_from: date | None


def _habits(rng: random.Random) -> BranchHabits:
    return BranchHabits(
        skips=rng.choice((0.0, 0.0, 0.0, 0.03, 0.08, 0.2)),
        absent=rng.uniform(0.02, 0.2),
        excused=rng.uniform(0.02, 0.08),
        late=rng.uniform(0.03, 0.1),
        traced=rng.choice((1.0, 0.95, 0.8, 0.5)),
    )


def _local(month: date, day: int, hour: int) -> datetime:
    from qrservice.timeutil import from_local

    return from_local(datetime(month.year, month.month, day, hour))


def build_boards(
    data_dir: Path, n_branches: int, per_branch: int, *, seed: int = 1
) -> dict[str, int]:
    """Make ``data_dir`` hold an organisation of ``n_branches`` branches of ``per_branch``
    members (two or three groups each) with a year of everything a board measures; returns the
    number of rows written per table."""
    from werkzeug.security import generate_password_hash

    from cards.tokens import sign_card
    from qrservice import create_app, db
    from qrservice.demo import GIVEN, SECRETARY_PASSWORD, SURNAMES
    from qrservice.demo import ORGANISER as DEMO_ORGANISER
    from qrservice.life.dues_settled import rebuild_settled
    from qrservice.signing_keys import key_ring
    from qrservice.timeutil import add_months, local_time, months_between, utcnow

    data_dir.mkdir(parents=True, exist_ok=True)
    init_db(data_dir)
    app = create_app({"DATABASE_URL": f"sqlite:///{db_path(data_dir)}"}, data_dir=data_dir)
    with app.app_context():
        ring = key_ring()
    rng = random.Random(seed)
    now = utcnow().replace(microsecond=0)
    today = local_time(now).date()
    created = sql_time(now)
    months = _months_back(today, 12)  # the last twelve whole months, oldest first
    this_month = date(today.year, today.month, 1)
    written: dict[str, int] = {}

    def insert(table: str, columns: str, rows: Iterable[tuple]) -> None:
        written[table] = written.get(table, 0) + _insert(conn, table, columns, rows)

    conn = connect(data_dir)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("BEGIN")
    insert(
        "organisation",
        "id, name, dues_tracked_from, created_at, updated_at",
        [(1, "示范党委", sql_date(months[0]), created, created)],
    )

    # Units: the committee, then each branch and its two or three groups.
    units = [(1, "committee", "示范党委", "C01", None, "/1/", created)]
    branches: list[tuple[int, list[int]]] = []
    next_id = 2
    for b in range(1, n_branches + 1):
        branch_id = next_id
        units.append(
            (branch_id, "branch", f"第{b}党支部", f"B{b:04d}", 1, f"/1/{branch_id}/", created)
        )
        next_id += 1
        groups = []
        for g in range(1, (2 if b % 2 else 3) + 1):
            units.append(
                (
                    next_id,
                    "group",
                    f"第{g}党小组",
                    f"B{b:04d}-G{g}",
                    branch_id,
                    f"/1/{branch_id}/{next_id}/",
                    created,
                )
            )
            groups.append(next_id)
            next_id += 1
        branches.append((branch_id, groups))
    insert("unit", "id, kind, name, code, parent_id, path, created_at", units)
    insert(
        "user_account",
        "id, username, display_name, password_hash, role, unit_id, active, created_at",
        [
            (
                1,
                ORGANISER,
                "组织委员",
                generate_password_hash(DEMO_ORGANISER[1]),
                "organiser",
                1,
                1,
                created,
            ),
            (
                2,
                SECRETARY,
                "第1党支部书记",
                generate_password_hash(SECRETARY_PASSWORD),
                "secretary",
                branches[0][0],
                1,
                created,
            ),
        ],
    )

    # Members, branch by branch, spread over the groups. Some are quiet (no meetings and no
    # dues for the last few months: yellow and red warnings), some only stopped paying.
    people: list[Person] = []
    committee: dict[int, list[int]] = {}
    member_id = 0
    for index, (_branch_id, groups) in enumerate(branches):
        for k in range(per_branch):
            member_id += 1
            roll = rng.random()
            quiet_from = None
            pays_until = add_months(this_month, -1 if rng.random() < 0.7 else 0)
            if roll < 0.02:  # red: six months and more without anything
                quiet_from = months[rng.randint(3, 5)]
                pays_until = add_months(quiet_from, -1)
            elif roll < 0.05:  # yellow: three to five months
                quiet_from = months[rng.randint(7, 8)]
                pays_until = add_months(quiet_from, -1)
            elif roll < 0.08:  # in arrears only
                pays_until = months[rng.randint(3, 8)]
            left = rng.random() < 0.01 and k >= len(COMMITTEE_ROLES)
            people.append(
                Person(
                    member_id,
                    groups[k % len(groups)],
                    index,
                    not left,
                    today - timedelta(days=rng.randint(20, 200)) if left else None,
                    today - timedelta(days=rng.randint(400, 40 * 365)),
                    rng.choice((200, 500, 800, 1000, 1500, 2000)),
                    quiet_from,
                    pays_until,
                    months[rng.randint(0, 11)] if rng.random() < 0.01 else None,
                )
            )
            if k < len(COMMITTEE_ROLES):
                committee.setdefault(index, []).append(member_id)

    def member_rows() -> Iterator[tuple]:
        for p in people:
            floating = rng.random() < 0.02
            yield (
                p.id,
                f"9{p.id:08d}",
                rng.choice(SURNAMES) + rng.choice(GIVEN),
                rng.choice(("male", "female")),
                f"13{rng.randint(100000000, 999999999)}",
                sql_date(p.joined),
                "full" if rng.random() > 0.05 else "probationary",
                p.group,
                int(floating),
                "深圳" if floating else None,
                sql_date(today - timedelta(days=200)) if floating else None,
                None,
                None,
                int(p.active),
                sql_date(p.left_on) if p.left_on else None,
                created,
                created,
            )

    insert(
        "member",
        "id, number, name, gender, phone, joined_on, status, unit_id, floating, "
        "floating_location, floating_since, host_unit_id, dues_from, active, left_on, "
        "created_at, updated_at",
        member_rows(),
    )
    insert(
        "unit_role",
        "unit_id, member_id, role, since, created_by, created_at",
        (
            (branches[index][0], mid, role, sql_date(months[0]), "bench", created)
            for index, ids in committee.items()
            for mid, role in zip(ids, COMMITTEE_ROLES, strict=False)
        ),
    )
    insert(
        "dues_rate",
        "member_id, effective_from, amount_fen, recorded_by, recorded_at",
        ((p.id, "2000-01-01", p.dues, "bench", created) for p in people),
    )
    insert(
        "card",
        "id, member_id, version, status, reason, kid, token, issued_at, issued_by",
        (
            (
                p.id,
                p.id,
                1,
                "active",
                "new",
                ring.signing_key.kid,
                sign_card(ring, p.id, 1),
                created,
                "bench",
            )
            for p in people
        ),
    )

    # A year of organisational life, month by month. Each branch: a theme day, a branch
    # committee meeting and a meeting of each group every month; a general meeting and a
    # party lecture each quarter (in a month of the branch's choosing); volunteer service
    # now and then; the organisational-life meeting once. Some branches leave out required
    # meetings, a few meetings are cancelled (and count for nothing).
    habits = [_habits(rng) for _ in branches]
    quarter_months = [
        (rng.randrange(3), rng.randrange(3)) for _ in branches
    ]  # month of the quarter for the general meeting and the lecture
    members_of: dict[int, list[Person]] = {}
    for p in people:
        members_of.setdefault(p.branch, []).append(p)
    meeting_id = 0
    last_month = months[-1]
    closed_meetings: list[tuple[int, int, date]] = []  # (meeting, branch index, month)
    for month in months:
        meetings: list[tuple] = []
        attendance: list[tuple] = []
        points: list[tuple] = []
        in_quarter = (month.month - 1) % 3
        for index, (branch_id, groups) in enumerate(branches):
            h = habits[index]
            plan = [
                (branch_id, "branch", "theme_day", f"{month:%Y年%m月}主题党日", 2, 10, 15),
                (branch_id, "committee", "branch_committee", f"{month:%m月}支委会", 1, 3, 9),
            ]
            plan += [
                (g, "group", "group", f"{month:%m月}小组学习", 1, 20 + n, 19)
                for n, g in enumerate(groups)
            ]
            general, lecture = quarter_months[index]
            if in_quarter == general:
                plan.append(
                    (branch_id, "branch", "branch_general", f"{month:%Y年%m月}党员大会", 2, 5, 15)
                )
            if in_quarter == lecture:
                plan.append((branch_id, "branch", "lecture", f"{month:%m月}党课", 2, 16, 15))
            if month.month == 1:
                plan.append(
                    (branch_id, "branch", "org_life", f"{month.year - 1}年度组织生活会", 3, 12, 14)
                )
            if rng.random() < 0.3:
                plan.append((branch_id, "branch", "volunteer", "志愿服务", 2, 25, 9))
            for unit_id, expects, kind, title, pts, day, hour in plan:
                if kind != "volunteer" and rng.random() < h.skips:
                    continue  # left out: compliance misses it
                meeting_id += 1
                starts = _local(month, day, hour)
                cancelled = rng.random() < 0.02
                traced = not cancelled and rng.random() < (h.traced if month < last_month else 0.5)
                meetings.append(
                    (
                        meeting_id,
                        unit_id,
                        kind,
                        title,
                        sql_time(starts),
                        sql_time(starts + timedelta(minutes=90)),
                        "党员活动室",
                        0,
                        30,
                        30,
                        10,
                        pts,
                        30,
                        "cancelled" if cancelled else "closed",
                        None if cancelled else sql_time(starts - timedelta(minutes=30)),
                        None if cancelled else sql_time(starts + timedelta(minutes=120)),
                        sql_time(starts - timedelta(days=3)) if cancelled else None,
                        "bench" if cancelled else None,
                        "改期" if cancelled else None,
                        MINUTES_TEXT.format(n=rng.randint(3, 8)) if traced else None,
                        "bench" if traced else None,
                        sql_time(starts + timedelta(days=2)) if traced else None,
                        "bench",
                        created,
                    )
                )
                if cancelled:
                    continue
                closed_meetings.append((meeting_id, index, month))
                if expects == "committee":
                    expected = [p for p in members_of[index] if p.id in committee[index]]
                elif expects == "group":
                    expected = [p for p in members_of[index] if p.group == unit_id]
                else:
                    expected = members_of[index]
                for p in expected:
                    if p.left_on is not None and p.left_on <= starts.date():
                        continue
                    roll = rng.random()
                    status, via = "present", "scan"
                    at = starts - timedelta(minutes=rng.randint(0, 15))
                    if (p.quiet_from is not None and month >= p.quiet_from) or roll < h.absent:
                        status, via, at = "absent", "closing", starts + timedelta(minutes=120)
                        if p.quiet_from is None and rng.random() < 0.1:
                            status, via = "made_up", "manual"
                    elif roll < h.absent + h.excused:
                        status, via, at = "excused", "leave", starts - timedelta(days=1)
                    elif roll < h.absent + h.excused + h.late:
                        status, at = "late", starts + timedelta(minutes=rng.randint(12, 40))
                    attendance.append((meeting_id, p.id, status, via, sql_time(at), "bench"))
                    if status in ("present", "late", "made_up"):
                        points.append(
                            (p.id, sql_time(starts), pts, "attendance", meeting_id, title, "bench")
                        )
            # The branch's officers award points for study and service, now and then deduct.
            for p in rng.sample(members_of[index], min(5, len(members_of[index]))):
                kind, pts, why = rng.choice(
                    (
                        ("study", 2, "学习强国"),
                        ("volunteer", 3, "社区服务"),
                        ("award", 5, "先进事迹"),
                        ("deduction", -2, "无故缺席"),
                    )
                )
                points.append(
                    (p.id, sql_time(_local(month, 28, 12)), pts, kind, None, why, "bench")
                )
        insert(
            "meeting",
            "id, unit_id, kind, title, starts_at, ends_at, place, remote_allowed, "
            "opens_before_min, closes_after_min, late_after_min, points, screen_code_ttl, "
            "status, opened_at, closed_at, cancelled_at, cancelled_by, cancel_reason, minutes, "
            "minutes_by, minutes_at, created_by, created_at",
            meetings,
        )
        insert(
            "attendance",
            "meeting_id, member_id, status, via, checked_in_at, recorded_by",
            attendance,
        )
        insert(
            "points_entry",
            "member_id, at, points, kind, meeting_id, reason, recorded_by",
            points,
        )

    # Next month's theme day of every branch, scheduled, with a few leave requests pending.
    coming = add_months(this_month, 1)
    first_coming = meeting_id + 1
    insert(
        "meeting",
        "id, unit_id, kind, title, starts_at, ends_at, place, remote_allowed, "
        "opens_before_min, closes_after_min, late_after_min, points, screen_code_ttl, status, "
        "created_by, created_at",
        (
            (
                first_coming + i,
                branch_id,
                "theme_day",
                f"{coming:%Y年%m月}主题党日",
                sql_time(_local(coming, 10, 15)),
                sql_time(_local(coming, 10, 15) + timedelta(minutes=90)),
                "党员活动室",
                0,
                30,
                30,
                10,
                2,
                30,
                "scheduled",
                "bench",
                created,
            )
            for i, (branch_id, _g) in enumerate(branches)
        ),
    )
    insert(
        "leave_request",
        "meeting_id, member_id, reason, status, requested_at, requested_by",
        (
            (first_coming + index, p.id, "出差", "pending", created, f"member:9{p.id:08d}")
            for index in range(len(branches))
            for p in rng.sample(members_of[index], 2)
            if p.active
        ),
    )
    # Make-up study waiting for a decision: absentees of each branch's last meetings.
    last_meetings = [m for m in closed_meetings if m[2] == last_month]
    absentees = conn.execute(
        "SELECT meeting_id, member_id FROM attendance WHERE status = 'absent' AND meeting_id >= ?",
        (min((m[0] for m in last_meetings), default=0),),
    ).fetchall()
    insert(
        "makeup_study",
        "meeting_id, member_id, text, status, submitted_at",
        (
            (mid, member, "补学了会议精神,撰写了学习心得。" * 3, "pending", created)
            for mid, member in absentees
            if rng.random() < 0.3
        ),
    )
    # A few transfers between branches waiting for the other side.
    if len(branches) > 1:
        insert(
            "transfer",
            "member_id, from_unit_id, to_unit_id, status, reason, started_by, started_at",
            (
                (
                    p.id,
                    p.group,
                    branches[(p.branch + 1) % len(branches)][0],
                    "requested",
                    "工作调动",
                    "bench",
                    created,
                )
                for index in range(0, len(branches), 20)
                for p in members_of[index][-1:]
                if p.active
            ),
        )

    # Dues: payments month by month or a quarter at once, up to the month each member pays
    # until; a few members exempt.
    def dues_rows() -> Iterator[tuple]:
        receipt = 0
        for p in people:
            if not p.active:
                continue
            span = 3 if rng.random() < 0.3 else 1
            month = months[0]
            while month <= p.pays_until:
                n = min(span, months_between(month, p.pays_until) + 1)
                receipt += 1
                if p.exempt_from is None or month < p.exempt_from:
                    yield (
                        p.id,
                        sql_date(month),
                        n,
                        p.dues * n,
                        "cash",
                        f"R{receipt:09d}",
                        sql_date(month + timedelta(days=rng.randint(0, 40))),
                        "bench",
                        created,
                    )
                month = add_months(month, n)

    insert(
        "dues_payment",
        "member_id, first_month, months, amount_fen, method, receipt_no, paid_on, recorded_by, "
        "recorded_at",
        dues_rows(),
    )
    insert(
        "dues_exemption",
        "member_id, first_month, last_month, reason, recorded_by, recorded_at",
        (
            (p.id, sql_date(p.exempt_from), None, "生活困难", "bench", created)
            for p in people
            if p.exempt_from is not None
        ),
    )

    # Targets for every third branch, and a plan–do–check–act note on some of them.
    targeted = range(0, len(branches), 3)
    insert(
        "board_target",
        "unit_id, measure, must_reach, stretch, updated_by, updated_at",
        (
            (branches[index][0], measure, must, stretch, "bench", created)
            for index in targeted
            for measure, must, stretch in BOARD_TARGETS
            if rng.random() < 0.8
        ),
    )
    last_quarter = add_months(date(this_month.year, (this_month.month - 1) // 3 * 3 + 1, 1), -3)
    quarter_key = f"{last_quarter.year}-Q{(last_quarter.month - 1) // 3 + 1}"
    insert(
        "target_note",
        "unit_id, measure, period, plan_text, do_text, check_text, act_text, written_by, "
        "written_at",
        (
            (
                branches[index][0],
                "attendance",
                quarter_key,
                "每月提前通知",
                "电话提醒",
                "出勤率上升",
                "坚持",
                "bench",
                created,
            )
            for index in targeted
            if rng.random() < 0.3
        ),
    )
    conn.execute("COMMIT")

    # The settled dues months are derived data: the app's own function writes them.
    with app.app_context(), db.transaction(app) as s:
        written["dues_settled (members)"] = rebuild_settled(s)
    db.engine_of(app).dispose()
    conn.execute("ANALYZE")
    conn.close()
    return written


def missing_schema(data_dir: Path) -> list[str]:
    """Tables, columns and indexes of the models that the database lacks: a copy built before
    a migration was changed in place (while a round's migration is being written) has its
    revision and so is never migrated again."""
    from qrservice.models import Base

    conn = connect(data_dir)
    try:
        indexes = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
        missing = []
        for table in Base.metadata.sorted_tables:
            columns = {r[1] for r in conn.execute(f"PRAGMA table_info({table.name})")}
            if not columns:
                missing.append(f"table {table.name}")
                continue
            missing += [
                f"column {table.name}.{c.name}" for c in table.columns if c.name not in columns
            ]
            missing += [f"index {i.name}" for i in table.indexes if i.name not in indexes]
        return missing
    finally:
        conn.close()


@dataclass(frozen=True)
class BoardsOrganisation:
    data_dir: Path
    branches: int
    per_branch: int
    #: The day it was built (its year of history ends the month before).
    built_on: date
    build_seconds: float


def cached_boards(n_branches: int, per_branch: int, *, log=print) -> BoardsOrganisation:  # noqa: ANN001
    """The cached organisation of ``n_branches`` branches of ``per_branch`` members for the
    boards' benchmark, built on first use (how long it took is kept with it)."""
    import json

    folder = CACHE / f"boards-{n_branches}x{per_branch}-v{BOARDS_VERSION}"
    CACHE.mkdir(exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    done = folder / "complete.json"
    if done.exists():
        init_db(folder / "data")  # applies migrations newer than the cached copy
        missing = missing_schema(folder / "data")
        if missing:  # a migration was changed in place after the copy was built
            log(f"the cached {folder.name} lacks {', '.join(missing[:5])}: building it again")
            done.unlink()
    if not done.exists():
        if folder.exists():
            import shutil

            shutil.rmtree(folder)
        log(f"building {n_branches:,} branches of {per_branch} members with a year of "
            f"organisational life in {folder} (once) ...")  # fmt: skip
        started = time.monotonic()
        written = build_boards(folder / "data", n_branches, per_branch)
        seconds = time.monotonic() - started
        from qrservice.timeutil import local_time, utcnow

        built_on = local_time(utcnow()).date().isoformat()
        done.write_text(
            json.dumps({"seconds": round(seconds, 1), "rows": written, "built_on": built_on})
        )
        log(f"  built in {seconds:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in written.items()))
    info = json.loads(done.read_text())
    return BoardsOrganisation(
        folder / "data", n_branches, per_branch, date.fromisoformat(info["built_on"]),
        info["seconds"],
    )  # fmt: skip


def counts(data_dir: Path) -> dict[str, int]:
    conn = connect(data_dir)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in ("member", "card", "meeting", "attendance", "points_entry", "dues_payment")
        }
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--codes", action="store_true", help="encode every card's code too")
    parser.add_argument(
        "--branches", type=int, default=None,
        help="instead: the boards' organisation of this many branches (bench/boards.py)",
    )  # fmt: skip
    parser.add_argument("--per-branch", type=int, default=50, help="members per branch (boards)")
    args = parser.parse_args()
    if args.branches:
        boards = cached_boards(args.branches, args.per_branch)
        print(boards.data_dir, f"built in {boards.build_seconds:.0f} s", counts(boards.data_dir))
        return 0
    org = cached(args.members, encode_codes=args.codes)
    print(org.data_dir, counts(org.data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
