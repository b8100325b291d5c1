"""Fixtures: a fresh database per test (SQLite file, or a PostgreSQL schema per run),
clients per role, two tenants, and the injected clock.

Fast: on SQLite each test's database is a copy of an empty schema built once per session,
and `tenants`/`full_tenants` copy in what the services built for the first test of the
same configuration. Clean: each run's temporary files live in a temp dir of its own,
removed at the end; a session fixture fails the run when a test leaves a file behind.
Helpers the modules share are in tests/support.py."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sqlite3
import tempfile
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import jinja2
import pytest
import sqlalchemy as sa
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.routing.rules import Rule

from vip import create_app
from vip.extensions import cache, db, limiter
from vip.models import (
    Customer,
    Order,
    PurchaseAuthorization,
    Reseller,
    ReturnAuthorization,
    Role,
    User,
)

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


_compile_builder = Rule._compile_builder
_BUILDERS: dict = {}


def _shared_builder(rule, append_unknown=True):
    """Werkzeug compiles two URL builders per rule and app; every test makes an app, so
    the same functions are compiled again and again. A builder depends only on the rule's
    text, its parsed parts and the names of its defaults (when no default fills a part of
    the path), so one compiled function serves every app's copy of the rule."""
    defaults = rule.defaults or {}
    if any(is_dynamic and data in defaults for is_dynamic, data in rule._trace):
        return _compile_builder(rule, append_unknown)
    key = (rule.rule, tuple(rule._trace), tuple(defaults), append_unknown)
    if key not in _BUILDERS:
        _BUILDERS[key] = _compile_builder(rule, append_unknown)
    return _BUILDERS[key]


@pytest.fixture(scope="session", autouse=True)
def shared_url_builders():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Rule, "_compile_builder", _shared_builder)
        yield


ROOT = Path(__file__).resolve().parent.parent
SYSTEM_TEMP = Path(tempfile.gettempdir())
#: What the suite may leave in the repository: the screenshots browser tests save.
REPOSITORY_OUTPUT = ("instance", "test-artifacts")
KEPT_ARTIFACTS = ".png"


def pytest_configure(config):
    """The run's temporary files go to a folder of its own in the system temp dir (TMPDIR
    too, for the subprocesses and the browser), removed when the run ends; pytest's
    tmp_path folders are made inside it."""
    run_temp = Path(tempfile.mkdtemp(prefix="vip-tests-", dir=SYSTEM_TEMP))
    config.stash[RUN_TEMP] = (run_temp, tempfile.tempdir, os.environ.get("TMPDIR"))
    tempfile.tempdir = str(run_temp)
    os.environ["TMPDIR"] = str(run_temp)


def pytest_unconfigure(config):
    if RUN_TEMP not in config.stash:
        return
    run_temp, tempdir, tmpdir_env = config.stash[RUN_TEMP]
    tempfile.tempdir = tempdir
    if tmpdir_env is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = tmpdir_env
    shutil.rmtree(run_temp, ignore_errors=True)


RUN_TEMP = pytest.StashKey[tuple]()


def files_below(folder: Path, *, folders: bool = True) -> set[str]:
    if not folder.exists():
        return set()
    return {
        str(path.relative_to(folder)) for path in folder.rglob("*") if folders or not path.is_dir()
    }


def leftovers(before: dict[str, set[str]], after: dict[str, set[str]]) -> list[str]:
    """What appeared in a watched folder between two `files_below` snapshots, but for
    pytest's own tmp_path folders and the screenshots under test-artifacts/."""
    found = []
    for where, names in after.items():
        for name in sorted(names - before.get(where, set())):
            if where == "temp" and name.split("/")[0].startswith("pytest-of-"):
                continue
            if where == "test-artifacts" and name.endswith(KEPT_ARTIFACTS):
                continue
            found.append(f"{where}/{name}")
    return found


def watched_folders() -> dict[str, set[str]]:
    folders = {"temp": files_below(Path(tempfile.gettempdir()))}
    for name in REPOSITORY_OUTPUT:
        folders[name] = files_below(ROOT / name, folders=False)
    return folders


@pytest.fixture(scope="session", autouse=True)
def leaves_no_files_behind(tmp_path_factory):
    """Fails the run when a test left a file in the temp dir (outside tmp_path) or in
    instance/ or test-artifacts/ (but for screenshots). The temp dir is the run's own
    (see `pytest_configure`), so other processes on the machine cannot disturb the count."""
    tmp_path_factory.getbasetemp()
    before = watched_folders()
    yield
    found = leftovers(before, watched_folders())
    assert not found, f"the tests left {len(found)} files behind: {found[:20]}"


def pytest_report_header(config):
    return f"database: {config.getoption('--db')}"


class Databases:
    """Gives each test a fresh database and a scratch folder.

    SQLite: the empty schema is built once per session into a template file, which each
    test gets a copy of; the two tenants of `tenants` are built once per configuration
    and copied in the same way (see `restore`). PostgreSQL: one schema per run,
    emptied after each test (TRUNCATE)."""

    def __init__(self, backend: str, folder: Path, url: str | None = None, options=None):
        self.backend = backend
        self.folder = folder
        self.url = url
        self.options = options or {}
        self.state = {"created": False}
        self._empty: Path | None = None
        self._snapshots: dict[tuple[str, str], tuple[Path, object, str]] = {}

    def __call__(self, tag: str):
        """The database URL, engine options and creation state for one app."""
        if self.backend == "sqlite":
            target = self.folder / f"{tag}.db"
            if target.exists():
                target = self.folder / f"{tag}-{uuid.uuid4().hex[:8]}.db"
            shutil.copyfile(self._empty_template(), target)
            return f"sqlite:///{target}", {}, {"created": True}
        return self.url, self.options, self.state

    def scratch(self, tag: str) -> Path:
        """A folder of the test's own (outbox, imports, instance), under pytest's basetemp."""
        folder = self.folder / "apps" / tag
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _empty_template(self) -> Path:
        if self._empty is None:
            template = self.folder / "template-empty.db"
            app = create_app(
                {
                    "TESTING": True,
                    "SECRET_KEY": "test-secret-key",
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{template}",
                },
                instance_path=self.scratch("template") / "instance",
            )
            with app.app_context():
                db.create_all()
                db.session.remove()
                db.engine.dispose()  # the last connection closed: no -wal file left
            self._empty = template
        return self._empty

    # The objects of `tenants` and `full_tenants`, built once per configuration (SQLite).

    def fingerprint(self) -> str | None:
        """A hash of every row of the app's database (None on PostgreSQL)."""
        if self.backend != "sqlite":
            return None
        digest = hashlib.sha256()
        connection = db.session.connection()
        for table in db.metadata.sorted_tables:
            rows = connection.exec_driver_sql(f'SELECT * FROM "{table.name}" ORDER BY 1')
            digest.update(repr((table.name, rows.all())).encode())
        db.session.remove()
        return digest.hexdigest()

    def _key(self, app, name: str) -> tuple[str, str]:
        per_test = {"SQLALCHEMY_DATABASE_URI", "VIP_OUTBOX_DIR", "VIP_IMPORT_DIR"}
        config = repr(sorted((k, repr(v)) for k, v in app.config.items() if k not in per_test))
        return name, config

    def restore(self, app, name: str, base: str | None):
        """When `name` was built before from the same database content (`base`) under the
        same configuration: copies what it wrote into the app's database and returns the
        ids it saved; otherwise None."""
        saved = self._snapshots.get(self._key(app, name)) if base is not None else None
        if saved is None or saved[2] != base:
            return None
        snapshot, ids, _ = saved
        db.session.remove()
        db.engine.dispose()
        _sqlite_copy(snapshot, Path(db.engine.url.database))
        return ids

    def save(self, app, name: str, base: str | None, ids) -> None:
        key = self._key(app, name)
        if base is None or key in self._snapshots:
            return
        snapshot = self.folder / f"template-{name}-{len(self._snapshots)}.db"
        db.session.remove()
        _sqlite_copy(Path(db.engine.url.database), snapshot)
        self._snapshots[key] = (snapshot, ids, base)


def _sqlite_copy(source: Path, target: Path) -> None:
    """The committed content of one SQLite database into another (the backup API)."""
    with closing(sqlite3.connect(source)) as reader, closing(sqlite3.connect(target)) as writer:
        reader.backup(writer)


@pytest.fixture(scope="session")
def database(request, tmp_path_factory):
    """A `Databases`: each call gives a test a fresh, empty database."""
    backend = request.config.getoption("--db")
    folder = tmp_path_factory.mktemp("db")
    if backend == "sqlite":
        yield Databases("sqlite", folder)
        return
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.exit("--db=postgres needs TEST_DATABASE_URL", returncode=2)
    schema = f"test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    options = {"connect_args": {"options": f"-csearch_path={schema}"}, "pool_pre_ping": True}
    yield Databases("postgres", folder, url, options)
    with admin.begin() as connection:
        connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


class _SharedBytecodeCache(jinja2.BytecodeCache):
    """Compiled templates kept for the session, so that each test's app does not compile
    every template again (Jinja checks each entry against the template's source)."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_BYTECODE = _SharedBytecodeCache()


def _sqlite_without_fsync(dbapi_connection, _record):
    # A test database need not survive a power cut: commits skip fsync.
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def make_app(database, tag: str, **overrides):
    url, options, state = database(tag)
    scratch = database.scratch(tag)
    for name in ("outbox", "imports"):
        (scratch / name).mkdir(exist_ok=True)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": options,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "VIP_TODAY": TODAY.isoformat(),
        "VIP_PASSWORD_HASH": "scrypt:1024:8:1",  # the kind of production, at a test cost
        "VIP_BASE_URL": "http://localhost",
        "VIP_OUTBOX_DIR": str(scratch / "outbox"),
        "VIP_IMPORT_DIR": str(scratch / "imports"),
    }
    config.update(overrides)
    app = create_app(config, instance_path=scratch / "instance")
    app.jinja_env.bytecode_cache = TEMPLATE_BYTECODE
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_without_fsync)
        if not state["created"]:
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


class AppPool:
    """Apps reused by the tests that ask for the same configuration: making an app costs
    more than most tests (blueprints, extensions, Babel, the URL map). Between two tests
    the app gets an empty database again (SQLite: the empty template copied into its file;
    PostgreSQL: TRUNCATE), its own scratch folders, and the configuration and extensions
    it was made with; anything a test changed there is put back. A test that changes the
    app itself (a route added) asks for `@pytest.mark.fresh_app`."""

    def __init__(self, database):
        self.database = database
        self.idle: dict[str, list] = {}
        self.made_with: dict[int, tuple[dict, set]] = {}

    def checkout(self, app_config: dict):
        key = repr(sorted((name, repr(value)) for name, value in app_config.items()))
        tag = uuid.uuid4().hex[:12]
        waiting = self.idle.get(key)
        if not waiting:
            app = make_app(self.database, tag, **app_config)
            self.made_with[id(app)] = (dict(app.config), set(app.extensions))
            return key, app
        app = waiting.pop()
        scratch = self.database.scratch(tag)
        for name, setting in (("outbox", "VIP_OUTBOX_DIR"), ("imports", "VIP_IMPORT_DIR")):
            (scratch / name).mkdir(exist_ok=True)
            app.config[setting] = str(scratch / name)
        if self.database.backend == "sqlite":
            with app.app_context():
                _sqlite_copy(self.database._empty_template(), Path(db.engine.url.database))
        return key, app

    def checkin(self, key: str, app) -> None:
        empty_all_tables(app)
        config, extensions = self.made_with[id(app)]
        app.config.clear()
        app.config.update(config)
        for name in set(app.extensions) - extensions:
            del app.extensions[name]
        self.idle.setdefault(key, []).append(app)


@pytest.fixture(scope="session")
def app_pool(database):
    return AppPool(database)


@pytest.fixture
def app(database, request, app_config, app_pool):
    if request.node.get_closest_marker("fresh_app"):
        app = make_app(database, uuid.uuid4().hex[:12], **app_config)
        forget_between_tests(app)
        yield app
        empty_all_tables(app)
        return
    key, app = app_pool.checkout(app_config)
    forget_between_tests(app)
    yield app
    app_pool.checkin(key, app)


def forget_between_tests(app) -> None:
    """Every test starts with no request counted against any limit (S47) and no rendered
    region kept (vip/web/cached_regions.py): the limiter is one object, its in-memory
    counts shared by the apps, and an app's cache outlives its test (the next test's
    database may have the same resellers at the same change counts)."""
    with app.app_context():
        limiter.reset()
        cache.clear()


@pytest.fixture
def csrf_app(app_pool):
    """An app with CSRF protection on, as in production (the others turn it off)."""
    key, app = app_pool.checkout({"WTF_CSRF_ENABLED": True})
    forget_between_tests(app)
    yield app
    app_pool.checkin(key, app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def today():
    return TODAY


@dataclass
class FixedNow:
    at: datetime

    def advance(self, **delta) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@pytest.fixture
def fixed_now(monkeypatch) -> FixedNow:
    """`vip.clock.now()` fixed at 09:00 UTC on TODAY, moved on by `fixed_now.advance(...)`:
    sign-in codes and lock-outs at known times."""
    from vip import clock

    fixed = FixedNow(datetime(TODAY.year, TODAY.month, TODAY.day, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(clock, "now", lambda: fixed.at)
    return fixed


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


TENANT_MODELS = (Reseller, User, User, Customer, User, PurchaseAuthorization)


def _tenant_ids(tenant: Tenant) -> tuple[int, ...]:
    return tuple(obj.id for obj in vars(tenant).values())


def _load_tenant(ids: tuple[int, ...]) -> Tenant:
    return Tenant(*(db.session.get(model, id_) for model, id_ in zip(TENANT_MODELS, ids)))


@pytest.fixture
def tenants(app, database) -> Tenants:
    """Two resellers with an admin, a sales user, a customer and its VIP admin each.

    Built through the services; on SQLite once per configuration, then copied into each
    test's database (`Databases.restore`)."""
    with app.test_request_context():
        base = database.fingerprint()
        saved = database.restore(app, "tenants", base)
        if saved is None:
            a = build_tenant("Reseller A AB", "a")
            b = build_tenant("Reseller B AB", "b")
            database.save(app, "tenants", base, (_tenant_ids(a), _tenant_ids(b)))
            a, b = (_load_tenant(_tenant_ids(t)) for t in (a, b))
        else:
            a, b = (_load_tenant(ids) for ids in saved)
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


CONSULTANT = "consultant@it.example"  # one person, VIP admin of a customer of each tenant


@dataclass
class SharedAdmin:
    """A VIP admin account of two customers of different resellers (S55): Alfa AB of
    tenant a (accepted with a new account) and Beta Oy of tenant b (its invitation to the
    same email, accepted with that account unless the fixture says otherwise)."""

    user_id: int
    alfa_id: int
    beta_id: int
    beta_token: str


def build_shared_admin(tenants: Tenants, *, accept_beta: bool) -> SharedAdmin:
    from vip.services.customers import create_customer
    from vip.services.invitations import accept_invitation, accept_with_account, token_for

    customers = []
    for tenant, name in ((tenants.a, "Alfa AB"), (tenants.b, "Beta Oy")):
        customers.append(
            create_customer(
                user=db.session.get(User, tenant.admin.id),
                today=TODAY,
                company_name=name,
                country="SE",
                market_segment="commercial",
                admin_name="Cecilia Konsult",
                admin_email=CONSULTANT,
                admin_language="en",
            )
        )
    alfa, beta = customers
    now = datetime.combine(TODAY, time(9), tzinfo=UTC)
    admin = accept_invitation(
        token=token_for(alfa.invitations[0]), password=PASSWORD, today=TODAY, now=now
    )
    beta_token = token_for(beta.invitations[0])
    if accept_beta:
        accept_with_account(token=beta_token, password=PASSWORD, today=TODAY, now=now)
    return SharedAdmin(admin.id, alfa.id, beta.id, beta_token)


@pytest.fixture
def shared_admin(app, tenants) -> SharedAdmin:
    """`tenants`, and the VIP admin of Alfa AB (tenant a) and Beta Oy (tenant b)."""
    with app.test_request_context():
        built = build_shared_admin(tenants, accept_beta=True)
        db.session.remove()
    return built


@pytest.fixture
def second_invitation(app, tenants) -> SharedAdmin:
    """As `shared_admin`, but Beta Oy's invitation to the same email is not accepted yet."""
    with app.test_request_context():
        built = build_shared_admin(tenants, accept_beta=False)
        db.session.remove()
    return built


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
    webhook_endpoint_id: int = 0
    webhook_delivery_id: int = 0
    api_key_id: int = 0


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
    endpoint_id, delivery_id = add_delivered_webhook(tenant, prefix)
    from vip.services.api_keys import create_key

    api_key, _secret = create_key(
        user=db.session.get(User, tenant.admin.id), name="ERP", scope="write", now=order.created_at
    )
    return TenantObjects(
        tenant,
        order,
        item,
        notification_id,
        assignment.id,
        product_id("InDesign", "team", "commercial"),
        endpoint_id,
        delivery_id,
        api_key.id,
    )


def add_delivered_webhook(tenant: Tenant, prefix: str) -> tuple[int, int]:
    """A webhook endpoint of the tenant subscribed to nothing (so no later change queues
    anything for it) with one delivered event: rows written directly, for the route walk."""
    from datetime import UTC, datetime

    from vip.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent

    now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    endpoint = WebhookEndpoint(
        reseller_id=tenant.reseller.id,
        url=f"https://hooks.{prefix}.example/vip",
        description="",
        event_types=[],
        secret="whsec_" + "A" * 43,
        created_at=now,
    )
    event = WebhookEvent(
        event_id=f"evt_{prefix}walk",
        reseller_id=tenant.reseller.id,
        customer_id=tenant.customer.id,
        type="customer.created",
        body="{}",
        occurred_at=now,
    )
    db.session.add_all([endpoint, event])
    db.session.flush()
    delivery = WebhookDelivery(
        event_id=event.id,
        endpoint_id=endpoint.id,
        customer_id=tenant.customer.id,
        status=DeliveryStatus.DELIVERED,
        attempts=1,
        delivered_at=now,
        created_at=now,
    )
    db.session.add(delivery)
    db.session.commit()
    return endpoint.id, delivery.id


@pytest.fixture
def full_tenants(app, tenants, database):
    """`tenants`, plus an order (with a requested return) for each customer."""
    with app.test_request_context():
        base = database.fingerprint()
        saved = database.restore(app, "full_tenants", base)
        if saved is None:
            result = {
                "a": add_order_and_return(tenants.a, "a"),
                "b": add_order_and_return(tenants.b, "b"),
            }
            ids = {prefix: _objects_ids(objects) for prefix, objects in result.items()}
            database.save(app, "full_tenants", base, ids)
        else:
            tenant_of = {"a": tenants.a, "b": tenants.b}
            result = {
                prefix: _load_objects(tenant_of[prefix], ids) for prefix, ids in saved.items()
            }
        db.session.remove()
    return result


def _objects_ids(objects: TenantObjects) -> tuple[int, ...]:
    return (
        objects.order.id,
        objects.return_request.id,
        objects.notification_id,
        objects.assignment_id,
        objects.unheld_product_id,
        objects.webhook_endpoint_id,
        objects.webhook_delivery_id,
        objects.api_key_id,
    )


def _load_objects(tenant: Tenant, ids: tuple[int, ...]) -> TenantObjects:
    order_id, return_id, notification_id, assignment_id, unheld_product_id, *rest = ids
    order = db.session.get(Order, order_id)
    item = db.session.get(ReturnAuthorization, return_id)
    for obj in (order, item):
        db.session.refresh(obj)
        db.session.expunge(obj)
    return TenantObjects(
        tenant, order, item, notification_id, assignment_id, unheld_product_id, *rest
    )


# -- Webhooks: a real HTTP receiver on 127.0.0.1 ---------------------------------------------------

#: The configuration under which the tests' receiver may be called: plain http and the
#: loopback address allowed (production allows neither; docs/webhooks.md).
WEBHOOK_CONFIG = {"VIP_WEBHOOK_ALLOW_HTTP": True, "VIP_WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32"}


@dataclass
class ReceivedWebhook:
    path: str
    headers: dict
    body: bytes

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


class WebhookReceiver:
    """A threaded http.server that keeps every POST it gets. `statuses` answers the next
    requests in turn (200 once they run out); `answer` (a function of the request giving a
    status) overrides it; with `hang_from` set, the request of that number (1-based) and
    later ones are kept waiting until the fixture ends, unanswered."""

    def __init__(self):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.received: list[ReceivedWebhook] = []
        self.statuses: list[int] = []
        self.answer = None
        self.hang_from: int | None = None
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                item = ReceivedWebhook(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with receiver._lock:
                    receiver.received.append(item)
                    number = len(receiver.received)
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.answer is not None:
                    status = receiver.answer(item)
                if receiver.hang_from is not None and number >= receiver.hang_from:
                    receiver.release.wait(60)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook_receiver():
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


# -- The JSON API: every response a test receives is checked against the OpenAPI document --


class OpenApiDocument:
    """The app's OpenAPI document, validated once, and a check of one response against it."""

    def __init__(self, document: dict):
        validate_spec(document)
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource("urn:openapi", resource)
        self.paths = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), path)
            for path in document["paths"]
        ]

    def operation(self, method: str, path: str) -> dict | None:
        for pattern, template in self.paths:
            if pattern.match(path):
                return self.document["paths"][template].get(method.lower())
        return None

    def check(self, method: str, path: str, response) -> None:
        operation = self.operation(method, path)
        if operation is None:  # an unknown path or method: a problem, documented nowhere
            assert response.status_code in (404, 405), (method, path, response.status_code)
            assert response.mimetype == "application/problem+json"
            return
        documented = operation["responses"].get(str(response.status_code))
        assert documented is not None, (
            f"{method} {path} answered {response.status_code}, which the document lacks"
        )
        content = documented.get("content", {})
        assert response.mimetype in content, (method, path, response.mimetype, list(content))
        schema = content[response.mimetype]["schema"]
        validator = OAS31Validator(
            {"$ref": "urn:openapi#/" + schema["$ref"].removeprefix("#/")}
            if "$ref" in schema
            else schema,
            registry=self.registry,
        )
        validator.validate(response.get_json())


@pytest.fixture(scope="session")
def openapi_document() -> OpenApiDocument:
    from vip import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    return OpenApiDocument(app.test_client().get("/api/v1/openapi.json").get_json())


class ApiClient:
    """The test client with a key: every response it gets is checked against the document."""

    def __init__(self, client, document: OpenApiDocument):
        self.client = client
        self.document = document

    def open(self, method: str, path: str, *, key: str | None = None, headers=None, **kwargs):
        sent = dict(headers or {})
        if key is not None:
            sent["Authorization"] = f"Bearer {key}"
        response = self.client.open(path, method=method, headers=sent, **kwargs)
        self.document.check(method, path.split("?")[0], response)
        return response

    def get(self, path: str, **kwargs):
        return self.open("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.open("POST", path, **kwargs)


@pytest.fixture
def api(client, openapi_document) -> ApiClient:
    return ApiClient(client, openapi_document)
