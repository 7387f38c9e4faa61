"""knowledge gaps

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:49:48.297398
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicdesk.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "knowledge_gap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("top_slug", sa.String(length=120), nullable=True),
        sa.Column("top_score", sa.Double(), nullable=True),
        sa.Column("asked_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_gap")),
    )
    with op.batch_alter_table("knowledge_gap", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_knowledge_gap_asked_at"), ["asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("knowledge_gap", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_knowledge_gap_asked_at"))

    op.drop_table("knowledge_gap")
