"""Fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema per run),
clients per role, two tenants, and the injected clock."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from vip import create_app
from vip.extensions import db
from vip.models import Customer, PurchaseAuthorization, Reseller, Role, User

TODAY = date(2026, 11, 29)
PASSWORD = "correct horse battery staple"
HX = {"HX-Request": "true"}


def pytest_addoption(parser):
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="postgres uses TEST_DATABASE_URL, a fresh schema per run",
    )


TRANSLATIONS = Path(__file__).resolve().parent.parent / "vip" / "translations"


@pytest.fixture(scope="session", autouse=True)
def compiled_translations():
    """The Swedish UI needs the .mo catalogs; `make test` compiles them, a bare pytest
    run may not have. Compiled (like `make translations`, fuzzy included) only when a
    .mo is missing or older than its .po; written atomically."""
    import os

    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_name(f".{mo.name}.{os.getpid()}.tmp")
        with partial.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=True)
        partial.replace(mo)


def pytest_report_header(config):
    return f"database: {config.getoption('--db')}"


@pytest.fixture(scope="session")
def database(request, tmp_path_factory):
    """Yields a function that gives each test a fresh, empty database URL."""
    backend = request.config.getoption("--db")
    if backend == "sqlite":
        folder = tmp_path_factory.mktemp("db")

        def fresh(tag: str):
            return f"sqlite:///{folder / (tag + '.db')}", {}, None

        yield fresh
        return
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.exit("--db=postgres needs TEST_DATABASE_URL", returncode=2)
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    options = {"connect_args": {"options": f"-csearch_path={schema}"}, "pool_pre_ping": True}
    state = {"created": False}

    def fresh(tag: str):
        return url, options, state

    yield fresh
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def make_app(database, tag: str, **overrides):
    import tempfile

    url, options, state = database(tag)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": options,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "VIP_TODAY": TODAY.isoformat(),
        "VIP_PASSWORD_HASH": "scrypt:4096:8:1",
        "VIP_BASE_URL": "http://localhost",
        "VIP_OUTBOX_DIR": tempfile.mkdtemp(prefix="vip-outbox-"),
    }
    config.update(overrides)
    app = create_app(config)
    with app.app_context():
        if state is None:
            db.create_all()
        elif not state["created"]:
            db.create_all()
            state["created"] = True
    return app


def empty_all_tables(app) -> None:
    with app.app_context():
        db.session.remove()
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def app_config():
    """Override per module or test to change the app's configuration."""
    return {}


@pytest.fixture
def app(database, request, app_config):
    tag = uuid.uuid4().hex[:12]
    app = make_app(database, tag, **app_config)
    yield app
    empty_all_tables(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def today():
    return TODAY


@pytest.fixture
def ctx(app):
    """An app and request context, for calling services directly."""
    with app.test_request_context():
        yield
        db.session.remove()


@dataclass
class Tenant:
    reseller: Reseller
    admin: User
    sales: User
    customer: Customer
    vip_admin: User
    authorization: PurchaseAuthorization


def build_tenant(name: str, prefix: str) -> Tenant:
    from vip.services.accounts import create_user
    from vip.services.authorizations import LineInput, create_purchase_authorization
    from vip.services.customers import create_customer

    reseller = Reseller(name=name, country="SE", time_zone="Europe/Stockholm")
    db.session.add(reseller)
    db.session.commit()
    admin = create_user(
        email=f"{prefix}-admin@example.com",
        name=f"{prefix} Admin",
        password=PASSWORD,
        role=Role.RESELLER_ADMIN,
        reseller=reseller,
    )
    sales = create_user(
        email=f"{prefix}-sales@example.com",
        name=f"{prefix} Sales",
        password=PASSWORD,
        role=Role.RESELLER_SALES,
        reseller=reseller,
        language="en",
    )
    customer = create_customer(
        user=admin,
        today=TODAY,
        company_name=f"{prefix} Kund AB",
        country="SE",
        market_segment="commercial",
        admin_name=f"{prefix} It",
        admin_email=f"{prefix}-it@customer.example",
        admin_language="sv",
    )
    vip_admin = create_user(
        email=f"{prefix}-vip@customer.example",
        name=f"{prefix} VIP",
        password=PASSWORD,
        role=Role.VIP_ADMIN,
        customer=customer,
    )
    authorization = create_purchase_authorization(
        user=sales,
        customer_id=customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=product_id("Photoshop", "team", "commercial"), quantity=5)],
        deployment_date=TODAY,
        customer_po_number=f"PO-{prefix}",
    )
    return Tenant(reseller, admin, sales, customer, vip_admin, authorization)


def product_id(name: str, license_type: str, segment: str, *, education_device=False) -> int:
    """A catalog product's id; loads the shipped catalog on first use."""
    from vip.models import Product
    from vip.services.catalog import load_catalog

    if db.session.scalar(sa.select(sa.func.count()).select_from(Product)) == 0:
        load_catalog()
    return db.session.scalar(
        sa.select(Product.id).where(
            Product.name == name,
            Product.license_type == license_type,
            Product.market_segment == segment,
            Product.education_device.is_(education_device),
        )
    )


@dataclass
class Tenants:
    a: Tenant
    b: Tenant


@pytest.fixture
def tenants(app) -> Tenants:
    """Two resellers with an admin, a sales user, a customer and its VIP admin each."""
    with app.test_request_context():
        a = build_tenant("Reseller A AB", "a")
        b = build_tenant("Reseller B AB", "b")
        result = Tenants(a, b)
        for tenant in (a, b):
            for obj in (
                tenant.reseller,
                tenant.admin,
                tenant.sales,
                tenant.customer,
                tenant.vip_admin,
                tenant.authorization,
            ):
                db.session.refresh(obj)
                db.session.expunge(obj)
        db.session.remove()
    return result


def login(client, email: str, password: str = PASSWORD, follow: bool = False):
    return client.post(
        "/login", data={"email": email, "password": password}, follow_redirects=follow
    )


@pytest.fixture
def login_as(client):
    def _login(user_or_email, password: str = PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        response = login(client, email, password)
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return client

    return _login


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@dataclass
class TenantObjects:
    """A tenant's objects of every kind, so a route walk has an id for each parameter."""

    tenant: Tenant
    order: object
    return_request: object
    notification_id: int
    assignment_id: int = 0
    unheld_product_id: int = 0  # a catalog product the customer holds no license of


def add_order_and_return(tenant: Tenant, prefix: str) -> TenantObjects:
    from vip.models import Order, ReturnAuthorization
    from vip.services.authorizations import LineInput, create_purchase_authorization
    from vip.services.orders import record_order, request_return

    sales = db.session.get(User, tenant.sales.id)
    pa = create_purchase_authorization(
        user=sales,
        customer_id=tenant.customer.id,
        today=TODAY,
        license_type="team",
        lines=[LineInput(product_id=product_id("Illustrator", "team", "commercial"), quantity=7)],
        deployment_date=TODAY,
        customer_po_number=None,
    )
    order = record_order(
        user=sales,
        pa_id=pa.id,
        today=TODAY,
        vendor_order_number=f"{prefix.upper()}ORDER001",
        order_date=TODAY,
        duration_months=12,
    )
    line_id = order.lines[0].id
    item = request_return(
        user=sales, order_id=order.id, today=TODAY, quantities={line_id: 2}, reason="Too many"
    )
    order = db.session.get(Order, order.id)
    item = db.session.get(ReturnAuthorization, item.id)
    for obj in (order, item):
        db.session.refresh(obj)
        db.session.expunge(obj)
    from vip.models import Notification

    notification_id = db.session.scalar(
        sa.select(Notification.id).where(Notification.customer_id == tenant.customer.id).limit(1)
    )
    from vip.models import LicenseAssignment

    assignment = LicenseAssignment(
        customer_id=tenant.customer.id,
        product_id=product_id("Illustrator", "team", "commercial"),
        user_email=f"designer@{prefix}.example",
    )
    db.session.add(assignment)
    db.session.commit()
    return TenantObjects(
        tenant,
        order,
        item,
        notification_id,
        assignment.id,
        product_id("InDesign", "team", "commercial"),
    )


@pytest.fixture
def full_tenants(app, tenants):
    """`tenants`, plus an order (with a requested return) for each customer."""
    with app.test_request_context():
        result = {
            "a": add_order_and_return(tenants.a, "a"),
            "b": add_order_and_return(tenants.b, "b"),
        }
        db.session.remove()
    return result
