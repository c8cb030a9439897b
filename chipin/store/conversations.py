"""Conversations (a chat on a provider, bound to a group) and members' channel identities."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, select, text, update

from chipin.store import tables as t
from chipin.store.sql import insert_ignore

_ROSTER = text(
    "SELECT g.name AS group_name, m.name_key AS member_key, m.name AS member_name"
    " FROM conversations c"
    " JOIN groups g ON g.id = c.group_id"
    " LEFT JOIN members m ON m.group_id = c.group_id AND m.active"
    " WHERE c.channel = :channel AND c.external_id = :room"
)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    channel: str
    external_id: str
    group_id: int | None
    title: str | None
    active: bool

    @property
    def key(self) -> str:
        return conversation_key(self.channel, self.external_id)


def conversation_key(channel: str, external_id: str) -> str:
    return f"{channel}:{external_id}"


def split_conversation_key(key: str) -> tuple[str, str]:
    """(channel, external id) of a :func:`conversation_key`."""
    channel, _, external_id = key.partition(":")
    return channel, external_id


class ConversationRepository:
    def __init__(self, conn: Connection, cache: dict[Any, Any] | None = None) -> None:
        self.conn = conn
        self._cache: dict[Any, Any] = {} if cache is None else cache
        """For one unit of work, ("get", channel, external id) → conversation and ("group",
        id) → its conversations: a message looks its conversation up several times (the group,
        the member, the reply) and a scheduler pass a group's for every alert. The unit of work
        empties it on rollback and on any write to a table it caches from (conversations
        included), so the writes here need not."""

    @staticmethod
    def _record(r: Any) -> Conversation:
        return Conversation(r.id, r.channel, r.external_id, r.group_id, r.title, bool(r.active))

    def get(self, channel: str, external_id: str) -> Conversation | None:
        key = ("get", channel, external_id)
        if key in self._cache:
            cached: Conversation | None = self._cache[key]
            return cached
        row = self.conn.execute(
            select(t.conversations).where(
                and_(
                    t.conversations.c.channel == channel,
                    t.conversations.c.external_id == external_id,
                )
            )
        ).first()
        found = self._cache[key] = self._record(row) if row else None
        return found

    def load(self, chats: Iterable[tuple[str, str]]) -> None:
        """Read the conversations of (channel, external id) ``chats`` into the cache with a
        query per channel, not one per chat (a worker's round starts with this)."""
        by_channel: dict[str, set[str]] = {}
        for channel, external_id in chats:
            if ("get", channel, external_id) not in self._cache:
                by_channel.setdefault(channel, set()).add(external_id)
        for channel, ids in by_channel.items():
            for external_id in ids:
                self._cache[("get", channel, external_id)] = None  # unless found below
            rows = self.conn.execute(
                select(t.conversations).where(
                    and_(
                        t.conversations.c.channel == channel,
                        t.conversations.c.external_id.in_(sorted(ids)),
                    )
                )
            )
            for row in rows:
                self._cache[("get", channel, row.external_id)] = self._record(row)

    def by_id(self, conversation_id: int) -> Conversation | None:
        row = self.conn.execute(
            select(t.conversations).where(t.conversations.c.id == conversation_id)
        ).first()
        return self._record(row) if row else None

    def for_group(self, group_id: int) -> list[Conversation]:
        key = ("group", group_id)
        if key not in self._cache:
            rows = self.conn.execute(
                select(t.conversations).where(t.conversations.c.group_id == group_id)
            )
            self._cache[key] = [self._record(r) for r in rows]
        return list(self._cache[key])

    def get_or_create(
        self, channel: str, external_id: str, now: dt.datetime, *, title: str | None = None
    ) -> Conversation:
        found = self.get(channel, external_id)
        if found is not None:
            return found
        self.conn.execute(
            insert_ignore(self.conn, t.conversations)
            .values(
                channel=channel,
                external_id=external_id,
                title=title,
                active=True,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing()
        )
        created = self.get(channel, external_id)
        assert created is not None
        return created

    def update(self, conversation_id: int, now: dt.datetime, **fields: Any) -> None:
        self.conn.execute(
            update(t.conversations)
            .where(t.conversations.c.id == conversation_id)
            .values(updated_at=now, **fields)
        )

    def roster(self, channel: str, external_id: str) -> tuple[str, dict[str, str]] | None:
        """The group name of a chat and its active members' stored names by name key, in one
        query (the playground checks every speaker against it); None: no such chat or group."""
        rows = self.conn.execute(_ROSTER, {"channel": channel, "room": external_id}).all()
        if not rows:
            return None
        names = {r.member_key: r.member_name for r in rows if r.member_key is not None}
        return str(rows[0].group_name), names

    def member_for(self, group_id: int, channel: str, external_user_id: str) -> int | None:
        """The member id of this channel user in this group, if they are linked."""
        row = self.conn.execute(
            select(t.member_identities.c.member_id)
            .join(t.members, t.members.c.id == t.member_identities.c.member_id)
            .where(
                and_(
                    t.members.c.group_id == group_id,
                    t.member_identities.c.channel == channel,
                    t.member_identities.c.external_user_id == external_user_id,
                )
            )
        ).first()
        return int(row[0]) if row else None

    def link_member(
        self,
        member_id: int,
        channel: str,
        external_user_id: str,
        display_name: str | None,
        now: dt.datetime,
        *,
        handle: str | None = None,
    ) -> None:
        """Link a member to their identity on a channel (kept as first linked) and keep their
        latest @username. It runs for every message a member sends, so the identity is read
        once per unit of work and written only when it is new or its handle changed (a write
        per message also emptied the unit of work's cache every time)."""
        clean = handle.lstrip("@").casefold() if handle else None
        key = ("identity", member_id, channel)
        known: tuple[str, str | None] | None = self._cache.get(key)
        if known is None:
            row = self.conn.execute(
                select(t.member_identities.c.external_user_id, t.member_identities.c.handle).where(
                    and_(
                        t.member_identities.c.member_id == member_id,
                        t.member_identities.c.channel == channel,
                    )
                )
            ).first()
            known = (str(row.external_user_id), row.handle) if row else None
        if known is None:
            self.conn.execute(
                insert_ignore(self.conn, t.member_identities)
                .values(
                    member_id=member_id,
                    channel=channel,
                    external_user_id=external_user_id,
                    display_name=display_name,
                    handle=clean,
                    created_at=now,
                )
                .on_conflict_do_nothing()
            )
            known = (external_user_id, clean)
        elif clean is not None and known[1] != clean:  # people change their @username
            self.conn.execute(
                update(t.member_identities)
                .where(
                    and_(
                        t.member_identities.c.member_id == member_id,
                        t.member_identities.c.channel == channel,
                    )
                )
                .values(handle=clean)
            )
            known = (known[0], clean)
        self._cache[key] = known  # after the writes: a write empties the cache

    def member_by_handle(self, group_id: int, channel: str, handle: str) -> int | None:
        """The member of ``group_id`` whose @username on ``channel`` is ``handle``."""
        row = self.conn.execute(
            select(t.member_identities.c.member_id)
            .join(t.members, t.members.c.id == t.member_identities.c.member_id)
            .where(
                and_(
                    t.members.c.group_id == group_id,
                    t.member_identities.c.channel == channel,
                    t.member_identities.c.handle == handle.lstrip("@").casefold(),
                )
            )
        ).first()
        return int(row[0]) if row else None

    def memberships(self, channel: str, external_user_id: str) -> list[tuple[int, int]]:
        """(group id, member id) of every group this channel user is a member of."""
        rows = self.conn.execute(
            select(t.members.c.group_id, t.members.c.id)
            .join(t.member_identities, t.member_identities.c.member_id == t.members.c.id)
            .where(
                and_(
                    t.member_identities.c.channel == channel,
                    t.member_identities.c.external_user_id == external_user_id,
                )
            )
            .order_by(t.members.c.group_id)
        )
        return [(int(g), int(m)) for g, m in rows]
