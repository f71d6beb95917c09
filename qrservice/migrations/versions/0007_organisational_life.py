"""organisational life

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:06:36.396838
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "points_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_kind", sa.String(length=24), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=80), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "meeting_kind IN ('branch_general', 'branch_committee', 'group', 'lecture', 'theme_day', 'org_life', 'volunteer', 'other')",
            name=op.f("ck_points_rule_meeting_kind"),
        ),
        sa.CheckConstraint(
            "points >= 0 AND points <= 100", name=op.f("ck_points_rule_points_range")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_rule")),
        sa.UniqueConstraint("meeting_kind", name=op.f("uq_points_rule_meeting_kind")),
    )
    op.create_table(
        "transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("from_unit_id", sa.Integer(), nullable=False),
        sa.Column("to_unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("started_by", sa.String(length=80), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("released_by", sa.String(length=80), nullable=True),
        sa.Column("released_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("refusal_reason", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('requested', 'released', 'accepted', 'refused', 'cancelled')",
            name=op.f("ck_transfer_status"),
        ),
        sa.CheckConstraint("from_unit_id != to_unit_id", name=op.f("ck_transfer_different_units")),
        sa.ForeignKeyConstraint(
            ["from_unit_id"],
            ["unit.id"],
            name=op.f("fk_transfer_from_unit_id_unit"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_transfer_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"],
            ["unit.id"],
            name=op.f("fk_transfer_to_unit_id_unit"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer")),
    )
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_transfer_from_unit_id"), ["from_unit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transfer_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_transfer_to_unit_id"), ["to_unit_id"], unique=False)

    op.create_table(
        "leave_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("requested_by", sa.String(length=80), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'refused', 'withdrawn')",
            name=op.f("ck_leave_request_status"),
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_leave_request_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_leave_request_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leave_request")),
        sa.UniqueConstraint("meeting_id", "member_id", name="uq_leave_request_meeting_member"),
    )
    with op.batch_alter_table("leave_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_leave_request_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_leave_request_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leave_request_status"), ["status"], unique=False)

    op.create_table(
        "makeup_study",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("photo_path", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("submitted_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("comment", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'returned')", name=op.f("ck_makeup_study_status")
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_makeup_study_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
            name=op.f("fk_makeup_study_member_id_member"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_makeup_study")),
    )
    with op.batch_alter_table("makeup_study", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_makeup_study_meeting_id"), ["meeting_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_makeup_study_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_makeup_study_status"), ["status"], unique=False)

    op.create_table(
        "meeting_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("caption", sa.String(length=200), nullable=True),
        sa.Column("uploaded_by", sa.String(length=80), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meeting.id"],
            name=op.f("fk_meeting_photo_meeting_id_meeting"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_photo")),
        sa.UniqueConstraint("path", name=op.f("uq_meeting_photo_path")),
    )
    with op.batch_alter_table("meeting_photo", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_photo_meeting_id"), ["meeting_id"], unique=False
        )

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.add_column(sa.Column("minutes", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("minutes_by", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("minutes_at", sa.DateTime(), nullable=True))

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("makeup_days", sa.Integer(), server_default=sa.text("30"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "makeup_min_chars", sa.Integer(), server_default=sa.text("50"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column("makeup_points", sa.Integer(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.add_column(
            sa.Column(
                "dues_on_time_points", sa.Integer(), server_default=sa.text("1"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "assessment_threshold", sa.Integer(), server_default=sa.text("2"), nullable=False
            )
        )
        batch_op.add_column(
            sa.Column(
                "rankings_enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False
            )
        )

    with op.batch_alter_table("points_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_points_entry_payment_id"), ["payment_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_points_entry_payment_id_dues_payment"),
            "dues_payment",
            ["payment_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(op.f("ck_points_entry_kind"), type_="check")
        batch_op.create_check_constraint(
            "kind",
            "kind IN ('attendance', 'make_up', 'dues', 'volunteer', 'study', 'award', "
            "'deduction', 'correction')",
        )


def downgrade() -> None:
    op.execute(
        "UPDATE points_entry SET kind = 'award' WHERE kind IN ('make_up', 'dues', 'volunteer', "
        "'study')"
    )
    with op.batch_alter_table("points_entry", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_points_entry_kind"), type_="check")
        batch_op.create_check_constraint(
            "kind", "kind IN ('attendance', 'award', 'deduction', 'correction')"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_points_entry_payment_id_dues_payment"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_points_entry_payment_id"))
        batch_op.drop_column("payment_id")

    with op.batch_alter_table("organisation", schema=None) as batch_op:
        batch_op.drop_column("rankings_enabled")
        batch_op.drop_column("assessment_threshold")
        batch_op.drop_column("dues_on_time_points")
        batch_op.drop_column("makeup_points")
        batch_op.drop_column("makeup_min_chars")
        batch_op.drop_column("makeup_days")

    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_column("minutes_at")
        batch_op.drop_column("minutes_by")
        batch_op.drop_column("minutes")

    with op.batch_alter_table("meeting_photo", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_photo_meeting_id"))

    op.drop_table("meeting_photo")
    with op.batch_alter_table("makeup_study", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_makeup_study_status"))
        batch_op.drop_index(batch_op.f("ix_makeup_study_member_id"))
        batch_op.drop_index(batch_op.f("ix_makeup_study_meeting_id"))

    op.drop_table("makeup_study")
    with op.batch_alter_table("leave_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_leave_request_status"))
        batch_op.drop_index(batch_op.f("ix_leave_request_member_id"))
        batch_op.drop_index(batch_op.f("ix_leave_request_meeting_id"))

    op.drop_table("leave_request")
    with op.batch_alter_table("transfer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transfer_to_unit_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_status"))
        batch_op.drop_index(batch_op.f("ix_transfer_member_id"))
        batch_op.drop_index(batch_op.f("ix_transfer_from_unit_id"))

    op.drop_table("transfer")
    op.drop_table("points_rule")
