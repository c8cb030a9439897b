"""The SQL unit of work: one connection, one transaction, one ledger repository."""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Connection, Engine

from chipin.store.repository import SqlLedgerRepository


class SqlUnitOfWork:
    """``with SqlUnitOfWork(engine) as uow: ...; uow.commit()`` — nothing is kept without commit.

    ``readonly=True`` opens a deferred transaction on SQLite so readers never queue behind the
    write lock.
    """

    def __init__(self, engine: Engine, *, readonly: bool = False) -> None:
        self.engine = engine
        self.readonly = readonly
        self._conn: Connection | None = None
        self._ledger: SqlLedgerRepository | None = None

    def __enter__(self) -> Self:
        conn = self.engine.connect()
        if self.readonly:
            conn = conn.execution_options(readonly=True)
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
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self._conn.rollback()
        finally:
            self._conn.close()
            self._conn = None

    @property
    def ledger(self) -> SqlLedgerRepository:
        assert self._ledger is not None, "unit of work used outside its with-block"
        return self._ledger

    @property
    def connection(self) -> Connection:
        assert self._conn is not None, "unit of work used outside its with-block"
        return self._conn

    def commit(self) -> None:
        # The next statement autobegins a new transaction (through the same BEGIN hook).
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()
