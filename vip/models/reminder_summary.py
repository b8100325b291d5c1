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

Triggers as in vip/models/order_due_summary.py (vip/models/trigger_kept_columns.py);
created with the tables (`create_all`), by migration d5f7b9c1e3a6, and on PostgreSQL by
functions in the tables' schema. The kinds' names are the ones
vip.services.deadlines.ReminderKind defines (a test holds the two equal)."""

from __future__ import annotations

from sqlalchemy import Index, event, text

from vip.models.customers import Customer
from vip.models.notifications import Notification
from vip.models.trigger_kept_columns import PostgresqlTrigger, SqliteTrigger, TriggerKeptColumn

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

REMINDERS_QUEUED = TriggerKeptColumn(
    # The kinds queued for the anniversary the customer has now (a reminder's cycle is
    # its anniversary date).
    refresh_all=f"""UPDATE customers SET reminders_queued = (
    SELECT coalesce(sum(CASE n.kind {_BITS} ELSE 0 END), 0) FROM notifications n
    WHERE n.customer_id = customers.id AND n.kind IN ({_KINDS})
      AND n.cycle_key = CAST(customers.anniversary_date AS VARCHAR))""",  # noqa: S608 - constants
    sqlite=(
        SqliteTrigger(
            "notification_reminders_ai",
            f"AFTER INSERT ON notifications WHEN new.kind IN ({_KINDS})",
            "new.customer_id",
        ),
        SqliteTrigger(
            "notification_reminders_au",
            "AFTER UPDATE OF customer_id, kind, cycle_key ON notifications",
            "old.customer_id, new.customer_id",
        ),
        SqliteTrigger(
            "notification_reminders_ad",
            f"AFTER DELETE ON notifications WHEN old.kind IN ({_KINDS})",
            "old.customer_id",
        ),
        SqliteTrigger(
            "customer_reminders_au", "AFTER UPDATE OF anniversary_date ON customers", "new.id"
        ),
    ),
    postgresql=(
        PostgresqlTrigger(
            "notification_reminders",
            "AFTER INSERT OR DELETE OR UPDATE OF customer_id, kind, cycle_key ON notifications",
            "notifications",
            "OLD.customer_id, NEW.customer_id",
        ),
        PostgresqlTrigger(
            "customer_reminders",
            "AFTER UPDATE OF anniversary_date ON customers",
            "customers",
            "NEW.id",
        ),
    ),
)
REFRESH_ALL = REMINDERS_QUEUED.refresh_all
create_triggers = REMINDERS_QUEUED.create_triggers
drop_triggers = REMINDERS_QUEUED.drop_triggers


@event.listens_for(Notification.__table__, "after_create")
def _after_notifications_created(_table, connection, **_kw) -> None:
    # After customers (a notification refers to its customer): both tables exist now.
    create_triggers(connection)
