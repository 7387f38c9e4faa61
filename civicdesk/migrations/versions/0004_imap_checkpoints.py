"""IMAP checkpoints: UIDVALIDITY and last stored UID per mail folder

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 08:10:42.260143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import civicdesk.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mail_checkpoint",
        sa.Column("mailbox", sa.String(length=300), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("last_folder", sa.String(length=200), nullable=False),
        sa.Column("updated_at", civicdesk.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name=op.f("pk_mail_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("mail_checkpoint")
