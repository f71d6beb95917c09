"""Synthetic organisations for the benchmarks, built with bulk inserts and cached.

    python bench/dataset.py --members 100000        # build (or reuse) and print where it is

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
    args = parser.parse_args()
    org = cached(args.members, encode_codes=args.codes)
    print(org.data_dir, counts(org.data_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
