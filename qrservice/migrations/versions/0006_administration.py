"""administration: organisation, unit roles, meeting plans, corrections, dues rates and exemptions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 07:59:55.869391
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("dues_tracked_from", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
    )
    op.create_table(
        "meeting_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("repeat", sa.String(length=16), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "repeat IN ('once', 'monthly', 'quarterly')", name=op.f("ck_meeting_plan_repeat")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_meeting_plan_unit_id_unit"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_plan")),
    )
    with op.batch_alter_table("meeting_plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_plan_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "dues_exemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("first_month", sa.Date(), nullable=False),
        sa.Column("last_month", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("voided_at", sa.DateTime(), nullable=True),
        sa.Column("voided_by", sa.String(length=80), nullable=True),
        sa.Column("void_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "last_month IS NULL OR last_month >= first_month",
            name=op.f("ck_dues_exemption_last_not_before_first"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_dues_exemption_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dues_exemption")),
    )
    with op.batch_alter_table("dues_exemption", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dues_exemption_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "dues_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("amount_fen", sa.Integer(), nullable=False),
        sa.Column("recorded_by", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("amount_fen >= 0", name=op.f("ck_dues_rate_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_dues_rate_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dues_rate")),
        sa.UniqueConstraint("member_id", "effective_from", name="uq_dues_rate_member_month"),
    )
    with op.batch_alter_table("dues_rate", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dues_rate_member_id"), ["member_id"], unique=False)

    op.create_table(
        "unit_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=False),
        sa.Column("since", sa.Date(), nullable=True),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "role IN ('secretary', 'deputy_secretary', 'organisation', 'publicity', 'discipline', 'committee_member', 'group_leader')",
            name=op.f("ck_unit_role_role"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_unit_role_member_id_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["unit.id"], name=op.f("fk_unit_role_unit_id_unit"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unit_role")),
        sa.UniqueConstraint("unit_id", "member_id", "role", name="uq_unit_role_unit_member_role"),
    )
    with op.batch_alter_table("unit_role", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unit_role_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_unit_role_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "attendance_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("corrected_by", sa.String(length=80), nullable=False),
        sa.Column("corrected_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "from_status IN ('present', 'late', 'excused', 'absent', 'made_up', 'visitor', 'undone')",
            name=op.f("ck_attendance_correction_from_status"),
        ),
        sa.CheckConstraint(
            "to_status IN ('present', 'late', 'excused', 'absent', 'made_up', 'visitor', 'undone')",
            name=op.f("ck_attendance_correction_to_status"),
        ),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["attendance.id"],
            name=op.f("fk_attendance_correction_attendance_id_attendance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendance_correction")),
    )
    with op.batch_alter_table("attendance_correction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attendance_correction_attendance_id"), ["attendance_id"], unique=False
        )

    with op.batch_alter_table("dues_payment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("voided_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("voided_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("void_reason", sa.String(length=200), nullable=True))

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("cancel_reason", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("plan_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_meeting_plan_id"), ["plan_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_meeting_plan_id_meeting_plan"),
            "meeting_plan",
            ["plan_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(op.f("ck_meeting_status"), type_="check")
        batch_op.create_check_constraint(
            "status", "status IN ('scheduled', 'open', 'closed', 'cancelled')"
        )

    # A member's single monthly amount becomes the first line of their dues history,
    # effective from before any tracked month.
    op.execute(
        sa.text(
            "INSERT INTO dues_rate (member_id, effective_from, amount_fen, recorded_by, "
            "recorded_at) SELECT id, :month, dues_monthly_fen, 'migration', updated_at "
            "FROM member WHERE dues_monthly_fen IS NOT NULL"
        ).bindparams(month=date(2000, 1, 1))
    )
    # An existing installation's organisation is its first committee; dues were tracked from
    # the former configuration's default month.
    op.execute(
        sa.text(
            "INSERT INTO organisation (name, dues_tracked_from, created_at, updated_at) "
            "SELECT name, :month, created_at, created_at FROM unit "
            "WHERE id = (SELECT min(id) FROM unit WHERE parent_id IS NULL)"
        ).bindparams(month=date(2025, 12, 1))
    )
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dues_from", sa.Date(), nullable=True))
        batch_op.drop_column("dues_monthly_fen")

    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("must_change_password")

    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("closed_at")

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dues_monthly_fen", sa.INTEGER(), nullable=True))
        batch_op.drop_column("dues_from")
    op.execute(
        "UPDATE member SET dues_monthly_fen = (SELECT r.amount_fen FROM dues_rate r "
        "WHERE r.member_id = member.id ORDER BY r.effective_from DESC LIMIT 1)"
    )

    op.execute("UPDATE meeting SET status = 'closed' WHERE status = 'cancelled'")
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_meeting_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('scheduled', 'open', 'closed')")
        batch_op.drop_constraint(batch_op.f("fk_meeting_plan_id_meeting_plan"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_meeting_plan_id"))
        batch_op.drop_column("plan_id")
        batch_op.drop_column("cancel_reason")
        batch_op.drop_column("cancelled_by")
        batch_op.drop_column("cancelled_at")

    with op.batch_alter_table("dues_payment", schema=None) as batch_op:
        batch_op.drop_column("void_reason")
        batch_op.drop_column("voided_by")
        batch_op.drop_column("voided_at")
        batch_op.drop_column("note")

    with op.batch_alter_table("attendance_correction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attendance_correction_attendance_id"))

    op.drop_table("attendance_correction")
    with op.batch_alter_table("unit_role", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unit_role_unit_id"))
        batch_op.drop_index(batch_op.f("ix_unit_role_member_id"))

    op.drop_table("unit_role")
    with op.batch_alter_table("dues_rate", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dues_rate_member_id"))

    op.drop_table("dues_rate")
    with op.batch_alter_table("dues_exemption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dues_exemption_member_id"))

    op.drop_table("dues_exemption")
    with op.batch_alter_table("meeting_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_plan_unit_id"))

    op.drop_table("meeting_plan")
    op.drop_table("organisation")
