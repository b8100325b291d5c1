"""`flask vip ...`: load-catalog, demo and create-user, through Flask's CLI runner."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from flask.cli import FlaskGroup
from sqlalchemy import func, select

from tests.conftest import TODAY
from vip.demo import DEFAULT_PASSWORD, DEMO_RESELLER, OTHER_RESELLER
from vip.extensions import db
from vip.models import Customer, CustomerStatus, MarketSegment, Product, Reseller, Role, User
from vip.services import access
from vip.services.accounts import LoginRefused, authenticate
from vip.services.customers import list_customers

STRONG = "glad lemon typewriter harbour"
TODAY_NOON = datetime.combine(TODAY, time(12), tzinfo=UTC)
CATALOG_LINE = re.compile(r"Catalog: (\d+) created, (\d+) updated, (\d+) unchanged\.")


def invoke(runner, *args, input=None):
    """Runs `flask vip ...` the way the `flask` command does: FlaskGroup loads the app
    (the runner's ScriptInfo) and pushes its app context before the command runs."""
    flask = FlaskGroup(add_default_commands=False, load_dotenv=False, set_debug_flag=False)
    return runner.invoke(flask, args=["vip", *args], input=input)


def row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def signs_in(app, email: str, password: str) -> bool:
    with app.test_request_context():
        try:
            authenticate(email=email, password=password, now=TODAY_NOON)
        except LoginRefused:
            return False
        finally:
            db.session.remove()
    return True


def test_commands_run_through_the_apps_own_cli_runner(runner):
    result = runner.invoke(args=["vip", "load-catalog"])
    if result.exception is not None:
        raise result.exception
    assert result.exit_code == 0, result.output
    assert CATALOG_LINE.search(result.output)


# --- load-catalog -----------------------------------------------------------------------------


def test_load_catalog_is_idempotent(app, runner):
    first = invoke(runner, "load-catalog")
    assert first.exit_code == 0, first.output
    created, updated, unchanged = map(int, CATALOG_LINE.search(first.output).groups())
    assert created >= 30 and updated == 0 and unchanged == 0

    second = invoke(runner, "load-catalog")
    assert second.exit_code == 0, second.output
    assert CATALOG_LINE.search(second.output).groups() == ("0", "0", str(created))

    with app.app_context():
        products = db.session.scalars(select(Product)).all()
        assert len(products) == created
        assert len({p.sku for p in products}) == created
        devices = [p for p in products if p.education_device]
        assert devices, "the catalog has education device products"
        assert all(p.market_segment == MarketSegment.EDUCATION for p in devices)
        for segment in MarketSegment:
            assert any(p.market_segment == segment and not p.education_device for p in products)


def test_load_catalog_updates_a_changed_product(app, runner, tmp_path):
    assert invoke(runner, "load-catalog").exit_code == 0
    with app.app_context():
        product = db.session.scalars(select(Product).order_by(Product.sku)).first()
        sku, real_name = product.sku, product.name
        product.name = "Renamed by hand"
        db.session.commit()
    result = invoke(runner, "load-catalog")
    assert result.exit_code == 0, result.output
    created, updated, _ = map(int, CATALOG_LINE.search(result.output).groups())
    assert (created, updated) == (0, 1)
    with app.app_context():
        assert db.session.scalar(select(Product.name).where(Product.sku == sku)) == real_name


def test_load_catalog_refuses_a_missing_file(runner, tmp_path):
    result = invoke(runner, "load-catalog", "--file", str(tmp_path / "nope.csv"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


# --- demo -------------------------------------------------------------------------------------

DEMO_LOGINS = {
    "anna@reseller.example": (Role.RESELLER_ADMIN, DEMO_RESELLER),
    "erik@reseller.example": (Role.RESELLER_SALES, DEMO_RESELLER),
    "other@reseller2.example": (Role.RESELLER_ADMIN, OTHER_RESELLER),
    "it@kund.example": (Role.VIP_ADMIN, None),
}


@pytest.fixture
def demo(app, runner):
    result = invoke(runner, "demo")
    assert result.exit_code == 0, result.output
    return result


def test_demo_creates_the_four_logins_and_prints_them(app, demo):
    assert "Demo data loaded." in demo.output
    assert DEFAULT_PASSWORD in demo.output
    for email, (role, _) in DEMO_LOGINS.items():
        line = next((ln for ln in demo.output.splitlines() if email in ln), None)
        assert line is not None, email
        assert role.value in line, line
    with app.app_context():
        for email, (role, reseller_name) in DEMO_LOGINS.items():
            user = db.session.scalar(select(User).where(User.email == email))
            assert user is not None, email
            assert user.role == role, email
            assert user.active
            if reseller_name is None:
                # The demo VIP admin administers a customer of each reseller, and belongs
                # to neither (S55).
                names = {c.company_name for c in access.administered_customers(user)}
                assert names == {"Kund AB", "Kund Oy"} and user.reseller_id is None
            else:
                assert user.reseller.name == reseller_name
    for email in DEMO_LOGINS:
        assert signs_in(app, email, DEFAULT_PASSWORD), email


def test_demo_password_option(app, runner):
    result = invoke(runner, "demo", "--password", STRONG)
    assert result.exit_code == 0, result.output
    assert signs_in(app, "anna@reseller.example", STRONG)
    assert not signs_in(app, "anna@reseller.example", DEFAULT_PASSWORD)


def test_demo_twice_changes_nothing(app, runner, demo):
    with app.app_context():
        before = row_counts()
    assert before["customers"] > 0 and before["users"] == 4
    again = invoke(runner, "demo")
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output
    assert "anna@reseller.example" in again.output
    assert DEFAULT_PASSWORD not in again.output
    with app.app_context():
        assert row_counts() == before


def test_demo_has_customers_in_every_status(app, demo):
    with app.app_context():
        statuses = set(db.session.scalars(select(Customer.status)))
    assert statuses >= {s for s in CustomerStatus}
    assert {"invited", "active", "delayed", "inactive"} <= {s.value for s in statuses}


def test_demo_vip_admins_customer_has_anniversary_20_to_60_days_ahead(app, demo):
    with app.app_context():
        it = db.session.scalar(select(User).where(User.email == "it@kund.example"))
        customer = next(c for c in access.administered_customers(it) if c.company_name == "Kund AB")
        assert customer.status == CustomerStatus.ACTIVE
        assert customer.anniversary_date is not None
        ahead = customer.anniversary_date - TODAY
        assert timedelta(days=20) <= ahead <= timedelta(days=60), ahead


def test_demo_resellers_never_see_each_others_customers(app, demo):
    with app.test_request_context():
        demo_reseller = db.session.scalar(select(Reseller).where(Reseller.name == DEMO_RESELLER))
        other = db.session.scalar(select(Reseller).where(Reseller.name == OTHER_RESELLER))
        other_customers = db.session.scalars(
            select(Customer).where(Customer.reseller_id == other.id)
        ).all()
        assert other_customers, "the demo gives the other reseller customers"
        other_names = {c.company_name for c in other_customers}
        for email in ("anna@reseller.example", "erik@reseller.example"):
            user = db.session.scalar(select(User).where(User.email == email))
            page = list_customers(user=user, page_size=1000)
            assert page.total > 0
            assert {c.reseller_id for c in page.items} == {demo_reseller.id}
            assert not other_names & {c.company_name for c in page.items}
            for customer in other_customers:
                for search in (customer.company_name, customer.vip_id):
                    assert list_customers(user=user, search=search).total == 0, search
                # An admin email both resellers' customers share (the demo VIP admin of
                # Kund AB and Kund Oy) finds only the reseller's own customer.
                found = list_customers(user=user, search=customer.admin_email).items
                assert {c.reseller_id for c in found} <= {demo_reseller.id}, customer.admin_email
        olli = db.session.scalar(select(User).where(User.email == "other@reseller2.example"))
        theirs = list_customers(user=olli, page_size=1000)
        assert {c.company_name for c in theirs.items} == other_names
        db.session.remove()


# --- create-user ------------------------------------------------------------------------------


@pytest.fixture
def demo_reseller(app, demo):
    return DEMO_RESELLER


def test_create_user_reads_the_password_from_stdin(app, runner, demo_reseller):
    result = invoke(
        runner,
        "create-user",
        "new@x.example",
        "--role",
        "reseller_sales",
        "--reseller",
        demo_reseller,
        input=STRONG + "\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created new@x.example (reseller_sales)." in result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new@x.example"))
        assert user.role == Role.RESELLER_SALES
        assert user.reseller.name == DEMO_RESELLER
        assert user.name == "new"
        assert user.password_hash.startswith("scrypt:")
    assert signs_in(app, "new@x.example", STRONG)
    assert STRONG not in result.output


def test_create_user_for_a_customer(app, runner, demo):
    with app.app_context():
        vip_id = db.session.scalar(
            select(Customer.vip_id).where(Customer.company_name == "Nordljus Design AB")
        )
    result = invoke(
        runner,
        "create-user",
        "admin@nordljus.example",
        "--role",
        "vip_admin",
        "--customer",
        vip_id,
        "--name",
        "Maja Berg",
        "--language",
        "en",
        input=STRONG + "\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "admin@nordljus.example"))
        assert user.role == Role.VIP_ADMIN
        assert [c.vip_id for c in access.administered_customers(user)] == [vip_id]
        assert user.name == "Maja Berg" and user.language == "en"


def test_create_user_refuses_a_weak_password(app, runner, demo_reseller):
    with app.app_context():
        before = row_counts()
    result = invoke(
        runner,
        "create-user",
        "weak@x.example",
        "--role",
        "reseller_sales",
        "--reseller",
        demo_reseller,
        "--language",
        "en",
        input="password1234\n",
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    # The message, in English or Swedish (a CLI run has no browser language).
    assert "Error:" in result.output
    assert "too common" in result.output or "för vanligt" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "weak@x.example")) is None
        assert row_counts() == before


def test_create_user_weak_password_writes_nothing(app, runner, demo_reseller):
    """The part of the weak-password rule that holds today, whatever the message does."""
    with app.app_context():
        before = row_counts()
    result = invoke(
        runner,
        "create-user",
        "weak@x.example",
        "--role",
        "reseller_sales",
        "--reseller",
        demo_reseller,
        input="password1234\n",
    )
    assert result.exit_code != 0
    assert "Created" not in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "weak@x.example")) is None
        assert row_counts() == before


def test_create_user_refuses_a_duplicate_email(app, runner, demo_reseller):
    result = invoke(
        runner,
        "create-user",
        "ANNA@reseller.example",
        "--role",
        "reseller_sales",
        "--reseller",
        demo_reseller,
        input=STRONG + "\n",
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "already exists" in result.output or "Det finns redan" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 4


@pytest.mark.parametrize(
    "options",
    [
        [],
        ["--reseller", DEMO_RESELLER, "--customer", "1234567890"],
    ],
    ids=["neither", "both"],
)
def test_create_user_needs_exactly_one_of_reseller_or_customer(app, runner, demo, options):
    result = invoke(
        runner,
        "create-user",
        "new@x.example",
        "--role",
        "reseller_sales",
        *options,
        input=STRONG + "\n",
    )
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.output
    assert "Give exactly one of --reseller NAME or --customer VIPID." in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "new@x.example")) is None


@pytest.mark.parametrize(
    "options, message",
    [
        (["--reseller", "No Such AB"], "No reseller named 'No Such AB'."),
        (["--customer", "0000000000"], "No customer with VIP ID '0000000000'."),
    ],
)
def test_create_user_unknown_tenant(app, runner, demo, options, message):
    result = invoke(
        runner, "create-user", "new@x.example", "--role", "vip_admin", *options, input=STRONG
    )
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert message in result.output


def test_create_user_unknown_role_is_a_usage_error(runner):
    result = invoke(runner, "create-user", "new@x.example", "--role", "superuser")
    assert result.exit_code == 2
    assert "superuser" in result.output
