"""Browser fixtures: the system Chromium driven by Playwright against a live server.

`chromium` is one browser per session; `live_server` serves the test's `app` on a free
port; `page` is a fresh browser context per test (Swedish locale unless the test says
otherwise) and saves a screenshot into test-artifacts/browser/ when the test fails;
`demo_ids` loads the demo for the every-screen tests (tests/browser/support.py).
"""

from __future__ import annotations

import os
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from tests.browser.support import PARTNER_ADMIN, SIGN_INS, TWO_FACTOR
from tests.conftest import ARTIFACTS, PASSWORD, TODAY
from tests.support import enrol_two_factor, public_dns, subscribe
from vip import clock
from vip.demo import load_demo
from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    Invitation,
    Order,
    PurchaseAuthorization,
    User,
)
from vip.services.accounts import set_password_token
from vip.services.commitments import request_commitment
from vip.services.invitations import token_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SCREENSHOTS = ARTIFACTS / "browser"
#: Playwright's default wait; the app answers locally in milliseconds.
TIMEOUT_MS = 5_000


def pytest_collection_modifyitems(config, items):
    """Every test in this folder drives a browser: mark it so `-m "not browser"` works."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item (rep_setup, rep_call, rep_teardown)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def chromium():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_server(app):
    """The test's app on 127.0.0.1 and a free port; yields the base URL.

    The invitation links the app builds point at this server (VIP_BASE_URL)."""
    with app.app_context():
        db.session.remove()  # no transaction held: SQLite writes begin IMMEDIATE
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config["VIP_BASE_URL"] = base_url
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-server", daemon=True
    )
    thread.start()
    try:
        yield base_url
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


#: Checks every htmx swap a user causes: it moves focus or a live region announces it.
SWAP_CHECK = HERE / "swap_check.js"


@pytest.fixture
def new_context(chromium, live_server):
    """Makes browser contexts (Swedish by default), all closed before the server stops.

    Every page of them runs tests/browser/swap_check.js: a test fails when an htmx swap
    its user caused neither moved keyboard focus nor changed a live region (README,
    "Every screen, every user")."""
    contexts = []
    unheard: list[str] = []

    def _new_context(locale: str = "sv-SE", **options):
        context = chromium.new_context(locale=locale, base_url=live_server, **options)
        context.set_default_timeout(TIMEOUT_MS)
        if options.get("java_script_enabled", True):  # without JavaScript, no htmx swaps
            context.expose_function("__vipSwapProblem", lambda problem: unheard.append(problem))
            context.add_init_script(path=str(SWAP_CHECK))
        contexts.append(context)
        return context

    yield _new_context
    for context in contexts:
        for page in context.pages:
            check_last_swaps(page)
        context.close()
    assert unheard == [], "htmx swaps a screen-reader user would not notice:\n" + "\n".join(unheard)


def check_last_swaps(page) -> None:
    """Checks at once the swaps whose check is still waiting (swap_check.js)."""
    try:
        page.evaluate("() => window.__vipSwapFlush && window.__vipSwapFlush()")
    except Exception as error:  # a closed or crashed page has nothing left to check
        print(f"could not check the last swaps: {error}")


@pytest.fixture
def locale():
    """Override per module or test for another browser language."""
    return "sv-SE"


@pytest.fixture
def page(request, new_context, locale):
    context = new_context(locale=locale)
    page = context.new_page()
    yield page
    failed = any(
        getattr(request.node, f"rep_{when}", None) is not None
        and getattr(request.node, f"rep_{when}").failed
        for when in ("setup", "call")
    )
    if not page.is_closed():
        check_last_swaps(page)
    if failed and not page.is_closed():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(SCREENSHOTS / f"FAILED-{name}.png"), full_page=True)
        except Exception as error:  # the screenshot must never hide the failure itself
            print(f"could not save a failure screenshot: {error}")
    page.close()


@pytest.fixture
def demo_ids(app, monkeypatch) -> dict[str, object]:
    """The demo (`vip demo`), a webhook endpoint, Erik's second factor and a three-year
    commitment waiting for the vendor's answer (Lindholmen Arkitekter AB), and the ids and
    tokens the every-screen tests' pages need (`PAGES` of test_every_screen.py)."""
    public_dns(monkeypatch, {"hooks.reseller.example": "93.184.216.34"})
    with app.test_request_context():
        load_demo(today=TODAY, password=PASSWORD)
        anna, erik = (
            db.session.scalar(sa.select(User.id).where(User.email == SIGN_INS[who]))
            for who in (PARTNER_ADMIN, TWO_FACTOR)
        )
        webhook, _ = subscribe(anna, "https://hooks.reseller.example/vip", description="CRM")
        enrol_two_factor(erik, now=clock.now())

        def customer(name: str) -> int:
            return db.session.scalar(sa.select(Customer.id).where(Customer.company_name == name))

        bryggeri = customer("Bryggeriet i Norr AB")
        pas = PurchaseAuthorization
        ids = {
            "kund": customer("Kund AB"),
            "bryggeri": bryggeri,
            "arkitekter": customer("Lindholmen Arkitekter AB"),
            "pending_pa": db.session.scalar(
                sa.select(pas.id)
                .where(pas.customer_id == bryggeri, pas.status == AuthorizationStatus.PENDING)
                .order_by(pas.id)
                .limit(1)
            ),
            "open_order": db.session.scalar(
                sa.select(Order.id).where(Order.customer_id == bryggeri).order_by(Order.id.desc())
            ),
            "invitation_token": token_for(
                db.session.scalar(
                    sa.select(Invitation)
                    .join(Customer)
                    .where(Customer.company_name == "Nordljus Design AB")
                )
            ),
            "set_password_token": set_password_token(
                db.session.scalar(sa.select(User).where(User.email == "erik@reseller.example"))
            ),
        }
        ids["webhook"] = webhook
        ids["ordered_pa"] = db.session.scalar(
            sa.select(Order.authorization_id).where(Order.id == ids["open_order"])
        )
        # A 3YC waiting for the vendor's answer: the customer page offers its answer dialog.
        request_commitment(
            user=db.session.get(User, anna),
            customer_id=ids["arkitekter"],
            today=TODAY,
            minimum_quantity=20,
            requested_on=TODAY - timedelta(days=5),
        )
        db.session.remove()
    return ids
