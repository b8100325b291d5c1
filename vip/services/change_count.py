"""A counter per reseller that every transaction changing the reseller's customers,
purchase authorizations, orders, three-year commitments or customers' mail moves on
(`Reseller.change_count`): a version stamp a response can carry as its ETag, read with the
reseller's row, without reading the rows it stands for (the calendar feed, the
dashboard's refreshes; README "Performance").

As the pipeline's summary (vip/services/pipeline_summary.py), it follows the session: a
flush notes the resellers whose rows of those kinds it wrote, and just before the
transaction commits each noted reseller's counter moves on by one. An UPDATE statement on
those tables says which customers it changed (`note_customers`); `vip generate` (bulk
inserts) calls `note_resellers`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from vip.extensions import db
from vip.models import (
    Customer,
    Notification,
    Order,
    PurchaseAuthorization,
    Reseller,
    ThreeYearCommitment,
)

NOTED_RESELLERS = "changed_resellers"
NOTED_CUSTOMERS = "changed_customers"


def keep_up_to_date(session) -> None:
    """Registers the session events (once; `session` is the app's scoped session)."""
    if event.contains(session, "after_flush", _note_flush):
        return
    event.listen(session, "after_flush", _note_flush)
    event.listen(session, "before_commit", _apply_noted)
    event.listen(session, "after_transaction_end", _forget)


def note_customers(customer_ids: Iterable[int]) -> None:
    """For a writer that changes customers, authorizations, orders or mail with a statement."""
    db.session.info.setdefault(NOTED_CUSTOMERS, set()).update(customer_ids)


def note_resellers(reseller_ids: Iterable[int]) -> None:
    db.session.info.setdefault(NOTED_RESELLERS, set()).update(reseller_ids)


def _note_flush(session: Session, _flush_context) -> None:
    resellers = session.info.setdefault(NOTED_RESELLERS, set())
    customers = session.info.setdefault(NOTED_CUSTOMERS, set())
    written = [*session.new, *session.deleted]
    written += [obj for obj in session.dirty if session.is_modified(obj)]
    for obj in written:
        if isinstance(obj, Customer):
            resellers.add(obj.reseller_id)
        elif isinstance(obj, (PurchaseAuthorization, Order, Notification, ThreeYearCommitment)):
            customers.add(obj.customer_id)  # None for a mail to a reseller's own user


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(NOTED_RESELLERS, None)
        session.info.pop(NOTED_CUSTOMERS, None)


def _apply_noted(session: Session) -> None:
    if session.new or session.dirty or session.deleted:
        session.flush()  # the commit's own flush comes after this event
    if not session.info.get(NOTED_RESELLERS) and not session.info.get(NOTED_CUSTOMERS):
        return
    reseller_ids = set(session.info.pop(NOTED_RESELLERS, ()))
    customer_ids = sorted(set(session.info.pop(NOTED_CUSTOMERS, ())) - {None})
    if customer_ids:
        reseller_ids.update(
            session.scalars(
                select(Customer.reseller_id).where(Customer.id.in_(customer_ids)).distinct()
            )
        )
    reseller_ids.discard(None)
    if reseller_ids:
        session.execute(
            update(Reseller)
            .where(Reseller.id.in_(sorted(reseller_ids)))
            .values(change_count=Reseller.change_count + 1)
            .execution_options(synchronize_session=False)
        )


def reseller_stamp(*, reseller_id: int, today: date) -> tuple:
    """What a response drawn from a reseller's customers, authorizations, orders,
    commitments and mail depends on besides who asks and in which language: the reseller,
    its change counter and the day. The reseller's row as this transaction read it (the
    user's time zone is on it), else one small read; equal stamps, equal data."""
    return (reseller_id, db.session.get(Reseller, reseller_id).change_count, today.isoformat())
