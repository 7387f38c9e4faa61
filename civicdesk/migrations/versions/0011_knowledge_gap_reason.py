"""knowledge gap reason: a search without a confident answer, or a message the assistant did not understand

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("knowledge_gap", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=20), server_default="unsure_search", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("knowledge_gap", schema=None) as batch_op:
        batch_op.drop_column("reason")
