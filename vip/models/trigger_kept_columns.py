"""A column of `customers` that the database keeps up to date by triggers, on SQLite and
on PostgreSQL: after each write to the rows it sums up, the written customers' value is
computed afresh by one UPDATE (`refresh`). vip/models/order_due_summary.py and
vip/models/reminder_summary.py each declare one; this module creates and drops their
triggers.

Note for later migrations: SQLite's batch mode rebuilds a table, which drops its
triggers (and checks every trigger that names the table); a migration that rebuilds a
table these triggers are on or name must drop them first and create them again."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Connection

_WHERE = "\n  WHERE customers.id IN ({ids})"


@dataclass(frozen=True)
class SqliteTrigger:
    name: str
    on: str  # "AFTER INSERT ON notifications WHEN ..."
    ids: str  # the customers to refresh: "new.customer_id", "old.customer_id, new.customer_id"


@dataclass(frozen=True)
class PostgresqlTrigger:
    """A row trigger and its function of the same name. OLD is NULL in an INSERT trigger
    and NEW in a DELETE one (PostgreSQL 11 and later), so one function serves all three."""

    name: str
    on: str  # "AFTER INSERT OR DELETE OR UPDATE OF ... ON notifications"
    table: str
    ids: str


@dataclass(frozen=True)
class TriggerKeptColumn:
    #: "UPDATE customers SET column = (...)": the value of every customer, afresh.
    refresh_all: str
    sqlite: tuple[SqliteTrigger, ...]
    postgresql: tuple[PostgresqlTrigger, ...]

    def refresh(self, ids: str) -> str:
        """The UPDATE of the customers `ids` (an SQL list) alone."""
        return self.refresh_all + _WHERE.format(ids=ids)

    def create_triggers(self, connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            for trigger in self.sqlite:
                connection.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {trigger.name} {trigger.on} BEGIN\n"
                    f"{self.refresh(trigger.ids)};\nEND"
                )
        elif connection.dialect.name == "postgresql":
            for trigger in self.postgresql:
                connection.exec_driver_sql(
                    f"CREATE OR REPLACE FUNCTION {trigger.name}() RETURNS trigger"
                    f" LANGUAGE plpgsql AS $$\nBEGIN\n{self.refresh(trigger.ids)};\n"
                    "  RETURN NULL;\nEND $$"
                )
                connection.exec_driver_sql(
                    f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}"
                )
                connection.exec_driver_sql(
                    f"CREATE TRIGGER {trigger.name} {trigger.on}"
                    f" FOR EACH ROW EXECUTE FUNCTION {trigger.name}()"
                )

    def drop_triggers(self, connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            for trigger in self.sqlite:
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger.name}")
        elif connection.dialect.name == "postgresql":
            for trigger in self.postgresql:
                connection.exec_driver_sql(
                    f"DROP TRIGGER IF EXISTS {trigger.name} ON {trigger.table}"
                )
                connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {trigger.name}()")
