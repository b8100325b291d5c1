"""The discount level: what a single order lifts it to, the look-back 31 days before
the anniversary, the level a renewal sets, and the hint the order dialogs show. The
thresholds themselves are `vip.models.discount_levels.level_for`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, or_, select, update

from vip.extensions import db
from vip.models import Customer, Product, ThreeYearCommitment, User
from vip.models.discount_levels import LEVEL_THRESHOLDS, level_for, next_level, threshold_of
from vip.services import audit, change_count, commitments
from vip.services.commitments import current_commitment
from vip.services.deadlines import (
    GRACE_DAYS,
    HAS_ACCESS,
    LEVEL_LOOKBACK,
    DeadlineChange,
    TickReport,
)
from vip.services.licenses import (
    qualifying_licenses,
    qualifying_licenses_by_customer,
    qualifying_licenses_column,
)

LOOKBACK_DAYS = 31  # the look-back counts the term's licenses 31 days before the anniversary


def lookback_on(anniversary: date) -> date:
    return anniversary - timedelta(days=LOOKBACK_DAYS)


def consumable_ids(product_ids) -> set[int]:
    ids = {pid for pid in product_ids if pid is not None}
    if not ids:
        return set()
    return set(
        db.session.scalars(select(Product.id).where(Product.id.in_(ids), Product.consumable))
    )


def qualifying_quantity(quantities: dict[int, int]) -> int:
    """The licenses of an order's lines (product id -> quantity) that count."""
    consumables = consumable_ids(quantities)
    return sum(
        max(0, quantity or 0)
        for pid, quantity in quantities.items()
        if pid is not None and pid not in consumables
    )


def _floor(commitment: ThreeYearCommitment | None) -> int:
    return commitment.committed_level if commitment is not None and commitment.holds_level else 1


def level_after_order(
    *, current: int, order_licenses: int, new_term: bool, commitment: ThreeYearCommitment | None
) -> int:
    """A single order of at least a threshold's quantity lifts the level at once; the
    first order of a new term sets it (never below a commitment's level)."""
    reached = level_for(order_licenses)
    if new_term:
        return max(reached, _floor(commitment))
    return max(current, reached)


def _record_level(customer: Customer, *, before: int, user: User | None, reason: str, **details):
    if customer.discount_level != before:
        audit.record(
            actor=user,
            action="customer.level_changed",
            customer=customer,
            object_type="customer",
            object_id=customer.id,
            details={"level": [before, customer.discount_level], "reason": reason, **details},
        )


def apply_order(
    *, customer: Customer, quantities: dict[int, int], new_term: bool, user: User
) -> None:
    """Inside the order's transaction: the level the recorded order gives (audited)."""
    before = customer.discount_level
    licenses = qualifying_quantity(quantities)
    customer.discount_level = level_after_order(
        current=before,
        order_licenses=licenses,
        new_term=new_term,
        commitment=current_commitment(customer),
    )
    _record_level(customer, before=before, user=user, reason="order", licenses=licenses)


def apply_renewal(*, customer: Customer, licenses: int, floor: int, user: User) -> None:
    """Inside the renewal's transaction: the renewed quantity sets the new term's level, a
    commitment that holds keeps at least its own."""
    before = customer.discount_level
    customer.discount_level = max(level_for(licenses), floor)
    customer.lookback_anniversary = None
    _record_level(customer, before=before, user=user, reason="renewal", licenses=licenses)


# -- The hint of the order dialogs ----------------------------------------------------------------


@dataclass(frozen=True)
class LevelHint:
    """What an order would do to the level: "Level 2 from 10 licenses: 3 more"."""

    current_level: int
    current_licenses: int
    order_licenses: int
    order_level: int
    new_term: bool
    lookback_on: date | None  # the coming look-back of the current term, if not applied yet

    @property
    def raises(self) -> bool:
        return self.order_level > self.current_level

    @property
    def next_level(self) -> int | None:
        return next_level(self.order_level)

    @property
    def next_threshold(self) -> int | None:
        return threshold_of(self.next_level) if self.next_level else None

    @property
    def more_needed(self) -> int | None:
        """How many more licenses in this order reach the next level."""
        return self.next_threshold - self.order_licenses if self.next_level else None

    @property
    def lookback_licenses(self) -> int:
        return self.current_licenses + self.order_licenses

    @property
    def lookback_level(self) -> int:
        return max(self.order_level, level_for(self.lookback_licenses))


def order_hint(
    *, customer: Customer, quantities: dict[int, int], today: date, new_term: bool | None = None
) -> LevelHint:
    """The level the customer has and the one this order (product id -> quantity) reaches;
    a few queries, whatever the rows."""
    anniversary = customer.anniversary_date
    if new_term is None:
        new_term = anniversary is None or today > anniversary + timedelta(days=GRACE_DAYS)
    licenses = qualifying_quantity(quantities)
    current = 0 if new_term else qualifying_licenses(customer=customer)
    commitment = current_commitment(customer)
    pending_lookback = (
        not new_term
        and anniversary is not None
        and customer.lookback_anniversary != anniversary
        and today < anniversary
    )
    return LevelHint(
        current_level=customer.discount_level,
        current_licenses=current,
        order_licenses=licenses,
        order_level=level_after_order(
            current=customer.discount_level,
            order_licenses=licenses,
            new_term=new_term,
            commitment=commitment,
        ),
        new_term=new_term,
        lookback_on=max(lookback_on(anniversary), today) if pending_lookback else None,
    )


# -- The look-back, applied by the job ------------------------------------------------------------


def _lookback_due(today: date):
    """Customers with access whose anniversary is at most 31 days ahead (or passed, within
    its grace period) and whose look-back for it was not applied yet."""
    return [
        Customer.anniversary_date.between(
            today - timedelta(days=GRACE_DAYS - 1), today + timedelta(days=LOOKBACK_DAYS)
        ),
        or_(
            Customer.lookback_anniversary.is_(None),
            Customer.lookback_anniversary != Customer.anniversary_date,
        ),
        Customer.status.in_(HAS_ACCESS),
    ]


def _level_reached():
    """`level_for` of each customer's qualifying licenses, in SQL."""
    licenses = qualifying_licenses_column()
    return case(
        *((licenses >= threshold, level) for level, threshold in LEVEL_THRESHOLDS[:-1]),
        else_=1,
    )


def plan_lookbacks(*, today: date, reseller_ids: list[int]) -> TickReport:
    """The look-back on `today`, as data: the due customers whose qualifying licenses of
    the term reach a higher level than the one they hold. Only reads. (The others are only
    marked as looked back: nothing about them changes.)"""
    report = TickReport()
    rows = db.session.execute(
        select(Customer, qualifying_licenses_column())
        .where(
            Customer.reseller_id.in_(reseller_ids),
            *_lookback_due(today),
            _level_reached() > Customer.discount_level,
        )
        .order_by(Customer.id)
    ).all()
    for customer, licenses in rows:
        licenses = int(licenses or 0)
        report.count(
            DeadlineChange(
                action=LEVEL_LOOKBACK,
                customer_id=customer.id,
                customer_name=customer.company_name,
                vip_id=customer.vip_id,
                status_before=customer.status.value,
                status_after=customer.status.value,
                anniversary=customer.anniversary_date,
                before=customer.discount_level,
                after=max(customer.discount_level, level_for(licenses)),
                licenses=licenses,
            )
        )
    return report


def apply_lookbacks(*, today: date, reseller_ids: list[int]) -> TickReport:
    """The look-back, single-shot per customer and anniversary, audited."""
    report = TickReport()
    for change in plan_lookbacks(today=today, reseller_ids=reseller_ids).changes:
        applied = db.session.execute(
            update(Customer)
            .where(
                Customer.id == change.customer_id,
                Customer.anniversary_date == change.anniversary,
                Customer.discount_level == change.before,
                or_(
                    Customer.lookback_anniversary.is_(None),
                    Customer.lookback_anniversary != Customer.anniversary_date,
                ),
            )
            .values(discount_level=change.after, lookback_anniversary=change.anniversary)
            .execution_options(synchronize_session=False)
        ).rowcount
        if applied == 1:
            change_count.note_customers([change.customer_id])
            audit.record(
                actor=None,
                action="customer.level_lookback",
                customer=db.session.get(Customer, change.customer_id),
                object_type="customer",
                object_id=change.customer_id,
                details={
                    "level": [change.before, change.after],
                    "licenses": change.licenses,
                    "anniversary": change.anniversary.isoformat(),
                    "today": today.isoformat(),
                },
            )
            report.count(change)
        db.session.commit()
    marked = db.session.execute(
        update(Customer)
        .where(
            Customer.reseller_id.in_(reseller_ids),
            *_lookback_due(today),
            _level_reached() <= Customer.discount_level,
        )
        .values(lookback_anniversary=Customer.anniversary_date)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked:
        change_count.note_resellers(reseller_ids)
    db.session.commit()
    return report


# -- What the pages show --------------------------------------------------------------------------


@dataclass(frozen=True)
class LevelStanding:
    """A customer's level, the licenses that count, its look-back and its commitment, as
    the customer header, VIP information and the Admin Console show them."""

    level: int
    licenses: int
    anniversary: date | None
    lookback_applied: bool
    commitment: ThreeYearCommitment | None
    at_risk: bool

    @property
    def lookback_on(self) -> date | None:
        return lookback_on(self.anniversary) if self.anniversary else None

    @property
    def next_level(self) -> int | None:
        return next_level(self.level)

    @property
    def next_threshold(self) -> int | None:
        return threshold_of(self.next_level) if self.next_level else None

    @property
    def more_needed(self) -> int | None:
        """Licenses to add this term for the look-back to reach the next level."""
        if self.next_level is None:
            return None
        return max(0, self.next_threshold - self.licenses)

    @property
    def anniversaries(self) -> list[date]:
        return commitments.covered_anniversaries(self.commitment) if self.commitment else []

    @property
    def may_request_commitment(self) -> bool:
        return self.commitment is None or not self.commitment.is_open

    @property
    def awaits_answer(self) -> bool:
        return self.commitment is not None and self.commitment.state == "requested"


def standings(*, customers: list[Customer], today: date) -> dict[int, LevelStanding]:
    """Customer id -> its standing, for a page of customers in two queries."""
    ids = [customer.id for customer in customers]
    counts = qualifying_licenses_by_customer(ids)
    current = commitments.current_commitments(ids)
    result = {}
    for customer in customers:
        licenses = counts.get(customer.id, 0)
        commitment = current.get(customer.id)
        result[customer.id] = LevelStanding(
            level=customer.discount_level,
            licenses=licenses,
            anniversary=customer.anniversary_date,
            lookback_applied=customer.anniversary_date is not None
            and customer.lookback_anniversary == customer.anniversary_date,
            commitment=commitment,
            at_risk=commitments.is_at_risk(
                commitment, anniversary=customer.anniversary_date, licenses=licenses, today=today
            ),
        )
    return result


def standing(*, customer: Customer, today: date) -> LevelStanding:
    return standings(customers=[customer], today=today)[customer.id]
