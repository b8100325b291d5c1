"""Each customer's trigrams in name order: the customers search's path for a common word
whose matches sit together in the name order (README, "Performance").

The customers list shows a search's matches by name. For a word in thousands of names
the trigram index (vip/models/customer_search.py) reads every match and sorts them all,
and a walk of the name index reads every name before the first match: a word at the
start of 9 % of the names ("Nord…") made it read half the reseller's customers. This
table holds, per customer, each trigram of its search key with its company name, so
that an index range (reseller, trigram) is already in name order: the page walks the
customers having one trigram of the text, by name, and stops after the page
(vip/services/listing.py, `common_word_walk`).

Kept by triggers on `customers` in the statement that writes the row (every writer:
the ORM, the import, `vip generate`'s bulk inserts), on SQLite with the positions table
`trigram_positions` (a trigger cannot loop or use a WITH clause), on PostgreSQL with
`generate_series`. Created with the tables (`create_all`) and by migration a3c5e7f9b1d2.

Note for later migrations: SQLite's batch mode rebuilds a table, which drops its
triggers; a migration that rebuilds `customers` must run `create_triggers` again."""

from __future__ import annotations

from sqlalchemy import String, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from vip.extensions import db
from vip.models.customers import Customer

#: The longest search key the column holds.
LONGEST_KEY = Customer.__table__.c.search_key.type.length


class CustomerTrigram(db.Model):
    """One trigram of a customer's search key, with the name it is listed by. No foreign
    key: the triggers take a customer's rows away in the statement that deletes it."""

    __tablename__ = "customer_trigrams"

    reseller_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    trigram: Mapped[str] = mapped_column(String(3), primary_key=True)
    company_name: Mapped[str] = mapped_column(String(80), primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)

    __table_args__ = {"sqlite_with_rowid": False}


class TrigramPosition(db.Model):
    """The numbers 1 to LONGEST_KEY - 2: where a trigram of a search key can start."""

    __tablename__ = "trigram_positions"

    n: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)


POSITIONS = [{"n": n} for n in range(1, LONGEST_KEY - 1)]

_SQLITE_ROWS = """SELECT DISTINCT {row}.reseller_id, substr({row}.search_key, n, 3),
    {row}.company_name, {row}.id
  FROM trigram_positions WHERE n <= length({row}.search_key) - 2"""
_SQLITE_DELETE = """DELETE FROM customer_trigrams
  WHERE reseller_id = old.reseller_id AND company_name = old.company_name
    AND customer_id = old.id
    AND trigram IN (SELECT substr(old.search_key, n, 3) FROM trigram_positions
                    WHERE n <= length(old.search_key) - 2)"""
_SQLITE_INSERT = "INSERT OR IGNORE INTO customer_trigrams " + _SQLITE_ROWS.format(row="new")
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS customer_trigrams_ai AFTER INSERT ON customers BEGIN
{_SQLITE_INSERT};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS customer_trigrams_ad AFTER DELETE ON customers BEGIN
{_SQLITE_DELETE};
END""",
    f"""CREATE TRIGGER IF NOT EXISTS customer_trigrams_au
AFTER UPDATE OF search_key, company_name, reseller_id ON customers
WHEN old.search_key IS NOT new.search_key OR old.company_name IS NOT new.company_name
  OR old.reseller_id IS NOT new.reseller_id
BEGIN
{_SQLITE_DELETE};
{_SQLITE_INSERT};
END""",
)
SQLITE_FILL = "INSERT OR IGNORE INTO customer_trigrams " + _SQLITE_ROWS.format(
    row="customers"
).replace("FROM trigram_positions WHERE", "FROM customers JOIN trigram_positions ON")

_PG_ROWS = """SELECT DISTINCT {row}.reseller_id, substr({row}.search_key, n, 3),
    {row}.company_name, {row}.id
  FROM generate_series(1, length({row}.search_key) - 2) AS n"""
PG_FUNCTION = f"""CREATE OR REPLACE FUNCTION customer_trigrams_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.search_key IS NOT DISTINCT FROM NEW.search_key
     AND OLD.company_name IS NOT DISTINCT FROM NEW.company_name
     AND OLD.reseller_id IS NOT DISTINCT FROM NEW.reseller_id THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM customer_trigrams WHERE reseller_id = OLD.reseller_id
      AND company_name = OLD.company_name AND customer_id = OLD.id
      AND trigram IN (SELECT substr(OLD.search_key, n, 3)
                      FROM generate_series(1, length(OLD.search_key) - 2) AS n);
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO customer_trigrams (reseller_id, trigram, company_name, customer_id)
    {_PG_ROWS.format(row="NEW")}
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$"""  # noqa: S608 - constant SQL, no input in it
PG_TRIGGER = """CREATE TRIGGER customer_trigrams_kept
AFTER INSERT OR DELETE OR UPDATE OF search_key, company_name, reseller_id ON customers
FOR EACH ROW EXECUTE FUNCTION customer_trigrams_kept()"""
PG_FILL = (
    "INSERT INTO customer_trigrams (reseller_id, trigram, company_name, customer_id) "
    + _PG_ROWS.format(row="customers").replace(
        "FROM generate_series(1, length(customers.search_key) - 2) AS n",
        "FROM customers, generate_series(1, length(customers.search_key) - 2) AS n",
    )
    + " ON CONFLICT DO NOTHING"
)


def create_triggers(connection: Connection) -> None:
    """The triggers that keep the table (the positions filled first, on SQLite)."""
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS:
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(PG_FUNCTION)
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS customer_trigrams_kept ON customers")
        connection.exec_driver_sql(PG_TRIGGER)


def drop_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for suffix in ("ai", "ad", "au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS customer_trigrams_{suffix}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS customer_trigrams_kept ON customers")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS customer_trigrams_kept()")


def fill(connection: Connection) -> None:
    """Every customer's trigrams, from scratch (after the table was created)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(SQLITE_FILL)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(PG_FILL)


@event.listens_for(TrigramPosition.__table__, "after_create")
def _after_positions_created(table, connection, **_kw) -> None:
    connection.execute(table.insert(), POSITIONS)


@event.listens_for(db.metadata, "after_create")
def _after_tables_created(_metadata, connection, **_kw) -> None:
    """After every table: the triggers are on `customers` and write `customer_trigrams`."""
    create_triggers(connection)
