"""Benchmark: meeting check-in and the card page under gunicorn, against hello-world.

    python bench/checkin.py [--duration 10] [--warmup 3] [--connections 32] [--keep]

Builds a fresh data folder in a temp directory (``qrservice init-db``, then the demo plus
2,000 members of branch B01 with cards and 20 open meetings of that branch, made with the
app's own functions), starts ``qrservice serve`` (gunicorn, sync workers, one per core) on a
free port of 127.0.0.1 and loads it with wrk, four runs in a row, each after a short warm-up:

1. hello     ``GET /healthz`` (the app's own "ok" route): the reference;
2. check-in  ``POST /api/v1/meetings/<id>/checkins`` as branch B01's secretary, every request a
             new (meeting, member) pair with its own nonce, so every answer inserts a row;
3. card page ``GET /c/<token>`` as a stranger (no cookie), cycling over every card;
4. hello     again, so the reference brackets the runs it is compared with.

The machine is shared and wrk runs on the same cores as the server, so only ratios measured
in the same run mean anything. Prints a table with PASS/FAIL per target and exits non-zero if
a target fails or the check that the answers were real (2xx, one new attendance row per
check-in) does not hold.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.cookiejar
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from cards.tokens import card_url  # noqa: E402
from qrservice import create_app, db  # noqa: E402
from qrservice.audit import Actor  # noqa: E402
from qrservice.demo import GIVEN, SECRETARY_PASSWORD, SURNAMES, build_demo  # noqa: E402
from qrservice.issuance import active_card, issue_cards  # noqa: E402
from qrservice.meetings import MeetingFields, create_meeting, open_checkin  # noqa: E402
from qrservice.members import clean_member, create_member  # noqa: E402
from qrservice.models import Attendance, Card, Member, Unit  # noqa: E402
from qrservice.signing_keys import key_ring  # noqa: E402
from qrservice.timeutil import utcnow  # noqa: E402

BRANCH = "B01"
SECRETARY = "secretary1"  # the demo's secretary of B01
#: wrk and the login send the same User-Agent: Flask-Login's session protection compares the
#: session's identifier (address and User-Agent) with the request's.
USER_AGENT = "qrservice-bench/1"
#: Check-ins sent with urllib before the load, to see the answer wrk will get.
SAMPLES = 3
CARD_BATCH = 200

TARGET_CHECKIN_RATIO = 0.35
TARGET_CARD_RATIO = 0.30
TARGET_P99_MS = 30.0
#: Hello runs further apart than this (relative to their mean) mean the machine was busy.
NOISY = 0.15


# -- data ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Dataset:
    meeting_ids: list[int]
    #: (meeting id, member id, card URL): each one check-in that must insert a new row.
    pairs: list[tuple[int, int, str]]
    #: Every active card's token (the demo's members and the extra ones).
    tokens: list[str]


def build_data(data_dir: Path, n_members: int, n_meetings: int) -> Dataset:
    subprocess.run(
        [sys.executable, "-m", "qrservice.cli", "init-db"],
        env=server_env(data_dir), check=True, stdout=subprocess.DEVNULL, timeout=120,
    )  # fmt: skip
    app = create_app(data_dir=data_dir)
    today = date.today()
    rng = random.Random(20260801)
    actor = Actor.system("bench")
    key = app.config["ID_HASH_KEY"]
    base = app.config["PUBLIC_BASE_URL"]
    with app.app_context():
        ring = key_ring()
        with db.transaction(app) as s:
            build_demo(s, key, today, ring=ring)
            branch = s.scalar(select(Unit).where(Unit.code == BRANCH))
            member_ids = []
            for i in range(n_members):
                joined = today - timedelta(days=rng.randint(400, 30 * 365))
                raw = {
                    "number": f"9{i:07d}",
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "gender": rng.choice(("male", "female")),
                    "phone": f"13{rng.randint(0, 9)}{rng.randint(10000000, 99999999)}",
                    "joined_on": joined.isoformat(),
                    "status": "full",
                    "unit": BRANCH,
                    "floating": "no",
                }
                clean = clean_member(raw, {BRANCH: branch}, today)
                member_ids.append(create_member(s, actor, clean, key).id)
            now = utcnow()
            meetings = []
            for i in range(n_meetings):
                fields = MeetingFields(
                    unit=branch, kind="branch_general", title=f"压测会议 {i + 1}",
                    starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=3),
                )  # fmt: skip
                meeting = create_meeting(s, actor, fields)
                open_checkin(s, actor, meeting)
                meetings.append(meeting.id)
        # Cards in batches, each in a session of its own: issue_card's member lock costs time
        # in proportion to the objects the session holds (see bench/README.md).
        for first in range(0, len(member_ids), CARD_BATCH):
            with db.transaction(app) as s:
                batch = member_ids[first : first + CARD_BATCH]
                members = s.scalars(select(Member).where(Member.id.in_(batch)).order_by(Member.id))
                issue_cards(s, actor, list(members), ring)
        with db.transaction(app) as s:
            urls = {i: card_url(base, active_card(s, i).token) for i in member_ids}
            tokens = list(s.scalars(select(Card.token).where(Card.status == "active")))
    db.engine_of(app).dispose()
    pairs = [(mid, member_id, urls[member_id]) for mid in meetings for member_id in urls]
    return Dataset(meetings, pairs, tokens)


class Counter:
    """Reads attendance from the benchmark's database between runs (the server is idle)."""

    def __init__(self, data_dir: Path, meeting_ids: list[int]) -> None:
        self.app = create_app(data_dir=data_dir)
        self.meeting_ids = meeting_ids

    def rows(self) -> int:
        with self.app.app_context(), db.transaction(self.app) as s:
            return s.scalar(
                select(func.count())
                .select_from(Attendance)
                .where(Attendance.meeting_id.in_(self.meeting_ids))
            )

    def settled_rows(self, timeout: float = 10.0) -> int:
        """The row count once it stops changing: when wrk stops at its deadline, the server
        still answers the requests already sent (up to one per connection)."""
        deadline = time.monotonic() + timeout
        last = self.rows()
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self.rows()
            if now == last:
                break
            last = now
        return last

    def unused(self, pairs: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
        with self.app.app_context(), db.transaction(self.app) as s:
            used = {
                (meeting_id, member_id)
                for meeting_id, member_id in s.execute(
                    select(Attendance.meeting_id, Attendance.member_id).where(
                        Attendance.meeting_id.in_(self.meeting_ids)
                    )
                )
            }
        return [p for p in pairs if (p[0], p[1]) not in used]

    def kinds(self) -> dict[tuple[str, str, str], int]:
        """(status, via, recorded_by) → rows: every benchmark row should be a secretary's scan."""
        with self.app.app_context(), db.transaction(self.app) as s:
            rows = s.execute(
                select(Attendance.status, Attendance.via, Attendance.recorded_by, func.count())
                .where(Attendance.meeting_id.in_(self.meeting_ids))
                .group_by(Attendance.status, Attendance.via, Attendance.recorded_by)
            ).all()
        return {(a, b, c): n for a, b, c, n in rows}

    def close(self) -> None:
        db.engine_of(self.app).dispose()


# -- server -------------------------------------------------------------------------------


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "QRSERVICE_ENV")}
    env["QRSERVICE_DATA"] = str(data_dir)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``qrservice serve`` as a child process in its own process group."""

    def __init__(self, data_dir: Path, workers: int, access_log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(access_log, "wb")  # noqa: SIM115 - closed in stop()
        self.errors = open(data_dir / "server.err", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qrservice.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers)],
            env=server_env(data_dir), stdout=self.log, stderr=self.errors, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
        self.err_path = data_dir / "server.err"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited:\n{self.err_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as r:
                    if r.read() == b"ok":
                        return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"server not ready after {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.log.close()
        self.errors.close()


# -- the secretary's session --------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass(frozen=True)
class Login:
    cookie: str
    csrf: str


def log_in(base: str) -> Login:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=10) as r:
        form_token = CSRF_RE.search(r.read().decode())
    assert form_token, "no csrf_token on the login page"
    form = {"username": SECRETARY, "password": SECRETARY_PASSWORD, "csrf_token": form_token[1]}
    with opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=10) as r:
        page = r.read().decode()  # the page after the redirect carries the logout form's token
    token = CSRF_RE.search(page)
    assert token and "/logout" in page, "the secretary's login failed"
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return Login(cookie, token[1])


def checkin_path(meeting_id: int) -> str:
    return f"/api/v1/meetings/{meeting_id}/checkins"


def nonce_of(index: int) -> str:
    return f"bench-{index:010d}"  # 16 characters: the shortest nonce the API takes


def checkin_body(url: str, index: int) -> str:
    return json.dumps({"code": url, "nonce": nonce_of(index), "via": "scan"})


def sample_checkins(base: str, login: Login, pairs: list[tuple[int, int, str]]) -> list[dict]:
    answers = []
    for i, (meeting_id, _, url) in enumerate(pairs):
        request = urllib.request.Request(
            base + checkin_path(meeting_id), data=checkin_body(url, 10**9 + i).encode(),
            headers={"Cookie": login.cookie, "X-CSRFToken": login.csrf,
                     "Content-Type": "application/json", "User-Agent": USER_AGENT},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                answers.append(json.loads(r.read()))
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"sample check-in answered {exc.code}: {exc.read()[:300]!r}") from None
    return answers


def sample_card_page(base: str, token: str) -> tuple[int, int]:
    request = urllib.request.Request(base + "/c/" + token, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status, len(r.read())


# -- wrk ----------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        raise ValueError(f"not a simple Lua string: {text!r}")
    return f'"{text}"'


LUA_COMMON = """\
-- Written by bench/checkin.py for one wrk run; each wrk thread takes a disjoint share.
local data_file = {data_file}
local thread_count = {threads}
local next_index = 0
function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end
"""

LUA_CHECKIN = """\
wrk.method = "POST"
wrk.headers["Cookie"] = {cookie}
wrk.headers["X-CSRFToken"] = {csrf}
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = {user_agent}
local queue = {{}}
local position = 0
local spent
function init(args)
  local n = 0
  for line in io.lines(data_file) do
    if n % thread_count == thread_index then
      local path, body = line:match("^(%S+) (.+)$")
      queue[#queue + 1] = wrk.format("POST", path, nil, body)
    end
    n = n + 1
  end
  -- Once this thread's pairs are used up it asks for a missing page: the 404s show up as
  -- "Non-2xx" instead of passing for check-ins.
  spent = wrk.format("GET", "/bench/pairs-used-up", nil, nil)
end
function request()
  position = position + 1
  return queue[position] or spent
end
"""

LUA_CARD = """\
wrk.method = "GET"
wrk.headers["User-Agent"] = {user_agent}
local queue = {{}}
local position = 0
function init(args)
  for line in io.lines(data_file) do
    queue[#queue + 1] = wrk.format("GET", line)
  end
  position = (thread_index * math.floor(#queue / thread_count)) % #queue
end
function request()
  position = position % #queue + 1
  return queue[position]
end
"""


def write_checkin_script(
    folder: Path, name: str, pairs: list[tuple[int, int, str]], first_index: int,
    login: Login, threads: int,
) -> Path:  # fmt: skip
    data = folder / f"{name}.txt"
    with data.open("w") as f:
        for i, (meeting_id, _, url) in enumerate(pairs):
            f.write(f"{checkin_path(meeting_id)} {checkin_body(url, first_index + i)}\n")
    script = folder / f"{name}.lua"
    script.write_text(
        LUA_COMMON.format(data_file=lua_string(str(data)), threads=threads)
        + LUA_CHECKIN.format(
            cookie=lua_string(login.cookie),
            csrf=lua_string(login.csrf),
            user_agent=lua_string(USER_AGENT),
        )  # fmt: skip
    )
    return script


def write_card_script(folder: Path, tokens: list[str], threads: int) -> Path:
    data = folder / "cards.txt"
    data.write_text("".join(f"/c/{t}\n" for t in tokens))
    script = folder / "cards.lua"
    script.write_text(
        LUA_COMMON.format(data_file=lua_string(str(data)), threads=threads)
        + LUA_CARD.format(user_agent=lua_string(USER_AGENT))
    )
    return script


@dataclasses.dataclass(frozen=True)
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    output: str


UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    def find(pattern: str) -> re.Match[str]:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise SystemExit(f"cannot read wrk's output ({pattern!r}):\n{output}")
        return match

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return WrkResult(
        requests=int(find(r"(\d+) requests in")[1]),
        rps=float(find(r"Requests/sec:\s+([\d.]+)")[1]),
        p50_ms=_ms(find(r"^\s+50%\s+(\S+)")[1]),
        p99_ms=_ms(find(r"^\s+99%\s+(\S+)")[1]),
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=errors[1] if errors else "",
        output=output,
    )


def run_wrk(
    url: str, seconds: float, threads: int, connections: int, script: Path | None = None
) -> WrkResult:
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "--timeout", "5s"]  # fmt: skip
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return parse_wrk(done.stdout)


# -- report -------------------------------------------------------------------------------


def machine_info() -> list[str]:
    def command(*args: str) -> str:
        try:
            return subprocess.run(
                args, capture_output=True, text=True, cwd=ROOT, timeout=10
            ).stdout.strip()
        except OSError:
            return "?"

    commit = command("git", "rev-parse", "--short", "HEAD") or "?"
    changed = command("git", "status", "--porcelain", "--untracked-files=no")
    dirty = " (with uncommitted changes)" if changed else ""
    import gunicorn

    return [
        f"cores: nproc {command('nproc')}, os.cpu_count {os.cpu_count()}; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python {platform.python_version()}, gunicorn {gunicorn.__version__}, "
        f"sqlite {sqlite3.sqlite_version}, {command('wrk', '-v').splitlines()[0:1] or ['wrk ?']}",
        f"git commit {commit}{dirty}",
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--members", type=int, default=2000, help="extra members in B01")
    parser.add_argument("--meetings", type=int, default=20, help="open meetings of B01")
    parser.add_argument(
        "--access-log", default=None, help="file for gunicorn's access log [temp folder]"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    started = time.monotonic()
    for line in machine_info():
        print(line)

    folder = Path(tempfile.mkdtemp(prefix="qrservice-bench-"))
    data_dir = folder / "data"
    server = None
    counter = None
    try:
        print(f"building data in {data_dir} ...", flush=True)
        t0 = time.monotonic()
        data = build_data(data_dir, args.members, args.meetings)
        print(
            f"  demo + {args.members} members of {BRANCH} with cards, {len(data.meeting_ids)} "
            f"open meetings: {len(data.pairs)} check-in pairs, {len(data.tokens)} cards "
            f"({time.monotonic() - t0:.1f} s)"
        )
        access_log = Path(args.access_log) if args.access_log else folder / "access.log"
        server = Server(data_dir, args.workers, access_log)
        server.wait_ready()
        print(f"gunicorn: {args.workers} sync workers on {server.base} (access log {access_log})")
        counter = Counter(data_dir, data.meeting_ids)

        login = log_in(server.base)
        samples, pairs = data.pairs[:SAMPLES], data.pairs[SAMPLES:]
        answers = sample_checkins(server.base, login, samples)
        for answer in answers:
            if answer.get("status") != "ok" or answer.get("replayed"):
                raise SystemExit(f"a sample check-in was not a new 'ok': {answer}")
        print(f"  sample check-ins: {[a['status'] + ' ' + a['message'] for a in answers]}")
        status, size = sample_card_page(server.base, data.tokens[-1])
        if status != 200:
            raise SystemExit(f"sample card page answered {status}")
        print(f"  sample card page: {status}, {size} bytes")

        w = dict(threads=args.threads, connections=args.connections)
        results: dict[str, WrkResult] = {}
        checks: list[tuple[str, bool, str]] = []
        hello_url = server.base + "/healthz"

        def measure(label: str, url: str, script: Path | None = None) -> WrkResult:
            result = run_wrk(url, args.duration, script=script, **w)
            print(
                f"  {label:<10} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.2f} ms  "
                f"p99 {result.p99_ms:6.2f} ms  ({result.requests} requests"
                f"{f', {result.non_2xx} non-2xx' if result.non_2xx else ''}"
                f"{f', socket errors: {result.socket_errors}' if result.socket_errors else ''})",
                flush=True,
            )
            results[label] = result
            return result

        print(
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration:g}s --latency, "
            f"each run after {args.warmup:g} s of warm-up:",
            flush=True,
        )
        run_wrk(hello_url, args.warmup, **w)
        measure("hello #1", hello_url)

        # Check-in: the warm-up takes pairs from the same list; the measured run gets the rest.
        warm = write_checkin_script(folder, "checkin-warmup", pairs, 0, login, args.threads)
        run_wrk(server.base, args.warmup, script=warm, **w)
        before = counter.settled_rows()
        left = counter.unused(pairs)
        script = write_checkin_script(folder, "checkin", left, len(pairs), login, args.threads)
        checkin = measure("check-in", server.base, script)
        inserted = counter.settled_rows() - before
        # wrk stops counting at the deadline; the server still answers what is in flight.
        real = checkin.non_2xx == 0 and checkin.requests <= inserted <= checkin.requests + (
            args.connections
        )
        checks.append((
            "check-in answers are new rows",
            real,
            f"{checkin.requests} answered, {inserted} rows inserted, {checkin.non_2xx} non-2xx"
            f"{'' if len(left) > inserted else ' - PAIRS USED UP: raise --members/--meetings'}",
        ))  # fmt: skip

        cards = write_card_script(folder, data.tokens, args.threads)
        run_wrk(server.base, args.warmup, script=cards, **w)
        card = measure("card page", server.base, cards)
        checks.append(("card pages answered 2xx", card.non_2xx == 0, f"{card.non_2xx} non-2xx"))

        run_wrk(hello_url, args.warmup, **w)
        measure("hello #2", hello_url)
        kinds = counter.kinds()
        scans = sum(
            n for (st, via, by), n in kinds.items() if via == "scan" and by.endswith(SECRETARY)
        )
        checks.append((
            "every row is the secretary's scan",
            scans == sum(kinds.values()),
            ", ".join(f"{st}/{via}/{by}: {n}" for (st, via, by), n in sorted(kinds.items())),
        ))  # fmt: skip
    finally:
        if counter is not None:
            counter.close()
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    hellos = [results["hello #1"].rps, results["hello #2"].rps]
    hello_mean, hello_min = statistics.mean(hellos), min(hellos)
    targets = {
        "check-in": (TARGET_CHECKIN_RATIO, TARGET_P99_MS),
        "card page": (TARGET_CARD_RATIO, TARGET_P99_MS),
    }
    print()
    print(
        f"{'run':<10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6} {'(/min)':>6}  "
        f"{'target':<24} result"
    )
    failed = False
    for label, result in results.items():
        ratio = result.rps / hello_mean
        line = (
            f"{label:<10} {result.rps:8.1f} {result.p50_ms:7.2f} {result.p99_ms:7.2f} "
            f"{ratio:6.2f} {result.rps / hello_min:6.2f}  "
        )
        if label in targets:
            min_ratio, max_p99 = targets[label]
            ok_ratio, ok_p99 = ratio >= min_ratio, result.p99_ms <= max_p99
            failed |= not (ok_ratio and ok_p99)
            line += (
                f"{f'ratio >= {min_ratio:.2f}, p99 <= {max_p99:.0f}':<24} "
                f"ratio {verdict(ok_ratio)}, p99 {verdict(ok_p99)}"
            )
        print(line)
    spread = abs(hellos[0] - hellos[1]) / hello_mean
    print(
        f"ratio: req/s over the mean of the two hello runs ({hello_mean:.1f}); (/min): over the "
        f"slower one. The hello runs differ by {spread:.0%}."
    )
    if spread > NOISY:
        print(
            f"warning: the hello runs differ by more than {NOISY:.0%}: something else was using "
            "the cores, so the ratios are uncertain; run the benchmark again."
        )
    print(
        f"note: with {args.connections} connections always busy, the mean latency is "
        f"{args.connections} / throughput, so p99 <= {TARGET_P99_MS:.0f} ms needs at least "
        f"{args.connections / TARGET_P99_MS * 1000:.0f} req/s "
        f"({args.connections / TARGET_P99_MS * 1000 / hello_mean:.0%} of hello in this run)."
    )
    print()
    for name, ok, detail in checks:
        failed |= not ok
        print(f"check: {name}: {verdict(ok)} ({detail})")
    print(f"total {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
