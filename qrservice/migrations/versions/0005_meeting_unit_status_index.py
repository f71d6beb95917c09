"""meetings found by unit and status

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 07:05:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A member's open meetings (the card page) by unit: without it SQLite walks every open
    # meeting of the organisation through ix_meeting_status.
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.create_index("ix_meeting_unit_id_status", ["unit_id", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meeting", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_unit_id_status")
