"""Which reminders each customer has had for its current anniversary
(`customers.reminders_queued`, a bit per kind), kept by the database in the same statement
as every write to `notifications` and to a customer's anniversary date (README,
"Performance").

The daily job and the Outbox's preview look for the customers whose reminder of the
current stage is not in the outbox yet. Asked of the notifications, that reads every
customer whose anniversary falls in the stages' ranges (about 60 days of anniversaries),
most of them reminded on earlier days. Asked of this column, each stage is a range of a
partial index (`UNREMINDED_INDEXES`) holding just the customers still to remind. The job
still checks the notifications before it queues one, and the unique key (customer, kind,
cycle) forbids a second.

Triggers as in vip/models/order_due_summary.py; created with the tables (`create_all`),
by migration d5f7b9c1e3a6, and on PostgreSQL by functions in the tables' schema. The
kinds' names are the ones vip.services.deadlines.ReminderKind defines (a test holds the
two equal)."""

from __future__ import annotations

from sqlalchemy import Index, event, text
from sqlalchemy.engine import Connection

from vip.models.customers import Customer
from vip.models.notifications import Notification

#: The bit of each reminder kind in `customers.reminders_queued`.
REMINDER_BITS = {"renewal_due": 1, "renewal_missed": 2, "access_removal": 4}


def not_reminded(kind: str) -> str:
    """The condition "not yet reminded of `kind`", as SQL text: the very text of the
    partial index of that kind (`UNREMINDED_INDEXES`), which SQLite needs to use it."""
    return f"reminders_queued & {REMINDER_BITS[kind]} = 0"


#: Per kind, the customers without it by reseller, status and anniversary (the columns of
#: `ix_customers_reseller_status_anniversary`, which the planners then pass over for the
#: smaller index): a stage's range in it holds just the customers still to remind. One
#: index over all kinds would hold the many reminded too, which no planner tells apart.
UNREMINDED_COLUMNS = ("reseller_id", "status", "anniversary_date")
UNREMINDED_INDEXES = [
    Index(
        f"ix_customers_unreminded_{kind}",
        *(Customer.__table__.c[name] for name in UNREMINDED_COLUMNS),
        sqlite_where=text(not_reminded(kind)),
        postgresql_where=text(not_reminded(kind)),
    )
    for kind in REMINDER_BITS
]


_KINDS = ", ".join(f"'{kind}'" for kind in REMINDER_BITS)
_BITS = " ".join(f"WHEN '{kind}' THEN {bit}" for kind, bit in REMINDER_BITS.items())
#: The column of the customers `ids` (an SQL list), afresh: the kinds queued for the
#: anniversary the customer has now (a reminder's cycle is its anniversary date).
_REFRESH = f"""UPDATE customers SET reminders_queued = (
    SELECT coalesce(sum(CASE n.kind {_BITS} ELSE 0 END), 0) FROM notifications n
    WHERE n.customer_id = customers.id AND n.kind IN ({_KINDS})
      AND n.cycle_key = CAST(customers.anniversary_date AS VARCHAR))
  WHERE customers.id IN ({{ids}})"""  # noqa: S608 - this module's constants only
REFRESH_ALL = _REFRESH.replace("WHERE customers.id IN ({ids})", "").rstrip()

SQLITE_TRIGGERS = {
    "notification_reminders_ai": "CREATE TRIGGER IF NOT EXISTS notification_reminders_ai"
    f" AFTER INSERT ON notifications WHEN new.kind IN ({_KINDS}) BEGIN\n"
    + _REFRESH.format(ids="new.customer_id")
    + ";\nEND",
    "notification_reminders_au": "CREATE TRIGGER IF NOT EXISTS notification_reminders_au"
    " AFTER UPDATE OF customer_id, kind, cycle_key ON notifications BEGIN\n"
    + _REFRESH.format(ids="old.customer_id, new.customer_id")
    + ";\nEND",
    "notification_reminders_ad": "CREATE TRIGGER IF NOT EXISTS notification_reminders_ad"
    f" AFTER DELETE ON notifications WHEN old.kind IN ({_KINDS}) BEGIN\n"
    + _REFRESH.format(ids="old.customer_id")
    + ";\nEND",
    "customer_reminders_au": "CREATE TRIGGER IF NOT EXISTS customer_reminders_au"
    " AFTER UPDATE OF anniversary_date ON customers BEGIN\n"
    + _REFRESH.format(ids="new.id")
    + ";\nEND",
}

# OLD is NULL in an INSERT trigger and NEW in a DELETE one (PostgreSQL 11 and later).
PG_FUNCTIONS = {
    "notification_reminders": _REFRESH.format(ids="OLD.customer_id, NEW.customer_id"),
    "customer_reminders": _REFRESH.format(ids="NEW.id"),
}
PG_TRIGGERS = {
    "notification_reminders": "AFTER INSERT OR DELETE OR UPDATE OF customer_id, kind, cycle_key"
    " ON notifications",
    "customer_reminders": "AFTER UPDATE OF anniversary_date ON customers",
}
_PG_TABLES = {"notification_reminders": "notifications", "customer_reminders": "customers"}


def create_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for statement in SQLITE_TRIGGERS.values():
            connection.exec_driver_sql(statement)
    elif connection.dialect.name == "postgresql":
        for name, body in PG_FUNCTIONS.items():
            connection.exec_driver_sql(
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{body};\n  RETURN NULL;\nEND $$"
            )
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {_PG_TABLES[name]}")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} {PG_TRIGGERS[name]} FOR EACH ROW EXECUTE FUNCTION {name}()"
            )


def drop_triggers(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        for name in SQLITE_TRIGGERS:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    elif connection.dialect.name == "postgresql":
        for name, table in _PG_TABLES.items():
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {name}()")


@event.listens_for(Notification.__table__, "after_create")
def _after_notifications_created(_table, connection, **_kw) -> None:
    # After customers (a notification refers to its customer): both tables exist now.
    create_triggers(connection)
