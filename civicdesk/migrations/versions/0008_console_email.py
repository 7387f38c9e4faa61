"""console email cases: who handled a case needing a person, and when

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 16:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicdesk.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_email", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handled_at", civicdesk.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("handled_by", sa.String(length=120), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_email", schema=None) as batch_op:
        batch_op.drop_column("handled_by")
        batch_op.drop_column("handled_at")
