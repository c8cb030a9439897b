"""The dashboard's own tables, on the shared metadata: failed logins (the rate limit must hold
across replicas and restarts, so it lives in the database) and the operators' actions."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Index, Integer, String, Table

from chipin.store.tables import UTCDateTime, metadata

admin_login_attempts = Table(
    "admin_login_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("client", String(64), nullable=False),  # the client's IP address
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_admin_login_attempts_client_at", "client", "at"),
    Index("ix_admin_login_attempts_at", "at"),
)

admin_actions = Table(
    "admin_actions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(64), nullable=False),  # "admin:<session id prefix>"
    Column("action", String(32), nullable=False),  # login | reprocess | retry | cancel | …
    Column("target", String(64), nullable=True),  # "inbox 12", "outbox 7", "entry 3"
    Column("detail", JSON, nullable=True),
    Index("ix_admin_actions_at", "at"),
)
