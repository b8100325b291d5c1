"""The renewal pipeline's summary and the calendar feed's deadlines per day
(vip/models/pipeline.py), kept up to date in the same transaction as every change that
moves them.

What a customer adds to the pipeline depends on its anniversary date and its orders'
lines (quantities, returns, renewal orders' new anniversaries); what it adds to the
deadlines, on its pending authorizations, placed orders and running three-year
commitments (`DEADLINE_ROWS`). The session notes every
customer whose rows of those kinds a flush wrote (`_note_flush`); just before the
transaction commits, each noted customer's entries are computed afresh from its rows,
compared with the stored ones, and the difference is added to the reseller's sums per day
(`_apply_noted`). The customer's row is locked first, so two transactions changing one
customer add their differences one after the other. Every writer through the ORM is
covered without knowing of the summary: the services, the job, the import and the demo.

Writers that bypass the ORM say what they changed: an UPDATE statement calls
`change_count.note_customers`, which notes the customers here too, and `vip generate`
(bulk inserts) calls `rebuild` at its end."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import and_, delete, event, func, inspect, literal, select, true
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    CommitmentState,
    Customer,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    PipelineDay,
    PipelineEntry,
    PurchaseAuthorization,
    ThreeYearCommitment,
)
from vip.models.pipeline import COMMITMENT_ENDS, OPEN, ORDER_DUE, PLACED, RENEWED
from vip.services import change_count
from vip.services.licenses import in_current_term, returned_licenses

NOTED_CUSTOMERS = "pipeline_noted_customers"
NOTED_ORDERS = "pipeline_noted_orders"
CHUNK = 500
#: The columns whose change moves the pipeline, per model.
TRACKED = {
    Customer: ("reseller_id", "anniversary_date"),
    Order: ("customer_id", "term_ends_on", "order_type", "status", "order_date"),
    OrderLine: ("order_id", "quantity", "returned_quantity", "status"),
    PurchaseAuthorization: ("customer_id", "status", "order_due_on"),
    ThreeYearCommitment: ("customer_id", "state", "ends_on"),
}

#: The calendar feed's deadlines kept per customer and day: kind -> (the rows' model, the
#: day they are counted on, which rows are deadlines). The feed reads its rows by these
#: too (vip/services/calendar_feed.py).
DEADLINE_ROWS = {
    ORDER_DUE: (
        PurchaseAuthorization,
        PurchaseAuthorization.order_due_on,
        PurchaseAuthorization.status == AuthorizationStatus.PENDING,
    ),
    PLACED: (
        Order,
        Order.order_date,
        and_(
            Order.status == OrderStatus.PLACED,
            Order.order_type != OrderType.IMPORTED,  # no return window
        ),
    ),
    COMMITMENT_ENDS: (
        ThreeYearCommitment,
        ThreeYearCommitment.ends_on,
        ThreeYearCommitment.state.in_((CommitmentState.COMMITTED, CommitmentState.NONCOMPLIANT)),
    ),
}

Key = tuple[int, str, date]  # (customer, kind, day)


def keep_up_to_date(session) -> None:
    """Registers the session events (once; `session` is the app's scoped session)."""
    if event.contains(session, "after_flush", _note_flush):
        return
    event.listen(session, "after_flush", _note_flush)
    event.listen(session, "before_commit", _apply_noted)
    event.listen(session, "after_transaction_end", _forget)


def note_customers(customer_ids: Iterable[int]) -> None:
    """For a writer that changes customers' tracked columns with an UPDATE statement."""
    db.session.info.setdefault(NOTED_CUSTOMERS, set()).update(customer_ids)


def _changed(obj, names: tuple[str, ...]) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in names)


def _note_flush(session: Session, _flush_context) -> None:
    customers = session.info.setdefault(NOTED_CUSTOMERS, set())
    orders = session.info.setdefault(NOTED_ORDERS, set())
    written = [(obj, True) for obj in (*session.new, *session.deleted)]
    written += [(obj, False) for obj in session.dirty]
    for obj, whole in written:
        names = TRACKED.get(type(obj))
        if names is None or not (whole or _changed(obj, names)):
            continue
        if isinstance(obj, Customer):
            customers.add(obj.id)
        elif isinstance(obj, OrderLine):
            orders.update(_values(obj, "order_id"))
        else:
            customers.update(_values(obj, "customer_id"))


def _values(obj, name: str) -> set[int]:
    """The attribute's value now and before the flush (a row moved to another parent)."""
    history = inspect(obj).attrs[name].history
    return {value for value in (*history.sum(), getattr(obj, name)) if value is not None}


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(NOTED_CUSTOMERS, None)
        session.info.pop(NOTED_ORDERS, None)


def _apply_noted(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event
    by_statement = change_count.statement_noted(session)
    if not (session.info.get(NOTED_CUSTOMERS) or session.info.get(NOTED_ORDERS) or by_statement):
        return
    customer_ids = set(session.info.pop(NOTED_CUSTOMERS, ())) | by_statement
    order_ids = sorted(session.info.pop(NOTED_ORDERS, ()))
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        customer_ids.update(
            session.scalars(select(Order.customer_id).where(Order.id.in_(chunk))).all()
        )
    ordered = sorted(customer_ids)
    for start in range(0, len(ordered), CHUNK):
        _refresh(session, ordered[start : start + CHUNK])


# -- What each customer adds: the same sums as the chart's, per customer --------------------


def entry_queries(scope):
    """The SELECTs of (customer, reseller, kind, day, licenses) for the customers the
    predicate `scope` on Customer picks: current anniversaries, the new anniversaries of
    renewal orders (one entry per customer and day, however many orders end there), and
    the deadlines of each of DEADLINE_ROWS (their number per customer and day)."""
    licenses = func.coalesce(func.sum(OrderLine.quantity), 0) - func.coalesce(
        returned_licenses(), 0
    )
    current = (
        select(
            Customer.id,
            Customer.reseller_id,
            literal(OPEN).label("kind"),
            Customer.anniversary_date.label("day"),
            licenses.label("licenses"),
        )
        .select_from(Customer)
        .outerjoin(Order, in_current_term(Customer.id, Customer.anniversary_date))
        .outerjoin(OrderLine, OrderLine.order_id == Order.id)
        .where(scope, Customer.anniversary_date.is_not(None))
        .group_by(Customer.id, Customer.reseller_id, Customer.anniversary_date)
    )
    renewed_days = (
        select(Order.customer_id, Customer.reseller_id, Order.term_ends_on)
        .join(Customer, Customer.id == Order.customer_id)
        .where(scope, Order.order_type == OrderType.RENEWAL)
        .distinct()
        .subquery()
    )
    renewed = (
        select(
            renewed_days.c.customer_id,
            renewed_days.c.reseller_id,
            literal(RENEWED).label("kind"),
            renewed_days.c.term_ends_on.label("day"),
            licenses.label("licenses"),
        )
        .select_from(renewed_days)
        .outerjoin(Order, in_current_term(renewed_days.c.customer_id, renewed_days.c.term_ends_on))
        .outerjoin(OrderLine, OrderLine.order_id == Order.id)
        .group_by(
            renewed_days.c.customer_id, renewed_days.c.reseller_id, renewed_days.c.term_ends_on
        )
    )
    deadlines = [
        select(
            model.customer_id,
            Customer.reseller_id,
            literal(kind).label("kind"),
            day.label("day"),
            func.count().label("licenses"),
        )
        .join(Customer, Customer.id == model.customer_id)
        .where(scope, condition, day.is_not(None))
        .group_by(model.customer_id, Customer.reseller_id, day)
        for kind, (model, day, condition) in DEADLINE_ROWS.items()
    ]
    return current, renewed, *deadlines


def _computed(session: Session, customer_ids: list[int]) -> dict[Key, tuple[int, int]]:
    entries: dict[Key, tuple[int, int]] = {}
    for query in entry_queries(Customer.id.in_(customer_ids)):
        for customer_id, reseller_id, kind, day, licenses in session.execute(query):
            entries[(customer_id, kind, day)] = (reseller_id, int(licenses))
    return entries


def _stored(session: Session, customer_ids: list[int]) -> dict[Key, tuple[int, int]]:
    rows = session.execute(
        select(
            PipelineEntry.customer_id,
            PipelineEntry.kind,
            PipelineEntry.day,
            PipelineEntry.reseller_id,
            PipelineEntry.licenses,
        ).where(PipelineEntry.customer_id.in_(customer_ids))
    )
    return {(c, kind, day): (reseller, licenses) for c, kind, day, reseller, licenses in rows}


def _refresh(session: Session, customer_ids: list[int]) -> None:
    # Lock the customers (PostgreSQL; SQLite's writers are one at a time anyway), so that
    # what is read below includes every change committed to them before.
    session.execute(
        select(Customer.id)
        .where(Customer.id.in_(customer_ids))
        .order_by(Customer.id)
        .with_for_update()
    ).all()
    computed = _computed(session, customer_ids)
    stored = _stored(session, customer_ids)
    if computed == stored:
        return
    sums: dict[tuple[int, str, date], list[int]] = {}
    for entries, sign in ((stored, -1), (computed, 1)):
        for (_customer, kind, day), (reseller_id, licenses) in entries.items():
            total = sums.setdefault((reseller_id, kind, day), [0, 0])
            total[0] += sign
            total[1] += sign * licenses
    changed = sorted({key[0] for key, _ in set(stored.items()) ^ set(computed.items())})
    changed_set = set(changed)
    session.execute(delete(PipelineEntry).where(PipelineEntry.customer_id.in_(changed)))
    rows = [
        {"customer_id": c, "kind": kind, "day": day, "reseller_id": r, "licenses": n}
        for (c, kind, day), (r, n) in computed.items()
        if c in changed_set
    ]
    if rows:
        session.execute(PipelineEntry.__table__.insert(), rows)
    _add_to_days(session, {key: tuple(value) for key, value in sums.items() if value != [0, 0]})


def _add_to_days(session: Session, sums: dict[tuple[int, str, date], tuple[int, int]]) -> None:
    if not sums:
        return
    table = PipelineDay.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for (reseller_id, kind, day), (customers, licenses) in sorted(sums.items()):
        statement = insert(table).values(
            reseller_id=reseller_id, kind=kind, day=day, customers=customers, licenses=licenses
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["reseller_id", "kind", "day"],
                set_={
                    "customers": table.c.customers + statement.excluded.customers,
                    "licenses": table.c.licenses + statement.excluded.licenses,
                },
            )
        )
        if customers < 0:
            session.execute(
                delete(PipelineDay).where(
                    PipelineDay.reseller_id == reseller_id,
                    PipelineDay.kind == kind,
                    PipelineDay.day == day,
                    PipelineDay.customers == 0,
                )
            )


def rebuild(*, reseller_id: int | None = None) -> None:
    """Computes the summary of one reseller (or all) from scratch, in the caller's
    transaction: after bulk writes that bypass the ORM (`vip generate`)."""
    session = db.session
    entries = PipelineEntry.__table__
    days = PipelineDay.__table__
    if reseller_id is None:
        scope = true()
        session.execute(delete(PipelineEntry))
        session.execute(delete(PipelineDay))
    else:
        scope = Customer.reseller_id == reseller_id
        session.execute(delete(PipelineEntry).where(PipelineEntry.reseller_id == reseller_id))
        session.execute(delete(PipelineDay).where(PipelineDay.reseller_id == reseller_id))
    columns = ["customer_id", "reseller_id", "kind", "day", "licenses"]
    for query in entry_queries(scope):
        session.execute(entries.insert().from_select(columns, query))
    summed = select(
        entries.c.reseller_id,
        entries.c.kind,
        entries.c.day,
        func.count(),
        func.sum(entries.c.licenses),
    ).group_by(entries.c.reseller_id, entries.c.kind, entries.c.day)
    if reseller_id is not None:
        summed = summed.where(entries.c.reseller_id == reseller_id)
    session.execute(
        days.insert().from_select(["reseller_id", "kind", "day", "customers", "licenses"], summed)
    )
