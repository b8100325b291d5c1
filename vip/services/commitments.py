"""Three-year commitments (R15) and their compliance (R16): recording the request and the
vendor's answer, the floor a commitment puts under the level, "at risk", and the job's
expiry and missed-renewal steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, exists, func, select, update

from vip.extensions import db
from vip.models import (
    CommitmentState,
    Customer,
    ThreeYearCommitment,
    User,
)
from vip.models.discount_levels import (
    AT_RISK_DAYS,
    COMMITMENT_MIN_LEVEL,
    COMMITMENT_MIN_QUANTITY,
    COMMITMENT_TERMS,
    threshold_of,
)
from vip.services import audit, change_count
from vip.services.access import get_customer_for, require
from vip.services.authorizations import AuthorizationInvalid, grouped
from vip.services.deadlines import (
    COMMITMENT_EXPIRED,
    COMMITMENT_NONCOMPLIANT,
    GRACE_DAYS,
    DeadlineChange,
    TickReport,
)
from vip.services.errors import DomainError, LocalizedDate
from vip.services.licenses import lock_customer, qualifying_licenses_column
from vip.services.terms import add_months

MAX_QUANTITY = 599_000  # the most licenses an authorization may carry


# -- Reading --------------------------------------------------------------------------------------


def current_commitments(customer_ids: list[int]) -> dict[int, ThreeYearCommitment]:
    """Customer id -> its current (newest) commitment, for the given customers, in one query."""
    if not customer_ids:
        return {}
    newest = (
        select(func.max(ThreeYearCommitment.id))
        .where(ThreeYearCommitment.customer_id.in_(customer_ids))
        .group_by(ThreeYearCommitment.customer_id)
    )
    return {
        commitment.customer_id: commitment
        for commitment in db.session.scalars(
            select(ThreeYearCommitment).where(ThreeYearCommitment.id.in_(newest))
        )
    }


def current_commitment(customer: Customer) -> ThreeYearCommitment | None:
    return current_commitments([customer.id]).get(customer.id)


def third_anniversary_after(*, anniversary: date, start: date) -> date:
    """The commitment's end, the third anniversary after its start. The first is the
    customer's next anniversary after the start date."""
    years = 0
    while add_months(anniversary, 12 * years) <= start:
        years += 1
    return add_months(anniversary, 12 * (years + COMMITMENT_TERMS - 1))


def covered_anniversaries(commitment: ThreeYearCommitment) -> list[date]:
    """The anniversaries a commitment runs through, its end (the third) included; the
    renewals of all but the last must reach the minimum."""
    if commitment.ends_on is None:
        return []
    return [
        add_months(commitment.ends_on, -12 * back, anchor_day=commitment.ends_on.day)
        for back in range(COMMITMENT_TERMS - 1, -1, -1)
    ]


@dataclass(frozen=True)
class CommitmentView:
    """What the pages show of a customer's commitment."""

    commitment: ThreeYearCommitment
    licenses: int
    at_risk: bool

    @property
    def anniversaries(self) -> list[date]:
        return covered_anniversaries(self.commitment)


def is_at_risk(
    commitment: ThreeYearCommitment | None, *, anniversary: date | None, licenses: int, today: date
) -> bool:
    """From 60 days before an anniversary the commitment covers (to the close of its
    renewal window), a committed customer holding fewer licenses than the minimum."""
    return (
        commitment is not None
        and commitment.state == CommitmentState.COMMITTED
        and commitment.covers(anniversary)
        and anniversary - timedelta(days=AT_RISK_DAYS)
        <= today
        <= anniversary + timedelta(days=GRACE_DAYS)
        and licenses < commitment.minimum_quantity
    )


def at_risk_clause(today: date):
    """`is_at_risk` as a condition on customers, for the lists' filter and the dashboard's
    card. The candidates are the customers of the commitments still running (their index
    range, far fewer than the customers with an anniversary in the range); each is then
    checked by one correlated probe."""
    commitment = ThreeYearCommitment
    earliest = today - timedelta(days=GRACE_DAYS)
    running = select(commitment.customer_id).where(
        commitment.state == CommitmentState.COMMITTED, commitment.ends_on > earliest
    )
    return and_(
        Customer.anniversary_date.between(earliest, today + timedelta(days=AT_RISK_DAYS)),
        Customer.id.in_(running),
        exists().where(
            commitment.customer_id == Customer.id,
            commitment.state == CommitmentState.COMMITTED,
            commitment.starts_on < Customer.anniversary_date,
            commitment.ends_on > Customer.anniversary_date,
            commitment.minimum_quantity > qualifying_licenses_column(),
        ),
    )


def in_state_clause(state: CommitmentState):
    """Customers whose open commitment is in `state` (a customer has one open at most)."""
    return exists().where(
        ThreeYearCommitment.customer_id == Customer.id, ThreeYearCommitment.state == state
    )


# -- Recording ------------------------------------------------------------------------------


def _manageable(user: User, customer_id: int) -> Customer:
    require(user, "commitments.manage")
    customer = get_customer_for(user=user, customer_id=customer_id)
    lock_customer(customer.id)
    db.session.refresh(customer)
    return customer


def _day_problem(day: date | None, *, today: date, not_before: date | None = None):
    if day is None:
        return _l("Enter the date.")
    if day > today:
        return _l("The date cannot be in the future.")
    if not_before is not None and day < not_before:
        return _l("The date cannot be before %(date)s.", date=LocalizedDate(not_before))
    return None


def request_commitment(
    *,
    user: User,
    customer_id: int,
    today: date,
    minimum_quantity: int | None,
    requested_on: date | None,
) -> ThreeYearCommitment:
    """The reseller records that the customer asked the vendor for a three-year
    commitment: at Level 2 or above, a minimum of at least 10 licenses, one open at a time."""
    customer = _manageable(user, customer_id)
    current = current_commitment(customer)
    if current is not None and current.is_open:
        raise DomainError(
            _l(
                "%(name)s already has a three-year commitment that is requested or running.",
                name=customer.company_name,
            )
        )
    errors: dict[str, list] = {}
    if customer.discount_level < COMMITMENT_MIN_LEVEL:
        errors["minimum_quantity"] = [
            _l(
                "A three-year commitment needs Level %(level)d (%(count)d licenses) or above; "
                "%(name)s has Level %(current)d.",
                level=COMMITMENT_MIN_LEVEL,
                count=threshold_of(COMMITMENT_MIN_LEVEL),
                name=customer.company_name,
                current=customer.discount_level,
            )
        ]
    elif minimum_quantity is None:
        errors["minimum_quantity"] = [_l("Enter the committed number of licenses.")]
    elif minimum_quantity < COMMITMENT_MIN_QUANTITY:
        errors["minimum_quantity"] = [
            _l("Commit to at least %(count)d licenses.", count=COMMITMENT_MIN_QUANTITY)
        ]
    elif minimum_quantity > MAX_QUANTITY:
        errors["minimum_quantity"] = [
            _l("At most %(count)s licenses.", count=grouped(MAX_QUANTITY))
        ]
    if problem := _day_problem(requested_on, today=today):
        errors["requested_on"] = [problem]
    if errors:
        raise AuthorizationInvalid(errors)
    commitment = ThreeYearCommitment(
        customer_id=customer.id,
        state=CommitmentState.REQUESTED,
        minimum_quantity=minimum_quantity,
        requested_on=requested_on,
        created_by_id=user.id,
    )
    db.session.add(commitment)
    db.session.flush()
    audit.record(
        actor=user,
        action="commitment.requested",
        customer=customer,
        object_type="commitment",
        object_id=commitment.id,
        details={"minimum": minimum_quantity, "requested_on": requested_on.isoformat()},
    )
    db.session.commit()
    return commitment


def _requested(customer: Customer) -> ThreeYearCommitment:
    current = current_commitment(customer)
    if current is None or current.state != CommitmentState.REQUESTED:
        raise DomainError(
            _l(
                "%(name)s has no three-year commitment waiting for the vendor's answer.",
                name=customer.company_name,
            )
        )
    return current


def accept_commitment(
    *, user: User, customer_id: int, today: date, starts_on: date | None
) -> ThreeYearCommitment:
    """The vendor accepted: `committed` from `starts_on` to the third anniversary
    after it. The level rises at once to the one the minimum reaches, if higher."""
    customer = _manageable(user, customer_id)
    commitment = _requested(customer)
    problem = _day_problem(starts_on, today=today, not_before=commitment.requested_on)
    if problem is None and customer.anniversary_date is None:
        problem = _l("The customer has no anniversary date yet: record its first order.")
    if problem is not None:
        raise AuthorizationInvalid({"starts_on": [problem]})
    commitment.state = CommitmentState.COMMITTED
    commitment.starts_on = starts_on
    commitment.decided_on = today
    commitment.ends_on = third_anniversary_after(
        anniversary=customer.anniversary_date, start=starts_on
    )
    level_before = customer.discount_level
    customer.discount_level = max(level_before, commitment.committed_level)
    db.session.flush()
    audit.record(
        actor=user,
        action="commitment.accepted",
        customer=customer,
        object_type="commitment",
        object_id=commitment.id,
        details={
            "minimum": commitment.minimum_quantity,
            "starts_on": starts_on.isoformat(),
            "ends_on": commitment.ends_on.isoformat(),
            "level": [level_before, customer.discount_level],
        },
    )
    db.session.commit()
    return commitment


def decline_commitment(
    *, user: User, customer_id: int, today: date, decided_on: date | None
) -> ThreeYearCommitment:
    """The vendor refused the request: `declined`; a new one may be requested."""
    customer = _manageable(user, customer_id)
    commitment = _requested(customer)
    if problem := _day_problem(decided_on, today=today, not_before=commitment.requested_on):
        raise AuthorizationInvalid({"decided_on": [problem]})
    commitment.state = CommitmentState.DECLINED
    commitment.decided_on = decided_on
    db.session.flush()
    audit.record(
        actor=user,
        action="commitment.declined",
        customer=customer,
        object_type="commitment",
        object_id=commitment.id,
        details={"minimum": commitment.minimum_quantity, "decided_on": decided_on.isoformat()},
    )
    db.session.commit()
    return commitment


# -- At a renewal ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RenewalCompliance:
    """What a renewal of `anniversary` with `licenses` qualifying licenses means for the
    customer's commitment."""

    commitment: ThreeYearCommitment | None
    anniversary: date
    licenses: int

    @property
    def applies(self) -> bool:
        return (
            self.commitment is not None
            and self.commitment.state == CommitmentState.COMMITTED
            and self.commitment.covers(self.anniversary)
        )

    @property
    def below(self) -> bool:
        return self.applies and self.licenses < self.commitment.minimum_quantity

    @property
    def floor(self) -> int:
        """The level the renewal cannot go below: the committed one, while it holds."""
        return self.commitment.committed_level if self.applies and not self.below else 1


def renewal_compliance(
    *, commitment: ThreeYearCommitment | None, anniversary: date, licenses: int
) -> RenewalCompliance:
    return RenewalCompliance(commitment, anniversary, licenses)


def mark_noncompliant(*, compliance: RenewalCompliance, customer: Customer, user: User) -> None:
    """Inside the renewal's transaction: a renewal below the minimum, audited."""
    commitment = compliance.commitment
    commitment.state = CommitmentState.NONCOMPLIANT
    audit.record(
        actor=user,
        action="commitment.noncompliant",
        customer=customer,
        object_type="commitment",
        object_id=commitment.id,
        details={
            "minimum": commitment.minimum_quantity,
            "licenses": compliance.licenses,
            "anniversary": compliance.anniversary.isoformat(),
        },
    )


# -- The job: expiry and a missed renewal ---------------------------------------------------------


def _change(customer: Customer, commitment, action: str, after: CommitmentState):
    return DeadlineChange(
        action=action,
        customer_id=customer.id,
        customer_name=customer.company_name,
        vip_id=customer.vip_id,
        status_before=customer.status.value,
        status_after=customer.status.value,
        anniversary=customer.anniversary_date,
        before=commitment.state.value,
        after=after.value,
        commitment_id=commitment.id,
    )


def _due(reseller_ids: list[int], *conditions):
    return db.session.execute(
        select(ThreeYearCommitment, Customer)
        .join(Customer, Customer.id == ThreeYearCommitment.customer_id)
        .where(Customer.reseller_id.in_(reseller_ids), *conditions)
        .order_by(Customer.id)
    ).all()


def plan_commitment_deadlines(*, today: date, reseller_ids: list[int]) -> TickReport:
    """The commitments on `today`, as data: one whose third anniversary has come expires;
    a committed customer whose renewal window of a covered anniversary closed without a
    renewal is noncompliant. Only reads; `apply_commitment_deadlines` makes the changes."""
    report = TickReport()
    expiring = (CommitmentState.COMMITTED, CommitmentState.NONCOMPLIANT)
    for commitment, customer in _due(
        reseller_ids,
        ThreeYearCommitment.state.in_(expiring),
        ThreeYearCommitment.ends_on <= today,
    ):
        report.count(_change(customer, commitment, COMMITMENT_EXPIRED, CommitmentState.EXPIRED))
    for commitment, customer in _due(
        reseller_ids,
        ThreeYearCommitment.state == CommitmentState.COMMITTED,
        ThreeYearCommitment.ends_on > today,
        ThreeYearCommitment.starts_on < Customer.anniversary_date,
        ThreeYearCommitment.ends_on > Customer.anniversary_date,
        Customer.anniversary_date < today - timedelta(days=GRACE_DAYS),
    ):
        report.count(
            _change(customer, commitment, COMMITMENT_NONCOMPLIANT, CommitmentState.NONCOMPLIANT)
        )
    return report


def apply_commitment_deadlines(*, today: date, reseller_ids: list[int]) -> TickReport:
    """The plan, each change single-shot (only while the commitment is still in the state
    planned) and audited."""
    plan = plan_commitment_deadlines(today=today, reseller_ids=reseller_ids)
    report = TickReport()
    for change in plan.changes:
        changed = db.session.execute(
            update(ThreeYearCommitment)
            .where(
                ThreeYearCommitment.id == change.commitment_id,
                ThreeYearCommitment.state == change.before,
            )
            .values(state=change.after)
            .execution_options(synchronize_session=False)
        ).rowcount
        if changed == 1:
            change_count.note_customers([change.customer_id])
            customer = db.session.get(Customer, change.customer_id)
            audit.record(
                actor=None,
                action="commitment." + change.after,
                customer=customer,
                object_type="commitment",
                object_id=change.commitment_id,
                details={
                    "previous": change.before,
                    "anniversary": change.anniversary.isoformat() if change.anniversary else None,
                    "today": today.isoformat(),
                },
            )
            report.count(change)
        db.session.commit()
    return report
