"""Each customer's earliest order-due date of its pending purchase authorizations
(`customers.earliest_order_due_on`), kept by the database in the same statement as every
write to `purchase_authorizations` (README, "Performance").

The daily job and the Outbox's preview ask two questions of every customer: "has it an
overdue authorization?" (to become Försenad) and "has it none any more?" (to come back).
Asked of the authorizations themselves, both read the whole backlog of overdue
authorizations of the customers already Försenad, which grows with the portfolio. Asked of
this column, both are ranges of an index (reseller, status, earliest order-due date)
holding just the customers that change. The rule itself stays defined on the
authorization (`PurchaseAuthorization.is_overdue`); the job's writes check it there.

Triggers rather than session hooks: the services change authorizations with UPDATE
statements too (cancel, record an order), and the generator inserts them in bulk; a
trigger sees them all. They are created with the table (`create_all`), by migration
c4e6a8b0d2f4, and on PostgreSQL by a function in the table's schema.

Note for later migrations: SQLite's batch mode rebuilds a table, which drops its
triggers; a migration that rebuilds `purchase_authorizations` must run
`create_triggers` again."""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Connection

from vip.models.authorizations import PurchaseAuthorization

#: The earliest pending order-due date of the customers `ids` (an SQL list), afresh.
_REFRESH = """UPDATE customers SET earliest_order_due_on = (
    SELECT min(p.order_due_on) FROM purchase_authorizations p
    WHERE p.customer_id = customers.id AND p.status = 'pending')
  WHERE customers.id IN ({ids})"""

SQLITE_TRIGGERS = {
    "pa_order_due_ai": "CREATE TRIGGER IF NOT EXISTS pa_order_due_ai"
    " AFTER INSERT ON purchase_authorizations WHEN new.status = 'pending' BEGIN\n"
    + _REFRESH.format(ids="new.customer_id")
    + ";\nEND",
    "pa_order_due_au": "CREATE TRIGGER IF NOT EXISTS pa_order_due_au"
    " AFTER UPDATE OF status, order_due_on, customer_id ON purchase_authorizations BEGIN\n"
    + _REFRESH.format(ids="old.customer_id, new.customer_id")
    + ";\nEND",
    "pa_order_due_ad": "CREATE TRIGGER IF NOT EXISTS pa_order_due_ad"
    " AFTER DELETE ON purchase_authorizations WHEN old.status = 'pending' BEGIN\n"
    + _REFRESH.format(ids="old.customer_id")
    + ";\nEND",
}

# OLD is NULL in an INSERT trigger and NEW in a DELETE one (PostgreSQL 11 and later).
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION pa_order_due_summary() RETURNS trigger LANGUAGE plpgsql AS $$\n"
    "BEGIN\n"
    + _REFRESH.format(ids="OLD.customer_id, NEW.customer_id")
    + ";\n  RETURN NULL;\nEND $$"
)
PG_TRIGGER = (
    "CREATE TRIGGER pa_order_due_summary AFTER INSERT OR DELETE"
    " OR UPDATE OF status, order_due_on, customer_id ON purchase_authorizations"
    " FOR EACH ROW EXECUTE FUNCTION pa_order_due_summary()"
)

#: Every customer's column afresh (the migration that adds it).
REFRESH_ALL = """UPDATE customers SET earliest_order_due_on = (
    SELECT min(p.order_due_on) FROM purchase_authorizations p
    WHERE p.customer_id = customers.id AND p.status = 'pending')"""


def create_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS.values():
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(PG_FUNCTION)
        connection.exec_driver_sql(
            "DROP TRIGGER IF EXISTS pa_order_due_summary ON purchase_authorizations"
        )
        connection.exec_driver_sql(PG_TRIGGER)


def drop_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    elif connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "DROP TRIGGER IF EXISTS pa_order_due_summary ON purchase_authorizations"
        )
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS pa_order_due_summary()")


@event.listens_for(PurchaseAuthorization.__table__, "after_create")
def _after_authorizations_created(_table, connection, **_kw) -> None:
    create_triggers(connection)
