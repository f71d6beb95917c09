"""The unit tree in and out: CSV and XLSX import (dry run, then apply) and export.

A tree file has four columns: code, name, kind and the parent's code (编码, 名称, 类型, 上级编码).
Importing creates the units it does not know and renames or moves those it knows (by code), all
inside the importer's own unit; it never closes or deletes. Rows may come in any order: a
parent may be defined below its children. Every problem is reported by spreadsheet row and
column, and with any problem nothing is written.

The file is read by the member import's reader (``members_io.read_table``: its limits, its
refusal of formulas, its row numbers) with this list's own columns.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from qrservice.audit import Actor, record
from qrservice.models import Unit
from qrservice.org.members import cell_text
from qrservice.org.members_io import ROW, Column, RowError, read_table
from qrservice.org.organisation import clean_name
from qrservice.org.units import (
    PARENT_KIND,
    UnitError,
    clean_code,
    create_unit,
    edit_unit,
    kind_label,
    lock_tree,
    open_units_in_scope,
)
from qrservice.tables import table_bytes

#: A tree file's columns, in export order.
COLUMNS = (
    Column("code", "编码", aliases=("单位编码", "代码")),
    Column("name", "名称", aliases=("单位名称",)),
    Column("kind", "类型", aliases=("单位类型",)),
    Column("parent", "上级编码", aliases=("上级单位编码", "上级", "parent code", "parent_code")),
)
#: Kinds as a file may write them.
KINDS = {
    "committee": "committee",
    "党委": "committee",
    "branch": "branch",
    "党支部": "branch",
    "支部": "branch",
    "group": "group",
    "党小组": "group",
    "小组": "group",
}
_KIND_ZH = {"committee": "党委", "branch": "党支部", "group": "党小组"}
#: A tree holds far fewer units than an organisation has members.
MAX_UNIT_ROWS = 5000


def _header_key(header: str) -> str:
    return "".join(header.split()).replace("_", "").casefold()


_FIELD_BY_HEADER = {
    _header_key(name): column.field
    for column in COLUMNS
    for name in (column.field, column.zh, *column.aliases)
}


def header_errors(header: list[str]) -> list[RowError]:
    """Unknown, repeated and missing columns of a tree file, each as an error in row 1."""
    errors = []
    seen: dict[str, str] = {}
    for i, name in enumerate(header, start=1):
        if not name:
            continue
        found = _FIELD_BY_HEADER.get(_header_key(name))
        where = get_column_letter(i)
        if found is None:
            errors.append(RowError(1, name, _("unknown column (column %(at)s)", at=where)))
        elif found in seen:
            message = _("the same column as %(other)s (column %(at)s)", other=seen[found], at=where)
            errors.append(RowError(1, name, message))
        else:
            seen[found] = name
    for column in COLUMNS:
        if column.field not in seen:
            errors.append(RowError(1, f"{column.zh} ({column.field})", _("missing column")))
    return errors


@dataclass
class UnitRows:
    """A tree file's rows as text by field, each with its spreadsheet row; and the header the
    file wrote for each field (errors name columns as the user wrote them). Plain JSON."""

    rows: list[dict[str, Any]]
    columns: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"v": 1, "rows": self.rows, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: Any) -> UnitRows:
        """Rows kept by a dry run's page; ValueError for anything else."""
        if not isinstance(data, dict) or data.get("v") != 1:
            raise ValueError("not a tree file's rows")
        rows, columns = data.get("rows"), data.get("columns")
        fields = {c.field for c in COLUMNS}
        if not isinstance(rows, list) or not isinstance(columns, dict) or not rows:
            raise ValueError("not a tree file's rows")
        if len(rows) > MAX_UNIT_ROWS or set(columns) != fields:
            raise ValueError("not a tree file's rows")
        clean = []
        for row in rows:
            if not isinstance(row, dict) or not isinstance(row.get(ROW), int):
                raise ValueError("not a tree file's rows")
            values = {f: row.get(f) for f in fields}
            if not all(isinstance(v, str) and len(v) <= 200 for v in values.values()):
                raise ValueError("not a tree file's rows")
            clean.append({ROW: row[ROW], **values})
        return cls(clean, {k: str(v)[:100] for k, v in columns.items()})


def read_units(data: bytes, filename: str, max_rows: int = MAX_UNIT_ROWS) -> UnitRows:
    """The rows of a CSV or XLSX tree file; ImportFileError if it cannot be read as one."""
    table = read_table(data, filename, max_rows, header_errors=header_errors)
    headers = [k for k in table[0] if k != ROW]
    columns = {_FIELD_BY_HEADER[_header_key(h)]: h for h in headers}
    rows = [
        {ROW: row[ROW], **{name: cell_text(row.get(header)) for name, header in columns.items()}}
        for row in table
    ]
    return UnitRows(rows, columns)


@dataclass
class UnitImportReport:
    """What a tree import did, or would do."""

    total: int = 0
    #: Codes of the units created, in the order they are made (parents first).
    created: list[str] = field(default_factory=list)
    #: Code → {field: (before, after)} for the units renamed or moved.
    updated: dict[str, dict[str, tuple[Any, Any]]] = field(default_factory=dict)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: Code → (kind, name, parent code) of the units in the file.
    units: dict[str, tuple[str, str, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    def lines(self) -> list[str]:
        """Each change in a line (the command line's report, in English)."""
        out = []
        for code in self.created:
            kind, name, parent = self.units[code]
            out.append(f"create {code} ({kind}, {name}) under {parent}")
        for code, diff in self.updated.items():
            said = "; ".join(f"{k} {b} -> {a}" for k, (b, a) in diff.items())
            out.append(f"update {code}: {said}")
        return out


class UnitImportRejected(ValueError):
    """A tree import refused for the errors in ``report``; nothing was written."""

    def __init__(self, report: UnitImportReport) -> None:
        super().__init__(f"import refused: {len(report.errors)} error(s)")
        self.report = report


@dataclass
class _Step:
    """One unit to create or change, in an order where each parent comes first."""

    row: int
    code: str
    kind: str
    name: str
    parent: str
    #: The unit it changes; None for a new one.
    unit: Unit | None
    moves: bool = False


@dataclass
class UnitPlan:
    report: UnitImportReport
    steps: list[_Step] = field(default_factory=list)


def plan_units(s: Session, scope: Unit, table: UnitRows) -> UnitPlan:
    """What importing ``table`` into ``scope`` would create and change; reads, never writes."""
    rows, columns = table.rows, table.columns
    report = UnitImportReport(total=len(rows))
    plan = UnitPlan(report)

    def fail(row: int, name: str, message: str) -> None:
        report.errors.append(RowError(row, columns.get(name, name), message))

    every = list(s.scalars(select(Unit)))
    by_key = {u.code.lower(): u for u in every}
    by_id = {u.id: u for u in every}
    inside = {u.id for u in every if u.path.startswith(scope.path)}

    def visible(unit: Unit) -> bool:
        return unit.id in inside

    rows_of: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row["code"]:
            rows_of[row["code"].lower()].append(row[ROW])

    checked: dict[str, dict[str, Any]] = {}  # code key → the row's clean values
    for row in rows:
        n = row[ROW]
        errors: dict[str, str] = {}
        code = clean_code(row["code"], "code", errors)
        name = clean_name(row["name"], "name", errors)
        kind = KINDS.get(row["kind"].strip().lower())
        if not row["kind"].strip():
            errors["kind"] = _("required")
        elif kind is None:
            errors["kind"] = _("committee, branch or group (党委/党支部/党小组)")
        key = code.lower()
        others = [r for r in rows_of.get(key, []) if r != n]
        if code and others:
            errors.setdefault(
                "code", _("%(code)s is also on row %(rows)s", code=code,
                          rows=", ".join(map(str, others)))
            )  # fmt: skip
        unit = by_key.get(key) if "code" not in errors else None
        if unit is not None:
            if not visible(unit):
                errors["code"] = _("code %(code)s cannot be used in your units; check it, or ask "
                                   "the organiser above you", code=code)  # fmt: skip
                unit = None
            elif unit.code != code:
                errors["code"] = _("code %(code)s clashes with %(other)s (codes do not differ by "
                                   "case alone)", code=code, other=unit.code)  # fmt: skip
            elif unit.closed_at is not None:
                errors["code"] = _("%(unit)s is closed; reopen it first", unit=unit.code)
            elif kind is not None and unit.kind != kind:
                errors["kind"] = _("%(unit)s is a %(kind)s, and a unit's kind does not change",
                                   unit=unit.code, kind=kind_label(unit.kind).lower())  # fmt: skip
        parent_code = row["parent"].strip()
        is_scope = unit is not None and unit.id == scope.id
        if is_scope:
            current = by_id.get(unit.parent_id or 0)  # type: ignore[union-attr]
            if parent_code and (current is None or parent_code.lower() != current.code.lower()):
                errors["parent"] = _("this is your own unit: an organiser above you can move it")
        elif not parent_code:
            errors["parent"] = _("required: the code of the unit above it")
        for name_, message in errors.items():
            fail(n, name_, message)
        if not errors:
            checked[key] = {
                "row": n, "code": code, "name": name, "kind": kind, "parent": parent_code,
                "unit": unit, "scope": is_scope,
            }  # fmt: skip

    # Parents: in the file or among the importer's units, of the right kind, and open.
    for values in checked.values():
        if values["scope"]:
            continue
        pkey = values["parent"].lower()
        parent_kind = None
        if pkey in checked or pkey in rows_of:
            parent_kind = checked[pkey]["kind"] if pkey in checked else None
            if pkey not in checked:
                continue  # the parent's row has errors of its own
        else:
            parent = by_key.get(pkey)
            if parent is None or not visible(parent):
                fail(values["row"], "parent",
                     _("no unit with code %(code)s in the file or in your units",
                       code=values["parent"]))  # fmt: skip
                values["bad"] = True
                continue
            if parent.closed_at is not None:
                fail(values["row"], "parent", _("%(unit)s is closed; reopen it first",
                                                unit=parent.code))  # fmt: skip
                values["bad"] = True
                continue
            parent_kind = parent.kind
            values["parent"] = parent.code
        expected = PARENT_KIND[values["kind"]]
        if parent_kind != expected:
            fail(values["row"], "parent",
                 _("a %(kind)s sits under a %(parent)s, and %(unit)s is a %(other)s",
                   kind=kind_label(values["kind"]).lower(), parent=kind_label(expected).lower(),
                   unit=values["parent"], other=kind_label(parent_kind or "").lower()))  # fmt: skip
            values["bad"] = True
        elif pkey in checked:
            values["parent"] = checked[pkey]["code"]

    # The tree as it would be: every unit of the scope, with the file's parents. A unit that
    # does not reach the scope's unit going up is in a cycle (moved under its own unit).
    parent_of: dict[str, str | None] = {}
    for unit in every:
        if unit.id in inside:
            parent = by_id.get(unit.parent_id or 0)
            parent_of[unit.code.lower()] = parent.code.lower() if parent else None
    for key, values in checked.items():
        if not values["scope"]:
            parent_of[key] = values["parent"].lower()
    scope_key = scope.code.lower()
    depth: dict[str, int] = {}
    for key, values in checked.items():
        if values["scope"] or values.get("bad"):
            continue
        path, cur = [key], parent_of.get(key)
        while cur is not None and cur != scope_key and cur not in path:
            path.append(cur)
            cur = parent_of.get(cur)
        if cur == scope_key:
            depth[key] = len(path)
            continue
        if cur is not None:
            loop = path[path.index(cur) :] + [cur]
            shown = " → ".join(checked[k]["code"] if k in checked else k.upper() for k in loop)
            fail(values["row"], "parent",
                 _("the parents go round in a circle: %(loop)s", loop=shown))  # fmt: skip
        values["bad"] = True

    # With any error nothing is written: the counts say what the file would do once corrected.
    report.errors.sort(key=lambda e: e.row)
    ordered = sorted(checked.items(), key=lambda kv: (depth.get(kv[0], 0), kv[1]["row"]))
    for key, values in ordered:
        if key not in depth and not values["scope"]:
            continue
        unit = values["unit"]
        report.units[values["code"]] = (values["kind"], values["name"], values["parent"])
        if unit is None:
            report.created.append(values["code"])
            plan.steps.append(_Step(values["row"], values["code"], values["kind"],
                                    values["name"], values["parent"], None))  # fmt: skip
            continue
        diff: dict[str, tuple[Any, Any]] = {}
        if values["name"] != unit.name:
            diff["name"] = (unit.name, values["name"])
        current = by_id.get(unit.parent_id or 0)
        moves = not values["scope"] and (current is None or current.code != values["parent"])
        if moves:
            diff["parent"] = (current.code if current else None, values["parent"])
        if not diff:
            report.unchanged += 1
            continue
        report.updated[values["code"]] = diff
        plan.steps.append(_Step(values["row"], values["code"], values["kind"], values["name"],
                                values["parent"], unit, moves))  # fmt: skip
    if report.errors:
        plan.steps = []
    return plan


def apply_units(s: Session, actor: Actor, scope: Unit, table: UnitRows) -> UnitImportReport:
    """Create, rename and move the units of ``table``; raises UnitImportRejected, writing
    nothing, on any problem. Adds and flushes; the caller commits (or rolls back)."""
    lock_tree(s)
    scope = s.get(Unit, scope.id) or scope
    plan = plan_units(s, scope, table)
    report = plan.report
    if report.errors:
        raise UnitImportRejected(report)
    made: dict[str, Unit] = {}

    def unit_of(code: str) -> Unit:
        return made.get(code) or s.scalar(select(Unit).where(Unit.code == code))  # type: ignore[return-value]

    for step in plan.steps:
        try:
            if step.unit is None:
                made[step.code] = create_unit(
                    s, actor, kind=step.kind, name=step.name, code=step.code,
                    parent=unit_of(step.parent),
                )  # fmt: skip
            else:
                edit_unit(
                    s, actor, step.unit, name=step.name,
                    parent=unit_of(step.parent) if step.moves else "keep", scope=scope,
                    lock=False,
                )  # fmt: skip
        except UnitError as exc:
            # Only a change made since the plan could do this: report it on its row.
            report.errors.extend(
                RowError(step.row, table.columns.get(k, k), m) for k, m in exc.errors.items()
            )
            raise UnitImportRejected(report) from None
    if plan.steps:
        counts = {
            "rows": report.total,
            "created": len(report.created),
            "updated": len(report.updated),
            "unchanged": report.unchanged,
        }
        record(s, actor, "unit.import", "unit", scope.id, after=counts)
        s.flush()
    return report


def export_headers(lang: str = "zh") -> list[str]:
    return [c.zh if lang == "zh" else c.field for c in COLUMNS]


def export_units(s: Session, scope: Unit, fmt: str, lang: str = "zh") -> bytes:
    """The open units of ``scope``'s subtree in tree order, as 'csv' or 'xlsx', in the import's
    columns; kinds and headers in Chinese (``lang='zh'``) or English (``'en'``)."""
    if lang not in ("zh", "en"):
        raise ValueError(f"unknown export language {lang!r}")
    units = open_units_in_scope(s, scope)
    codes = {u.id: u.code for u in units}
    if scope.parent_id is not None and (above := s.get(Unit, scope.parent_id)) is not None:
        codes[above.id] = above.code  # the scope's own row names where it sits
    rows = [
        [u.code, u.name, _KIND_ZH[u.kind] if lang == "zh" else u.kind,
         codes.get(u.parent_id or 0, "")]
        for u in units
    ]  # fmt: skip
    return table_bytes(export_headers(lang), rows, fmt, "units")
