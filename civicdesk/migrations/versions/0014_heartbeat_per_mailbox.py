"""heartbeat per mailbox: each mailbox's ingester beats under `ingester:<mailbox>`, which may be a long IMAP URL

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 02:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("component_heartbeat", schema=None) as batch_op:
        batch_op.alter_column("component", existing_type=sa.String(64), type_=sa.String(320))
    # the single ingester row of earlier versions would read as an ingester gone stale
    op.execute("DELETE FROM component_heartbeat WHERE component = 'ingester'")


def downgrade() -> None:
    op.execute("DELETE FROM component_heartbeat WHERE component LIKE 'ingester:%'")
    with op.batch_alter_table("component_heartbeat", schema=None) as batch_op:
        batch_op.alter_column("component", existing_type=sa.String(320), type_=sa.String(64))
