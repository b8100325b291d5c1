"""A counter per reseller that every transaction changing the reseller's customer data
moves on (`Reseller.change_count`): a version stamp a response can carry as its ETag, or a
cached render can be keyed by, read with the reseller's row, without reading the rows it
stands for (the calendar feed, the dashboard's refreshes, the pages' cached regions;
README "Performance").

The customer data is every row of the tables in `BY_CUSTOMER` (a customer's own rows),
`BY_PARENT` (rows under an authorization, an order or a return) and the reseller's own row;
a change to the product catalog or to a VIP admin's account moves the counters of the
resellers it shows at (every reseller, the admin's customers' resellers).

As the pipeline's summary (vip/services/pipeline_summary.py), it follows the session: a
flush notes what it wrote, and just before the transaction commits each reseller concerned
has its counter moved on by one. A writer that changes those tables with a statement says
which customers it changed (`note_customers`); `vip generate` (bulk inserts) calls
`note_resellers`. tests/services/test_pipeline_summary.py checks, after every kind of
change, that a reseller's counter moved whenever a digest of its data did."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import event, inspect, select, update
from sqlalchemy.orm import Session

from vip.extensions import db
from vip.models import (
    Customer,
    Invitation,
    LicenseAssignment,
    Notification,
    Order,
    OrderLine,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    Reseller,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    ThreeYearCommitment,
    User,
    VipAdminCustomer,
)

NOTED_RESELLERS = "changed_resellers"
NOTED_CUSTOMERS = "changed_customers"
NOTED_PARENTS = "changed_parents"
STATEMENT_NOTED = "statement_changed_customers"  # kept until the transaction ends
EVERY_RESELLER = "every_reseller"
CHUNK = 500

#: A customer's own rows (`customer_id`).
BY_CUSTOMER = (
    Invitation,
    PurchaseAuthorization,
    Order,
    LicenseAssignment,
    ThreeYearCommitment,
    Notification,  # None for a mail to a reseller's own user
    VipAdminCustomer,
)
#: Rows under another row: the column naming it (PARENT_CUSTOMERS: from its ids to customers).
BY_PARENT = {
    PurchaseAuthorizationLine: "authorization_id",
    OrderLine: "order_id",
    ReturnAuthorization: "order_id",
    ReturnAuthorizationLine: "return_authorization_id",
}
PARENT_CUSTOMERS = {
    "authorization_id": lambda ids: select(PurchaseAuthorization.customer_id).where(
        PurchaseAuthorization.id.in_(ids)
    ),
    "order_id": lambda ids: select(Order.customer_id).where(Order.id.in_(ids)),
    "return_authorization_id": lambda ids: (
        select(Order.customer_id)
        .join(ReturnAuthorization, ReturnAuthorization.order_id == Order.id)
        .where(ReturnAuthorization.id.in_(ids))
    ),
    # a VIP admin's account (whether it is active) shows at its customers
    "user_id": lambda ids: select(VipAdminCustomer.customer_id).where(
        VipAdminCustomer.user_id.in_(ids)
    ),
}


def keep_up_to_date(session) -> None:
    """Registers the session events (once; `session` is the app's scoped session)."""
    if event.contains(session, "after_flush", _note_flush):
        return
    event.listen(session, "after_flush", _note_flush)
    event.listen(session, "before_commit", _apply_noted)
    event.listen(session, "after_transaction_end", _forget)


def note_customers(customer_ids: Iterable[int]) -> None:
    """For a writer that changes a customer's data with a statement. The pipeline's
    summary refreshes them too (`statement_noted`)."""
    noted = set(customer_ids)
    db.session.info.setdefault(NOTED_CUSTOMERS, set()).update(noted)
    db.session.info.setdefault(STATEMENT_NOTED, set()).update(noted)


def statement_noted(session: Session) -> set[int]:
    """The customers statements of the session's transaction changed (`note_customers`)."""
    return set(session.info.get(STATEMENT_NOTED, ()))


def note_resellers(reseller_ids: Iterable[int]) -> None:
    db.session.info.setdefault(NOTED_RESELLERS, set()).update(reseller_ids)


def _values(obj, name: str) -> set[int]:
    """The attribute's value now and before the flush (a row moved to another parent)."""
    history = inspect(obj).attrs[name].history
    return {value for value in (*history.sum(), getattr(obj, name)) if value is not None}


#: What a customer's pages show of its VIP admin's account (whether the admin is in place);
#: a sign-in's own writes (failures, the second factor's last step) move no counter.
USER_SHOWN = ("active", "role")


def _shown_at_customers(session: Session, user: User) -> bool:
    if user in session.new or user in session.deleted:
        return True
    attrs = inspect(user).attrs
    return any(attrs[name].history.has_changes() for name in USER_SHOWN)


def _note_flush(session: Session, _flush_context) -> None:
    resellers = session.info.setdefault(NOTED_RESELLERS, set())
    customers = session.info.setdefault(NOTED_CUSTOMERS, set())
    parents = session.info.setdefault(NOTED_PARENTS, {})
    written = [*session.new, *session.deleted]
    written += [obj for obj in session.dirty if session.is_modified(obj)]
    for obj in written:
        if isinstance(obj, Customer):
            resellers.update(_values(obj, "reseller_id"))
        elif isinstance(obj, BY_CUSTOMER):
            customers.update(_values(obj, "customer_id"))
        elif (column := BY_PARENT.get(type(obj))) is not None:
            parents.setdefault(column, set()).update(_values(obj, column))
        elif isinstance(obj, User) and obj.id is not None and _shown_at_customers(session, obj):
            parents.setdefault("user_id", set()).add(obj.id)
        elif isinstance(obj, Reseller) and obj.id is not None:
            resellers.add(obj.id)
        elif isinstance(obj, Product):
            session.info[EVERY_RESELLER] = True


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        for key in (
            NOTED_RESELLERS,
            NOTED_CUSTOMERS,
            NOTED_PARENTS,
            EVERY_RESELLER,
            STATEMENT_NOTED,
        ):
            session.info.pop(key, None)


def _apply_noted(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event
    every = session.info.pop(EVERY_RESELLER, False)
    reseller_ids = set(session.info.pop(NOTED_RESELLERS, ()))
    customer_ids = set(session.info.pop(NOTED_CUSTOMERS, ())) - {None}
    for column, ids in session.info.pop(NOTED_PARENTS, {}).items():
        ordered = sorted(ids)
        for start in range(0, len(ordered), CHUNK):
            statement = PARENT_CUSTOMERS[column](ordered[start : start + CHUNK])
            customer_ids.update(session.scalars(statement).all())
    customer_ids.discard(None)
    ordered = sorted(customer_ids)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        reseller_ids.update(
            session.scalars(
                select(Customer.reseller_id).where(Customer.id.in_(chunk)).distinct()
            ).all()
        )
    reseller_ids.discard(None)
    if not (every or reseller_ids):
        return
    moved = update(Reseller)
    if not every:
        moved = moved.where(Reseller.id.in_(sorted(reseller_ids)))
    session.execute(
        moved.values(change_count=Reseller.change_count + 1).execution_options(
            synchronize_session=False
        )
    )


def reseller_stamp(*, reseller_id: int, today: date) -> tuple:
    """What a response drawn from a reseller's customer data depends on besides who asks
    and in which language: the reseller, its change counter and the day. The reseller's
    row as this transaction read it (the user's time zone is on it), else one small read;
    equal stamps, equal data."""
    return (reseller_id, db.session.get(Reseller, reseller_id).change_count, today.isoformat())
