"""outbox by conversation and status

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22

The dispatcher sends at most the oldest waiting row of each conversation, so each candidate
asks "is there an earlier waiting row in this conversation?". With only (conversation_key, id)
indexed, that read every earlier row of the conversation, sent ones included: with 10,000
replies waiting after a restart one claim took 10 s (bench/pipeline.py), growing with the
square of the backlog. With the status in the index it is one short range probe.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_conversation_status",
        "outbox",
        ["conversation_key", "status", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_conversation_status", table_name="outbox")
