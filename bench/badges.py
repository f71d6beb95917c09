"""Benchmark: 1,000 member badges on A4 sheets, our way against two common ways.

    python bench/badges.py [--n 1000] [--baseline-n N] [--processes P] [--keep-pdfs]

Ours is timed twice: "kept" (codes encoded earlier and kept, as the app does per card version)
and "from nothing" (sign tokens, encode every code on all cores while drawing). The baselines
draw the same badges (same text, same layout), changing only how the code is made and drawn:

* widget: reportlab's QrCodeWidget in a Drawing per badge, rendered with renderPDF;
* naive:  the qrcode library makes a PNG per badge, placed with drawImage.

Prints a table with PASS/FAIL per target and exits non-zero if any target fails. With
``--baseline-n`` smaller than ``--n`` the baselines are timed on that many badges and scaled up
(marked "extrapolated"); the default times them on all of them.

    python bench/badges.py --memory [--n 10000]

measures something else: the peak RSS (``getrusage``) of a process of its own that prints a
sheet of ``--n`` badges through the app's route ``POST /cards/badges.pdf`` (as an organiser, an
organisation of that many members from ``bench/dataset.py``, its codes kept), against 250 MB.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import os
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import qrcode  # noqa: E402
from reportlab.graphics import renderPDF  # noqa: E402
from reportlab.graphics.barcode.qr import QrCodeWidget  # noqa: E402
from reportlab.graphics.shapes import Drawing  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

from cards.layouts import get_layout  # noqa: E402
from cards.pdf import (  # noqa: E402
    CODE_BOX,
    CardFace,
    card_codes,
    draw_card_text,
    register_fonts,
    render_badge_sheet,
)
from cards.qr import QUIET_ZONE, QRMatrix, default_processes  # noqa: E402
from cards.tokens import KeyRing, SigningKey, card_url, sign_card  # noqa: E402

LAYOUT = "a4-10"
BASE_URL = "https://card.example.org"
ORG = "中华示例协会 Example Association"
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
    "鹏辉玲建国志文斌宇浩凯健俊帆旭宁龙林欣佳琪雪梅"
)
BRANCHES = ("第一支部", "第二支部", "海淀支部 Haidian", "浦东支部 Pudong", "天河支部 Tianhe")

# Ratios are "baseline time / our time" for the same badges.
TARGET_KEPT_S = 1.0
TARGET_NOTHING_S = 4.0
TARGET_BYTES = 1500
TARGET_RATIOS = {
    ("nothing", "widget"): 10.0,
    ("nothing", "naive"): 3.5,
    ("kept", "widget"): 40.0,
    ("kept", "naive"): 14.0,
}


@dataclasses.dataclass(frozen=True)
class Member:
    member_id: int
    name: str
    number: str
    branch: str


def members(n: int) -> list[Member]:
    rng = random.Random(2024)
    return [
        Member(
            member_id=10_000 + i,
            name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
            number=f"{100_000 + i}",
            branch=rng.choice(BRANCHES),
        )
        for i in range(n)
    ]


def faces_for(people: Sequence[Member]) -> list[CardFace]:
    ring = KeyRing([SigningKey("k1", "bench-secret-bench-secret-0001")])
    return [
        CardFace(
            org_name=ORG,
            member_name=person.name,
            member_number=person.number,
            branch_name=person.branch,
            url=card_url(BASE_URL, sign_card(ring, person.member_id, 1)),
            issued_on=date(2025, 3, 1),
            version=1,
        )
        for person in people
    ]


CodePainter = Callable[[Canvas, str], None]


def widget_painter(canvas: Canvas, url: str) -> None:
    side = CODE_BOX.width * mm
    widget = QrCodeWidget(url, barLevel="M", barBorder=QUIET_ZONE)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(side, side, transform=[side / (x1 - x0), 0, 0, side / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, canvas, CODE_BOX.x * mm, CODE_BOX.y * mm)


def naive_painter(canvas: Canvas, url: str) -> None:
    maker = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=QUIET_ZONE
    )
    maker.add_data(url)
    maker.make(fit=True)
    png = io.BytesIO()
    maker.make_image().save(png)
    png.seek(0)
    side = CODE_BOX.width * mm
    canvas.drawImage(ImageReader(png), CODE_BOX.x * mm, CODE_BOX.y * mm, side, side)


def baseline_sheet(faces: Sequence[CardFace], paint: CodePainter) -> bytes:
    """The same sheet as ``render_badge_sheet`` (layout, text, crop marks), another code."""
    register_fonts()
    layout = get_layout(LAYOUT)
    out = io.BytesIO()
    canvas = Canvas(
        out,
        pagesize=(layout.page_size[0] * mm, layout.page_size[1] * mm),
        pageCompression=1,
        invariant=1,
    )
    badges = layout.badges()
    cache: dict = {}
    for start in range(0, len(faces), layout.per_page):
        for face, rect in zip(faces[start : start + layout.per_page], badges, strict=False):
            canvas.saveState()
            canvas.translate(rect.x * mm, rect.y * mm)
            canvas.scale(layout.badge_scale, layout.badge_scale)
            draw_card_text(canvas, face, cache)
            paint(canvas, face.url)
            canvas.restoreState()
        canvas.setLineWidth(0.3)
        canvas.lines([tuple(v * mm for v in line) for line in layout.crop_mark_lines()])
        canvas.showPage()
    canvas.save()
    return out.getvalue()


# Wall and CPU seconds of this process spent in single-process work, to detect contention.
_single_process = {"wall": 0.0, "cpu": 0.0}


def timed(function: Callable[[], bytes], single_process: bool = False) -> tuple[float, bytes]:
    start, start_cpu = time.perf_counter(), time.process_time()
    result = function()
    wall = time.perf_counter() - start
    if single_process:
        _single_process["wall"] += wall
        _single_process["cpu"] += time.process_time() - start_cpu
    return wall, result


TARGET_MEMORY_MB = 250.0


def memory_child(data_dir: Path, n: int) -> None:
    """In a process of its own: print a sheet of every card through the app's own route (as an
    organiser, the whole committee), then report this process's peak RSS."""
    import resource

    from qrservice import create_app
    from qrservice.demo import ORGANISER

    app = create_app({"WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False}, data_dir=data_dir)
    client = app.test_client()
    client.post("/login", data={"username": ORGANISER[0], "password": ORGANISER[1]})
    client.get("/healthz")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    response = client.post(
        "/cards/badges.pdf", data={"unit_id": "1", "layout": LAYOUT, "only": "all", "sort": "unit"}
    )
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if response.status_code != 200 or response.mimetype != "application/pdf":
        raise SystemExit(
            f"the badge route answered {response.status_code}: {response.data[:300]!r}"
        )
    pages = response.data.count(b"/Type /Page\n") or response.data.count(b"/Type /Page")
    print(
        f"{n:,} badges through POST /cards/badges.pdf: {took:.1f} s, {len(response.data):,} bytes, "
        f"{pages} pages; peak RSS {peak:.0f} MB (the process before the request: {before:.0f} MB)"
    )


def memory(n: int) -> int:
    """Peak RSS of a process printing ``n`` badges through the app (codes kept, as after they
    were printed once); the organisation is built once and cached (bench/dataset.py)."""
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import dataset

    org = dataset.cached(n, encode_codes=True)
    done = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(org.data_dir), "--n", str(n)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stdout + done.stderr[-3000:])
        return 2
    print(done.stdout.strip())
    peak = float(done.stdout.split("peak RSS ")[1].split(" MB")[0])
    ok = peak <= TARGET_MEMORY_MB
    print(f"peak RSS target <= {TARGET_MEMORY_MB:g} MB: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=None, help="badges (default 1000; 10000 with --memory)"
    )
    parser.add_argument(
        "--memory",
        action="store_true",
        help="only the peak RSS of printing --n badges (default 10,000) through the app's route",
    )
    parser.add_argument("--memory-child", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline-n", type=int, default=None, help="badges for the slow baselines (default: n)"
    )
    parser.add_argument("--processes", type=int, default=None, help="encoding processes")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours; the median counts")
    parser.add_argument("--keep-pdfs", action="store_true", help="write PDFs to bench/out/")
    args = parser.parse_args(argv)
    if args.memory_child is not None:
        memory_child(args.memory_child, args.n)
        return 0
    if args.memory:
        return memory(args.n or 10_000)
    n = args.n or 1000
    baseline_n = min(args.baseline_n or n, n)
    processes = args.processes or default_processes()

    load_before = os.getloadavg()[0]
    people = members(n)
    # Warm-up: imports, font registration, the forkserver; the app pays these once per process.
    render_badge_sheet(faces_for(people[:60]), LAYOUT, processes=processes)
    print(f"{n} badges, layout {LAYOUT}, {processes} encoding processes", flush=True)

    def ours_from_nothing() -> bytes:
        return render_badge_sheet(faces_for(people), LAYOUT, processes=processes)

    nothing_runs = [timed(ours_from_nothing) for _ in range(args.repeat)]
    nothing_time = statistics.median(t for t, _ in nothing_runs)
    nothing_pdf = nothing_runs[0][1]

    faces = faces_for(people)
    kept_codes = card_codes([face.url for face in faces], processes=processes)
    for code in kept_codes:
        code.pdf_ops  # noqa: B018 - the kept form includes the path operators
    kept_faces = [dataclasses.replace(f, qr=c) for f, c in zip(faces, kept_codes, strict=True)]
    kept_runs = [
        timed(lambda: render_badge_sheet(kept_faces, LAYOUT), single_process=True)
        for _ in range(args.repeat)
    ]
    kept_time = statistics.median(t for t, _ in kept_runs)
    kept_pdf = kept_runs[0][1]

    # The app loads kept codes from a database column: unpacking and path building included.
    stored = [code.to_bytes() for code in kept_codes]

    def ours_from_stored() -> bytes:
        loaded = [
            dataclasses.replace(f, qr=QRMatrix.from_bytes(b))
            for f, b in zip(faces, stored, strict=True)
        ]
        return render_badge_sheet(loaded, LAYOUT)

    stored_time = statistics.median(timed(ours_from_stored)[0] for _ in range(args.repeat))

    scale = n / baseline_n
    print(f"timing baselines on {baseline_n} badges ...", flush=True)
    widget_time, widget_pdf = timed(
        lambda: baseline_sheet(faces[:baseline_n], widget_painter), single_process=True
    )
    naive_time, naive_pdf = timed(
        lambda: baseline_sheet(faces[:baseline_n], naive_painter), single_process=True
    )
    widget_time *= scale
    naive_time *= scale
    note = " (extrapolated)" if baseline_n < n else ""

    if args.keep_pdfs:
        out_dir = Path(__file__).resolve().parent / "out"
        out_dir.mkdir(exist_ok=True)
        for name, data in (
            ("ours", kept_pdf),
            ("widget", widget_pdf),
            ("naive", naive_pdf),
        ):
            (out_dir / f"badges-{name}.pdf").write_bytes(data)

    rows: list[tuple[str, str, str, str]] = []

    def check(label: str, value: str, target: str, ok: bool | None) -> None:
        rows.append((label, value, target, "" if ok is None else ("PASS" if ok else "FAIL")))

    per_badge = {
        "kept": len(kept_pdf) / n,
        "nothing": len(nothing_pdf) / n,
        "widget": len(widget_pdf) / baseline_n,
        "naive": len(naive_pdf) / baseline_n,
    }
    times = {"kept": kept_time, "nothing": nothing_time, "widget": widget_time, "naive": naive_time}

    check(
        "ours, codes kept: time",
        f"{kept_time:.2f} s",
        f"<= {TARGET_KEPT_S} s",
        kept_time <= TARGET_KEPT_S,
    )
    check(
        "ours, from nothing: time",
        f"{nothing_time:.2f} s",
        f"<= {TARGET_NOTHING_S} s",
        nothing_time <= TARGET_NOTHING_S,
    )
    check("ours, kept codes loaded from bytes: time", f"{stored_time:.2f} s", "(info)", None)
    check("widget baseline: time" + note, f"{widget_time:.2f} s", "(about 45 s)", None)
    check("naive baseline: time" + note, f"{naive_time:.2f} s", "(about 14 s)", None)
    for way in ("kept", "nothing"):
        check(
            f"ours, {'codes kept' if way == 'kept' else 'from nothing'}: bytes per badge",
            f"{per_badge[way]:.0f} B",
            f"<= {TARGET_BYTES} B",
            per_badge[way] <= TARGET_BYTES,
        )
    for baseline in ("widget", "naive"):
        check(f"{baseline} baseline: bytes per badge", f"{per_badge[baseline]:.0f} B", "", None)
    for (way, baseline), target in TARGET_RATIOS.items():
        ratio = times[baseline] / times[way]
        label = "codes kept" if way == "kept" else "from nothing"
        check(
            f"ratio {baseline} / ours ({label})",
            f"{ratio:.1f}x",
            f">= {target:g}x",
            ratio >= target,
        )

    header = ("measure", "value", "target", "result")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(4)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    failures = sum(row[3] == "FAIL" for row in rows)
    share = _single_process["cpu"] / _single_process["wall"]
    load_after = os.getloadavg()[0]
    print(
        f"\nsingle-process runs got {share:.0%} of a core; load average (1 min) "
        f"{load_before:.2f} before, {load_after:.2f} after",
        end="",
    )
    if share < 0.9:
        print(" - other processes competed for the cores: times are inflated", end="")
    print(f"\n{'all targets met' if not failures else f'{failures} target(s) missed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
