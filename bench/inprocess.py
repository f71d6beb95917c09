"""The app's own cost per request: each route of ``bench/checkin.py`` through Flask's test
client, in this process, one request at a time, timed in CPU seconds of this process.

    python bench/inprocess.py [--n 1000] [--routes hello,check-in,...] [--profile ROUTE]

No server, no socket, no load generator: what is left is Flask, the extensions, SQLAlchemy,
SQLite and our code, so the figures barely move when other jobs share the machine (the
benchmark's throughput ratios move a lot). ``--profile ROUTE`` prints a pyinstrument profile
of that route (``pip install pyinstrument``).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import checkin  # noqa: E402
import dataset  # noqa: E402

ROUTES = "hello,check-in,by device,card page,card unlocked,status"


class TestClientServer:
    """What ``checkin.routes_for`` needs from a server, over Flask's test client."""

    def __init__(self, app) -> None:  # type: ignore[no-untyped-def]
        self.client = app.test_client()  # for the login and the pairing
        self.plain = app.test_client(use_cookies=False)  # each request sends its own cookie
        self.base = ""

    def call(self, route: checkin.Route, request: checkin.Request) -> tuple[int, bytes]:
        headers = dict(route.headers)
        if request.cookie:
            headers["Cookie"] = request.cookie
        response = self.plain.open(
            request.path, method=request.method, headers=headers, data=request.body or None
        )
        return response.status_code, response.data


def log_in(client, meeting_id: int) -> checkin.Login:  # type: ignore[no-untyped-def]
    page = client.get("/login", headers={"User-Agent": checkin.USER_AGENT}).get_data(as_text=True)
    form_token = checkin.CSRF_RE.search(page)[1]  # type: ignore[index]
    client.post(
        "/login",
        data={"username": dataset.SECRETARY, "password": checkin.SECRETARY_PASSWORD,
              "csrf_token": form_token},
        headers={"User-Agent": checkin.USER_AGENT},
    )  # fmt: skip
    page = client.get(f"/scan/meetings/{meeting_id}", headers={"User-Agent": checkin.USER_AGENT})
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.get_data(as_text=True))[1]  # type: ignore[index]
    cookie = "; ".join(f"{c.key}={c.value}" for c in client._cookies.values())
    return checkin.Login(cookie, token)


def pair(client, code: str) -> str:  # type: ignore[no-untyped-def]
    answer = client.post("/api/v1/devices/pair", json={"code": code})
    return answer.get_json()["token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="requests per route")
    parser.add_argument("--routes", default=ROUTES)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--profile", default=None, help="a route to profile with pyinstrument")
    args = parser.parse_args()
    from qrservice import create_app

    org = dataset.cached(args.members)
    data = checkin.prepare(org, args.n * 2 // dataset.MEMBERS_PER_BRANCH + 20)
    try:
        app = create_app(data_dir=org.data_dir)
        server = TestClientServer(app)
        routes = checkin.routes_for(data, log_in(server.client, data.status_meeting), [0])
        if data.pairing_code is not None:
            token = pair(server.client, data.pairing_code)
            routes["by device"] = checkin.Route(
                "by device", routes["check-in"].make,
                {"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                 "User-Agent": checkin.USER_AGENT},
                counts_rows=True,
            )  # fmt: skip
        labels = [args.profile] if args.profile else [r.strip() for r in args.routes.split(",")]
        reference = None
        for label in labels:
            if label not in routes:
                print(f"{label}: not available")
                continue
            route = routes[label]
            for request in route.make(50):  # warm: statement caches, templates, imports
                server.call(route, request)
            requests = route.make(args.n)
            profiler = None
            if args.profile:
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0002)
                profiler.start()
            started = time.process_time()
            statuses = [server.call(route, request)[0] for request in requests]
            cpu_ms = 1000 * (time.process_time() - started) / len(requests)
            if profiler is not None:
                profiler.stop()
                print(profiler.output_text(unicode=False, color=False))
            bad = sum(1 for s in statuses if not 200 <= s < 300)
            reference = cpu_ms if label == "hello" else reference
            ratio = f"  hello/route {reference / cpu_ms:.2f}" if reference else ""
            print(f"{label:<14} {cpu_ms:6.3f} ms CPU per request{ratio}"
                  f"{f'  ({bad} not 2xx)' if bad else ''}", flush=True)  # fmt: skip
    finally:
        checkin.cleanup(org)
    return 0


if __name__ == "__main__":
    sys.exit(main())
