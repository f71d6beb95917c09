"""Benchmark: the branch board and the organiser's overview, 1,000 branches beside 10.

    python bench/boards.py [--quick] [--branches 1000] [--small 10] [--statements]

One command, every figure measured in this run (the machine is shared: only ratios and
same-run comparisons mean much; the absolute targets are checked too, on this machine):

data      two organisations of ``--per-branch`` (50) members a branch, ``--small`` (10) and
          ``--branches`` (1,000) branches, with a year of organisational life each
          (``bench/dataset.py``: built once, cached in ``bench/.cache/``; the build time is
          printed).
functions in process, each call in a fresh session as a request has: ``branch_board`` for the
          branches B0001..B0010 in turn and ``overview`` of the committee, both for the last
          whole quarter before the organisation was built, interleaved small, large, reference.
pages     ``GET /boards/<id>?period=`` and ``GET /boards/?period=`` through Flask's test client,
          logged in as the organiser (templates, charts, session and login included).
reference ``GET /healthz`` through the same test client, and ``SELECT 1`` in a fresh session,
          measured between the others: each figure is also given as a multiple of it.
latency   ``qrservice serve`` (gunicorn) on the large organisation and ``bench/openloop.py``:
          the board page at a fixed offered rate (``--rate``), each request timed from its
          scheduled send.

Reports per figure the median and p95 of wall-clock milliseconds and the median CPU time
of this process (SQLite runs in it; steadier on a shared machine), large/small ratios, multiples
of the reference, PASS/FAIL against the issue's targets (board <= 100 ms, overview of 1,000
branches <= 1 s, on SQLite) and the number of SQL statements per call (fewest and most over
the branches measured: about the same for both sizes, or something queries per member).
``--statements`` shows where one board's and one overview's time goes, large organisation
(each statement run again alone on a connection of its own: how much is SQLite, which
statements cost most); ``--profile board|overview`` prints a cProfile of one call. Writes the
figures to ``bench/boards-results.json`` (``--json``). Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.cookiejar
import json
import re
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402
from openloop import OpenLoopResult, raw_request, run_open_loop  # noqa: E402

TARGET_BOARD_MS = 100.0
TARGET_OVERVIEW_MS = 1000.0
USER_AGENT = "qrservice-bench/boards"
ORGANISER_PASSWORD = "demo-organiser-2026"  # noqa: S105 - the demo's published password
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
#: Branches whose boards are measured in turn (both organisations have them).
BOARD_BRANCHES = tuple(f"B{n:04d}" for n in range(1, 11))


@dataclasses.dataclass
class Timings:
    """Wall-clock milliseconds of repeated calls, and the fewest and most statements one call
    ran (a board runs a few more for a branch with warned members than for one without)."""

    label: str
    ms: list[float] = dataclasses.field(default_factory=list)
    #: CPU milliseconds of this process for the same calls (SQLite runs in it): steadier than
    #: wall-clock time when other jobs share the machine.
    cpu_ms: list[float] = dataclasses.field(default_factory=list)
    statements: tuple[int, int] = (0, 0)

    @property
    def statements_text(self) -> str:
        low, high = self.statements
        return str(low) if low == high else f"{low}-{high}"

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else float("nan")

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_ms) if self.cpu_ms else float("nan")

    @property
    def p95(self) -> float:
        values = sorted(self.ms)
        if not values:
            return float("nan")
        return values[min(len(values) - 1, max(0, round(0.95 * len(values) + 0.5) - 1))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_ms": round(self.median, 3),
            "median_cpu_ms": round(self.median_cpu, 3),
            "p95_ms": round(self.p95, 3),
            "n": len(self.ms),
            "statements": list(self.statements),
        }


# -- one organisation, in process -----------------------------------------------------------


class StatementCounter:
    """Counts the statements an engine runs; while ``timing``, also gives each statement the
    time from its start to the next statement's start (or the call's end): its execution, the
    fetching of its rows (SQLite computes much of a result while it is fetched) and the Python
    that uses them."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        self.timing = False
        #: (start, statement, parameters, execute ms)
        self.marks: list[tuple[float, str, Any, float]] = []
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001, PLR0913
        self.count += 1
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]  # noqa: ANN001, PLR0913
        if self.timing:
            executed = (time.perf_counter() - self._started) * 1000
            self.marks.append((self._started, statement, parameters, executed))


class Subject:
    """One organisation: its app, the ids the calls need, a logged-in test client."""

    def __init__(self, org: dataset.BoardsOrganisation, period_key: str) -> None:
        from sqlalchemy import select

        from qrservice import create_app, db
        from qrservice.boards.periods import parse_period
        from qrservice.models import Unit
        from qrservice.timeutil import local_today

        self.org = org
        self.app = create_app(
            {"DATABASE_URL": f"sqlite:///{dataset.db_path(org.data_dir)}"},
            data_dir=org.data_dir,
        )
        self.db = db
        self.counter = StatementCounter(db.engine_of(self.app))
        self.today = local_today()
        with self.app.app_context():
            self.period = parse_period(period_key, self.today)
        with self.session() as s:
            self.committee_id = s.scalar(select(Unit.id).where(Unit.code == "C01"))
            self.branch_ids = list(
                s.scalars(select(Unit.id).where(Unit.code.in_(BOARD_BRANCHES)).order_by(Unit.code))
            )
        self.client = self.app.test_client()
        self.log_in()
        self.calls = 0

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A fresh session inside a request context (strings need one), rolled back after."""
        with self.app.test_request_context(), self.db.new_session() as s:
            try:
                yield s
            finally:
                s.rollback()

    def log_in(self) -> None:
        page = self.client.get("/login", headers={"User-Agent": USER_AGENT}).get_data(as_text=True)
        token = CSRF_RE.search(page)
        form = {"username": dataset.ORGANISER, "password": ORGANISER_PASSWORD}
        if token:
            form["csrf_token"] = token[1]
        answer = self.client.post("/login", data=form, headers={"User-Agent": USER_AGENT})
        if answer.status_code not in (302, 303):
            raise SystemExit(f"the organiser's login answered {answer.status_code}")

    def next_branch(self) -> int:
        self.calls += 1
        return self.branch_ids[self.calls % len(self.branch_ids)]

    # The measured calls: each returns what it computed, so that a sample can be checked.

    def board(self) -> Any:
        from qrservice.boards.board import branch_board
        from qrservice.models import Unit

        with self.session() as s:
            return branch_board(s, s.get(Unit, self.next_branch()), self.period, self.today)

    def overview(self) -> Any:
        from qrservice.boards.overview import overview
        from qrservice.models import Unit

        with self.session() as s:
            return overview(s, s.get(Unit, self.committee_id), self.period, self.today)

    def trivial_query(self) -> Any:
        from sqlalchemy import text

        with self.session() as s:
            return s.execute(text("SELECT 1")).scalar()

    def _get(self, path: str) -> bytes:
        answer = self.client.get(path, headers={"User-Agent": USER_AGENT})
        if answer.status_code != 200:
            raise SystemExit(f"GET {path} answered {answer.status_code}")
        return answer.data

    def board_page(self) -> bytes:
        return self._get(f"/boards/{self.next_branch()}?period={self.period.key}")

    def overview_page(self) -> bytes:
        return self._get(f"/boards/?unit={self.committee_id}&period={self.period.key}")

    def healthz(self) -> bytes:
        return self._get("/healthz")

    def statements_of(self, call: Callable[[], Any], calls: int) -> tuple[int, int]:
        """The fewest and most statements over ``calls`` calls (boards of different branches),
        after one call that warms what is read once per process (the organisation's row)."""
        call()
        counts = []
        for _ in range(calls):
            before = self.counter.count
            call()
            counts.append(self.counter.count - before)
        return min(counts), max(counts)

    def where_time_goes(self, call: Callable[[], Any], n: int = 6) -> dict[str, Any]:
        """One call, timed, and each of its statements run again alone on a connection of
        our own (execute and fetch every row, CPU time, best of two): how much of the call is
        SQLite, and which statements cost most. Each statement also gets its span, from its
        start to the next one's (its execution, fetching, and the Python using its rows)."""
        import sqlite3

        self.counter.marks = []
        self.counter.timing = True
        started, cpu = time.perf_counter(), time.process_time()
        try:
            call()
        finally:
            ended, cpu = time.perf_counter(), time.process_time() - cpu
            self.counter.timing = False
        marks = self.counter.marks
        conn = sqlite3.connect(dataset.db_path(self.org.data_dir))
        by_sql: dict[str, list[float]] = {}  # statement -> [alone CPU ms, span ms, runs]
        try:
            for i, (at, statement, parameters, _executed) in enumerate(marks):
                following = marks[i + 1][0] if i + 1 < len(marks) else ended
                entry = by_sql.setdefault(statement, [0.0, 0.0, 0])
                entry[1] += (following - at) * 1000
                entry[2] += 1
                if statement.split(None, 1)[0].upper() not in ("SELECT", "WITH"):
                    continue
                best = float("inf")
                for _ in range(2):
                    t = time.process_time()
                    conn.execute(statement, parameters).fetchall()
                    best = min(best, (time.process_time() - t) * 1000)
                entry[0] += best
        finally:
            conn.close()
        sql_ms = sum(e[0] for e in by_sql.values())
        costliest = sorted(by_sql.items(), key=lambda item: item[1][0], reverse=True)[:n]
        return {
            "wall_ms": round((ended - started) * 1000, 2),
            "cpu_ms": round(cpu * 1000, 2),
            "statements": len(marks),
            "sql_alone_cpu_ms": round(sql_ms, 2),
            "costliest": [
                {"alone_cpu_ms": round(alone, 2), "span_ms": round(span, 2), "runs": runs,
                 "sql": " ".join(statement.split())}
                for statement, (alone, span, runs) in costliest
            ],
        }  # fmt: skip

    def profile(self, call: Callable[[], Any], n: int = 25) -> str:
        import io

        # bench/profile.py would shadow the standard library's ``profile`` that cProfile uses.
        here = str(Path(__file__).resolve().parent)
        saved = sys.path[:]
        sys.path[:] = [p for p in sys.path if str(Path(p or ".").resolve()) != here]
        try:
            import cProfile
            import pstats
        finally:
            sys.path[:] = saved

        profiler = cProfile.Profile()
        profiler.enable()
        call()
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(n)
        return out.getvalue()

    def close(self) -> None:
        self.db.engine_of(self.app).dispose()


def timed(call: Callable[[], Any]) -> tuple[float, float]:
    """Wall-clock and CPU milliseconds of one call."""
    started, cpu = time.perf_counter(), time.process_time()
    call()
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000


# -- the real server, for latency at a fixed rate ----------------------------------------------


def server_login(base: str) -> str:
    """The organiser's session cookie on a running server."""
    import checkin

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), checkin._NoRedirect()
    )
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=10) as r:
        token = CSRF_RE.search(r.read().decode())
    form = {"username": dataset.ORGANISER, "password": ORGANISER_PASSWORD}
    if token:
        form["csrf_token"] = token[1]
    try:
        opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=10)
    except urllib.error.HTTPError as exc:  # the redirect after a successful login
        if exc.code not in (302, 303):
            raise SystemExit(f"the organiser's login answered {exc.code}") from None
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def latency_section(subject: Subject, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    import checkin

    server = checkin.Server(
        subject.org.data_dir, args.workers, folder / "access.log", folder / "server.err"
    )
    try:
        server.wait_ready()
        headers = {"Cookie": server_login(server.base), "User-Agent": USER_AGENT}
        requests = [
            raw_request(
                "GET", f"/boards/{branch}?period={subject.period.key}", server.host, headers
            )
            for branch in subject.branch_ids
        ]

        def run(rate: float, duration: float) -> OpenLoopResult:
            return run_open_loop(
                "127.0.0.1", server.port, lambda i: requests[i % len(requests)], rate, duration
            )

        warm = run(2, 2.0)  # both workers: statements, templates, SQLite's page cache
        if warm.errors or any(b"<html" not in s.body.lower() for s in warm.ok):
            raise SystemExit(f"the board page through gunicorn failed: {warm.samples[0].status}")
        result = run(args.rate, args.latency_duration)
        stalls = result.client_stalls()
    finally:
        server.stop()
    print(f"  board page at {args.rate:g} req/s ({args.workers} workers): {result.summary()}")
    if stalls:
        print(
            "    the load generator itself was held up at "
            + ", ".join(f"{second} s ({lag:.0f} ms)" for second, lag in stalls[:6])
            + ": the machine stalled (other jobs)"
        )
    return {
        "rate": args.rate,
        "duration_s": args.latency_duration,
        "workers": args.workers,
        "sent": len(result.samples),
        "errors": result.errors,
        "p50_ms": round(result.p50, 2),
        "p99_ms": round(result.p99, 2),
        "max_ms": round(max(s.latency_ms for s in result.samples), 2),
        "client_stalls": len(stalls),
    }


# -- the run ----------------------------------------------------------------------------------


def last_quarter_key(day: date) -> str:
    """The last whole quarter before ``day``'s quarter, written 2026-Q3."""
    quarter = (day.month - 1) // 3  # 0..3, this quarter
    year, previous = (day.year, quarter - 1) if quarter else (day.year - 1, 3)
    return f"{year}-Q{previous + 1}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter runs")
    parser.add_argument("--branches", type=int, default=1000, help="the large organisation")
    parser.add_argument("--small", type=int, default=10, help="the small organisation")
    parser.add_argument("--per-branch", type=int, default=50, help="members per branch")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds")
    parser.add_argument("--rate", type=float, default=2.0, help="board pages a second (latency)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (latency)")
    parser.add_argument("--latency-duration", type=float, default=None, help="seconds (latency)")
    parser.add_argument("--no-latency", action="store_true", help="skip the served section")
    parser.add_argument("--statements", action="store_true", help="where one call's time goes")
    parser.add_argument(
        "--profile", choices=("board", "overview"), default=None,
        help="cProfile one call of the large organisation",
    )  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).with_name("boards-results.json")
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (3 if args.quick else 8)
    args.latency_duration = args.latency_duration or (8.0 if args.quick else 20.0)
    return args


#: What is measured, per round: (figure, per organisation, calls per round).
FIGURES = (
    ("board", True, 5),
    ("overview", True, 1),
    ("board page", True, 5),
    ("overview page", True, 1),
    ("healthz", False, 20),
    ("SELECT 1", False, 20),
)


def _call(subject: Subject, figure: str) -> Callable[[], Any]:
    return {
        "board": subject.board,
        "overview": subject.overview,
        "board page": subject.board_page,
        "overview page": subject.overview_page,
        "healthz": subject.healthz,
        "SELECT 1": subject.trivial_query,
    }[figure]


def check_samples(small: Subject, large: Subject) -> None:
    """One of each call, checked for what it should hold, before anything is timed: the
    overview has a row per branch, each measured board's head equals its row, pages are HTML."""
    from qrservice.boards.board import branch_board
    from qrservice.boards.overview import overview
    from qrservice.models import Unit

    for subject in (small, large):
        with subject.session() as s:
            branch = s.get(Unit, subject.branch_ids[0])
            board = branch_board(s, branch, subject.period, subject.today)
            rows = overview(
                s, s.get(Unit, subject.committee_id), subject.period, subject.today
            ).rows
            if len(rows) != subject.org.branches:
                raise SystemExit(
                    f"overview of {subject.org.branches} branches has {len(rows)} rows"
                )
            print(
                f"  sample {subject.org.branches:>5} branches, {subject.period.key}: compliance "
                f"{_spread(r.compliance.percent for r in rows)} %, attendance "
                f"{_spread(r.attendance.percent for r in rows)} %, dues "
                f"{_spread(r.dues.percent for r in rows)} %, warned "
                f"{sum(r.warned for r in rows):,}, targets checked "
                f"{sum(len(r.targets) for r in rows):,}; board of {branch.code}: "
                f"{board.measures.members} members, "
                f"{len(board.measures.compliance.missed)} missed slots, "
                f"{len(board.warned)} warned, {len(board.pending_leave)} leave and "
                f"{len(board.pending_makeup)} make-up pending, {len(board.untraced)} untraced"
            )
            # Each measured board's head is its branch's row of the overview.
            by_branch = {r.unit_id: r for r in rows}
            for branch_id in subject.branch_ids:
                head = branch_board(s, s.get(Unit, branch_id), subject.period, subject.today)
                if _head(head.measures) != _head(by_branch[branch_id]):
                    raise SystemExit(
                        f"the board of unit {branch_id} and its overview row differ: "
                        f"{_head(head.measures)} against {_head(by_branch[branch_id])}"
                    )
        for page in (subject.board_page(), subject.overview_page()):
            if b"<html" not in page.lower():
                raise SystemExit("a board page is not HTML")


def _head(m: Any) -> tuple[Any, ...]:
    """What a board's head and an overview row both show (the amount owed is the board's)."""
    dues = dataclasses.replace(m.dues, owed_fen=None)
    return (m.members, m.compliance.percent, m.attendance, dues, m.points.total, m.yellow, m.red)


def _spread(values: Any) -> str:
    present = sorted(v for v in values if v is not None)
    return f"{present[0]}–{present[-1]}" if present else "–"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import checkin

    started = time.monotonic()
    for line in checkin.machine_info():
        print(line)
    small_org = dataset.cached_boards(args.small, args.per_branch)
    large_org = dataset.cached_boards(args.branches, args.per_branch)
    for org in (small_org, large_org):
        print(
            f"organisation of {org.branches:,} branches x {org.per_branch} members "
            f"({org.data_dir}): built {org.built_on} in {org.build_seconds:.0f} s"
        )
    period_key = last_quarter_key(min(small_org.built_on, large_org.built_on))
    small, large = Subject(small_org, period_key), Subject(large_org, period_key)
    subjects = {"small": small, "large": large}
    checks: list[tuple[str, float, float, float]] = []  # (figure, wall, CPU, target) ms
    results: dict[str, Any] = {"period": period_key, "build_seconds": {}}
    try:
        print(f"\n== samples (period {period_key}, today {small.today}) ==", flush=True)
        check_samples(small, large)
        timings: dict[str, Timings] = {}
        for figure, per_org, _n in FIGURES:
            for size, subject in subjects.items() if per_org else [("", small)]:
                label = f"{figure} ({size})" if per_org else figure
                calls = len(subject.branch_ids) if "board" in figure else 1
                timings[label] = Timings(
                    label, statements=subject.statements_of(_call(subject, figure), calls)
                )
        print(f"\n== in process: {args.rounds} rounds, interleaved; wall-clock ms ==", flush=True)
        for _round in range(args.rounds):
            for figure, per_org, n in FIGURES:
                for size, subject in subjects.items() if per_org else [("", small)]:
                    label = f"{figure} ({size})" if per_org else figure
                    call = _call(subject, figure)
                    for _ in range(n):
                        wall, cpu = timed(call)
                        timings[label].ms.append(wall)
                        timings[label].cpu_ms.append(cpu)
        reference = timings["healthz"].median
        reference_cpu = timings["healthz"].median_cpu
        print(
            f"  {'figure':<24} {'median':>9} {'p95':>9} {'CPU':>9} {'statements':>10} "
            f"{'x healthz':>10} {'CPU x':>7}"
        )
        for label, t in timings.items():
            print(
                f"  {label:<24} {t.median:9.2f} {t.p95:9.2f} {t.median_cpu:9.2f} "
                f"{t.statements_text:>10} {t.median / reference:10.1f} "
                f"{t.median_cpu / reference_cpu:7.1f}"
            )
        print("\n  large / small (medians of wall-clock, of CPU time):")
        ratios = {}
        for figure, per_org, _n in FIGURES:
            if per_org:
                big, small_t = timings[f"{figure} (large)"], timings[f"{figure} (small)"]
                ratio = big.median / small_t.median
                ratio_cpu = big.median_cpu / small_t.median_cpu
                ratios[figure] = {"wall": round(ratio, 2), "cpu": round(ratio_cpu, 2)}
                print(
                    f"    {figure:<14} {ratio:6.2f}x  {ratio_cpu:6.2f}x   statements "
                    f"{small_t.statements_text} -> {big.statements_text}"
                )
        for label, limit in (
            ("board (large)", TARGET_BOARD_MS),
            ("board page (large)", TARGET_BOARD_MS),
            ("overview (large)", TARGET_OVERVIEW_MS),
            ("overview page (large)", TARGET_OVERVIEW_MS),
        ):
            t = timings[label]
            checks.append((label, t.median, t.median_cpu, limit))
        results["timings"] = {label: t.as_dict() for label, t in timings.items()}
        results["large_over_small"] = ratios
        results["reference"] = {
            "healthz_ms": round(reference, 3),
            "healthz_cpu_ms": round(reference_cpu, 3),
            "select1_ms": round(timings["SELECT 1"].median, 3),
        }
        if args.statements:
            print(
                "\n== where one call's time goes, large organisation (each statement run again "
                "alone: CPU ms; span: from its start to the next statement's) =="
            )
            results["statements"] = {}
            for figure, call in (("board", large.board), ("overview", large.overview)):
                found = large.where_time_goes(call)
                results["statements"][figure] = found
                sql_ms = found["sql_alone_cpu_ms"]
                print(
                    f"  {figure}: {found['wall_ms']:.0f} ms, CPU {found['cpu_ms']:.0f} ms, of "
                    f"which its {found['statements']} statements alone {sql_ms:.0f} ms; the rest "
                    "is Python (SQLAlchemy, our code)"
                )
                for item in found["costliest"]:
                    runs = f", {item['runs']} runs" if item["runs"] > 1 else ""
                    print(
                        f"    {item['alone_cpu_ms']:8.2f} ms alone (span {item['span_ms']:7.2f}"
                        f"{runs})  {item['sql'][:110]}"
                    )
        if args.profile:
            call = {"board": large.board, "overview": large.overview}[args.profile]
            print(f"\n== cProfile of one {args.profile}, large organisation ==")
            print(large.profile(call))
        if not args.no_latency:
            print("\n== latency: open loop against gunicorn, large organisation ==", flush=True)
            with tempfile.TemporaryDirectory(prefix="qrservice-boards-") as folder:
                results["latency"] = latency_section(large, args, Path(folder))
    finally:
        small.close()
        large.close()

    results["build_seconds"] = {
        f"{o.branches}x{o.per_branch}": o.build_seconds for o in (small_org, large_org)
    }
    print(
        "\n== summary (the target is on wall-clock time; CPU time says what a machine to\n"
        "   ourselves would give, when other jobs take the cores) =="
    )
    failed = False
    for label, wall, cpu, limit in checks:
        failed |= wall > limit
        print(
            f"  {label:<24} median {wall:8.1f} ms {'PASS' if wall <= limit else 'FAIL'}   "
            f"CPU {cpu:8.1f} ms {'PASS' if cpu <= limit else 'FAIL'}   target <= {limit:g} ms"
        )
    results["checks"] = [
        {"figure": label, "median_ms": round(wall, 2), "median_cpu_ms": round(cpu, 2),
         "target_ms": limit, "ok": wall <= limit, "cpu_ok": cpu <= limit}
        for label, wall, cpu, limit in checks
    ]  # fmt: skip
    results["machine"] = checkin.machine_info()
    args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    outcome = "some targets missed" if failed else "all targets met"
    print(f"total {time.monotonic() - started:.0f} s; {outcome}; figures in {args.json}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
