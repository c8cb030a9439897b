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

# -- the message pipeline ------------------------------------------------------------------------

conversations = Table(
    "conversations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),  # web | cli | telegram | whatsapp | sms
    Column("external_id", String(200), nullable=False),  # the provider's chat id
    Column("group_id", ForeignKey("groups.id", ondelete="SET NULL"), nullable=True),
    Column("title", String(200), nullable=True),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    UniqueConstraint("channel", "external_id", name="uq_conversations_channel_external"),
    Index("ix_conversations_group", "group_id"),
)

member_identities = Table(
    "member_identities",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("member_id", ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("external_user_id", String(200), nullable=False),  # Telegram user id, phone, web id
    Column("display_name", String(200), nullable=True),
    # a Telegram @username (lower case, without the @), so "@raj_p" finds Raj
    Column("handle", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("member_id", "channel", name="uq_member_identities_member_channel"),
    Index("ix_member_identities_lookup", "channel", "external_user_id"),
    Index("ix_member_identities_handle", "channel", "handle"),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    # Telegram update_id, Twilio MessageSid, a callback id: a redelivery is stored nowhere.
    Column("provider_id", String(200), nullable=False),
    Column("conversation_key", String(250), nullable=False),
    Column("kind", String(16), nullable=False),  # message | action | event
    Column("payload", JSON, nullable=False),  # the normalised inbound message
    Column("raw", JSON, nullable=True),  # the provider's payload, for the dashboard
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("needs_review", Boolean, nullable=False, server_default="0"),
    Column("result", JSON, nullable=True),  # what the parser made of it and what was done
    Column("entry_id", ForeignKey("entries.id", ondelete="SET NULL"), nullable=True),
    Column("received_at", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("channel", "provider_id", name="uq_inbox_channel_provider"),
    Index("ix_inbox_pending", "status", "conversation_key", "id"),
    Index("ix_inbox_received", "received_at"),
)

conversation_leases = Table(
    "conversation_leases",
    metadata,
    # One row per conversation with work; a worker holds the lease while it handles the
    # conversation's messages in order, so no two messages of a group run at once.
    Column("conversation_key", String(250), primary_key=True),
    Column("holder", String(64), nullable=True),
    Column("lease_until", UTCDateTime(), nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("conversation_key", String(250), nullable=False),
    Column("recipient", String(200), nullable=False),  # chat id or phone number
    Column("kind", String(16), nullable=False),  # send | edit | answer
    Column("payload", JSON, nullable=False),  # rendered text, format, actions, reply-to …
    Column("status", String(16), nullable=False),  # pending | sent | failed | dead | cancelled
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UTCDateTime(), nullable=True),
    Column("provider_message_id", String(200), nullable=True),
    Column("provider_status", String(32), nullable=True),
    Column("inbox_id", ForeignKey("inbox.id", ondelete="SET NULL"), nullable=True),
    # a producer's idempotency key ("inbox 12 reply 0", "alert …"): written at most once
    Column("dedupe_key", String(250), nullable=True, unique=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Index("ix_outbox_due", "status", "next_attempt_at"),
    Index("ix_outbox_conversation", "conversation_key", "id"),
    # "an earlier waiting row in this conversation?", asked of every row the dispatcher claims
    Index("ix_outbox_conversation_status", "conversation_key", "status", "id"),
)

drafts = Table(
    "drafts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("group_id", ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    Column("author_id", ForeignKey("members.id"), nullable=False),
    Column("inbox_id", ForeignKey("inbox.id", ondelete="SET NULL"), nullable=True),
    Column("kind", String(16), nullable=False),  # expense | payment | member
    Column("body", JSON, nullable=False),  # the entry in the ledger file format, or a name
    Column("status", String(16), nullable=False),  # pending | confirmed | cancelled | expired
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("entry_id", ForeignKey("entries.id", ondelete="SET NULL"), nullable=True),
    Index("ix_drafts_group_status", "group_id", "status"),
)
