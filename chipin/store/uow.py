"""The SQL unit of work: one connection, one transaction, the repositories that share it.

Units of work nest: entering one that is already open starts a SAVEPOINT, so a service that
commits its own work can run inside a caller's larger transaction (the worker applies a message,
writes the replies and marks the message done in one transaction). An inner ``commit()`` only
releases its savepoint; leaving an inner block without commit rolls back to it; nothing is
durable until the outermost block commits.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import NestedTransaction

from chipin.store.conversations import ConversationRepository
from chipin.store.drafts import DraftRepository
from chipin.store.inbox import InboxQueue
from chipin.store.outbox import OutboxQueue
from chipin.store.repository import SqlLedgerRepository


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ...; uow.commit()`` — nothing is kept without commit.

    ``readonly=True`` opens a deferred transaction on SQLite so readers never queue behind the
    write lock, and a REPEATABLE READ snapshot on PostgreSQL so every query sees one state.
    """

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self._conn: Connection | None = None
        self._ledger: SqlLedgerRepository | None = None
        self._savepoints: list[NestedTransaction] = []
        self._conversations: dict[Any, Any] = {}

    def __enter__(self) -> Self:
        if self._conn is not None:
            self._savepoints.append(self._conn.begin_nested())
            return self
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(readonly=True)
            if conn.dialect.name == "postgresql":
                # one snapshot for the whole read: a report (or `chipin check`, which compares
                # two queries) never mixes states while writers commit in between
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        self._conn = conn
        self._ledger = SqlLedgerRepository(conn)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._savepoints:
            savepoint = self._savepoints.pop()
            if savepoint.is_active:
                savepoint.rollback()
                self._forget()
            return
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None
            self._ledger = None
            self._conversations.clear()

    @property
    def ledger(self) -> SqlLedgerRepository:
        assert self._ledger is not None, "unit of work used outside its with-block"
        return self._ledger

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside its with-block"
        return self._conn

    @property
    def inbox(self) -> InboxQueue:
        return InboxQueue(self.connection)

    @property
    def outbox(self) -> OutboxQueue:
        return OutboxQueue(self.connection)

    @property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self.connection, self._conversations)

    @property
    def drafts(self) -> DraftRepository:
        return DraftRepository(self.connection)

    def commit(self) -> None:
        if self._savepoints:
            self._savepoints[-1].commit()
            return
        # The next statement autobegins a new transaction (through the same BEGIN hook).
        self.connection.commit()

    def rollback(self) -> None:
        if self._savepoints:
            self._savepoints[-1].rollback()
        else:
            self.connection.rollback()
        self._forget()

    def _forget(self) -> None:
        """After a rollback, what was read or written in it may no longer be so."""
        self.ledger.forget_cache()
        self._conversations.clear()
