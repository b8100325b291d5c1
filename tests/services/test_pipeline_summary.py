"""What is kept in the same transaction as every change: the renewal pipeline's summary
(vip/services/pipeline_summary.py), each customer's earliest pending order-due date
(vip/models/order_due_summary.py) and the reminders it has had for its anniversary
(vip/models/reminder_summary.py) equal a from-scratch computation after every kind of
change, the calendar feed's events of a day of many deadlines carry their exact number,
and the reseller's change counter (vip/services/change_count.py: the calendar
feed's ETag, the pages' cached regions) moves whenever any row of its customer data
changes: sequences of service calls drawn by hypothesis (customers, orders, add-ons,
renewals, returns approved and rejected, licenses assigned and taken back, the job's status
changes, direct edits and deletes of rows), the import, the demo and `vip generate`."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, true, update

from tests.conftest import TODAY
from tests.support import pid
from vip.demo import load_demo
from vip.extensions import db
from vip.generate import generate_portfolio
from vip.models import (
    AuthorizationStatus,
    Customer,
    LicenseAssignment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    PipelineDay,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    Reseller,
    ReturnAuthorization,
    ReturnAuthorizationLine,
    User,
    VipAdminCustomer,
)
from vip.models.reminder_summary import REMINDER_BITS
from vip.services import calendar_feed, change_count, customer_import, pipeline_summary
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.deadlines import ReminderKind, apply_deadlines
from vip.services.errors import DomainError, NotVisible
from vip.services.licenses import assign_license, unassign_license
from vip.services.orders import decide_return, propose_duration, record_order, request_return
from vip.services.pipeline import computed_pipeline, renewal_pipeline
from vip.services.renewals import record_renewal
from vip.services.terms import add_months

_serial = itertools.count(1)
IMPORT_FILE = (
    Path(__file__).resolve().parent.parent / "fixtures/import/excel-sv-cp1252-semicolon.csv"
)


def summary_rows() -> dict:
    rows = db.session.execute(
        select(
            PipelineDay.reseller_id,
            PipelineDay.kind,
            PipelineDay.day,
            PipelineDay.customers,
            PipelineDay.licenses,
        )
    )
    return {(r, kind, day): (customers, licenses) for r, kind, day, customers, licenses in rows}


def scratch_rows() -> dict:
    """The sums per reseller, kind and day, from the customers and orders alone."""
    sums: dict = {}
    for query in pipeline_summary.entry_queries(true()):
        for _customer, reseller_id, kind, day, licenses in db.session.execute(query):
            customers, total = sums.get((reseller_id, kind, day), (0, 0))
            sums[(reseller_id, kind, day)] = (customers + 1, total + int(licenses))
    return sums


def order_due_rows() -> dict[int, date | None]:
    """Each customer's earliest pending order-due date, as the triggers keep it."""
    return dict(db.session.execute(select(Customer.id, Customer.earliest_order_due_on)).all())


def scratch_order_due_rows() -> dict[int, date | None]:
    """The same from the authorizations alone."""
    earliest = dict(
        db.session.execute(
            select(PurchaseAuthorization.customer_id, func.min(PurchaseAuthorization.order_due_on))
            .where(PurchaseAuthorization.status == AuthorizationStatus.PENDING)
            .group_by(PurchaseAuthorization.customer_id)
        ).all()
    )
    return {customer_id: earliest.get(customer_id) for customer_id in order_due_rows()}


def reminder_rows() -> dict[int, int]:
    """Each customer's reminders for its current anniversary, as the triggers keep them."""
    return dict(db.session.execute(select(Customer.id, Customer.reminders_queued)).all())


def scratch_reminder_rows() -> dict[int, int]:
    """The same from the notifications alone."""
    anniversaries = dict(db.session.execute(select(Customer.id, Customer.anniversary_date)).all())
    bits = dict.fromkeys(anniversaries, 0)
    for customer_id, kind, cycle_key in db.session.execute(
        select(Notification.customer_id, Notification.kind, Notification.cycle_key)
    ):
        anniversary = anniversaries[customer_id]
        if kind in REMINDER_BITS and anniversary is not None and cycle_key == str(anniversary):
            bits[customer_id] |= REMINDER_BITS[kind]
    return bits


def feed_as_shown(reseller_id: int, today: date) -> list[tuple]:
    """The calendar feed's events as (kind, day, what): a deadline, or a day's count and
    newest stamp."""
    return sorted(
        (
            (item.kind, item.day, item if isinstance(item, calendar_feed.Deadline) else item.count)
            for item in calendar_feed.feed_deadlines(reseller_id=reseller_id, today=today)
        ),
        key=str,
    )


def scratch_feed(reseller_id: int, today: date, threshold: int) -> list[tuple]:
    """The same from every deadline one by one: a day's deadlines of one kind as their
    number once there are more than `threshold`."""
    every = calendar_feed.every_deadline(
        reseller_id,
        today,
        today - timedelta(days=calendar_feed.LOOKBACK_DAYS),
        today + timedelta(days=calendar_feed.LOOKAHEAD_DAYS),
    )
    by_day: dict[tuple, list] = {}
    for deadline in every:
        by_day.setdefault((deadline.kind, deadline.day), []).append(deadline)
    shown = []
    for (kind, day), deadlines in by_day.items():
        if len(deadlines) > threshold:
            shown.append((kind, day, len(deadlines)))
        else:
            shown.extend((kind, day, deadline) for deadline in deadlines)
    return sorted(shown, key=str)


def assert_exact(*todays: date) -> None:
    db.session.rollback()  # what was committed, nothing else
    assert summary_rows() == scratch_rows()
    assert order_due_rows() == scratch_order_due_rows()
    assert reminder_rows() == scratch_reminder_rows()
    for reseller_id in db.session.scalars(select(Reseller.id)):
        for today in todays or (TODAY, add_months(TODAY, 11), add_months(TODAY, 13)):
            assert renewal_pipeline(reseller_id=reseller_id, today=today) == computed_pipeline(
                reseller_id=reseller_id, today=today
            )
        # The calendar feed's days of many (every day one event, then only days of two).
        for threshold in (0, 1):
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(calendar_feed, "DAY_EVENT_THRESHOLD", threshold)
                assert feed_as_shown(reseller_id, TODAY) == scratch_feed(
                    reseller_id, TODAY, threshold
                )


#: Tables that are not what a reseller's pages show of its customers: logs, credentials,
#: deliveries, the pipeline's own summary (checked above) and the search's trigrams (a
#: copy of the customers' search keys, checked in tests/services/test_customer_search.py).
#: Every other table is.
NOT_CUSTOMER_DATA = {
    "api_keys",
    "audit_events",
    "calendar_feeds",
    "customer_trigrams",
    "idempotent_requests",
    "pipeline_days",
    "pipeline_entries",
    "recovery_codes",
    "trigram_positions",
    "webhook_attempts",
    "webhook_deliveries",
    "webhook_endpoints",
    "webhook_events",
}


def data_digests(tenants) -> dict[int, list]:
    """Per reseller: every row of every table of its customer data (each table of the
    metadata but NOT_CUSTOMER_DATA: a new table is covered, or this fails), the catalog
    and what its customers' pages show of their VIP admins' accounts, read from the tables
    alone."""

    def pairs(*columns) -> dict:
        return dict(db.session.execute(select(*columns)).all())

    of_customer = pairs(Customer.id, Customer.reseller_id)
    of_pa = {
        k: of_customer[v]
        for k, v in pairs(PurchaseAuthorization.id, PurchaseAuthorization.customer_id).items()
    }
    of_order = {k: of_customer[v] for k, v in pairs(Order.id, Order.customer_id).items()}
    of_return = {
        k: of_order[v]
        for k, v in pairs(ReturnAuthorization.id, ReturnAuthorization.order_id).items()
    }
    digests: dict[int, list] = {tenants.a.reseller.id: [], tenants.b.reseller.id: []}
    of_user: dict[int, set[int]] = {}
    for user_id, customer_id in db.session.execute(
        select(VipAdminCustomer.user_id, VipAdminCustomer.customer_id)
    ):
        of_user.setdefault(user_id, set()).add(of_customer[customer_id])
    owners = {
        "customers": lambda row: {row.reseller_id},
        "purchase_authorization_lines": lambda row: {of_pa[row.authorization_id]},
        "order_lines": lambda row: {of_order[row.order_id]},
        "return_authorizations": lambda row: {of_order[row.order_id]},
        "return_authorization_lines": lambda row: {of_return[row.return_authorization_id]},
        "users": lambda row: of_user.get(row.id, set()),
        "resellers": lambda row: {row.id},
        "products": lambda row: set(digests),  # the catalog shows at every reseller
    }
    for name, table in sorted(db.metadata.tables.items()):
        if name in NOT_CUSTOMER_DATA:
            continue
        if name not in owners:
            assert "customer_id" in table.c, f"whose data is {name}?"
        columns = [column for column in table.c if column.name != "change_count"]
        if name == "users":  # what customers' pages show of an account: is an admin in place
            columns = [table.c.id, table.c.active, table.c.role]
        for row in db.session.execute(select(*columns).order_by(*table.primary_key)):
            found = owners[name](row) if name in owners else {of_customer.get(row.customer_id)}
            for reseller_id in found & digests.keys():
                digests[reseller_id].append((name, tuple(row)))
    return digests


def feed_versions(tenants) -> dict[int, tuple[list, int]]:
    """Per reseller: its calendar feed's deadlines on a few days, the rows of its customer
    data, and its change counter."""
    db.session.rollback()
    found = {}
    digests = data_digests(tenants)
    for reseller in (tenants.a.reseller, tenants.b.reseller):
        deadlines = [
            calendar_feed.feed_deadlines(reseller_id=reseller.id, today=day)
            for day in (TODAY, TODAY + timedelta(days=200), TODAY + timedelta(days=400))
        ]
        count = db.session.scalar(select(Reseller.change_count).where(Reseller.id == reseller.id))
        found[reseller.id] = ((deadlines, digests[reseller.id]), count)
    return found


# --- the steps -------------------------------------------------------------------------------


def _customers(tenants) -> list[Customer]:
    ids = [tenants.a.reseller.id, tenants.b.reseller.id]
    return list(
        db.session.scalars(
            select(Customer).where(Customer.reseller_id.in_(ids)).order_by(Customer.id)
        )
    )


def _tenant_of(tenants, customer: Customer):
    return tenants.a if customer.reseller_id == tenants.a.reseller.id else tenants.b


def new_customer(tenants, customer: Customer, number: int) -> None:
    tenant = tenants.a if number % 2 else tenants.b
    serial = next(_serial)
    create_customer(
        user=db.session.get(User, tenant.admin.id),
        today=TODAY,
        company_name=f"Summary {serial:04d} AB",
        country="SE",
        market_segment="commercial",
        admin_name="Kund Admin",
        admin_email=f"it{serial}@summary.example",
        admin_language="sv",
    )


def order(tenants, customer: Customer, number: int) -> None:
    """A purchase authorization and its order: the first sets the anniversary, later ones
    are add-ons to the current term."""
    sales = db.session.get(User, _tenant_of(tenants, customer).sales.id)
    today = (
        (customer.anniversary_date - timedelta(days=200)) if customer.anniversary_date else TODAY
    )
    authorization = create_purchase_authorization(
        user=sales,
        customer_id=customer.id,
        today=today,
        license_type="team",
        lines=[LineInput(product_id=pid("Photoshop"), quantity=number)],
        deployment_date=today,
        customer_po_number=None,
    )
    record_order(
        user=sales,
        pa_id=authorization.id,
        today=today,
        vendor_order_number=f"SU{next(_serial):08d}",
        order_date=today,
        duration_months=propose_duration(customer=customer, order_date=today).months,
    )


def renewal(tenants, customer: Customer, number: int) -> None:
    if customer.anniversary_date is None:
        raise DomainError("no anniversary")
    today = customer.anniversary_date - timedelta(days=number)
    record_renewal(
        user=db.session.get(User, _tenant_of(tenants, customer).sales.id),
        customer_id=customer.id,
        today=today,
        vendor_order_number=f"SR{next(_serial):08d}",
        order_date=today,
        quantities={pid("Photoshop"): number},
    )


def _latest_order(customer: Customer) -> Order | None:
    return db.session.scalar(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.id.desc()).limit(1)
    )


def return_(tenants, customer: Customer, number: int) -> None:
    """Part of the latest order asked back, approved when `number` is odd, else rejected."""
    placed = _latest_order(customer)
    if placed is None or not placed.lines:
        raise DomainError("no order line")
    tenant = _tenant_of(tenants, customer)
    line = placed.lines[0]
    request = request_return(
        user=db.session.get(User, tenant.sales.id),
        order_id=placed.id,
        today=placed.order_date + timedelta(days=3),
        quantities={line.id: min(number, line.quantity - line.returned_quantity)},
        reason="Too many",
    )
    decide_return(
        user=db.session.get(User, tenant.admin.id),
        return_id=request.id,
        approve=number % 2 == 1,
        comment="",
        now=datetime.now(UTC),
    )


def job(tenants, customer: Customer, number: int) -> None:
    """The daily job on a day around the customer's anniversary: reminders, delays,
    access removed (status changes only)."""
    anchor = customer.anniversary_date or TODAY
    apply_deadlines(
        today=anchor + timedelta(days=10 * number - 40),
        reseller_ids=[tenants.a.reseller.id, tenants.b.reseller.id],
    )


def edit_rows(tenants, customer: Customer, number: int) -> None:
    """Writes past the services: the anniversary moved, a line's quantity changed, a line
    no return refers to deleted (the session notes them all the same)."""
    if customer.anniversary_date is not None and number % 3 == 0:
        customer.anniversary_date = customer.anniversary_date + timedelta(days=number)
    placed = _latest_order(customer)
    if placed is not None and placed.lines:
        if number % 3 == 1:
            placed.lines[0].quantity += number
        elif number % 3 == 2:
            returned = set(
                db.session.scalars(
                    select(ReturnAuthorizationLine.order_line_id).where(
                        ReturnAuthorizationLine.order_line_id.in_([x.id for x in placed.lines])
                    )
                )
            )
            free = [line for line in placed.lines if line.id not in returned]
            if free:
                db.session.delete(free[-1])
    db.session.commit()


def failed_change(tenants, customer: Customer, number: int) -> None:
    """A change written, flushed and then rolled back leaves the summary as it was."""
    customer.anniversary_date = TODAY + timedelta(days=number)
    db.session.add(
        Order(
            customer_id=customer.id,
            vendor_order_number=f"SF{next(_serial):08d}",
            order_type="renewal",
            order_date=TODAY,
            duration_months=12,
            term_ends_on=add_months(TODAY, 12),
            status="placed",
        )
    )
    db.session.flush()
    db.session.rollback()


def issue(tenants, customer: Customer, number: int) -> None:
    """A purchase authorization issued, not ordered (its order-due date is in the feed)."""
    create_purchase_authorization(
        user=db.session.get(User, _tenant_of(tenants, customer).sales.id),
        customer_id=customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=pid("Photoshop"), quantity=number)],
        deployment_date=TODAY,
        customer_po_number=None,
    )


def cancel(tenants, customer: Customer, number: int) -> None:
    """The customer's latest pending purchase authorization cancelled (an UPDATE statement)."""
    pending = db.session.scalar(
        select(PurchaseAuthorization)
        .where(
            PurchaseAuthorization.customer_id == customer.id,
            PurchaseAuthorization.status == AuthorizationStatus.PENDING,
        )
        .order_by(PurchaseAuthorization.id.desc())
        .limit(1)
    )
    if pending is None:
        raise DomainError("nothing pending")
    cancel_purchase_authorization(
        user=db.session.get(User, _tenant_of(tenants, customer).sales.id),
        pa_id=pending.id,
        today=TODAY,
        now=datetime.now(UTC),
    )


def edit_authorizations(tenants, customer: Customer, number: int) -> None:
    """Writes to purchase authorizations past the services, as statements and through the
    ORM: order-due dates moved, one ordered, one moved to another customer, one deleted
    (the database's triggers see them all)."""
    authorizations = list(
        db.session.scalars(
            select(PurchaseAuthorization)
            .where(PurchaseAuthorization.customer_id == customer.id)
            .order_by(PurchaseAuthorization.id)
        )
    )
    if not authorizations:
        raise DomainError("no authorization")
    chosen = authorizations[number % len(authorizations)]
    if number % 5 == 0:
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.customer_id == customer.id)
            .values(order_due_on=TODAY - timedelta(days=number))
        )
        change_count.note_customers([customer.id])  # as a service writing a statement does
    elif number % 5 == 1:
        chosen.status = AuthorizationStatus.ORDERED
    elif number % 5 == 2:
        # to another customer of the same reseller (the change counter notes the new one)
        siblings = [c for c in _customers(tenants) if c.reseller_id == customer.reseller_id]
        chosen.customer_id = siblings[number % len(siblings)].id
    elif number % 5 == 3 and chosen.status == AuthorizationStatus.PENDING:  # no order yet
        db.session.execute(
            delete(PurchaseAuthorizationLine).where(
                PurchaseAuthorizationLine.authorization_id == chosen.id
            )
        )
        db.session.delete(chosen)
    else:
        chosen.order_due_on = TODAY + timedelta(days=number)
    db.session.commit()


def licenses(tenants, customer: Customer, number: int) -> None:
    """The VIP admin of the tenant's customer assigns a license, or takes one back (a
    DELETE statement)."""
    tenant = _tenant_of(tenants, customer)
    vip_admin = db.session.get(User, tenant.vip_admin.id)
    assigned = db.session.scalar(
        select(LicenseAssignment)
        .where(LicenseAssignment.customer_id == tenant.customer.id)
        .order_by(LicenseAssignment.id)
        .limit(1)
    )
    if assigned is not None and number % 2 == 0:
        unassign_license(
            user=vip_admin, customer_id=assigned.customer_id, assignment_id=assigned.id
        )
    else:
        try:
            assign_license(
                user=vip_admin,
                customer_id=tenant.customer.id,
                product_id=pid("Photoshop"),
                email=f"user{next(_serial)}@kund.example",
                today=TODAY,
            )
        except NotVisible as error:  # none of the product bought (yet, or any more)
            raise DomainError("nothing to assign") from error
    db.session.commit()


def edit_shared_rows(tenants, customer: Customer, number: int) -> None:
    """Rows other than a customer's own: a product's renewal SKU changed (every reseller
    shows it), the tenant's VIP admin deactivated or back, the reseller's own row."""
    if number % 3 == 0:
        product = db.session.get(Product, pid("Photoshop"))
        product.renewal_sku = f"{product.renewal_sku.split('-R')[0]}-R{number}"
    elif number % 3 == 1:
        vip_admin = db.session.get(User, _tenant_of(tenants, customer).vip_admin.id)
        vip_admin.active = not vip_admin.active
    else:
        reseller = db.session.get(Reseller, customer.reseller_id)
        reseller.name = f"{reseller.name.split(' #')[0]} #{number}"
    db.session.commit()


STEPS = [
    new_customer,
    licenses,
    edit_shared_rows,
    order,
    order,
    renewal,
    return_,
    job,
    edit_rows,
    failed_change,
    issue,
    cancel,
    edit_authorizations,
]


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(STEPS), st.integers(0, 20), st.integers(1, 9)),
        min_size=1,
        max_size=8,
    )
)
def test_the_summary_equals_the_computation_after_every_service_call(tenants, ctx, steps):
    for step, which, number in steps:
        customers = _customers(tenants)
        feeds = feed_versions(tenants)
        try:
            step(tenants, customers[which % len(customers)], number)
        except DomainError:
            db.session.rollback()
        assert_exact()
        for reseller_id, (shown, count) in feed_versions(tenants).items():
            if shown != feeds[reseller_id][0]:
                assert count != feeds[reseller_id][1], step.__name__


def test_an_import_keeps_the_summary_exact(tenants, ctx):
    check = customer_import.check_file(
        data=IMPORT_FILE.read_bytes(),
        file_name=IMPORT_FILE.name,
        default_language="sv",
        today=TODAY,
    )
    customer_import.import_customers(
        user=db.session.get(User, tenants.a.admin.id), check=check, invite=True, today=TODAY
    )
    assert summary_rows() != {}
    assert_exact()


def test_the_demo_keeps_the_summary_exact(app, ctx):
    load_demo(today=TODAY)
    assert summary_rows() != {}
    assert_exact()


def test_generate_rebuilds_the_summary(app, ctx):
    generate_portfolio(customers=60, today=TODAY, seed=3)
    assert summary_rows() != {}
    assert_exact()


def test_rebuild_of_one_reseller_leaves_the_others(tenants, ctx):
    for tenant in (tenants.a, tenants.b):
        order(tenants, db.session.get(Customer, tenant.customer.id), 4)
    before = summary_rows()
    db.session.execute(db.delete(PipelineDay))
    pipeline_summary.rebuild(reseller_id=tenants.a.reseller.id)
    db.session.commit()
    assert {key for key in summary_rows()} == {k for k in before if k[0] == tenants.a.reseller.id}
    pipeline_summary.rebuild()
    db.session.commit()
    assert summary_rows() == before
    assert_exact()


@pytest.mark.parametrize("kind", ["quantity", "line", "order"])
def test_deleting_rows_takes_their_licenses_back(tenants, ctx, kind):
    customer = db.session.get(Customer, tenants.a.customer.id)
    order(tenants, customer, 6)
    placed = _latest_order(customer)
    if kind == "quantity":
        placed.lines[0].quantity = 1
    elif kind == "line":
        db.session.delete(placed.lines[0])
    else:
        for line in placed.lines:
            db.session.delete(line)
        db.session.delete(placed)
    db.session.commit()
    expected = 1 if kind == "quantity" else 0
    day = (tenants.a.reseller.id, "open", customer.anniversary_date)
    assert summary_rows()[day] == (1, expected)
    assert_exact()


def test_unchanged_line_edits_write_nothing(tenants, ctx):
    customer = db.session.get(Customer, tenants.a.customer.id)
    order(tenants, customer, 2)
    line = db.session.scalar(select(OrderLine).limit(1))
    line.sku = line.sku + "X"  # not a column the pipeline reads
    db.session.commit()
    assert db.session.info.get(pipeline_summary.NOTED_ORDERS) is None
    assert_exact()


def test_the_earliest_order_due_date_follows_every_write_to_authorizations(tenants, ctx):
    """Each kind of write by itself: issued, a date moved by a statement, ordered through
    the ORM, moved to another customer, cancelled, deleted; both customers checked."""
    first, second = _customers(tenants)[:2]
    for number in (3, 5):
        issue(tenants, first, number)
    issue(tenants, second, 2)
    assert_exact()
    assert order_due_rows()[first.id] is not None

    def latest(customer_id: int) -> PurchaseAuthorization:
        return db.session.scalars(
            select(PurchaseAuthorization)
            .where(PurchaseAuthorization.customer_id == customer_id)
            .order_by(PurchaseAuthorization.id.desc())
        ).first()

    db.session.execute(
        update(PurchaseAuthorization)
        .where(PurchaseAuthorization.id == latest(first.id).id)
        .values(order_due_on=TODAY - timedelta(days=400))
    )
    # The trigger sees the statement unasked; the deadlines per day are told, as by every
    # statement writer of the services.
    change_count.note_customers([first.id])
    db.session.commit()
    assert_exact()
    assert order_due_rows()[first.id] == TODAY - timedelta(days=400)

    latest(first.id).customer_id = second.id  # the earliest moves to the other customer
    db.session.commit()
    assert_exact()
    assert order_due_rows()[second.id] == TODAY - timedelta(days=400)

    latest(second.id).status = AuthorizationStatus.ORDERED
    db.session.commit()
    assert_exact()

    cancel(tenants, db.session.get(Customer, second.id), 1)
    assert_exact()

    chosen = latest(first.id)
    db.session.execute(
        delete(PurchaseAuthorizationLine).where(
            PurchaseAuthorizationLine.authorization_id == chosen.id
        )
    )
    db.session.delete(chosen)
    db.session.commit()
    assert_exact()


def test_a_vip_admins_account_moves_its_customers_resellers_counter_when_it_shows(tenants, ctx):
    """Deactivated (or back), the VIP admin's customers show no admin in place: the
    counter of its customer's reseller moves. A sign-in's own writes (a failure counted)
    show nowhere and move nothing."""

    def counters() -> dict[int, int]:
        db.session.rollback()
        return dict(db.session.execute(select(Reseller.id, Reseller.change_count)).all())

    a, b = tenants.a.reseller.id, tenants.b.reseller.id
    for write in ("active", "active", "failed_logins"):
        before = counters()
        vip_admin = db.session.get(User, tenants.a.vip_admin.id)
        if write == "active":
            vip_admin.active = not vip_admin.active
        else:
            vip_admin.failed_logins += 1
        db.session.commit()
        after = counters()
        assert after[b] == before[b]
        assert (after[a] != before[a]) == (write == "active"), write


def test_the_reminder_bits_are_the_reminder_kinds():
    assert set(REMINDER_BITS) == {kind.value for kind in ReminderKind}
    assert sorted(REMINDER_BITS.values()) == [1, 2, 4]


def test_the_reminders_had_follow_every_write_to_notifications_and_anniversaries(tenants, ctx):
    """Each kind of write by itself: reminders queued by the job, a reminder of another
    anniversary, the anniversary moved away and back, a notification's kind and customer
    changed, one deleted; both customers checked."""
    first, second = _customers(tenants)[:2]
    order(tenants, first, 4)
    anniversary = db.session.get(Customer, first.id).anniversary_date
    apply_deadlines(today=anniversary - timedelta(days=10), reseller_ids=[tenants.a.reseller.id])
    assert_exact()
    assert reminder_rows()[first.id] == REMINDER_BITS["renewal_due"]

    def reminder() -> Notification:
        return db.session.scalars(
            select(Notification).where(
                Notification.customer_id == first.id, Notification.kind.in_(REMINDER_BITS)
            )
        ).first()

    db.session.add(
        Notification(
            customer_id=first.id,
            kind="renewal_missed",
            cycle_key=str(anniversary - timedelta(days=365)),
            recipient="it@kund.example",
            language="sv",
            subject="s",
            body_text="b",
            body_html="b",
            status=NotificationStatus.SENT,
        )
    )
    db.session.commit()
    assert_exact()  # another anniversary's reminder counts for nothing
    db.session.get(Customer, first.id).anniversary_date = anniversary - timedelta(days=365)
    db.session.commit()
    assert_exact()
    assert reminder_rows()[first.id] == REMINDER_BITS["renewal_missed"]
    db.session.get(Customer, first.id).anniversary_date = anniversary
    db.session.commit()
    assert_exact()
    reminder().kind = "access_removal"
    db.session.commit()
    assert_exact()
    reminder().customer_id = second.id
    db.session.commit()
    assert_exact()
    db.session.delete(
        db.session.scalars(
            select(Notification).where(Notification.customer_id == second.id)
        ).first()
    )
    db.session.commit()
    assert_exact()
