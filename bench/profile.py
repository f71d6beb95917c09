"""Where a route's time goes under load: py-spy on gunicorn's workers while wrk loads one route.

    python bench/profile.py [--routes check-in,card page,card unlocked,status] [--seconds 8]

Same server, organisation and requests as ``bench/checkin.py``. For each route, wrk keeps 32
connections busy while ``py-spy record --subprocesses --idle`` samples both workers; every
sample is put in one bucket by its innermost frame that belongs to a known layer (below), and
the script prints the share of each bucket and the functions with the most own time. Waiting in
gunicorn's ``select`` for the next connection is idle time and is left out; waiting for a lock
is kept (that is why ``--idle``). The raw stacks stay in the temp folder with ``--keep``.

Needs ``py-spy`` (``pip install -e '.[bench]'``) and the right to ptrace the workers (root).
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import checkin  # noqa: E402
import dataset  # noqa: E402

#: (bucket, tests on "path:function") from the innermost frame outwards; the first match wins.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("idle: waiting for a connection", ("gunicorn/workers/sync.py:SyncWorker.wait",)),
    ("writers' lock wait", ("qrservice/db.py:begin_write", "qrservice/db.py:_flock")),
    (
        "SQLite (executing, fetching, commit)",
        (
            "sqlalchemy/engine/default.py:DefaultDialect.do_execute",
            "sqlalchemy/engine/default.py:DefaultDialect.do_commit",
            "sqlalchemy/engine/default.py:DefaultDialect.do_executemany",
            "sqlalchemy/engine/default.py:DefaultDialect.do_rollback",
            "sqlalchemy/engine/cursor.py:CursorFetchStrategy.",
            "sqlalchemy/pool/",
            "sqlalchemy/dialects/sqlite/",
        ),
    ),
    ("SQLAlchemy", ("sqlalchemy/",)),
    (
        "session, CSRF, login",
        (
            "flask_login/",
            "flask_wtf/",
            "itsdangerous/",
            "flask/sessions.py",
            "flask/json/tag.py",
            "qrservice/accounts.py:_load_user",
        ),
    ),
    ("rate limiter", ("flask_limiter/", "limits/")),
    ("i18n (Babel)", ("flask_babel/", "babel/")),
    ("templates (Jinja)", ("jinja2/", "markupsafe/", ".html:")),
    ("Flask, Werkzeug", ("flask/", "werkzeug/", "blinker/")),
    ("JSON", ("json/",)),
    ("gunicorn (HTTP parsing, socket, access log)", ("gunicorn/",)),
    ("our code", ("qrservice/", "scan/", "cards/")),
]


def frame_key(frame: str) -> str:
    """A py-spy frame as "path:function", e.g. "gunicorn/workers/sync.py:SyncWorker.wait"."""
    name, _, place = frame.partition(" (")
    path = place.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{name}"


def bucket_of(keys: list[str]) -> str:
    for key in reversed(keys):  # innermost last in py-spy's raw format
        for bucket, tests in LAYERS:
            if any(test in key for test in tests):
                return bucket
    return "other (stdlib, interpreter)"


def analyse(raw: Path, top: int) -> None:
    buckets: collections.Counter[str] = collections.Counter()
    functions: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if sum(f.startswith("process ") for f in frames) < 2:
            continue  # gunicorn's master process, not a worker
        keys = [frame_key(f) for f in frames if not f.startswith(("process ", "thread "))]
        if not any("gunicorn/workers/sync.py" in k for k in keys):
            continue  # a stack py-spy could not unwind, or a worker starting
        n = int(count)
        bucket = bucket_of(keys)
        buckets[bucket] += n
        if not bucket.startswith("idle"):
            path, _, name = keys[-1].rpartition(":")
            functions[f"{name} ({path})"] += n
    busy = sum(n for b, n in buckets.items() if not b.startswith("idle"))
    idle = buckets["idle: waiting for a connection"]
    print(f"    {busy} busy samples of the two workers ({idle} idle left out)")
    for bucket, n in buckets.most_common():
        if not bucket.startswith("idle"):
            print(f"    {100 * n / busy:5.1f} %  {bucket}")
    print("    own time, top functions:")
    for name, n in functions.most_common(top):
        print(f"    {100 * n / busy:5.1f} %  {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--routes", default="check-in,by device,card page,card unlocked,status")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--on-cpu", action="store_true", help="leave out time off the CPU (lock and socket waits)"
    )
    args = parser.parse_args()
    if shutil.which("py-spy") is None or shutil.which("wrk") is None:
        raise SystemExit("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")
    folder = Path(tempfile.mkdtemp(prefix="qrservice-profile-"))
    org = dataset.cached(args.members)
    server = None
    try:
        data = checkin.prepare(org, 2000)
        server = checkin.start_server(org, folder, "main", 2)
        routes = checkin.routes_for(data, checkin.log_in(server.base, data.status_meeting), [0])
        device = checkin.device_route(data, server, routes)
        if device is not None:
            routes["by device"] = device
        wrk = checkin.Wrk(server, folder, 2, 32)
        for label in [r.strip() for r in args.routes.split(",")]:
            route = routes[label]
            wrk.run(route, 1.0, expected_rps=1500)  # warm
            raw = folder / f"{label.replace(' ', '-')}.txt"
            n = int(1500 * (args.seconds + 2)) + 1000 if route.counts_rows else 5000
            script = checkin.write_wrk_script(
                folder,
                f"profile-{label.replace(' ', '-')}",
                route.make(n),
                route.headers,
                2,
                cycle=not route.counts_rows,
            )
            load = subprocess.Popen(
                [
                    "wrk",
                    "-t2",
                    "-c32",
                    f"-d{args.seconds + 2:g}s",
                    "--latency",
                    "-s",
                    str(script),
                    server.base,
                ],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
            spy = ["py-spy", "record", "--pid", str(server.proc.pid), "--subprocesses"]
            spy += [] if args.on_cpu else ["--idle"]
            spy += ["--rate", str(args.rate), "--duration", str(int(args.seconds))]
            subprocess.run(
                [*spy, "--format", "raw", "--output", str(raw)],
                check=True,
                capture_output=True,
            )
            out, _ = load.communicate(timeout=60)
            rps = checkin.parse_wrk(out).rps if out else 0.0
            print(f"\n{label}: {rps:.0f} req/s under py-spy (sampling slows the workers)")
            analyse(raw, args.top)
    finally:
        if server is not None:
            server.stop()
        checkin.cleanup(org)
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
