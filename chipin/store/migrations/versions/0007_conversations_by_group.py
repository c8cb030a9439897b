"""conversations by group

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22

Every alert, digest and recorded entry looks up the conversations of its group; without an
index that was a scan of every conversation, so a scheduler pass grew with the square of the
number of groups (bench/scheduler.py: 10,000 groups took 21 times as long as 1,000).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_conversations_group", "conversations", ["group_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_conversations_group", table_name="conversations")
