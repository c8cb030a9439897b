"""The SQL schema (SQLAlchemy Core). Alembic migrations in ``chipin/store/migrations`` build it.

Money columns are BIGINT minor units. ``entry_lines`` holds one row per (entry, member) with what
that member paid and owes in the entry; ``balances`` holds the running per-(group, member,
currency) totals, maintained in the same transaction as every entry, and checked against a full
recompute from ``entry_lines``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (which has no zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware one")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False, unique=True),
    Column("currency", String(3), nullable=False),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("locale", String(16), nullable=False, server_default="en_US"),
    Column("created_at", UTCDateTime(), nullable=False),
)

members = Table(
    "members",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(200), nullable=False),
    Column("is_guest", Boolean, nullable=False, server_default="0"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("group_id", "name_key", name="uq_members_group_name"),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # expense | payment
    # The id an importer or a provider gave the entry: re-importing the same file is a no-op.
    Column("external_id", String(200), nullable=True),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category", String(64), nullable=True),
    Column("date", Date, nullable=False),
    Column("notes", Text, nullable=False, server_default=""),
    Column("method", String(32), nullable=True),
    Column("split", JSON, nullable=True),  # the split spec, member ids as keys
    Column("author_id", ForeignKey("members.id"), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("deleted_at", UTCDateTime(), nullable=True),
    UniqueConstraint("group_id", "external_id", name="uq_entries_group_external"),
    Index("ix_entries_group_date", "group_id", "date", "id"),
)

entry_lines = Table(
    "entry_lines",
    metadata,
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id"), primary_key=True),
    # group, currency and active are copied from the entry so the balance recompute is one
    # index-only aggregate, without a join.
    Column("group_id", Integer, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("share", BigInteger, nullable=False),
    Column("net", BigInteger, nullable=False),
    Index("ix_entry_lines_recompute", "group_id", "active", "currency", "member_id", "net"),
    Index("ix_entry_lines_member", "member_id", "entry_id"),
)

balances = Table(
    "balances",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", ForeignKey("members.id"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("amount", BigInteger, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("entry_id", ForeignKey("entries.id", ondelete="CASCADE"), nullable=True),
    Column("action", String(32), nullable=False),  # create | update | delete | restore | ...
    Column("actor", String(200), nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Index("ix_audit_log_group_at", "group_id", "at"),
    Index("ix_audit_log_entry", "entry_id"),
)

exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    # units of the group's currency one unit of ``currency`` is worth, as an exact decimal string
    Column("rate", String(40), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

settle_plans = Table(
    "settle_plans",
    metadata,
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True),
    Column("currency", String(3), primary_key=True),
    # the plan last shown, member ids and minor units, so recording one suggested payment keeps
    # the other suggestions as they were
    Column("plan", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
