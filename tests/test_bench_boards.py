"""The boards' benchmark runs: its builder makes a small organisation with a year of every
measure, and its harness measures it end to end (no timing is asserted: only that it runs,
checks what it computed and writes its figures)."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import pytest

from qrservice.timeutil import local_today

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """bench/dataset.py and bench/boards.py, their cache in a temporary folder."""
    monkeypatch.syspath_prepend(str(BENCH))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    import boards
    import dataset

    monkeypatch.setattr(dataset, "CACHE", tmp_path / "cache")
    yield dataset, boards
    # The bench's modules have plain names (bench/profile.py would shadow the standard
    # library's): none stays imported after the test.
    for name, module in list(sys.modules.items()):
        if Path(getattr(module, "__file__", None) or "/").parent == BENCH:
            del sys.modules[name]


def _count(db: Path, sql: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_builder_writes_a_year_of_every_measure_and_caches_it(bench) -> None:  # type: ignore[no-untyped-def]
    dataset, _boards = bench
    logged: list[str] = []
    org = dataset.cached_boards(3, 12, log=logged.append)
    assert (org.branches, org.per_branch) == (3, 12)
    assert any("built in" in line for line in logged)
    db = dataset.db_path(org.data_dir)
    assert _count(db, "SELECT count(*) FROM member") == 36
    assert _count(db, "SELECT count(*) FROM unit WHERE kind = 'branch'") == 3
    # Two or three groups per branch, each meeting; the branch committee of five.
    assert _count(db, "SELECT count(*) FROM unit WHERE kind = 'group'") == 2 + 3 + 2
    assert _count(db, "SELECT count(*) FROM unit_role WHERE role = 'secretary'") == 3
    for kind in ("theme_day", "branch_committee", "group", "branch_general", "lecture"):
        assert _count(db, f"SELECT count(*) FROM meeting WHERE kind = '{kind}'") > 0, kind  # noqa: S608
    assert _count(db, "SELECT count(*) FROM attendance WHERE status = 'absent'") > 0
    assert _count(db, "SELECT count(*) FROM points_entry WHERE kind = 'attendance'") > 0
    assert _count(db, "SELECT count(*) FROM points_entry WHERE meeting_id IS NULL") > 0
    assert _count(db, "SELECT count(*) FROM dues_payment") > 0
    assert _count(db, "SELECT count(*) FROM leave_request WHERE status = 'pending'") > 0
    assert _count(db, "SELECT count(*) FROM board_target") > 0
    assert _count(db, "SELECT count(*) FROM organisation") == 1
    # The settled dues months were derived by the app's own function, for every member who
    # paid something.
    assert _count(db, "SELECT count(DISTINCT member_id) FROM dues_settled") >= _count(
        db, "SELECT count(DISTINCT member_id) FROM dues_payment"
    )
    assert _count(db, "SELECT count(*) FROM sqlite_stat1") > 0  # ANALYZE ran

    # The second use takes the cached copy instead of building again.
    logged.clear()
    again = dataset.cached_boards(3, 12, log=logged.append)
    assert again.data_dir == org.data_dir and not logged
    assert again.build_seconds == org.build_seconds
    assert dataset.missing_schema(org.data_dir) == []


def test_cached_copy_without_an_index_of_the_models_is_built_again(bench) -> None:  # type: ignore[no-untyped-def]
    dataset, _boards = bench
    org = dataset.cached_boards(2, 6, log=lambda line: None)
    conn = sqlite3.connect(dataset.db_path(org.data_dir))
    conn.execute("DROP INDEX ix_attendance_meeting_status_member")  # as if 0008 changed since
    conn.close()
    assert dataset.missing_schema(org.data_dir) == ["index ix_attendance_meeting_status_member"]

    logged: list[str] = []
    again = dataset.cached_boards(2, 6, log=logged.append)
    assert "lacks index ix_attendance_meeting_status_member" in logged[0]
    assert any("built in" in line for line in logged)
    assert dataset.missing_schema(again.data_dir) == []


def test_harness_measures_both_organisations_and_writes_its_figures(  # type: ignore[no-untyped-def]
    bench, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _dataset, boards = bench
    result = tmp_path / "result.json"
    argv = ["--small", "2", "--branches", "3", "--per-branch", "8", "--rounds", "1",
            "--rate", "4", "--latency-duration", "1", "--workers", "1", "--statements",
            "--json", str(result)]  # fmt: skip
    code = boards.main(argv)

    out = capsys.readouterr().out
    assert code in (0, 1)  # 1 only when this machine misses a target
    figures = json.loads(result.read_text())
    assert figures["period"] == boards.last_quarter_key(local_today())
    for label in ("board (small)", "board (large)", "overview page (large)", "healthz"):
        assert figures["timings"][label]["n"] >= 1, label
    # Statements per call are counted (fewest, most), whatever the organisation's size.
    for label in ("board (small)", "board (large)", "overview (large)", "overview page (large)"):
        low, high = figures["timings"][label]["statements"]
        assert 0 < low <= high, label
    assert set(figures["large_over_small"]) == {"board", "overview", "board page", "overview page"}
    assert {c["figure"] for c in figures["checks"]} == {
        "board (large)",
        "board page (large)",
        "overview (large)",
        "overview page (large)",
    }
    assert figures["latency"]["sent"] == 4 and figures["latency"]["errors"] == 0
    assert figures["statements"]["overview"]["costliest"]
    assert figures["statements"]["board"]["sql_alone_cpu_ms"] > 0
    assert "sample     3 branches" in out and "== summary" in out


def test_last_quarter_is_the_whole_quarter_before_today(bench) -> None:  # type: ignore[no-untyped-def]
    _dataset, boards = bench
    assert boards.last_quarter_key(boards.date(2026, 11, 22)) == "2026-Q3"
    assert boards.last_quarter_key(boards.date(2026, 1, 1)) == "2025-Q4"
    assert boards.last_quarter_key(boards.date(2026, 4, 30)) == "2026-Q1"
