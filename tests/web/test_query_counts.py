"""SQL statements per page, pinned (README, "Performance": the customer list and Customer details
render with a constant number of SQL queries, independent of data size; issue 7, item 4).

Each test gets a fresh database filled by `vip.generate.generate_portfolio` with 1 or with
50 customers, signs in through POST /login, requests each page once to warm it, and counts
the statements a second, identical request sends. The count must equal the number pinned
here, and the same number holds at 1 and at 50 customers: an N+1 query (one more statement
per row shown) cannot come back unseen. `bench/queries_per_page.py` measures the same pages
at 1,000 and 100,000 customers, outside the suite.

The seeds are chosen so that no page is empty, and the measured customer is topped up
through the services, so that its pages show many rows whatever the generator drew. The
single customer of the small portfolio is on every page: its name contains "Nord", its
anniversary is in the overview (in its grace period), and it gets pending (overdue, so it is
Försenad), ordered and cancelled purchase authorizations, add-on orders and assigned
licenses (`TOP_UP`). In the large one several customers match each filter, more than two
pages of customers are in the renewals overview, and the measured customer (of those in
their grace period, the one with most orders: its details tabs and Admin Console are
measured) gets many more. The fixture asserts all of this, so a change to the generator
cannot make the tests pass on empty pages. Generated data has no audit events; the fixture
records some for the measured customer so that its History tab has rows. The page size is
10, so that `?page=2` of the renewals overview is a real second page.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from tests.conftest import TODAY, WEBHOOK_CONFIG, login
from tests.support import in_app, subscribe
from vip.extensions import db
from vip.generate import generate_portfolio
from vip.models import (
    AuditEvent,
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    DeliveryStatus,
    LicenseAssignment,
    LicenseType,
    Order,
    Product,
    PurchaseAuthorization,
    Role,
    ThreeYearCommitment,
    User,
    WebhookAttempt,
    WebhookDelivery,
)
from vip.models.discount_levels import CommitmentState
from vip.models.types import utcnow
from vip.services import api_keys, audit, renewals
from vip.services.accounts import create_user
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.deadlines import GRACE_DAYS, apply_deadlines
from vip.services.licenses import assign_license, qualifying_licenses
from vip.services.orders import propose_duration, record_order
from vip.services.terms import add_months

RESELLER = "Query Count AB"
ADMIN = "admin@querycountab.example"  # made by the generator for RESELLER
PASSWORD = "bench-password-2026-lång"  # the generator's
VIP_ADMIN = "console@querycount.example"
PAGE_SIZE = 10
SEEDS = {1: 23, 50: 5}  # see the module docstring; the fixture checks what they give

CUSTOMER_LIST = (
    "/customers",
    "/customers?q=nord",
    "/customers?status=delayed",
    "/customers?page=2",
)
DETAILS = tuple(
    f"/customers/<id>/{tab}"
    for tab in ("info", "plans", "orders", "renewals", "timeline", "history")
)
RENEWALS = (
    "/renewals",
    "/renewals?page=2",
    "/renewals?commitment=at_risk",
    "/renewals/export.csv",
    "/renewals/pipeline",
)
CONSOLE = ("/console/<id>",)
OUTBOX = ("/outbox", "/outbox/preview")
DASHBOARD_SECTIONS = (
    "order_due",
    "order_overdue",
    "return_closing",
    "window_opening",
    "anniversary",
    "in_grace",
    "commitment_at_risk",
    "failed_mail",
)

# Statements per request, pinned: the same at 1 and at 50 customers. The signed-in user
# comes with its reseller in one statement (vip/web/auth.py, load_user). A change to any of
# these numbers must be deliberate: find out which statement came or went (the failure
# lists them) and say why in the commit. SQLite sends a BEGIN IMMEDIATE per transaction,
# which PostgreSQL's driver does not send through a cursor.
PINNED = {
    "sqlite": {
        # the list's capped count and page, the page's authorizations, the four status
        # counts of the filter in one statement
        "/customers": 6,
        # + 1: which walk a common word would take (listing.walk_choice), asked of every
        # search by name of three characters or more, whatever the portfolio
        "/customers?q=nord": 7,
        "/customers?status=delayed": 6,
        "/customers?page=2": 6,
        # + 1: where the VIP admin stands (invitations sent, accepted, an admin account).
        # + 2 on every tab: the header's level and commitment (R14-R16).
        "/customers/<id>/info": 11,
        "/customers/<id>/plans": 12,
        "/customers/<id>/orders": 11,
        "/customers/<id>/renewals": 6,
        "/customers/<id>/timeline": 7,
        "/customers/<id>/history": 7,
        # + 2: the page's licenses that count and commitments (R14-R16)
        "/renewals": 7,
        "/renewals?page=2": 7,
        "/renewals?commitment=at_risk": 7,
        # two BEGINs: the session ends when the view returns; the rows stream in a new one
        "/renewals/export.csv": 4,
        "/renewals/pipeline": 3,  # one read of the summary (pipeline_days)
        # + 1: the customers the VIP admin administers (the switcher), in one statement;
        # + 2: the level and the commitment (R14-R16).
        "/console/<id>": 13,
        # the list and tomorrow's preview (job.bounded_preview): the first mails' customers,
        # a count per rule, the plan of each rule's first customers and the exact plan of
        # those (6 each), the first mails and their count
        "/outbox": 23,
        "/outbox/preview": 22,
        # the dashboard: two statements for each of its eight sections (the version is on
        # the reseller's row, read already)
        "/": 18,
        # (the version is the counter on the reseller's row, read with the user)
        **{f"/dashboard/sections/{key}": 4 for key in DASHBOARD_SECTIONS},
        # an unchanged refresh: the user with its reseller, nothing rendered (204)
        **{f"/dashboard/sections/{key} unchanged": 2 for key in DASHBOARD_SECTIONS},
        "/renewals/pipeline unchanged": 2,
        "/outbox/preview unchanged": 2,
        # the user, the team for the filter, a capped count and the page (+1: the member)
        "/security-log": 6,
        "/security-log?kind=failures": 6,
        "/security-log?user=<id>": 7,
        "/security-log?page=2": 6,
        # two BEGINs, as the renewals export: the rows stream in a transaction of their own
        "/security-log/export.csv": 5,
        "/settings/api-keys": 3,
        # the key's lookup with its partner admin and reseller, then the list's own
        "/api/v1/customers": 3,
        "/api/v1/customers?status=delayed": 3,
        "/api/v1/customers/<vip_id>": 3,
        "/api/v1/customers/<vip_id>/purchase-authorizations": 7,
        "/api/v1/customers/<vip_id>/orders": 8,
        "/api/v1/customers/<vip_id>/licenses": 6,
        "/api/v1/renewals": 5,
        # + 1: the three-year commitments ending in the range
        "/api/v1/deadlines?from=2026-11-01&to=2027-11-01": 6,
    },
    "postgresql": {
        "/customers": 5,
        "/customers?q=nord": 6,
        "/customers?status=delayed": 5,
        "/customers?page=2": 5,
        "/customers/<id>/info": 10,  # + 1: where the VIP admin stands
        "/customers/<id>/plans": 11,
        "/customers/<id>/orders": 10,
        "/customers/<id>/renewals": 5,
        "/customers/<id>/timeline": 6,
        "/customers/<id>/history": 6,
        "/renewals": 6,
        "/renewals?page=2": 6,
        "/renewals?commitment=at_risk": 6,
        "/renewals/export.csv": 2,
        "/renewals/pipeline": 2,
        "/console/<id>": 12,
        "/outbox": 21,
        "/outbox/preview": 20,
        "/": 17,
        **{f"/dashboard/sections/{key}": 3 for key in DASHBOARD_SECTIONS},
        **{f"/dashboard/sections/{key} unchanged": 1 for key in DASHBOARD_SECTIONS},
        "/renewals/pipeline unchanged": 1,
        "/outbox/preview unchanged": 1,
        "/security-log": 5,
        "/security-log?kind=failures": 5,
        "/security-log?user=<id>": 6,
        "/security-log?page=2": 5,
        "/security-log/export.csv": 3,
        "/settings/api-keys": 2,
        # the key's lookup with its partner admin and reseller, then the list's own
        "/api/v1/customers": 2,
        "/api/v1/customers?status=delayed": 2,
        "/api/v1/customers/<vip_id>": 2,
        "/api/v1/customers/<vip_id>/purchase-authorizations": 6,
        "/api/v1/customers/<vip_id>/orders": 7,
        "/api/v1/customers/<vip_id>/licenses": 5,
        "/api/v1/renewals": 4,
        "/api/v1/deadlines?from=2026-11-01&to=2027-11-01": 5,
    },
}


@pytest.fixture
def app_config():
    # What a page costs when it renders: its cached regions (vip/web/cached_regions.py)
    # off, else the second request would be served from them (their own count is pinned
    # in tests/web/test_cached_regions.py).
    return {"VIP_PAGE_SIZE": PAGE_SIZE, "VIP_CACHED_REGIONS": False}


@dataclass(frozen=True)
class Portfolio:
    customers: int
    busy_id: int  # the customer with the most orders; its VIP admin is VIP_ADMIN
    delayed: int
    nord: int
    overview: int  # customers in the renewals overview
    exported: set[str]  # company names in its CSV export (those with licenses to renew)
    pa_numbers: list[str]  # the busy customer's
    order_numbers: list[str]
    products: set[str]  # the busy customer's licensed products
    renewal_skus: set[str]
    assignment_emails: list[str]
    events: int  # in its history


def _count(query) -> int:
    return db.session.scalar(select(func.count()).select_from(query.subquery()))


#: What the measured customer has at least, topped up through the services where the
#: generator drew less, so that every page shows many rows: (pending authorizations, add-on
#: orders, cancelled authorizations, assigned licenses).
TOP_UP = {1: (3, 5, 2, 10), 50: (3, 20, 2, 30)}


def top_up(customer: Customer, admin: User, vip_admin: User, counts) -> None:
    """Adds, as the team and the VIP admin would have: authorizations created 20 days ago
    and still pending (so the customer is Försenad, R4), add-ons ordered before the
    anniversary, cancelled authorizations, and licenses assigned to users."""

    def held(query) -> int:
        return db.session.scalar(select(func.count()).select_from(query.subquery()))

    def authorizations_in(status):
        return held(
            select(PurchaseAuthorization).where(
                PurchaseAuthorization.customer_id == customer.id,
                PurchaseAuthorization.status == status,
            )
        )

    pending, ordered, cancelled, assigned = counts
    pending = max(1, pending - authorizations_in(AuthorizationStatus.PENDING))  # one overdue
    ordered -= held(select(Order).where(Order.customer_id == customer.id))
    cancelled -= authorizations_in(AuthorizationStatus.CANCELLED)
    assigned -= held(select(LicenseAssignment).where(LicenseAssignment.customer_id == customer.id))
    anniversary = customer.anniversary_date
    product = db.session.scalar(
        select(Product).where(
            Product.license_type == LicenseType.TEAM,
            Product.market_segment == customer.market_segment,
            Product.education_device.is_(False),
            Product.active.is_(True),
        )
    )
    kind = LicenseType.TEAM.value

    def authorization(on: date):
        return create_purchase_authorization(
            user=admin,
            customer_id=customer.id,
            today=on,
            license_type=kind,
            lines=[LineInput(product_id=product.id, quantity=max(assigned, 1))],
            deployment_date=on,
            customer_po_number=None,
        )

    for number in range(ordered):
        on = anniversary - timedelta(days=60 - number)
        pa = authorization(on)
        record_order(
            user=admin,
            pa_id=pa.id,
            today=on,
            vendor_order_number=f"QC{customer.id:05d}{number:03d}",
            order_date=on,
            duration_months=propose_duration(customer=customer, order_date=on).months,
        )
    for _ in range(cancelled):
        pa = authorization(TODAY - timedelta(days=25))
        cancel_purchase_authorization(user=admin, pa_id=pa.id, today=TODAY, now=utcnow())
    for _ in range(pending):
        authorization(TODAY - timedelta(days=20))
    for number in range(assigned):
        assign_license(
            user=vip_admin,
            customer_id=customer.id,
            product_id=product.id,
            email=f"designer{number}@querycount.example",
            today=TODAY,
        )
    apply_deadlines(today=TODAY, reseller_ids=[customer.reseller_id])


@pytest.fixture(params=[1, 50], ids=["1-customer", "50-customers"])
def portfolio(request, app) -> Portfolio:
    size = request.param
    with app.test_request_context():
        generate_portfolio(customers=size, today=TODAY, seed=SEEDS[size], reseller_name=RESELLER)
        # The measured customer: of those in their grace period, the one with most orders.
        busy_id = db.session.execute(
            select(Order.customer_id, func.count())
            .join(Customer, Customer.id == Order.customer_id)
            .where(Customer.anniversary_date.between(TODAY - timedelta(days=29), TODAY))
            .group_by(Order.customer_id)
            .order_by(func.count().desc(), Order.customer_id)
            .limit(1)
        ).first()[0]
        busy = db.session.get(Customer, busy_id)
        vip_admin = create_user(
            email=VIP_ADMIN,
            name="Console Admin",
            password=PASSWORD,
            role=Role.VIP_ADMIN,
            customer=busy,
        )
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        top_up(busy, admin, vip_admin, TOP_UP[size])
        busy = db.session.get(Customer, busy_id)
        # A three-year commitment its licenses fall short of: "3YC at risk" (R16) has a row.
        db.session.add(
            ThreeYearCommitment(
                customer_id=busy_id,
                state=CommitmentState.COMMITTED,
                minimum_quantity=qualifying_licenses(customer=busy) + 50,
                requested_on=busy.anniversary_date - timedelta(days=120),
                decided_on=busy.anniversary_date - timedelta(days=110),
                starts_on=busy.anniversary_date - timedelta(days=110),
                ends_on=add_months(busy.anniversary_date, 24),
            )
        )
        db.session.commit()
        authorizations = list(
            db.session.scalars(
                select(PurchaseAuthorization).where(PurchaseAuthorization.customer_id == busy_id)
            )
        )
        assignments = list(
            db.session.scalars(
                select(LicenseAssignment).where(LicenseAssignment.customer_id == busy_id)
            )
        )
        # History rows by two people: the signed-in reseller admin and the VIP admin.
        for pa in authorizations:
            audit.record(
                actor=admin,
                action="authorization.created",
                customer=busy,
                object_type="purchase_authorization",
                object_id=pa.id,
                details={"number": pa.number},
            )
        for assignment in assignments:
            audit.record(
                actor=vip_admin,
                action="license.assigned",
                customer=busy,
                object_type="license_assignment",
                object_id=assignment.id,
                details={"email": assignment.user_email},
            )
        db.session.commit()
        customers = select(Customer).where(Customer.reseller_id == admin.reseller_id)
        in_overview = customers.where(
            Customer.anniversary_date.between(
                TODAY - timedelta(days=GRACE_DAYS), TODAY + timedelta(days=renewals.OVERVIEW_DAYS)
            )
        )
        orders = list(db.session.scalars(select(Order).where(Order.customer_id == busy_id)))
        result = Portfolio(
            customers=_count(customers),
            busy_id=busy_id,
            delayed=_count(customers.where(Customer.status == CustomerStatus.DELAYED)),
            nord=_count(customers.where(func.lower(Customer.company_name).contains("nord"))),
            overview=_count(in_overview),
            exported=set(
                db.session.scalars(
                    in_overview.with_only_columns(Customer.company_name).where(
                        select(Order.id).where(Order.customer_id == Customer.id).exists()
                    )
                )
            ),
            pa_numbers=[pa.number for pa in authorizations],
            order_numbers=[order.vendor_order_number for order in orders],
            products={line.product.name for order in orders for line in order.lines},
            renewal_skus={line.product.renewal_sku for order in orders for line in order.lines},
            assignment_emails=[assignment.user_email for assignment in assignments],
            events=_count(select(AuditEvent).where(AuditEvent.customer_id == busy_id)),
        )
        statuses = {pa.status for pa in authorizations}
        busy_status = busy.status
        busy_stage = renewals.renewal_stage(busy, TODAY)
        db.session.remove()

    # What the pages show, so that no count is taken on an empty page.
    assert result.customers == size
    assert statuses == {
        AuthorizationStatus.PENDING,
        AuthorizationStatus.ORDERED,
        AuthorizationStatus.CANCELLED,
    }
    assert busy_status == CustomerStatus.DELAYED
    assert busy_stage == renewals.RenewalStage.IN_GRACE
    if size == 1:
        assert (result.delayed, result.nord, result.overview, len(result.exported)) == (1, 1, 1, 1)
        assert len(result.pa_numbers) >= 10
        assert len(result.order_numbers) >= 5
        assert len(result.assignment_emails) >= 10
    else:
        assert result.delayed >= 3
        assert result.nord >= 3
        assert result.overview >= max(5, 2 * PAGE_SIZE)  # page 2 of the overview is full
        assert len(result.exported) >= 5
        assert len(result.pa_numbers) >= 25
        assert len(result.order_numbers) >= 20
        assert len(result.assignment_emails) >= 30
    return result


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Measured:
    statements: list[str]
    body: str


def measure(app, client, path: str, *, headers=None, status: int = 200) -> Measured:
    """The statements of the second of two identical requests, the whole body read (a
    streamed response runs its queries while it is read)."""
    warm = client.get(path, headers=headers)
    assert warm.status_code == status, path
    warm.get_data()
    warm.close()
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = client.get(path, headers=headers)
        body = response.get_data(as_text=True)
        response.close()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == status, path
    return Measured(seen, body)


def assert_pinned(app, measured: dict[str, Measured], size: int) -> None:
    with app.app_context():
        dialect = db.engine.dialect.name
    counts = {page: len(each.statements) for page, each in measured.items()}
    expected = {page: PINNED[dialect].get(page) for page in measured}
    if counts != expected:
        lines = [f"SQL statements per page at {size} customer(s) on {dialect}:"]
        for page, each in measured.items():
            if counts[page] != expected[page]:
                lines.append(f"{page}: {counts[page]}, pinned {expected[page]}")
                lines += [f"    {' '.join(text.split())[:160]}" for text in each.statements]
        pytest.fail("\n".join(lines), pytrace=False)


def customer_rows(body: str) -> set[str]:
    return set(re.findall(r'href="/customers/(\d+)/info"', body))


def renewal_rows(body: str) -> set[str]:
    return set(re.findall(r'id="renewal-row-(\d+)"', body))


# --- the pages -----------------------------------------------------------------------------


def test_perf_query_count_customer_list_is_constant(app, client, login_as, portfolio):
    login_as(ADMIN, PASSWORD)
    measured = {path: measure(app, client, path) for path in CUSTOMER_LIST}

    rows = {path: len(customer_rows(each.body)) for path, each in measured.items()}
    assert rows == {
        "/customers": min(PAGE_SIZE, portfolio.customers),
        "/customers?q=nord": min(PAGE_SIZE, portfolio.nord),
        "/customers?status=delayed": min(PAGE_SIZE, portfolio.delayed),
        # one customer: the page number is clamped to the last page
        "/customers?page=2": min(PAGE_SIZE, max(portfolio.customers - PAGE_SIZE, 1)),
    }
    assert_pinned(app, measured, portfolio.customers)


def test_perf_query_count_customer_details_is_constant(app, client, login_as, portfolio):
    login_as(ADMIN, PASSWORD)
    measured = {
        path: measure(app, client, path.replace("<id>", str(portfolio.busy_id))) for path in DETAILS
    }

    plans = measured["/customers/<id>/plans"].body
    assert all(number in plans for number in portfolio.pa_numbers)
    orders = measured["/customers/<id>/orders"].body
    assert all(number in orders for number in portfolio.order_numbers)
    history = measured["/customers/<id>/history"].body
    assert history.count("<tr>") == portfolio.events + 1  # and the header row
    assert "Console Admin" in history
    info = measured["/customers/<id>/info"].body
    assert all(name in info for name in portfolio.products)
    renewal_tab = measured["/customers/<id>/renewals"].body
    assert all(sku in renewal_tab for sku in portfolio.renewal_skus)
    timeline = measured["/customers/<id>/timeline"].body
    assert all(number in timeline for number in portfolio.pa_numbers)
    assert all(number in timeline for number in portfolio.order_numbers)
    assert_pinned(app, measured, portfolio.customers)


def test_perf_query_count_renewals_overview_is_constant(app, client, login_as, portfolio):
    login_as(ADMIN, PASSWORD)
    measured = {path: measure(app, client, path) for path in RENEWALS}

    shown = portfolio.overview
    assert len(renewal_rows(measured["/renewals"].body)) == min(PAGE_SIZE, shown)
    # one customer: the page number is clamped to the last page
    assert len(renewal_rows(measured["/renewals?page=2"].body)) == min(
        PAGE_SIZE, max(shown - PAGE_SIZE, 1)
    )
    at_risk = measured["/renewals?commitment=at_risk"].body
    assert renewal_rows(at_risk) == {str(portfolio.busy_id)}
    assert "commitment-at-risk" in at_risk
    text = measured["/renewals/export.csv"].body.removeprefix("\ufeff")
    delimiter = ";" if ";" in text.splitlines()[0] else ","
    exported = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    assert {row[0] for row in exported[1:]} == portfolio.exported
    # The pipeline counts every anniversary of its 12 months (the generator renews none).
    with app.app_context():
        in_pipeline = db.session.scalar(
            select(func.count()).where(
                Customer.anniversary_date >= TODAY.replace(day=1),
                Customer.anniversary_date < TODAY.replace(year=TODAY.year + 1, day=1),
            )
        )
    for page in ("/renewals/pipeline",):
        totals = re.findall(
            r'data-status="total" data-measure="customers">(\d+)<', measured[page].body
        )
        assert len(totals) == 12 and sum(map(int, totals)) == in_pipeline > 0
    unchanged_refresh(app, client, measured, "/renewals/pipeline", "renewal-pipeline")
    assert_pinned(app, measured, portfolio.customers)


def unchanged_refresh(app, client, measured: dict, path: str, element: str) -> None:
    """The refresh of `path`'s partial sending the version it shows: 204, nothing rendered."""
    tag = re.search(rf'id="{element}"[^>]*?"X-VIP-Shown": "([0-9a-f]+)"', measured[path].body)
    headers = {"HX-Request": "true", "X-VIP-Shown": tag.group(1)}
    measured[f"{path} unchanged"] = measure(app, client, path, headers=headers, status=204)
    assert measured[f"{path} unchanged"].body == ""


def test_perf_query_count_outbox_and_its_preview_are_constant(app, client, login_as, portfolio):
    login_as(ADMIN, PASSWORD)
    measured = {path: measure(app, client, path) for path in OUTBOX}

    for path in OUTBOX:
        assert 'id="job-preview"' in measured[path].body
    unchanged_refresh(app, client, measured, "/outbox/preview", "job-preview")
    assert_pinned(app, measured, portfolio.customers)


def test_perf_query_count_admin_console_is_constant(app, client, portfolio):
    assert login(client, VIP_ADMIN, PASSWORD).status_code == 303
    measured = {
        path: measure(app, client, path.replace("<id>", str(portfolio.busy_id))) for path in CONSOLE
    }

    console = measured["/console/<id>"].body
    assert all(email in console for email in portfolio.assignment_emails)
    assert 'id="discount-level-heading"' in console and "commitment-committed" in console
    assert_pinned(app, measured, portfolio.customers)


# --- Översikt (the dashboard) ---------------------------------------------------------------

DASHBOARD = ("/", *(f"/dashboard/sections/{key}" for key in DASHBOARD_SECTIONS))


def page_of(measured: dict[str, Measured]) -> str:
    return measured["/"].body


def test_perf_query_count_dashboard_is_constant(app, client, login_as, portfolio):
    """The page and each section's htmx partial: a capped count and one page of rows per
    section, whatever the data size."""
    login_as(ADMIN, PASSWORD)
    measured = {"/": measure(app, client, "/")}
    client.environ_base["HTTP_HX_REQUEST"] = "true"  # the sections answer htmx only
    tags = dict(
        re.findall(r'id="section-(\w+)"[^>]*?"X-VIP-Shown": "([0-9a-f]+)"', page_of(measured))
    )
    try:
        for path in DASHBOARD[1:]:
            measured[path] = measure(app, client, path)
        for key in DASHBOARD_SECTIONS:  # nothing changed: 204, nothing rendered
            measured[f"/dashboard/sections/{key} unchanged"] = measure(
                app,
                client,
                f"/dashboard/sections/{key}",
                headers={"X-VIP-Shown": tags[key]},
                status=204,
            )
    finally:
        del client.environ_base["HTTP_HX_REQUEST"]

    page = measured["/"].body
    assert re.findall(r'<section id="section-(\w+)"', page) == list(DASHBOARD_SECTIONS)
    with app.app_context():
        in_grace = _count(
            select(Customer).where(
                Customer.anniversary_date.between(TODAY - timedelta(days=GRACE_DAYS - 1), TODAY),
                Customer.status != CustomerStatus.INACTIVE,
            )
        )
        overdue = _count(
            select(PurchaseAuthorization).where(
                PurchaseAuthorization.status == AuthorizationStatus.PENDING,
                PurchaseAuthorization.order_due_on < TODAY,
            )
        )
    # The measured customer is Försenad and in grace: neither section is ever empty.
    assert in_grace >= 1 and overdue >= 1
    for key, rows in (
        ("in_grace", in_grace),
        ("order_overdue", overdue),
        ("commitment_at_risk", 1),
    ):
        shown = measured[f"/dashboard/sections/{key}"].body.count("<li>")
        assert shown == min(5, rows), key
    for key in DASHBOARD_SECTIONS:
        assert measured[f"/dashboard/sections/{key} unchanged"].body == ""
    for path in DASHBOARD[1:]:
        assert measured[path].body.lstrip().startswith("<section id="), path
        assert "<html" not in measured[path].body
    assert_pinned(app, measured, portfolio.customers)


# --- The security log ------------------------------------------------------------------------

SECURITY_LOG = (
    "/security-log",
    "/security-log?kind=failures",
    "/security-log?user=<id>",
    "/security-log?page=2",
    "/security-log/export.csv",
)


def test_perf_query_count_security_log_is_constant(app, client, login_as, portfolio):
    """A page of the security log, filtered or not, and its CSV: the same statements for
    a handful of events as for a hundred and fifty."""
    with app.test_request_context():
        team = db.session.scalars(select(User).where(User.email == ADMIN)).one()
        for number in range(3 * portfolio.customers):
            for action in ("login.failed", "login.succeeded", "access.denied_role"):
                audit.record(
                    actor=team,
                    action=action,
                    object_type="user",
                    object_id=team.id,
                    details={"reason": "wrong_password", "path": f"/x/{number}"},
                )
        db.session.commit()
        admin_id = team.id
    login_as(ADMIN, PASSWORD)
    paths = [path.replace("<id>", str(admin_id)) for path in SECURITY_LOG]
    measured = {pattern: measure(app, client, path) for pattern, path in zip(SECURITY_LOG, paths)}
    first = measured["/security-log"].body
    assert first.count('id="security-event-') == PAGE_SIZE
    exported = measured["/security-log/export.csv"].body.strip().splitlines()
    assert len(exported) >= 1 + 9 * portfolio.customers


# --- API-nycklar and the JSON API -----------------------------------------------------------

API = (
    "/api/v1/customers",
    "/api/v1/customers?status=delayed",
    "/api/v1/customers/<vip_id>",
    "/api/v1/customers/<vip_id>/purchase-authorizations",
    "/api/v1/customers/<vip_id>/orders",
    "/api/v1/customers/<vip_id>/licenses",
    "/api/v1/renewals",
    "/api/v1/deadlines?from=2026-11-01&to=2027-11-01",
)


def _api_keys(app, size: int) -> str:
    """Keys of the portfolio's partner admin: one per five customers, and one more."""
    with app.test_request_context():
        admin = db.session.scalar(select(User).where(User.email == ADMIN))
        secrets = [
            api_keys.create_key(user=admin, name=f"System {n}", scope="read", now=utcnow())[1]
            for n in range(size // 5 + 1)
        ]
        db.session.remove()
    return secrets[0]


def test_perf_query_count_api_keys_page_is_constant(app, client, login_as, portfolio):
    _api_keys(app, portfolio.customers)
    login_as(ADMIN, PASSWORD)
    measured = {"/settings/api-keys": measure(app, client, "/settings/api-keys")}
    assert measured["/settings/api-keys"].body.count('id="api-key-revoke-') == (
        portfolio.customers // 5 + 1
    )
    assert_pinned(app, measured, portfolio.customers)


def test_perf_query_count_api_is_constant(app, client, portfolio):
    """Each list answers with a fixed number of statements, whatever its length: the key's
    lookup (its last use is written at most once a minute, not counted here) and the
    pages' own queries."""
    secret = _api_keys(app, portfolio.customers)
    with app.app_context():
        vip_id = db.session.get(Customer, portfolio.busy_id).vip_id
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    try:
        measured = {path: measure(app, client, path.replace("<vip_id>", vip_id)) for path in API}
    finally:
        del client.environ_base["HTTP_AUTHORIZATION"]
    pas = measured["/api/v1/customers/<vip_id>/purchase-authorizations"].body
    assert all(number in pas for number in portfolio.pa_numbers)
    orders = measured["/api/v1/customers/<vip_id>/orders"].body
    assert all(number in orders for number in portfolio.order_numbers)
    assert_pinned(app, measured, portfolio.customers)


# --- Webhooks (Settings → Webhooks): the endpoints and an endpoint's delivery log ---------------

WEBHOOK_PAGES = ("/settings/webhooks", "/settings/webhooks/<endpoint>/deliveries")
# The user, the endpoints (the log: the endpoint), the deliveries' counts per endpoint (the
# log: the deliveries with their events and customers, then their attempts), the reseller.
PINNED["sqlite"].update({WEBHOOK_PAGES[0]: 4, WEBHOOK_PAGES[1]: 5})
PINNED["postgresql"].update({WEBHOOK_PAGES[0]: 3, WEBHOOK_PAGES[1]: 4})


@pytest.fixture(params=[1, 12], ids=["1", "12"])
def webhook_log(request, app, tenants) -> tuple[int, int]:
    """`size` endpoints of tenant a, and `size` events (new customers) delivered to the
    first after two attempts each. Returns (size, first endpoint's id)."""
    size = request.param
    app.config.update(WEBHOOK_CONFIG)
    with in_app(app):
        first = None
        for number in range(size):
            endpoint_id, _ = subscribe(tenants.a.admin, f"http://127.0.0.1:9/hook{number}")
            first = first or endpoint_id
        for number in range(size):
            create_customer(
                user=db.session.get(User, tenants.a.admin.id),
                today=TODAY,
                company_name=f"Webhook Kund {number:02d} AB",
                country="SE",
                market_segment="commercial",
                admin_name="It",
                admin_email=f"it{number}@webhook.example",
                admin_language="sv",
            )
        deliveries = db.session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == first)
        ).all()
        for delivery in deliveries:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.attempts = 2
            for code in (500, 200):
                db.session.add(
                    WebhookAttempt(
                        delivery_id=delivery.id,
                        attempted_at=utcnow(),
                        status_code=code,
                        error=None if code == 200 else "HTTP 500",
                        duration_ms=12,
                    )
                )
        db.session.commit()
        assert len(deliveries) == size
    return size, first


def test_perf_query_count_webhook_pages_are_constant(app, client, login_as, tenants, webhook_log):
    size, endpoint_id = webhook_log
    login_as(tenants.a.admin)
    measured = {
        path: measure(app, client, path.replace("<endpoint>", str(endpoint_id)))
        for path in WEBHOOK_PAGES
    }
    index, log = (measured[path].body for path in WEBHOOK_PAGES)
    assert len(re.findall(r'<tr id="endpoint-\d+"', index)) == size
    assert len(re.findall(r'<tr id="delivery-\d+"', log)) == size
    assert log.count("HTTP 500") == size and log.count("HTTP 200") == size
    assert_pinned(app, measured, size)
