"""Benchmark: check-in, the card page and the scanner's status call under gunicorn.

    python bench/checkin.py [--quick] [--sections capacity,latency,growth,memory] [--keep]

One command, four sections, every figure measured in this run (the machine is shared and the
load generator runs on the same two cores as the server, so only ratios and same-run
comparisons mean anything):

capacity  closed loop: ``wrk -t2 -c32`` against ``qrservice serve`` (gunicorn, sync workers, one
          per core), each route bracketed by hello-world (``GET /healthz``) runs, in rounds; a
          route's ratio is its req/s over the mean of the two hello runs around it, and the
          median over the rounds counts. Routes: check-in through the JSON API with the
          secretary's login session (every request a new (meeting, member) pair, so every answer
          inserts a row), check-in by a scanner device (bearer token), the card page as a
          stranger (no cookie), the card page unlocked on the member's phone (its signed
          cookie), and the status call (for the latency section's rates).
latency   open loop (``bench/openloop.py``): requests sent at a fixed rate, each timed from its
          scheduled send, at 100 req/s and at half the route's capacity measured above.
growth    the same three routes at a low fixed rate against the organisation of 1,000 members
          and that of 100,000 members (a year of attendance each, ``bench/dataset.py``,
          built once and cached in ``bench/.cache/``), alternating; the ratio of the p50s.
memory    ``bench/badges.py --memory``: the peak RSS of a process printing a 10,000-badge sheet
          through the app's own route.

Prints the machine, the commit, each section's table with PASS/FAIL per target and exits 1 if
a target or a check (every check-in answered ``ok`` and inserted its row) fails. Only ever
targets 127.0.0.1. ``--quick`` runs shorter and fewer rounds (about two minutes once the
organisations are cached); the first run builds the 100,000-member organisation (a few
minutes, once).
"""

from __future__ import annotations

import argparse
import dataclasses
import http.cookiejar
import importlib.util
import json
import os
import platform
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
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dataset  # noqa: E402
from dataset import OPEN_TITLE, SCAN_BRANCH, SECRETARY, sql_time  # noqa: E402
from openloop import OpenLoopResult, raw_request, run_open_loop  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: wrk and the login send the same User-Agent: Flask-Login's session protection compares the
#: session's identifier (address and User-Agent) with the request's.
USER_AGENT = "qrservice-bench/2"
#: The scanner device the benchmark pairs (removed with the run's meetings).
DEVICE_NAME = "bench scanner"
SECRETARY_PASSWORD = "demo-secretary-2026"  # noqa: S105 - the demo's published password

TARGETS_CAPACITY = {"check-in": 0.35, "card page": 0.30, "card unlocked": 0.25}
TARGET_P99_AT_100_MS = 10.0
TARGET_P99_OVER_P50_AT_HALF = 3.0
TARGET_GROWTH = 1.5
TARGET_MEMORY_MB = 250.0
#: Hello runs further apart than this (relative to their mean) mean the machine was busy.
NOISY = 0.15


# -- the organisation of one run ------------------------------------------------------------


@dataclasses.dataclass
class RunData:
    org: dataset.Organisation
    base_url: str  # what the cards' codes point at
    scan_meetings: list[int]
    status_meeting: int
    #: (meeting id, member id, card URL): each one check-in that must insert a new row.
    pairs: list[tuple[int, int, str]]
    #: Every card's token.
    tokens: list[str]
    #: (token, unlock cookie value) of members outside the scan branch.
    unlocked: list[tuple[str, str]]
    #: A scanner device of the scan branch, to be paired (None before scanner devices exist).
    pairing_code: str | None = None
    used: int = 0  # pairs handed out so far

    def take(self, n: int) -> list[tuple[int, int, str]]:
        chunk = self.pairs[self.used : self.used + n]
        self.used += len(chunk)
        return chunk


def cleanup(org: dataset.Organisation) -> None:
    """Remove what earlier runs added (open meetings and their attendance)."""
    conn = dataset.connect(org.data_dir)
    try:
        conn.execute("BEGIN IMMEDIATE")
        ids = [
            r[0]
            for r in conn.execute("SELECT id FROM meeting WHERE title LIKE ?", (OPEN_TITLE + "%",))
        ]
        for first in range(0, len(ids), 500):
            chunk = ids[first : first + 500]
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM attendance WHERE meeting_id IN ({marks})", chunk)  # noqa: S608
            conn.execute(f"DELETE FROM meeting WHERE id IN ({marks})", chunk)  # noqa: S608
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'scanner_device'").fetchone():
            devices = [r[0] for r in conn.execute(
                "SELECT id FROM scanner_device WHERE name = ?", (DEVICE_NAME,)
            )]  # fmt: skip
            for device_id in devices:
                conn.execute(
                    "DELETE FROM audit_event WHERE entity_type = 'scanner_device' "
                    "AND entity_id = ?",
                    (device_id,),
                )
                conn.execute("DELETE FROM scanner_device WHERE id = ?", (device_id,))
        conn.execute("COMMIT")
    finally:
        conn.close()


def prepare(org: dataset.Organisation, n_meetings: int) -> RunData:
    """Open ``n_meetings`` meetings of the scan branch now, and one more for the status call
    with a third of its members checked in; collect codes and unlock cookies."""
    from itsdangerous import URLSafeSerializer

    from cards.tokens import card_url
    from qrservice import create_app
    from qrservice.timeutil import utcnow

    cleanup(org)
    app = create_app(data_dir=org.data_dir)
    base = app.config["PUBLIC_BASE_URL"]
    # The card page's unlock cookie, signed as scan.views signs it after a right PIN.
    unlock = URLSafeSerializer(app.config["SECRET_KEY"], salt="qrservice.card-unlock")
    now = utcnow().replace(microsecond=0)
    conn = dataset.connect(org.data_dir)
    try:
        branch_id, branch_path = conn.execute(
            "SELECT id, path FROM unit WHERE code = ?", (SCAN_BRANCH,)
        ).fetchone()
        conn.execute("BEGIN IMMEDIATE")
        ids = []
        for i in range(n_meetings + 1):
            title = f"{OPEN_TITLE} {i}" if i < n_meetings else f"{OPEN_TITLE} status"
            cursor = conn.execute(
                "INSERT INTO meeting (unit_id, kind, title, starts_at, ends_at, place, "
                "remote_allowed, opens_before_min, closes_after_min, late_after_min, points, "
                "screen_code_ttl, status, opened_at, created_by, created_at) "
                "VALUES (?, 'branch_general', ?, ?, ?, NULL, 0, 30, 30, 10, 1, 30, 'open', ?, "
                "'bench', ?)",
                (
                    branch_id,
                    title,
                    sql_time(now - timedelta(minutes=5)),
                    sql_time(now + timedelta(hours=3)),
                    sql_time(now),
                    sql_time(now),
                ),
            )
            ids.append(cursor.lastrowid)
        members = conn.execute(
            "SELECT m.id, c.token FROM member m JOIN unit u ON u.id = m.unit_id "
            "JOIN card c ON c.member_id = m.id AND c.status = 'active' "
            "WHERE u.path LIKE ? AND m.active = 1 ORDER BY m.id",
            (branch_path + "%",),
        ).fetchall()
        status_meeting = ids[-1]
        for member_id, _ in members[: len(members) // 3]:
            conn.execute(
                "INSERT INTO attendance (meeting_id, member_id, status, via, checked_in_at, "
                "recorded_by) VALUES (?, ?, 'present', 'scan', ?, 'bench')",
                (status_meeting, member_id, sql_time(now - timedelta(minutes=2))),
            )
        conn.execute("COMMIT")
        cards = conn.execute(
            "SELECT c.member_id, c.token, u.path LIKE ? FROM card c "
            "JOIN member m ON m.id = c.member_id JOIN unit u ON u.id = m.unit_id "
            "WHERE c.status = 'active' ORDER BY c.id",
            (branch_path + "%",),
        ).fetchall()
    finally:
        conn.close()
    pairing_code = None
    if importlib.util.find_spec("qrservice.org.devices") is not None:
        from sqlalchemy import select

        from qrservice import db
        from qrservice.audit import Actor
        from qrservice.models import Unit
        from qrservice.org.devices import create_device

        with app.app_context(), db.transaction(app) as s:
            unit = s.scalar(select(Unit).where(Unit.code == SCAN_BRANCH))
            _, pairing_code = create_device(s, Actor.system("bench"), unit=unit, name=DEVICE_NAME)
        db.engine_of(app).dispose()
    pairs = [(mid, member, card_url(base, token)) for mid in ids[:-1] for member, token in members]
    unlocked = [
        (token, unlock.dumps({"u": {str(member): 1}, "t": token}))
        for member, token, in_scan_branch in cards
        if not in_scan_branch
    ]
    return RunData(
        org, base, ids[:-1], status_meeting, pairs, [t for _, t, _ in cards], unlocked, pairing_code
    )


def attendance_rows(org: dataset.Organisation, meeting_ids: list[int]) -> int:
    conn = dataset.connect(org.data_dir)
    try:
        marks = ",".join("?" * len(meeting_ids))
        return conn.execute(
            f"SELECT count(*) FROM attendance WHERE meeting_id IN ({marks})",  # noqa: S608
            meeting_ids,
        ).fetchone()[0]
    finally:
        conn.close()


def settled_rows(org: dataset.Organisation, meeting_ids: list[int], timeout: float = 10) -> int:
    """The row count once it stops changing: when wrk stops at its deadline, the server still
    answers the requests already sent (up to one per connection)."""
    deadline = time.monotonic() + timeout
    last = attendance_rows(org, meeting_ids)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = attendance_rows(org, meeting_ids)
        if now == last:
            break
        last = now
    return last


# -- server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``qrservice serve`` as a child process in its own process group."""

    def __init__(self, data_dir: Path, workers: int, access_log: Path, errors: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.host = f"127.0.0.1:{self.port}"
        self.log = open(access_log, "wb")  # noqa: SIM115 - closed in stop()
        self.err_path = errors
        self.errors = open(errors, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qrservice.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env=dataset.server_env(data_dir),
            stdout=self.log,
            stderr=self.errors,
            cwd=ROOT,
            start_new_session=True,
        )

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

    def worker_pids(self) -> list[int]:
        out = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout
        return [int(x) for x in out.split()]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the workers have used so far."""
        total = 0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

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


# -- the secretary's session ----------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass(frozen=True)
class Login:
    cookie: str
    csrf: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def log_in(base: str, meeting_id: int) -> Login:
    """The secretary's session cookie, and the CSRF token the scanner page of the meeting gives
    its API calls (what the scanner sends in X-CSRFToken)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect())
    opener.addheaders = [("User-Agent", USER_AGENT)]
    with opener.open(base + "/login", timeout=10) as r:
        form_token = CSRF_RE.search(r.read().decode())
    assert form_token, "no csrf_token on the login page"
    form = {"username": SECRETARY, "password": SECRETARY_PASSWORD, "csrf_token": form_token[1]}
    try:
        opener.open(base + "/login", urllib.parse.urlencode(form).encode(), timeout=10)
    except urllib.error.HTTPError as exc:  # the redirect after a successful login
        if exc.code not in (302, 303):
            raise SystemExit(f"the secretary's login answered {exc.code}") from None
    with opener.open(f"{base}/scan/meetings/{meeting_id}", timeout=10) as r:
        token = re.search(r'name="csrf-token" content="([^"]+)"', r.read().decode())
    assert token, "no CSRF token on the scanner page: the login failed?"
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return Login(cookie, token[1])


# -- the routes, as requests -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    cookie: str = ""
    body: str = ""


def checkin_requests(pairs: list[tuple[int, int, str]], first_nonce: int) -> list[Request]:
    return [
        Request(
            "POST",
            f"/api/v1/meetings/{meeting_id}/checkins",
            body=json.dumps({"code": url, "nonce": f"bench-{first_nonce + i:011d}", "via": "scan"}),
        )
        for i, (meeting_id, _, url) in enumerate(pairs)
    ]


@dataclasses.dataclass
class Route:
    label: str
    #: Requests for ``n`` sends; check-ins take new pairs, the others cycle.
    make: Callable[[int], list[Request]]
    headers: dict[str, str]
    #: Check-ins must each insert a row: the scan meetings to count rows in.
    counts_rows: bool = False


def routes_for(data: RunData, login: Login, nonce_base: list[int]) -> dict[str, Route]:
    api_headers = {
        "Cookie": login.cookie,
        "X-CSRFToken": login.csrf,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    plain = {"User-Agent": USER_AGENT}

    def checkins(n: int) -> list[Request]:
        pairs = data.take(n)
        nonce_base[0] += len(pairs)
        requests = checkin_requests(pairs, nonce_base[0] - len(pairs))
        # Once the pairs are used up the client asks for a missing page: the 404s show up as
        # errors instead of passing for check-ins.
        return requests + [Request("GET", "/bench/pairs-used-up")] * (n - len(requests))

    def cards(n: int) -> list[Request]:
        return [Request("GET", f"/c/{data.tokens[i % len(data.tokens)]}") for i in range(n)]

    def unlocked(n: int) -> list[Request]:
        items = data.unlocked
        return [
            Request(
                "GET", f"/c/{items[i % len(items)][0]}", cookie=f"qrcard={items[i % len(items)][1]}"
            )
            for i in range(n)
        ]

    def status(n: int) -> list[Request]:
        return [Request("GET", f"/api/v1/meetings/{data.status_meeting}/status")] * n

    return {
        "hello": Route("hello", lambda n: [Request("GET", "/healthz")] * n, plain),
        "check-in": Route("check-in", checkins, api_headers, counts_rows=True),
        "card page": Route("card page", cards, plain),
        "card unlocked": Route("card unlocked", unlocked, plain),
        "status": Route("status", status, api_headers),
    }


def device_route(data: RunData, server: Server, routes: dict[str, Route]) -> Route | None:
    """Check-in by a scanner device of the scan branch: paired through the API with the code
    ``prepare`` made, then its bearer token on every call (no cookie, no CSRF token). None
    where scanner devices do not exist."""
    if data.pairing_code is None:
        return None
    request = urllib.request.Request(
        server.base + "/api/v1/devices/pair", data=json.dumps({"code": data.pairing_code}).encode(),
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as answer:
        token = json.loads(answer.read())["token"]
    headers = {
        "Authorization": f"Bearer {token}", "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }  # fmt: skip
    return Route("by device", routes["check-in"].make, headers, counts_rows=True)


# -- wrk ----------------------------------------------------------------------------------


def lua_string(text: str) -> str:
    if not text.isascii() or not text.isprintable() or '"' in text or "\\" in text:
        raise ValueError(f"not a simple Lua string: {text!r}")
    return f'"{text}"'


LUA = """\
-- Written by bench/checkin.py for one wrk run; each wrk thread takes a disjoint share of the
-- requests in the data file (method, path, cookie, body separated by tabs), in order.
local data_file = {data_file}
local thread_count = {threads}
local cycle = {cycle}
local next_index = 0
function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end
{static_headers}
local queue = {{}}
local position = 0
local spent
function init(args)
  local n = 0
  for line in io.lines(data_file) do
    if n % thread_count == thread_index then
      local method, path, cookie, body = line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
      local headers = nil
      if cookie ~= "" then headers = {{["Cookie"] = cookie}} end
      if body == "" then body = nil end
      queue[#queue + 1] = wrk.format(method, path, headers, body)
    end
    n = n + 1
  end
  spent = wrk.format("GET", "/bench/pairs-used-up", nil, nil)
end
function request()
  position = position + 1
  if position > #queue then
    if not cycle then return spent end
    position = 1
  end
  return queue[position]
end
"""


def write_wrk_script(
    folder: Path,
    name: str,
    requests: list[Request],
    headers: dict[str, str],
    threads: int,
    cycle: bool,
) -> Path:
    data = folder / f"{name}.txt"
    with data.open("w") as f:
        for r in requests:
            f.write(f"{r.method}\t{r.path}\t{r.cookie}\t{r.body}\n")
    static = "\n".join(
        f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()
    )
    script = folder / f"{name}.lua"
    script.write_text(
        LUA.format(
            data_file=lua_string(str(data)),
            threads=threads,
            cycle="true" if cycle else "false",
            static_headers=static,
        )
    )
    return script


@dataclasses.dataclass
class WrkResult:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: str
    #: The server's CPU time per answer (both workers), which other jobs on the machine do
    #: not inflate the way they cut the throughput.
    cpu_ms: float = float("nan")


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
    )


#: The fastest check-in rate a wrk run is given requests for (check-ins are never reused).
WRK_EXPECTED_RPS = 3000


def wrk_requests(seconds: float, expected_rps: float = WRK_EXPECTED_RPS) -> int:
    """The check-ins (each a new pair) written for one wrk run of ``seconds`` at about
    ``expected_rps`` (at most WRK_EXPECTED_RPS: what ``scan_meetings_needed`` provides for)."""
    return int(min(expected_rps, WRK_EXPECTED_RPS) * seconds * 1.5) + 1000


class Wrk:
    def __init__(self, server: Server, folder: Path, threads: int, connections: int) -> None:
        self.server = server
        self.folder = folder
        self.threads = threads
        self.connections = connections
        self.runs = 0

    def run(
        self, route: Route, seconds: float, expected_rps: float = WRK_EXPECTED_RPS
    ) -> WrkResult:
        self.runs += 1
        n = wrk_requests(seconds, expected_rps) if route.counts_rows else 5000
        script = write_wrk_script(
            self.folder,
            f"wrk-{self.runs}",
            route.make(n),
            route.headers,
            self.threads,
            cycle=not route.counts_rows,
        )
        command = [
            "wrk",
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds:g}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(script),
            self.server.base,
        ]
        cpu = self.server.cpu_seconds()
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
        cpu = self.server.cpu_seconds() - cpu
        if done.returncode != 0:
            raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        result = parse_wrk(done.stdout)
        result.cpu_ms = 1000 * cpu / max(1, result.requests)
        return result


# -- sections -----------------------------------------------------------------------------


@dataclasses.dataclass
class Check:
    section: str
    name: str
    value: str
    target: str
    ok: bool | None  # None: information only


def capacity_section(
    wrk: Wrk,
    routes: dict[str, Route],
    device: Route | None,
    data: RunData,
    args: argparse.Namespace,
    checks: list[Check],
) -> dict[str, float]:
    """Ratios against hello; returns each route's median req/s (for the latency rates)."""
    order = ["check-in", "card page", "card unlocked", "status"]
    if device is not None:
        order.insert(1, "by device")
        routes = {**routes, "by device": device}
    print(
        f"\n== capacity: wrk -t{wrk.threads} -c{wrk.connections}, {args.rounds} round(s) of "
        f"{args.duration:g} s runs, each route between two hello runs ==",
        flush=True,
    )
    ratios: dict[str, list[float]] = {k: [] for k in order}
    cpu: dict[str, list[float]] = {k: [] for k in [*order, "hello"]}
    rps: dict[str, list[float]] = {k: [] for k in [*order, "hello"]}
    p99s: dict[str, list[float]] = {k: [] for k in [*order, "hello"]}
    spreads = []
    wrk.run(routes["hello"], args.warmup)
    for round_ in range(args.rounds):
        before = wrk.run(routes["hello"], args.duration)
        rps["hello"].append(before.rps)
        for label in order:
            route = routes[label]
            if round_ == 0 or route.counts_rows:
                wrk.run(route, args.warmup, expected_rps=before.rps / 2)
            rows_before = settled_rows(data.org, data.scan_meetings) if route.counts_rows else 0
            result = wrk.run(route, args.duration, expected_rps=before.rps / 2)
            after = wrk.run(routes["hello"], args.duration)
            hello = (before.rps + after.rps) / 2
            spreads.append(abs(before.rps - after.rps) / hello)
            ratios[label].append(result.rps / hello)
            cpu[label].append(result.cpu_ms)
            cpu["hello"] += [before.cpu_ms, after.cpu_ms]
            rps[label].append(result.rps)
            rps["hello"].append(after.rps)
            p99s[label].append(result.p99_ms)
            problems = f", {result.non_2xx} non-2xx" if result.non_2xx else ""
            if result.socket_errors:
                problems += f", socket errors: {result.socket_errors}"
            print(
                f"  round {round_ + 1} {label:<14} {result.rps:8.1f} req/s  "
                f"ratio {result.rps / hello:5.2f}  {result.cpu_ms:.2f} ms CPU/req "
                f"(hello {before.rps:.0f} / {after.rps:.0f} req/s, "
                f"{before.cpu_ms:.2f} / {after.cpu_ms:.2f} ms CPU/req; "
                f"wrk p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms{problems})",
                flush=True,
            )
            if result.non_2xx:
                checks.append(
                    Check(
                        "capacity", f"{label}: answers 2xx", str(result.non_2xx), "0 non-2xx", False
                    )
                )
            if route.counts_rows:
                inserted = settled_rows(data.org, data.scan_meetings) - rows_before
                real = result.non_2xx == 0 and result.requests <= inserted <= (
                    result.requests + wrk.connections
                )
                checks.append(
                    Check(
                        "capacity",
                        f"{label} round {round_ + 1}: answers are new rows",
                        f"{result.requests} answered, {inserted} rows",
                        "one row each",
                        real,
                    )
                )
            before = after
    print(f"  {'route':<14} {'req/s':>8} {'ratio':>6}  {'CPU ms/req':>10} {'CPU ratio':>9}  target")
    hello_rps = statistics.median(rps["hello"])
    hello_cpu = statistics.median(cpu["hello"])
    print(f"  {'hello':<14} {hello_rps:8.1f} {1:6.2f}  {hello_cpu:10.2f} {1:9.2f}")
    for label in order:
        ratio = statistics.median(ratios[label])
        target = TARGETS_CAPACITY.get(label)
        if label == "by device":
            target = statistics.median(ratios["check-in"])
        ok = None if target is None else ratio >= target
        route_cpu = statistics.median(cpu[label])
        print(
            f"  {label:<14} {statistics.median(rps[label]):8.1f} {ratio:6.2f}  {route_cpu:10.2f} "
            f"{hello_cpu / route_cpu:9.2f}  "
            f"{'' if target is None else f'>= {target:.2f}'} {'' if ok is None else verdict(ok)}"
        )
        checks.append(
            Check(
                "capacity",
                f"{label} / hello",
                f"{ratio:.2f}",
                "(info)" if target is None else f">= {target:.2f}",
                ok,
            )
        )
    if device is None:
        print("  by device: not available yet (TODO: scanner devices are being built)")
        checks.append(Check("capacity", "by device", "not available yet", ">= check-in", None))
    spread = max(spreads) if spreads else 0
    if spread > NOISY:
        print(
            f"  warning: two hello runs around one route differ by up to {spread:.0%}: something"
            " else used the cores; the ratios are uncertain (the median over rounds helps)."
        )
    return {label: statistics.median(rps[label]) for label in [*order, "hello"]}


def wire(server: Server, route: Route, requests: list[Request]) -> list[bytes]:
    out = []
    for r in requests:
        headers = dict(route.headers)
        if r.cookie:
            headers["Cookie"] = r.cookie
        if r.body:
            headers.setdefault("Content-Type", "application/json")
        out.append(raw_request(r.method, r.path, server.host, headers, r.body))
    return out


def open_loop(server: Server, route: Route, rate: float, duration: float) -> OpenLoopResult:
    n = max(1, int(rate * duration))
    requests = wire(server, route, route.make(n))
    result = run_open_loop("127.0.0.1", server.port, lambda i: requests[i], rate, duration)
    if route.counts_rows:
        bad = [s for s in result.ok if b'"status":"ok"' not in s.body.replace(b" ", b"")]
        if bad:
            raise SystemExit(f"a check-in was not 'ok': {bad[0].body[:300]!r}")
    return result


def note_stalls(result: OpenLoopResult) -> None:
    stalls = result.client_stalls()
    if stalls:
        seconds = ", ".join(f"{second} s ({lag:.0f} ms)" for second, lag in stalls[:6])
        print(
            f"    the load generator itself was held up at {seconds}: the machine stalled (other"
            " jobs); answers of those seconds say little about the server"
        )


def latency_section(
    server: Server,
    routes: dict[str, Route],
    capacity: dict[str, float],
    args: argparse.Namespace,
    checks: list[Check],
) -> None:
    print(
        f"\n== latency: open loop, {args.latency_duration:g} s per rate, each request timed "
        "from its scheduled send ==",
        flush=True,
    )
    for label in ("check-in", "card page", "status"):
        route = routes[label]
        open_loop(server, route, 50, 1.0)  # warm
        low = open_loop(server, route, 100, args.latency_duration)
        half_rate = capacity.get(label, 0) / 2
        print(f"  {label:<10} at 100 req/s: {low.summary()}", flush=True)
        note_stalls(low)
        checks.append(
            Check(
                "latency",
                f"{label}: p99 at 100 req/s",
                f"{low.p99:.1f} ms",
                f"<= {TARGET_P99_AT_100_MS:g} ms",
                low.p99 <= TARGET_P99_AT_100_MS and not low.errors,
            )
        )
        if half_rate < 1:
            continue
        half = open_loop(server, route, half_rate, args.latency_duration)
        print(f"  {label:<10} at half capacity: {half.summary()}", flush=True)
        note_stalls(half)
        ratio = half.p99 / half.p50
        checks.append(
            Check(
                "latency",
                f"{label}: p99/p50 at {half_rate:.0f} req/s (half capacity)",
                f"{ratio:.1f} (p50 {half.p50:.1f}, p99 {half.p99:.1f} ms)",
                f"<= {TARGET_P99_OVER_P50_AT_HALF:g}",
                ratio <= TARGET_P99_OVER_P50_AT_HALF and not half.errors,
            )
        )


def growth_section(
    small: tuple[Server, dict[str, Route]],
    large: tuple[Server, dict[str, Route]],
    sizes: tuple[int, int],
    args: argparse.Namespace,
    checks: list[Check],
) -> None:
    print(
        f"\n== growth: {sizes[0]:,} against {sizes[1]:,} members, open loop at "
        f"{args.growth_rate:g} req/s, {args.growth_rounds} round(s) of {args.growth_duration:g} s "
        "each, alternating ==",
        flush=True,
    )
    for label in ("check-in", "card page", "status"):
        samples: dict[int, list[float]] = {0: [], 1: []}
        for which in (0, 1):  # warm both
            server, routes = (small, large)[which]
            open_loop(server, routes[label], 20, 0.5)
        for _ in range(args.growth_rounds):
            for which in (0, 1):
                server, routes = (small, large)[which]
                result = open_loop(server, routes[label], args.growth_rate, args.growth_duration)
                if result.errors:
                    raise SystemExit(f"growth {label}: {result.errors} errors")
                samples[which] += [s.latency_ms for s in result.samples]
        p50 = [statistics.median(samples[w]) for w in (0, 1)]
        p99 = [sorted(samples[w])[int(0.99 * len(samples[w]))] for w in (0, 1)]
        ratio = p50[1] / p50[0]
        print(
            f"  {label:<10} p50 {p50[0]:6.2f} -> {p50[1]:6.2f} ms  ({ratio:.2f}x; p99 "
            f"{p99[0]:.1f} -> {p99[1]:.1f} ms)",
            flush=True,
        )
        checks.append(
            Check(
                "growth",
                f"{label}: p50 at {sizes[1]:,} / at {sizes[0]:,}",
                f"{ratio:.2f}x ({p50[0]:.1f} -> {p50[1]:.1f} ms)",
                f"<= {TARGET_GROWTH:g}x",
                ratio <= TARGET_GROWTH,
            )
        )


def memory_section(args: argparse.Namespace, checks: list[Check]) -> None:
    print(
        f"\n== memory: a {args.badges:,}-badge sheet through the app (bench/badges.py) ==",
        flush=True,
    )
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("badges.py")),
            "--memory",
            "--n",
            str(args.badges),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=ROOT,
    )
    print("  " + done.stdout.strip().replace("\n", "\n  "))
    match = re.search(r"peak RSS ([\d.]+) MB", done.stdout)
    if done.returncode not in (0, 1) or match is None:
        print(done.stderr[-3000:])
        checks.append(Check("memory", "badge sheet peak RSS", "failed", "", False))
        return
    peak = float(match[1])
    checks.append(
        Check(
            "memory",
            f"{args.badges:,}-badge sheet: peak RSS",
            f"{peak:.0f} MB",
            f"<= {TARGET_MEMORY_MB:g} MB",
            peak <= TARGET_MEMORY_MB,
        )
    )


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
        f"sqlite {sqlite3.sqlite_version}, {(command('wrk', '-v').splitlines() or ['wrk ?'])[0]}",
        f"git commit {commit}{dirty}",
    ]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs, one round")
    parser.add_argument(
        "--sections",
        default="capacity,latency,growth,memory",
        help="comma-separated subset of capacity,latency,growth,memory",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=None, help="capacity rounds")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--members", type=int, default=1000, help="the organisation measured")
    parser.add_argument("--large", type=int, default=100_000, help="the growth section's other")
    parser.add_argument("--badges", type=int, default=10_000, help="the memory section's sheet")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (logs)")
    args = parser.parse_args()
    quick = args.quick
    args.duration = args.duration or (3.0 if quick else 4.0)
    args.warmup = 1.0
    args.rounds = args.rounds or (1 if quick else 2)
    args.latency_duration = 4.0 if quick else 8.0
    args.growth_rate = 20.0
    args.growth_duration = 4.0 if quick else 6.0
    args.growth_rounds = 1 if quick else 2
    args.sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = args.sections - {"capacity", "latency", "growth", "memory"}
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    return args


def scan_meetings_needed(args: argparse.Namespace) -> int:
    # Pairs: every wrk run (and warm-up) of a route that writes (check-in, by device) takes its
    # requests up front, whether it sends them all or not; then the latency runs (100 req/s and half
    # of a capacity of at most 3,000 req/s). 30 members per meeting; unused ones cost nothing.
    wrk_pairs = args.rounds * 2 * (wrk_requests(args.warmup) + wrk_requests(args.duration))
    latency_pairs = int(args.latency_duration * (100 + WRK_EXPECTED_RPS / 2)) + 1000
    return (wrk_pairs + latency_pairs) // dataset.MEMBERS_PER_BRANCH + 10


def start_server(org: dataset.Organisation, folder: Path, name: str, workers: int) -> Server:
    server = Server(org.data_dir, workers, folder / f"{name}-access.log", folder / f"{name}.err")
    server.wait_ready()
    return server


def main() -> int:
    args = parse_args()
    if shutil.which("wrk") is None and "capacity" in args.sections:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    started = time.monotonic()
    for line in machine_info():
        print(line)
    folder = Path(tempfile.mkdtemp(prefix="qrservice-bench-"))
    servers: list[Server] = []
    checks: list[Check] = []
    orgs: list[dataset.Organisation] = []
    try:
        org = dataset.cached(args.members)
        orgs.append(org)
        need_server = args.sections & {"capacity", "latency", "growth"}
        capacity: dict[str, float] = {}
        if need_server:
            data = prepare(org, scan_meetings_needed(args))
            print(
                f"organisation of {args.members:,} members ({org.data_dir}); "
                f"{len(data.scan_meetings)} open meetings of {SCAN_BRANCH}: {len(data.pairs):,} "
                f"check-in pairs; {len(data.tokens):,} cards"
            )
            server = start_server(org, folder, "main", args.workers)
            servers.append(server)
            print(f"gunicorn: {args.workers} sync workers on {server.base}; logs in {folder}")
            login = log_in(server.base, data.status_meeting)
            routes = routes_for(data, login, [0])
            sample_checks(server, routes)
            if "capacity" in args.sections:
                wrk = Wrk(server, folder, args.threads, args.connections)
                capacity = capacity_section(
                    wrk, routes, device_route(data, server, routes), data, args, checks
                )
            if "latency" in args.sections:
                if not capacity:
                    print("\n(latency without capacity: half-capacity rates are skipped)")
                latency_section(server, routes, capacity, args, checks)
            if "growth" in args.sections:
                large_org = dataset.cached(args.large)
                orgs.append(large_org)
                large_data = prepare(large_org, 20)
                large = start_server(large_org, folder, "large", args.workers)
                servers.append(large)
                large_routes = routes_for(
                    large_data, log_in(large.base, large_data.status_meeting), [10**9]
                )
                sample_checks(large, large_routes)
                growth_section(
                    (server, routes),
                    (large, large_routes),
                    (args.members, args.large),
                    args,
                    checks,
                )
                large.stop()
        if "memory" in args.sections:
            memory_section(args, checks)
    finally:
        for server in servers:
            server.stop()
        for org in orgs:
            cleanup(org)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print("\n== summary ==")
    failed = False
    width = max((len(c.name) for c in checks), default=10)
    for c in checks:
        failed |= c.ok is False
        result = "" if c.ok is None else verdict(c.ok)
        print(f"  {c.section:<9} {c.name:<{width}}  {c.value:<32} {c.target:<12} {result}")
    outcome = "some targets missed" if failed else "all targets met"
    print(f"total {time.monotonic() - started:.0f} s; {outcome}")
    return 1 if failed else 0


def sample_checks(server: Server, routes: dict[str, Route]) -> None:
    """One request of each route through urllib: check-ins answer a new ``ok``; the unlocked
    card page is the member's full view (with the member number), the stranger's is not."""
    for label in ("check-in", "card page", "card unlocked", "status"):
        route = routes[label]
        (r,) = route.make(1)
        headers = dict(route.headers)
        if r.cookie:
            headers["Cookie"] = r.cookie
        request = urllib.request.Request(
            server.base + r.path,
            data=r.body.encode() if r.method == "POST" else None,
            headers=headers,
            method=r.method,
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                body = answer.read().decode()
                cookies = answer.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"sample {label} answered {exc.code}: {exc.read()[:300]!r}") from None
        if label == "check-in" and json.loads(body).get("status") != "ok":
            raise SystemExit(f"sample check-in was not a new 'ok': {body[:300]}")
        if label in ("card page", "card unlocked"):
            full = '/unlock"' not in body
            if full != (label == "card unlocked"):
                raise SystemExit(f"sample {label}: not the expected view")
            print(
                f"  sample {label}: {len(body):,} characters, cookies set: "
                f"{[c.split('=')[0] for c in cookies] or 'none'}{' (full view)' if full else ''}"
            )


if __name__ == "__main__":
    sys.exit(main())
