"""chat service levels: when a conversation last joined the queue and when an agent took it

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicdesk.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("queued_at")
