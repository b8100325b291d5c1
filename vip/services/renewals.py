"""Renewals: the overview of customers nearing their anniversary, recording the
renewal order, the stage a customer is in and the Admin Console's banner."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.orm import selectinload

from vip.extensions import db
from vip.models import (
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    ThreeYearCommitment,
    User,
)
from vip.models.discount_levels import CLOSED_STATES, CommitmentState, level_for
from vip.services import audit, change_count, commitments, discount_levels, events, pipeline_summary
from vip.services.access import get_customer_for, require, visible_customers
from vip.services.authorizations import LICENSE_LIMITS, AuthorizationInvalid, grouped
from vip.services.customer_status import overdue_authorization_exists, status_with_access
from vip.services.deadlines import GRACE_DAYS, RENEWAL_WINDOW_DAYS, RENEWED, ReminderKind
from vip.services.errors import LocalizedDate, StateConflict
from vip.services.licenses import (
    license_inventory,
    lock_customer,
    pending_by_product,
    returned_licenses,
)
from vip.services.listing import CustomerPage, paginate, search_clause
from vip.services.orders import flush_new_order, vendor_order_number_problem
from vip.services.terms import add_months

OVERVIEW_DAYS = 90  # R8: a customer appears this many days before its anniversary


class RenewalStage(StrEnum):
    UPCOMING = "upcoming"  # AD-90 .. AD-31
    WINDOW_OPEN = "window_open"  # AD-30 .. AD-1: the renewal window is open
    IN_GRACE = "in_grace"  # AD .. AD+29: anniversary missed, licenses still work
    OVERDUE = "overdue"  # from AD+30: access removed, a renewal is overdue


@dataclass(frozen=True)
class RenewalDates:
    """The dates that matter for one anniversary, and where `today` stands."""

    anniversary: date
    today: date

    @property
    def listed_from(self) -> date:
        """The day the customer enters the renewals overview."""
        return self.anniversary - timedelta(days=OVERVIEW_DAYS)

    @property
    def window_opens_on(self) -> date:
        return self.anniversary - timedelta(days=RENEWAL_WINDOW_DAYS)

    @property
    def access_removed_on(self) -> date:
        return self.anniversary + timedelta(days=GRACE_DAYS)

    @property
    def window_closes_on(self) -> date:
        """The last order date a renewal of this anniversary may carry."""
        return self.access_removed_on

    @property
    def stage(self) -> RenewalStage | None:
        offset = (self.today - self.anniversary).days
        if offset < -OVERVIEW_DAYS:
            return None
        if offset < -RENEWAL_WINDOW_DAYS:
            return RenewalStage.UPCOMING
        if offset < 0:
            return RenewalStage.WINDOW_OPEN
        if offset < GRACE_DAYS:
            return RenewalStage.IN_GRACE
        return RenewalStage.OVERDUE

    @property
    def renewal_due(self) -> bool:
        """From the window's opening until a renewal moves the anniversary: the banner's
        period, the resellers' badges and the console's "needs renewal"."""
        return self.stage in (RenewalStage.WINDOW_OPEN, RenewalStage.IN_GRACE, RenewalStage.OVERDUE)

    @property
    def renewal_recordable(self) -> bool:
        """A renewal order can be recorded from the day the window opens."""
        return self.today >= self.window_opens_on

    def days_until(self, day: date) -> int:
        return (day - self.today).days


def dates_for(customer: Customer, today: date) -> RenewalDates | None:
    if customer.anniversary_date is None:
        return None
    return RenewalDates(customer.anniversary_date, today)


def renewal_stage(customer: Customer, today: date) -> RenewalStage | None:
    dates = dates_for(customer, today)
    return dates.stage if dates else None


# -- The banner (R12) and the reseller's badges -------------------------------------------------


@dataclass(frozen=True)
class Banner:
    stage: RenewalStage
    dates: RenewalDates
    reseller_name: str
    company_name: str  # a VIP admin may administer several customers: the banner names it

    @property
    def is_warning(self) -> bool:
        return self.stage != RenewalStage.WINDOW_OPEN


def banner_for(customer: Customer, today: date) -> Banner | None:
    """From 30 days before the anniversary until a renewal moves it: a notice before the
    anniversary, a warning from it (with the date access is removed), and after that date
    the news that access was removed."""
    dates = dates_for(customer, today)
    if dates is None or not dates.renewal_due:
        return None
    return Banner(dates.stage, dates, customer.reseller.name, customer.company_name)


# -- The overview --------------------------------------------------------------------------

STAGE_RANGES = {
    # stage -> anniversary dates (as offsets from today) that put a customer in it
    RenewalStage.UPCOMING: (RENEWAL_WINDOW_DAYS + 1, OVERVIEW_DAYS),
    RenewalStage.WINDOW_OPEN: (1, RENEWAL_WINDOW_DAYS),
    RenewalStage.IN_GRACE: (-(GRACE_DAYS - 1), 0),
    RenewalStage.OVERDUE: (-GRACE_DAYS, -GRACE_DAYS),
}
WINDOWS = ("30", "60", "90")  # "anniversary within N days" (the grace period included)
SORTS = {
    "anniversary": Customer.anniversary_date,
    "name": Customer.company_name,
    "vip_id": Customer.vip_id,
}


#: The three-year commitment filter: "at risk", or a noncompliant commitment.
AT_RISK = "at_risk"
NONCOMPLIANT = "noncompliant"
COMMITMENT_FILTERS = (AT_RISK, NONCOMPLIANT)


@dataclass(frozen=True)
class OverviewFilter:
    window: str = ""
    stage: str = ""
    search: str = ""
    sort: str = "anniversary"
    commitment: str = ""

    def normalized(self) -> OverviewFilter:
        sort = self.sort if self.sort.removeprefix("-") in SORTS else "anniversary"
        return OverviewFilter(
            window=self.window if self.window in WINDOWS else "",
            stage=self.stage if self.stage in {s.value for s in RenewalStage} else "",
            search=self.search.strip(),
            sort=sort,
            commitment=self.commitment if self.commitment in COMMITMENT_FILTERS else "",
        )


def _overview_customers(user: User, today: date, chosen: OverviewFilter) -> Select:
    """The user's customers in the overview: anniversary from 30 days ago (the last day of
    grace) to 90 days ahead, narrowed by the filter. Date ranges on an indexed column."""
    require(user, "customers.view")
    low, high = -GRACE_DAYS, OVERVIEW_DAYS
    if chosen.window:
        high = int(chosen.window)
    if chosen.stage:
        stage_low, stage_high = STAGE_RANGES[RenewalStage(chosen.stage)]
        low, high = max(low, stage_low), min(high, stage_high)
    query = visible_customers(user).where(
        Customer.anniversary_date.between(today + timedelta(days=low), today + timedelta(days=high))
    )
    if chosen.search:
        query = query.where(search_clause(chosen.search))
    if chosen.commitment == AT_RISK:
        query = query.where(commitments.at_risk_clause(today))
    elif chosen.commitment == NONCOMPLIANT:
        query = query.where(commitments.in_state_clause(CommitmentState.NONCOMPLIANT))
    return query


def _ordering(sort: str):
    column = SORTS[sort.removeprefix("-")]
    first = column.desc() if sort.startswith("-") else column.asc()
    return [first, Customer.company_name, Customer.id]


@dataclass(frozen=True)
class RenewalLine:
    product: Product
    purchased: int
    returned: int
    assigned: int

    @property
    def current(self) -> int:
        return self.purchased - self.returned

    @property
    def suggested(self) -> int:
        """What renews the licenses the customer has now."""
        return self.current

    @property
    def renewal_sku(self) -> str:
        return self.product.renewal_sku


def _assigned_count():
    """Licenses of the row's product assigned at the row's customer (a correlated count on
    the assignments' unique index)."""
    return (
        select(func.count())
        .where(
            LicenseAssignment.customer_id == Customer.id,
            LicenseAssignment.product_id == Product.id,
        )
        .correlate(Customer, Product)
        .scalar_subquery()
    )


def _lines_query(customers: Select, customer=Customer) -> Select:
    """One row per customer and renewable product of the current term: the customer
    itself, or what `customer` names of it (its id, when the caller has the customers)."""
    ids = customers.with_only_columns(Customer.id).order_by(None)
    return (
        select(
            customer,
            Product,
            func.sum(OrderLine.quantity).label("purchased"),
            returned_licenses().label("returned"),
            _assigned_count().label("assigned"),
        )
        .select_from(Customer)
        .join(
            Order,
            and_(
                Order.customer_id == Customer.id,
                Order.term_ends_on == Customer.anniversary_date,
            ),
        )
        .join(OrderLine, OrderLine.order_id == Order.id)
        .join(Product, Product.id == OrderLine.product_id)
        .where(Customer.id.in_(ids))
        .group_by(Customer.id, Product.id)
    )


def _line(product, purchased, returned, assigned) -> RenewalLine:
    return RenewalLine(product, int(purchased or 0), int(returned or 0), int(assigned or 0))


def _renewable(line: RenewalLine) -> bool:
    return line.current > 0


def lines_by_customer(customer_ids: list[int]) -> dict[int, list[RenewalLine]]:
    """The renewable products of the given customers, in one query."""
    if not customer_ids:
        return {}
    grouped: dict[int, list[RenewalLine]] = {}
    rows = db.session.execute(
        _lines_query(
            select(Customer).where(Customer.id.in_(customer_ids)), customer=Customer.id
        ).order_by(Product.name, Product.sku)
    )
    for customer_id, product, purchased, returned, assigned in rows:
        line = _line(product, purchased, returned, assigned)
        if _renewable(line):
            grouped.setdefault(customer_id, []).append(line)
    return grouped


def renewals_overview(
    *, user: User, today: date, chosen: OverviewFilter, page: int = 1, page_size: int = 25
) -> CustomerPage:
    """A page of customers (a capped count and a page query, whatever the data size); their
    lines come from `lines_by_customer`."""
    chosen = chosen.normalized()
    query = _overview_customers(user, today, chosen)
    return paginate(query, _ordering(chosen.sort), page=page, page_size=page_size)


@dataclass(frozen=True)
class ExportRow:
    customer: Customer
    line: RenewalLine
    dates: RenewalDates
    commitment: ThreeYearCommitment | None = None  # the open one (requested, committed, ...)


def export_rows(*, user: User, today: date, chosen: OverviewFilter) -> Iterator[ExportRow]:
    """Every renewable line of the filtered overview, streamed from one query in batches so
    that no export holds all its rows in memory."""
    chosen = chosen.normalized()
    query = (
        _lines_query(_overview_customers(user, today, chosen))
        .add_columns(ThreeYearCommitment)
        .outerjoin(
            ThreeYearCommitment,
            and_(
                ThreeYearCommitment.customer_id == Customer.id,
                ThreeYearCommitment.state.not_in(CLOSED_STATES),
            ),
        )
        .group_by(ThreeYearCommitment.id)
        .order_by(*_ordering(chosen.sort), Product.name, Product.sku)
        .execution_options(yield_per=500)
    )
    for customer, product, purchased, returned, assigned, commitment in db.session.execute(query):
        line = _line(product, purchased, returned, assigned)
        if _renewable(line):
            yield ExportRow(
                customer, line, RenewalDates(customer.anniversary_date, today), commitment
            )


# -- Recording the renewal (R9) -----------------------------------------------------------------


def renewal_lines_of(customer: Customer) -> list[RenewalLine]:
    """The products a renewal of this customer covers (those it owns in the current term,
    as the overview lists them), with the quantities to pre-fill."""
    return [
        RenewalLine(item.product, item.purchased, item.returned, item.assigned)
        for item in license_inventory(customer=customer)
        if item.owned > 0
    ]


def quantities_by_sku(
    *, user: User, customer_id: int, lines: list[tuple[str | None, int | None]]
) -> tuple[dict[int, int | None], dict[str, str]]:
    """The API's rows of a renewal (a product's SKU or renewal SKU, and a quantity) as
    `record_renewal` takes them (by product), and the field name of each product's row
    ("quantity-12" -> "lines.0.quantity"; a product left out of the rows is named by its
    SKU, "lines.<sku>.quantity"). A SKU the customer holds no license of is refused."""
    customer = get_customer_for(user=user, customer_id=customer_id)
    products = {}
    for line in renewal_lines_of(customer):
        products[line.product.sku.upper()] = line.product.id
        products[line.renewal_sku.upper()] = line.product.id
    names = {f"quantity-{pid}": f"lines.{sku}.quantity" for sku, pid in products.items()}
    quantities: dict[int, int | None] = {}
    unknown: dict[str, list] = {}
    for index, (sku, quantity) in enumerate(lines):
        product_id = products.get((sku or "").upper())
        if product_id is None:
            unknown[f"lines.{index}.sku"] = [
                _l("One of the products is not among the customer's licenses.")
            ]
            continue
        quantities[product_id] = quantity
        names[f"quantity-{product_id}"] = f"lines.{index}.quantity"
    if unknown:
        raise AuthorizationInvalid(unknown)
    return quantities, names


def _check_order_date(customer: Customer, order_date: date | None, today: date):
    if order_date is None:
        return _l("Enter the order date.")
    if order_date > today:
        return _l("The order date cannot be in the future.")
    dates = RenewalDates(customer.anniversary_date, today)
    if not dates.window_opens_on <= order_date <= dates.window_closes_on:
        return _l(
            "A renewal of the anniversary date %(date)s is ordered from %(start)s to %(end)s.",
            date=LocalizedDate(customer.anniversary_date),
            start=LocalizedDate(dates.window_opens_on),
            end=LocalizedDate(dates.window_closes_on),
        )
    return None


def _check_quantities(
    lines: list[RenewalLine], quantities: dict[int, int | None], pending: dict[int, int]
):
    """Product id -> quantity to renew (0 drops the line), and the errors by field. Licenses
    in use must stay renewed, except those a pending authorization will bring."""
    errors: dict[str, list] = {}
    known = {line.product.id: line for line in lines}
    chosen: dict[int, int] = {}
    for product_id in quantities:
        if product_id not in known:
            errors.setdefault("lines", []).append(
                _l("One of the products is not among the customer's licenses.")
            )
    for line in lines:
        field = f"quantity-{line.product.id}"
        quantity = quantities.get(line.product.id)
        limit = LICENSE_LIMITS[line.product.license_type]
        in_use = max(0, line.assigned - pending.get(line.product.id, 0))
        if quantity is None:
            errors[field] = [_l("Enter a whole number (0 leaves the product out).")]
        elif quantity < 0:
            errors[field] = [_l("Enter 0 or more.")]
        elif quantity > limit:
            errors[field] = [_l("At most %(count)s licenses per product.", count=grouped(limit))]
        elif quantity < in_use:
            errors[field] = [
                _l(
                    "%(count)d licenses of %(product)s are assigned to users: renew at least "
                    "%(count)d, or ask the VIP admin to unassign some first.",
                    count=in_use,
                    product=line.product.name,
                )
            ]
        elif quantity > 0:
            chosen[line.product.id] = quantity
    if not errors and not chosen:
        errors["lines"] = [_l("Renew at least one product.")]
    return chosen, errors


def record_renewal(
    *,
    user: User,
    customer_id: int,
    today: date,
    vendor_order_number: str,
    order_date: date | None,
    quantities: dict[int, int | None],
    accept_below_commitment: bool = False,
) -> Order:
    """Records the renewal order: the anniversary moves one year on (once, even when two
    people record at the same moment), an inactive customer is active again, and the
    unsent reminders of the renewed cycle are cancelled. The renewed quantity sets the
    level; below a commitment's minimum it needs `accept_below_commitment` and makes
    the commitment noncompliant."""
    require(user, "orders.record")
    customer = get_customer_for(user=user, customer_id=customer_id)
    lock_customer(customer.id)  # the job may be removing access at this moment
    db.session.refresh(customer)
    old_anniversary = customer.anniversary_date
    if old_anniversary is None:
        raise StateConflict(
            _l(
                "%(name)s has no anniversary date yet: record its first order.",
                name=customer.company_name,
            )
        )
    errors: dict[str, list] = {}
    number = (vendor_order_number or "").strip()
    if problem := vendor_order_number_problem(number):
        errors["vendor_order_number"] = [problem]
    if problem := _check_order_date(customer, order_date, today):
        errors["order_date"] = [problem]
    lines = renewal_lines_of(customer)
    chosen, line_errors = _check_quantities(
        lines, quantities, pending_by_product(customer_id=customer.id)
    )
    errors.update(line_errors)
    outlook = renewal_outlook(customer=customer, quantities=chosen)
    if not errors and outlook.compliance.below and not accept_below_commitment:
        errors["accept_below_commitment"] = [outlook.warning]
    if errors:
        raise AuthorizationInvalid(errors)

    new_anniversary = add_months(old_anniversary, 12)
    values: dict = {"anniversary_date": new_anniversary}
    reactivated = customer.status == CustomerStatus.INACTIVE
    if reactivated:
        overdue = db.session.scalar(
            select(overdue_authorization_exists(customer=customer, today=today))
        )
        with_access = status_with_access(customer)
        values.update(
            {"status": CustomerStatus.DELAYED, "status_before_delay": with_access}
            if overdue
            else {"status": with_access}
        )
    moved = db.session.execute(
        update(Customer)
        .where(Customer.id == customer.id, Customer.anniversary_date == old_anniversary)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if moved == 1:
        pipeline_summary.note_customers([customer.id])
        change_count.note_customers([customer.id])
    else:
        db.session.rollback()
        raise StateConflict(
            _l(
                "The anniversary date %(date)s was already renewed.",
                date=LocalizedDate(old_anniversary),
            )
        )
    products = {line.product.id: line.product for line in lines}
    order = Order(
        customer_id=customer.id,
        vendor_order_number=number,
        order_type=OrderType.RENEWAL,
        authorization_id=None,
        order_date=order_date,
        duration_months=12,
        term_ends_on=new_anniversary,
        status=OrderStatus.PLACED,
        created_by=user,
    )
    db.session.add(order)
    for product_id, quantity in chosen.items():
        db.session.add(
            OrderLine(
                order=order,
                product_id=product_id,
                sku=products[product_id].renewal_sku,
                quantity=quantity,
                status=OrderStatus.PLACED,
            )
        )
    flush_new_order()
    cancelled = db.session.execute(
        update(Notification)
        .where(
            Notification.customer_id == customer.id,
            Notification.cycle_key == old_anniversary.isoformat(),
            Notification.kind.in_([kind.value for kind in ReminderKind]),
            Notification.status.in_([NotificationStatus.QUEUED, NotificationStatus.FAILED]),
        )
        .values(status=NotificationStatus.CANCELLED, cancel_reason=RENEWED, next_attempt_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.flush()
    db.session.refresh(customer)
    if outlook.compliance.below:
        commitments.mark_noncompliant(compliance=outlook.compliance, customer=customer, user=user)
    discount_levels.apply_renewal(
        customer=customer, licenses=outlook.licenses, floor=outlook.compliance.floor, user=user
    )
    audit.record(
        actor=user,
        action="renewal.recorded",
        customer=customer,
        object_type="order",
        object_id=order.id,
        details={
            "vendor_order_number": number,
            "order_date": order_date.isoformat(),
            "previous_anniversary": old_anniversary.isoformat(),
            "anniversary_date": new_anniversary.isoformat(),
            "lines": [[products[pid].renewal_sku, q] for pid, q in chosen.items()],
            "reminders_cancelled": cancelled,
        },
    )
    events.order_recorded(order)
    if reactivated:
        audit.record(
            actor=user,
            action="customer.reactivated",
            customer=customer,
            object_type="customer",
            object_id=customer.id,
            details={"status": customer.status.value},
        )
        events.customer_status_changed(
            customer,
            previous=CustomerStatus.INACTIVE,
            status=customer.status,
            reason=events.RENEWED,
        )
    db.session.commit()
    return order


@dataclass(frozen=True)
class RenewalOutlook:
    """What a renewal of these quantities does: the level of the new term and, with a
    commitment, whether it reaches the minimum."""

    licenses: int
    level: int
    compliance: commitments.RenewalCompliance

    @property
    def warning(self):
        return _l(
            "The three-year commitment's minimum is %(minimum)d licenses and this renewal has "
            "%(count)d: saving it makes the commitment noncompliant.",
            minimum=self.compliance.commitment.minimum_quantity,
            count=self.licenses,
        )


def renewal_outlook(*, customer: Customer, quantities: dict[int, int | None]) -> RenewalOutlook:
    """The level the renewed quantities (product id -> quantity) give and the commitment's
    verdict, for the dialog's live hint and for `record_renewal` alike."""
    chosen = {pid: q for pid, q in quantities.items() if q is not None and q > 0}
    licenses = discount_levels.qualifying_quantity(chosen)
    compliance = commitments.renewal_compliance(
        commitment=commitments.current_commitment(customer),
        anniversary=customer.anniversary_date,
        licenses=licenses,
    )
    return RenewalOutlook(licenses, max(level_for(licenses), compliance.floor), compliance)


def renewal_history(*, customer: Customer) -> list[Order]:
    """Förlängningshistorik: the customer's renewal orders, newest first."""
    return list(
        db.session.scalars(
            select(Order)
            .where(Order.customer_id == customer.id, Order.order_type == OrderType.RENEWAL)
            .order_by(Order.order_date.desc(), Order.id.desc())
            .options(
                selectinload(Order.lines).selectinload(OrderLine.product),
                selectinload(Order.created_by),
            )
        )
    )
