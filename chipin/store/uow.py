"""The SQL unit of work: one connection, one transaction, the repositories that share it.

Units of work nest: entering one that is already open starts a SAVEPOINT, so a service that
commits its own work can run inside a caller's larger transaction (the worker applies a message,
writes the replies and marks the message done in one transaction). An inner ``commit()`` only
releases its savepoint; leaving an inner block without commit rolls back to it; nothing is
durable until the outermost block commits.

A unit of work opened with ``savepoints=False`` skips those savepoints (two round trips per
block, four per chat message): the worker's fast path, which applies a whole round of messages
in one transaction and, if anything goes wrong, rolls the round back and applies it again with
savepoints. A nested block that is left without commit after it wrote something cannot be
undone then, so it *spoils* the unit of work; the caller must roll it all back. Writes are
counted by an engine event (``before_execute``), which also empties the unit of work's look-up
cache when a table it caches from is written.
"""

from __future__ import annotations

import re
import threading
import weakref
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, event
from sqlalchemy.engine import NestedTransaction

from chipin.store.conversations import ConversationRepository
from chipin.store.drafts import DraftRepository
from chipin.store.inbox import InboxQueue
from chipin.store.outbox import OutboxQueue
from chipin.store.repository import SqlLedgerRepository

_UOW = "chipin.uow"
"""Key in the DBAPI connection's ``info`` of the unit of work that holds it."""

CACHED_TABLES = frozenset({"conversations", "members", "member_identities", "budgets", "groups"})
"""Tables read into :attr:`SqlUnitOfWork.cache`: a write to one of them empties it."""

_TEXT_WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
_counted: weakref.WeakSet[Engine] = weakref.WeakSet()
_counted_lock = threading.Lock()


def _written_table(statement: Any) -> str | None:
    """The table an INSERT, UPDATE or DELETE writes (for a WITH statement writing several,
    one of them, a cached one first); None for anything that does not write."""
    if getattr(statement, "is_dml", False):
        return str(statement.table.name)
    text = statement if isinstance(statement, str) else getattr(statement, "text", None)
    if not isinstance(text, str):
        return None
    head = text.lstrip()[:4].upper()
    if head == "WITH":  # data-modifying CTEs (one statement writing several tables)
        tables = {t.lower() for t in _TEXT_WRITE.findall(text)}
        cached = sorted(tables & CACHED_TABLES)
        return cached[0] if cached else min(tables, default=None)
    found = _TEXT_WRITE.match(text.lstrip())
    return found.group(1).lower() if found else None


def _on_execute(conn: Connection, statement: Any, *_: Any) -> None:
    uow = conn.info.get(_UOW)
    if uow is not None:
        table = _written_table(statement)
        if table is not None:
            uow._wrote(table)


def _count_writes(engine: Engine) -> None:
    if engine in _counted:
        return
    with _counted_lock:
        if engine not in _counted:
            event.listen(engine, "before_execute", _on_execute)
            _counted.add(engine)


class StaleMessages(RuntimeError):
    """A message held back as done was no longer pending when written (another worker
    finished it): what was written for it must be rolled back."""


class _Flat:
    """A nested block without a savepoint (``savepoints=False``)."""

    __slots__ = ("committed", "writes")

    def __init__(self, writes: int) -> None:
        self.writes = writes
        self.committed = False


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ...; uow.commit()`` — nothing is kept without commit.

    ``readonly=True`` opens a deferred transaction on SQLite so readers never queue behind the
    write lock, and a REPEATABLE READ snapshot on PostgreSQL so every query sees one state.
    ``savepoints=False``: nested blocks without savepoints (see the module's docstring).
    """

    def __init__(self, engine: Engine, *, readonly: bool = False, savepoints: bool = True) -> None:
        self.engine = engine
        self.readonly = readonly
        self.savepoints = savepoints
        self._conn: Connection | None = None
        self._ledger: SqlLedgerRepository | None = None
        self._savepoints: list[NestedTransaction | _Flat] = []
        self.cache: dict[Any, Any] = {}
        """Look-ups for the length of this unit of work (conversations, a group's phones, its
        budgets): emptied on rollback and whenever one of :data:`CACHED_TABLES` is written."""
        self.writes = 0
        """Statements that wrote, so far."""
        self.spoiled = False
        """A nested block without a savepoint was left without commit after writing: only a
        rollback of the whole unit of work undoes it."""
        self._held_outbox: list[dict[str, Any]] = []
        self._held_done: list[dict[str, Any]] = []
        _count_writes(engine)

    def _wrote(self, table: str) -> None:
        self.writes += 1
        if table in CACHED_TABLES:
            self.cache.clear()

    def __enter__(self) -> Self:
        if self._conn is not None:
            if self.savepoints:
                self._savepoints.append(self._conn.begin_nested())
            else:
                self._savepoints.append(_Flat(self.writes))
            return self
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(readonly=True)
            if conn.dialect.name == "postgresql":
                # one snapshot for the whole read: a report (or `chipin check`, which compares
                # two queries) never mixes states while writers commit in between
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
        conn.begin()
        conn.info[_UOW] = self
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
            if isinstance(savepoint, _Flat):
                if not savepoint.committed and self.writes > savepoint.writes:
                    self.spoiled = True
            elif savepoint.is_active:
                savepoint.rollback()
                self._forget()
            return
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.info.pop(_UOW, None)
            self._conn.close()
            self._conn = None
            self._ledger = None
            self.cache.clear()
            self.spoiled = False
            self._held_outbox.clear()
            self._held_done.clear()

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
        return InboxQueue(self.connection, self.flush)

    @property
    def outbox(self) -> OutboxQueue:
        return OutboxQueue(self.connection, self.flush)

    # -- writes held back to the end of a round ---------------------------------------------

    def add_later(self, row: dict[str, Any]) -> None:
        """``outbox.add(**row)``, held back until :meth:`flush`: the worker queues a round's
        replies with one executemany instead of a statement per message. Any other outbox or
        inbox write of this unit of work flushes first, so ids keep the order things were said
        and a cancel sees every reply."""
        self._held_outbox.append(row)
        self.writes += 1

    def complete_later(self, row: dict[str, Any]) -> None:
        """``inbox.complete`` (a :func:`chipin.store.inbox.done_row`), held back likewise."""
        self._held_done.append(row)
        self.writes += 1

    def flush(self) -> None:
        """Write what is held back. Raises :class:`StaleMessages` (and the caller must roll
        back) when a message held as done was not pending any more."""
        if self._held_outbox:
            rows, self._held_outbox = self._held_outbox, []
            OutboxQueue(self.connection).add_many(rows)
        if self._held_done:
            done, self._held_done = self._held_done, []
            if InboxQueue(self.connection).complete_many(done) != len(done):
                raise StaleMessages("a message of this round was finished by another worker")

    @property
    def conversations(self) -> ConversationRepository:
        return ConversationRepository(self.connection, self.cache)

    @property
    def drafts(self) -> DraftRepository:
        return DraftRepository(self.connection)

    def commit(self) -> None:
        if self._savepoints:
            savepoint = self._savepoints[-1]
            if isinstance(savepoint, _Flat):
                savepoint.committed = True
            else:
                savepoint.commit()
            return
        self.flush()
        # The next statement autobegins a new transaction (through the same BEGIN hook).
        self.connection.commit()

    def rollback(self) -> None:
        if self._savepoints:
            savepoint = self._savepoints[-1]
            if isinstance(savepoint, _Flat):
                if self.writes > savepoint.writes:
                    self.spoiled = True
                return
            savepoint.rollback()
        else:
            self.connection.rollback()
            self.spoiled = False
        self._forget()

    def _forget(self) -> None:
        """After a rollback, what was read or written in it may no longer be so."""
        self.ledger.forget_cache()
        self.cache.clear()
        if not self._savepoints:
            self._held_outbox.clear()
            self._held_done.clear()
