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
trigger sees them all (vip/models/trigger_kept_columns.py). They are created with the
table (`create_all`), by migration c4e6a8b0d2f4, and on PostgreSQL by a function in the
table's schema."""

from __future__ import annotations

from sqlalchemy import event

from vip.models.authorizations import PurchaseAuthorization
from vip.models.trigger_kept_columns import PostgresqlTrigger, SqliteTrigger, TriggerKeptColumn

EARLIEST_ORDER_DUE = TriggerKeptColumn(
    refresh_all="""UPDATE customers SET earliest_order_due_on = (
    SELECT min(p.order_due_on) FROM purchase_authorizations p
    WHERE p.customer_id = customers.id AND p.status = 'pending')""",
    sqlite=(
        SqliteTrigger(
            "pa_order_due_ai",
            "AFTER INSERT ON purchase_authorizations WHEN new.status = 'pending'",
            "new.customer_id",
        ),
        SqliteTrigger(
            "pa_order_due_au",
            "AFTER UPDATE OF status, order_due_on, customer_id ON purchase_authorizations",
            "old.customer_id, new.customer_id",
        ),
        SqliteTrigger(
            "pa_order_due_ad",
            "AFTER DELETE ON purchase_authorizations WHEN old.status = 'pending'",
            "old.customer_id",
        ),
    ),
    postgresql=(
        PostgresqlTrigger(
            "pa_order_due_summary",
            "AFTER INSERT OR DELETE OR UPDATE OF status, order_due_on, customer_id"
            " ON purchase_authorizations",
            "purchase_authorizations",
            "OLD.customer_id, NEW.customer_id",
        ),
    ),
)
REFRESH_ALL = EARLIEST_ORDER_DUE.refresh_all
create_triggers = EARLIEST_ORDER_DUE.create_triggers
drop_triggers = EARLIEST_ORDER_DUE.drop_triggers


@event.listens_for(PurchaseAuthorization.__table__, "after_create")
def _after_authorizations_created(_table, connection, **_kw) -> None:
    create_triggers(connection)
