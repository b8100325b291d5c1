"""The trigram index behind the customers search (README, "Performance").

A search matches a substring of `Customer.search_key`; a plain LIKE '%text%' reads every
customer of the reseller. With three characters or more, an index of trigrams finds the
candidates first:
- SQLite: an FTS5 table with the `trigram` tokenizer over `customers.search_key` (external
  content, kept by triggers);
- PostgreSQL: a GIN index with pg_trgm's `gin_trgm_ops`, which serves LIKE itself.
Neither is part of the SQLAlchemy metadata (a virtual table, an operator class from an
extension), so they are created here after the customers table (`create_all`), by
migration 7a1b2c3d4e5f, and left out of the migrations' comparison (`is_search_index`).

Note for later migrations: SQLite's batch mode rebuilds a table, which drops its triggers;
a migration that rebuilds `customers` must run `create_sqlite_triggers` again."""

from __future__ import annotations

import logging

from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from vip.models.customers import Customer

log = logging.getLogger(__name__)

FTS_TABLE = "customer_search"
TRGM_INDEX = "ix_customers_search_key_trgm"
#: Searches shorter than this have no trigram to look up and read the LIKE alone.
MIN_INDEXED_LENGTH = 3

SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS customer_search USING fts5("
    "search_key, content='customers', content_rowid='id', tokenize='trigram')"
)
SQLITE_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS customer_search_ai AFTER INSERT ON customers BEGIN
  INSERT INTO customer_search(rowid, search_key) VALUES (new.id, new.search_key);
END""",
    """CREATE TRIGGER IF NOT EXISTS customer_search_ad AFTER DELETE ON customers BEGIN
  INSERT INTO customer_search(customer_search, rowid, search_key)
  VALUES ('delete', old.id, old.search_key);
END""",
    """CREATE TRIGGER IF NOT EXISTS customer_search_au AFTER UPDATE OF search_key ON customers
BEGIN
  INSERT INTO customer_search(customer_search, rowid, search_key)
  VALUES ('delete', old.id, old.search_key);
  INSERT INTO customer_search(rowid, search_key) VALUES (new.id, new.search_key);
END""",
)
SQLITE_REBUILD = "INSERT INTO customer_search(customer_search) VALUES ('rebuild')"
PG_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_customers_search_key_trgm"
    ' ON customers USING gin (search_key "{schema}".gin_trgm_ops)'
)


def create_sqlite_triggers(connection: Connection) -> None:
    for statement in SQLITE_TRIGGERS:
        connection.exec_driver_sql(statement)


def create_search_index(connection: Connection) -> bool:
    """Creates the index for this database and fills it; returns whether there is one.
    On PostgreSQL without the right to create pg_trgm, the search still works (a scan)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(SQLITE_TABLE)
        create_sqlite_triggers(connection)
        connection.exec_driver_sql(SQLITE_REBUILD)
        return True
    if connection.dialect.name != "postgresql":
        return False
    schema = connection.scalar(
        text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    )
    if schema is None:
        savepoint = connection.begin_nested()
        try:
            # In public, not the first schema of the search path: a schema per test run
            # would take the extension with it when dropped.
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public")
        except Exception as error:  # noqa: BLE001 - no privilege: search without the index
            savepoint.rollback()
            log.warning("pg_trgm unavailable, customer search runs without an index: %s", error)
            return False
        savepoint.commit()
        schema = "public"
    connection.exec_driver_sql(PG_INDEX.format(schema=schema.replace('"', "")))
    return True


def drop_search_index(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {FTS_TABLE}_{suffix}")
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {FTS_TABLE}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP INDEX IF EXISTS {TRGM_INDEX}")


def has_fts_table(connection: Connection) -> bool:
    return (
        connection.dialect.name == "sqlite"
        and connection.scalar(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :name"),
            {"name": FTS_TABLE},
        )
        is not None
    )


def is_search_index(name: str | None) -> bool:
    """For Alembic's include_object: the FTS5 table and its shadow tables, the GIN index."""
    return bool(name) and (name == TRGM_INDEX or name.startswith(FTS_TABLE))


@event.listens_for(Customer.__table__, "after_create")
def _after_customers_created(_table, connection, **_kw) -> None:
    create_search_index(connection)


@event.listens_for(Customer.__table__, "before_drop")
def _before_customers_dropped(_table, connection, **_kw) -> None:
    drop_search_index(connection)
