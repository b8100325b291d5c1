"""Engine settings per database (S26): SQLite in WAL mode with a busy timeout and
write transactions begun IMMEDIATE; PostgreSQL without JIT compilation (it took 20-30 ms
of every query the planner thinks large, such as the Outbox's counts of reminders due,
more than the queries themselves: README, "Performance").

A GET or HEAD request of the web app only reads (a denial it audits is written in a
transaction of its own, which begins with the write): its transactions begin deferred, so
that readers in several workers run side by side under WAL instead of queueing for the
write lock. Everything else (forms, the job, the CLI) begins IMMEDIATE."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g, has_app_context, request
from sqlalchemy import event

from vip.extensions import db

SQLITE_BUSY_TIMEOUT_MS = 10_000
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})


def _unicode_lower(value):
    return value.lower() if isinstance(value, str) else value


def configure_engine_events(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":

        @event.listens_for(engine, "connect")
        def _on_postgresql_connect(dbapi_connection, _record):
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET jit = off")
            dbapi_connection.commit()  # a setting made in a transaction rolled back is undone

        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        # SQLite's own lower() knows only A-Z; searches must fold Å, Ä, Ö as PostgreSQL does.
        dbapi_connection.create_function("lower", 1, _unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        reading = has_app_context() and g.get("read_only_request", False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")

    def _mark_read_only_request():
        g.read_only_request = request.method in READ_ONLY_METHODS

    # First of all hooks: the user loader's query must already see the mark.
    app.before_request_funcs.setdefault(None, []).insert(0, _mark_read_only_request)


@contextmanager
def reading_session() -> Iterator[None]:
    """Runs the block in a session of its own that only reads: a fresh app context (the
    session is kept per app context), whose transactions begin deferred on SQLite, so that
    it holds no write lock; rolled back and closed when the block ends. The caller's
    session, and the rows it has loaded, are not touched."""
    with current_app.app_context():
        g.read_only_request = True
        try:
            yield
        finally:
            db.session.rollback()


def write_from_a_read_request() -> None:
    """For the rare GET that writes (a calendar feed noting its fetch): the transactions it
    begins from now on begin IMMEDIATE, like a form's. End the reading one first."""
    g.read_only_request = False


@contextmanager
def reading_then_release() -> Iterator[None]:
    """Runs the block in a transaction that only reads (on SQLite it begins deferred, so
    it takes no write lock, whatever the request's method) and ends it when the block
    ends, so that slow work after the block (a password hash check) holds no lock and no
    snapshot (row 2 of S41). The session must have nothing unsaved: an open transaction is
    ended first. Objects loaded in the block expire with it: keep the values you need."""
    release_transaction()
    reading_before = g.get("read_only_request", False)
    g.read_only_request = True
    try:
        yield
    finally:
        release_transaction()
        g.read_only_request = reading_before


def release_transaction() -> None:
    """Ends the session's transaction (it must hold no unsaved change), so that what
    follows holds no lock until its next statement begins a new one."""
    session = db.session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("release_transaction with unsaved changes")
    session.rollback()


@contextmanager
def writing() -> Iterator[None]:
    """A write inside a reading request (an API key noting its use): the reading
    transaction is ended, the block's begins IMMEDIATE, and the request reads on in
    deferred transactions after it."""
    release_transaction()
    reading = g.get("read_only_request", False)
    g.read_only_request = False
    try:
        yield
    finally:
        g.read_only_request = reading
