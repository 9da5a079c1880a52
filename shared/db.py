"""The database: one engine per process, short-lived sessions, SQLite and PostgreSQL alike."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, *, autocommit: bool = False,
                idle_transaction_s: float | None = None) -> Engine:
    """An engine for `url`; SQLite gets WAL and a busy timeout so web and workers can share it.

    `autocommit`: for single-statement reads, with no transaction to begin and roll back and
    no ping at checkout (on PostgreSQL: 120 µs a read instead of 390 µs); the caller retries
    once on a dropped connection instead (`Database.read_one`).
    `idle_transaction_s`: PostgreSQL ends a session left that long inside a transaction, so
    a client that vanished mid-transaction frees its row locks (SQLite has no sessions).
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
    # A server connection can drop between uses and is pinged at checkout; a SQLite file can't.
    options: dict = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    if idle_transaction_s and url.startswith("postgresql"):
        milliseconds = max(1, round(idle_transaction_s * 1000))
        options["connect_args"] = {
            "options": f"-c idle_in_transaction_session_timeout={milliseconds}"}
    engine = create_engine(url, pool_pre_ping=not url.startswith("sqlite") and not autocommit,
                           future=True, **options)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


# SQLSTATEs of PostgreSQL; SQLite says the same in its message only.
_VIOLATIONS = {"23503": "foreign_key", "23505": "unique"}
_SQLITE_VIOLATIONS = {"FOREIGN KEY constraint failed": "foreign_key",
                      "UNIQUE constraint failed": "unique"}


def violation(exc: IntegrityError) -> str | None:
    """'foreign_key' or 'unique' when `exc` broke such a constraint, on either database."""
    state = getattr(exc.orig, "sqlstate", None)
    if state is not None:
        return _VIOLATIONS.get(state)
    message = str(exc.orig)
    return next((kind for text, kind in _SQLITE_VIOLATIONS.items() if message.startswith(text)),
                None)


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """An engine and its session factory; `with db.session() as s:` commits or rolls back.

    A session holds no transaction open across slow work (a store call, a stream): past
    `idle_transaction_s` the server ends it (`make_engine`)."""

    def __init__(self, url: str, idle_transaction_s: float | None = None):
        self.url = url
        self.engine = make_engine(url, idle_transaction_s=idle_transaction_s)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @functools.cached_property
    def reader(self) -> Engine:
        """A second engine (its own pool) for the single-statement reads clients poll."""
        return make_engine(self.url, autocommit=True)

    def read_one(self, statement, **params) -> Row | None:
        """One row (or None) of a select, on the reader: no Session, no transaction. Reads
        only: the statement may run twice.

        A connection the server dropped (a restart, an idle timeout) fails the first try and
        invalidates the pool; the second try gets a new connection.
        """
        for last_try in (False, True):
            try:
                with self.reader.connect() as conn:
                    return conn.execute(statement, params).one_or_none()
            except DBAPIError as exc:
                if last_try or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
        if "reader" in self.__dict__:  # made on first use
            self.reader.dispose()
