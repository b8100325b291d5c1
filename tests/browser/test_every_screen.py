"""Every page on every screen and for every user (README, "Every screen, every user").

One sweep per language over `PAGES`, the one list of the app's pages, with the demo's data
so that tables are full: at 390 px wide (a phone) and 640 px (a 1280 px laptop at 200 %
zoom) the page itself never scrolls sideways, and axe-core (vendored in
tests/browser/vendor/axe-core/) finds no serious or critical violation on the page and on
every dialog it opens. `test_every_page_is_in_the_sweep` makes a page added later join it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import PASSWORD, TODAY
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
from vip.services.invitations import token_for

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
#: A 1280 x 800 laptop at 200 % zoom has this many CSS pixels.
ZOOMED_LAPTOP = {"width": 640, "height": 400}
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"


#: The dialogs the sweep must have opened (on every page that offers one of them).
DIALOGS = {
    "/customers/N/authorizations/new",
    "/authorizations/N/order/new",
    "/orders/N/return/new",
    "/customers/N/renewal/new",
    "/customers/N/commitment/request",
}


@dataclass(frozen=True)
class Page:
    """A page of the app: its endpoint, its path (`str.format` with the demo's ids, see
    `demo_ids`) and who opens it: "anonymous", "partner admin" or "VIP admin"."""

    endpoint: str
    path: str
    who: str
    #: Parts axe-core leaves out: only the third-party Swagger UI widget of the API
    #: reference, whose own markup has known violations (README, "Every screen, every user").
    not_axe: tuple[str, ...] = ()


PARTNER_ADMIN = "partner admin"
VIP_ADMIN = "VIP admin"
ANONYMOUS = "anonymous"
#: A user with a second factor, between the password and the code.
TWO_FACTOR = "two-factor user"
SIGN_INS = {
    PARTNER_ADMIN: "anna@reseller.example",
    VIP_ADMIN: "it@kund.example",
    TWO_FACTOR: "erik@reseller.example",
}

#: Every page of the app, in the order the sweep opens them (one login per user).
PAGES = (
    Page("auth.login", "/login", ANONYMOUS),
    Page("invitations.accept", "/invitations/{invitation_token}", ANONYMOUS),
    Page("invitations.accept", "/invitations/not-a-valid-link", ANONYMOUS),
    Page("auth.set_password", "/account/set-password/{set_password_token}", ANONYMOUS),
    Page("home.index", "/", PARTNER_ADMIN),
    Page("customers.index", "/customers", PARTNER_ADMIN),
    Page("customers.new", "/customers/new", PARTNER_ADMIN),
    Page("customers.details", "/customers/{kund}", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/info", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/plans", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/orders", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{kund}/renewals", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{arkitekter}/renewals", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/timeline", PARTNER_ADMIN),
    Page("customers.tab", "/customers/{bryggeri}/history", PARTNER_ADMIN),
    Page("authorizations.new", "/customers/{bryggeri}/authorizations/new", PARTNER_ADMIN),
    Page("orders.record_order_form", "/authorizations/{pending_pa}/order/new", PARTNER_ADMIN),
    Page("orders.return_form", "/orders/{open_order}/return/new", PARTNER_ADMIN),
    Page("orders.return_for_authorization", "/authorizations/{ordered_pa}/return", PARTNER_ADMIN),
    Page("orders.returns_queue", "/returns", PARTNER_ADMIN),
    Page("renewals.index", "/renewals", PARTNER_ADMIN),
    Page("renewals.pipeline_chart", "/renewals/pipeline", PARTNER_ADMIN),
    Page("renewals.record_form", "/customers/{kund}/renewal/new", PARTNER_ADMIN),
    Page("commitments.new_request", "/customers/{bryggeri}/commitment/request", PARTNER_ADMIN),
    Page("commitments.answer", "/customers/{kund}/commitment/answer", PARTNER_ADMIN),
    Page("outbox.index", "/outbox", PARTNER_ADMIN),
    Page("outbox.preview", "/outbox/preview", PARTNER_ADMIN),
    Page("team.index", "/team", PARTNER_ADMIN),
    Page("settings.index", "/settings", PARTNER_ADMIN),
    Page("calendar_feed.index", "/account/calendar", PARTNER_ADMIN),
    Page("auth.change_password", "/account/password", PARTNER_ADMIN),
    Page("customer_import.index", "/customers/import", PARTNER_ADMIN),
    Page("security_log.index", "/security-log", PARTNER_ADMIN),
    Page("webhooks.index", "/settings/webhooks", PARTNER_ADMIN),
    Page("webhooks.edit", "/settings/webhooks/{webhook}", PARTNER_ADMIN),
    Page("webhooks.deliveries", "/settings/webhooks/{webhook}/deliveries", PARTNER_ADMIN),
    Page("auth.two_factor", "/account/two-factor", PARTNER_ADMIN),
    Page("api_keys.index", "/settings/api-keys", PARTNER_ADMIN),
    Page("api_reference.reference", "/api/v1/docs", PARTNER_ADMIN, not_axe=("#api-reference",)),
    Page("errors", "/customers/999999/info", PARTNER_ADMIN),
    Page("admin_console.home", "/console", VIP_ADMIN),
    Page("admin_console.choose", "/console/choose", VIP_ADMIN),
    Page("admin_console.index", "/console/{kund}", VIP_ADMIN),
    Page("auth.change_password", "/account/password", VIP_ADMIN),
    Page("auth.second_factor", "/login/code", TWO_FACTOR),
)

#: GET endpoints that are no page: files, feeds, health, and fragments only htmx asks for
#: (the pages holding them are in the sweep); `customer_import.progress` is opened by
#: the sweep after its upload (it needs the upload's token).
#: The API's routes answer JSON (its reference page is in `PAGES`).
API = "/api/v1/"
NOT_PAGES = {
    "static": "files",
    "home.health": "plain text for load balancers",
    "home.dashboard_section": "a section of the dashboard, refreshed by htmx",
    "renewals.export": "CSV",
    "calendar_feed.feed": "ICS",
    "customer_import.sample": "CSV",
    "customer_import.problems_csv": "CSV",
    "security_log.export": "CSV",
    "api_reference.openapi_document": "JSON",
    "customer_import.progress": "opened by the sweep after its upload",
}


def test_every_page_is_in_the_sweep(app):
    """A GET route added later must join `PAGES` (or say in `NOT_PAGES` why it is no page);
    a tab added to the customer page too."""
    swept = {page.endpoint for page in PAGES}
    missing = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        if rule.rule.startswith(API) and rule.endpoint not in swept:
            continue  # JSON for other systems (docs/api.md)
        if rule.endpoint not in swept and rule.endpoint not in NOT_PAGES:
            missing.append(rule.endpoint)
        if rule.endpoint == "customers.tab":
            tabs = rule._converters["tab"].items
            swept_tabs = {p.path.rsplit("/", 1)[1] for p in PAGES if p.endpoint == rule.endpoint}
            missing += [f"customers.tab {tab}" for tab in sorted(tabs - swept_tabs)]
    assert missing == [], missing


@pytest.fixture
def demo_ids(app, monkeypatch) -> dict[str, object]:
    """The demo (`vip demo`), a webhook endpoint and Erik's second factor, and the ids and
    tokens `PAGES` need."""
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
        db.session.remove()
    return ids


def run_axe(page, context: str = "document", exclude: tuple[str, ...] = ()) -> list[str]:
    """axe-core's serious and critical violations on the page (or in `context`, a CSS
    selector, but for `exclude`), one line per rule with its first targets."""
    return page.evaluate(
        """async ([selector, exclude]) => {
          const include = selector === "document" ? document : document.querySelector(selector);
          const within = [include === document ? "html" : selector];
          const context = exclude.length
            ? { include: [within], exclude: exclude.map((e) => [e]) }
            : include;
          const results = await axe.run(context, { resultTypes: ["violations"] });
          return results.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                        v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(", "));
        }""",
        [context, list(exclude)],
    )


def horizontal_overflow(page) -> str | None:
    """None when the page does not scroll sideways; else what sticks out the furthest."""
    return page.evaluate(
        """() => {
          const width = window.innerWidth;
          if (document.documentElement.scrollWidth <= width) return null;
          let widest = null, right = width;
          const clipped = (element) => {
            let up = element.parentElement;
            for (; up && up !== document.body; up = up.parentElement) {
              if (getComputedStyle(up).overflowX !== "visible") return true;
            }
            return false;
          };
          for (const element of document.body.querySelectorAll("*")) {
            const box = element.getBoundingClientRect();
            if (box.right <= right + 0.5 || clipped(element)) continue;
            if (box.right > right + 0.5 && getComputedStyle(element).position !== "fixed") {
              right = box.right;
              widest = element;
            }
          }
          const name = widest ? widest.tagName.toLowerCase() + (widest.id ? "#" + widest.id : "")
            + (widest.className && typeof widest.className === "string"
               ? "." + widest.className.trim().split(/\\s+/).join(".") : "") : "?";
          return `scrollWidth ${document.documentElement.scrollWidth} > ${width}: ${name}`;
        }"""
    )


def dialog_openers(page) -> list[str]:
    """One opener of each kind of dialog on the page (by its URL with the ids taken out)."""
    return page.evaluate(
        """() => {
          const seen = new Set(), ids = [];
          document.querySelectorAll("[data-opens-dialog]").forEach((el, index) => {
            const kind = (el.getAttribute("hx-get") || "").replace(/\\d+/g, "N");
            if (seen.has(kind) || !el.checkVisibility()) return;
            seen.add(kind);
            el.setAttribute("data-sweep-opener", String(index));
            ids.push(`[data-sweep-opener="${index}"]`);
          });
          return ids;
        }"""
    )


class Sweep:
    """Opens pages and dialogs and writes down what is wrong with them."""

    def __init__(self, page, language: str):
        self.page = page
        self.language = language
        self.problems: list[str] = []
        self.dialogs: set[str] = set()

    def check(self, label: str, not_axe: tuple[str, ...] = ()) -> None:
        page = self.page
        page.set_viewport_size(PHONE)
        overflow = horizontal_overflow(page)
        if overflow:
            self.problems.append(f"{label} at 390 px: {overflow}")
        for violation in run_axe(page, exclude=not_axe):
            self.problems.append(f"{label}: {violation}")
        page.set_viewport_size(ZOOMED_LAPTOP)
        overflow = horizontal_overflow(page)
        if overflow:
            self.problems.append(f"{label} at 640 px: {overflow}")
        page.set_viewport_size(PHONE)

    def visit(self, path: str, not_axe: tuple[str, ...] = ()) -> None:
        response = self.page.goto(path)
        assert response is not None
        self.page.wait_for_load_state()
        label = f"[{self.language}] {path}"
        expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        self.check(label, not_axe)
        for opener in dialog_openers(self.page):
            self.check_dialog(label, opener)

    def check_dialog(self, label: str, opener: str) -> None:
        page = self.page
        name = page.locator(opener).inner_text().strip()
        self.dialogs.add(re.sub(r"\d+", "N", page.locator(opener).get_attribute("hx-get")))
        page.locator(opener).click()
        dialog = page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        label = f"{label} dialog {name!r}"
        for size in (PHONE, ZOOMED_LAPTOP):
            page.set_viewport_size(size)
            box = dialog.bounding_box()
            if box["x"] < 0 or box["x"] + box["width"] > size["width"] + 0.5:
                self.problems.append(f"{label} at {size['width']} px: wider than the screen")
            overflow = page.evaluate(
                "() => { const d = document.querySelector('dialog[open]');"
                " return d.scrollWidth > d.clientWidth ? d.scrollWidth - d.clientWidth : 0; }"
            )
            if overflow:
                self.problems.append(f"{label} at {size['width']} px: scrolls {overflow} px")
        page.set_viewport_size(PHONE)
        for violation in run_axe(page, "dialog[open]"):
            self.problems.append(f"{label}: {violation}")
        page.keyboard.press("Escape")
        expect(page.locator("dialog")).to_have_count(0)

    def open_menu(self) -> None:
        """The header's menu, on a narrow screen a button that opens it."""
        summary = self.page.locator("details.nav-menu > summary")
        closed = self.page.locator("details.nav-menu[open]").count() == 0
        if summary.count() and summary.is_visible() and closed:
            summary.click()

    def switch_language(self) -> None:
        if self.page.locator("html").get_attribute("lang") != self.language:
            self.open_menu()
            self.page.locator(f'.language-switcher button[value="{self.language}"]').click()
            expect(self.page.locator("html")).to_have_attribute("lang", self.language)

    def sign_in(self, email: str) -> None:
        page = self.page
        page.goto("/login")
        self.switch_language()
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form button[type=submit].primary").click()
        expect(page.locator("#email")).to_have_count(0)
        self.switch_language()

    def sign_out(self) -> None:
        self.open_menu()
        self.page.locator("form[action$='/logout'] button").click()
        expect(self.page.locator("#email")).to_be_visible()

    def import_pages(self) -> None:
        """The import page with a checked file's problems, then a valid file's preview and
        its progress page."""
        page = self.page
        page.goto("/customers/import")
        page.locator("#import-file").set_input_files(str(FIXTURES / "every-problem.csv"))
        page.locator("#import-upload button[type=submit]").click()
        expect(page.locator("#import-problems")).to_be_visible()
        self.check(f"[{self.language}] /customers/import with problems")
        page.locator("#import-file").set_input_files(str(FIXTURES / "utf8-bom-comma.csv"))
        page.locator("#import-upload button[type=submit]").click()
        run_form = page.locator("#import-result form[action*='/run']")
        expect(run_form).to_be_visible()
        self.check(f"[{self.language}] /customers/import preview")
        token = re.search(r"/customers/import/(\w+)/run", run_form.get_attribute("action"))
        self.visit(f"/customers/import/{token.group(1)}/progress")


@pytest.mark.parametrize("language", ["sv", "en"])
def test_every_page_fits_a_phone_and_passes_axe(demo_ids, live_server, new_context, language):
    context = new_context(locale="sv-SE" if language == "sv" else "en-GB", viewport=PHONE)
    context.add_init_script(path=str(AXE))
    sweep = Sweep(context.new_page(), language)
    signed_in = ANONYMOUS
    for page_spec in PAGES:
        if page_spec.who != signed_in:
            if signed_in != ANONYMOUS:
                sweep.sign_out()
            sweep.sign_in(SIGN_INS[page_spec.who])
            signed_in = page_spec.who
            if page_spec.who == PARTNER_ADMIN:
                sweep.import_pages()
        sweep.visit(page_spec.path.format(**demo_ids), page_spec.not_axe)
    assert sweep.problems == [], "\n".join(sweep.problems)
    assert sweep.dialogs >= DIALOGS


def test_the_header_menu_works_by_keyboard_on_a_phone(demo_ids, live_server, new_context):
    """At 390 px the navigation and the account tools are behind one menu button (a
    <details>): Tab reaches it, Enter opens it, Tab walks its links, Esc closes it. On a
    wide screen the same links are in the header, with no button."""
    context = new_context(viewport=PHONE)
    page = context.new_page()
    Sweep(page, "sv").sign_in("anna@reseller.example")
    menu = page.locator("details.nav-menu")
    button = menu.locator("summary")
    customers = page.locator(".main-nav").get_by_role("link", name="Kunder", exact=True)
    expect(button).to_be_visible()
    expect(customers).to_be_hidden()

    page.locator("body").focus()
    for _ in range(3):  # the skip link, the brand, the menu button
        page.keyboard.press("Tab")
    expect(button).to_be_focused()
    expect(button).to_have_text("Meny")
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    expect(customers).to_be_visible()
    expect(page.locator(".main-nav a").first).to_have_attribute("aria-current", "page")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(customers).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/customers$"))
    expect(customers).to_be_hidden()  # a new page: the menu is closed again

    page.locator("details.nav-menu > summary").focus()
    page.keyboard.press("Space")
    expect(customers).to_be_visible()
    expect(page.locator(".nav-menu").get_by_role("button", name="Logga ut")).to_be_visible()
    page.keyboard.press("Escape")
    expect(customers).to_be_hidden()
    expect(button).to_be_focused()
    assert horizontal_overflow(page) is None

    page.set_viewport_size({"width": 1280, "height": 800})
    expect(button).to_be_hidden()
    expect(customers).to_be_visible()
    expect(page.locator(".header-tools").get_by_role("button", name="Logga ut")).to_be_visible()


def test_swapped_results_are_announced_and_focus_stays_put(demo_ids, live_server, new_context):
    """The customer search's result count is read out by the page's live region; the outbox
    filter that replaced itself gives focus to its successor. (Every browser test checks
    every swap its user causes in the same way: tests/browser/swap_check.js.)"""
    page = new_context(viewport=PHONE).new_page()
    Sweep(page, "sv").sign_in("anna@reseller.example")
    page.goto("/customers")
    page.locator("#q").press_sequentially("Kund AB", delay=20)
    expect(page.locator("#customer-results tbody tr")).to_have_count(1)
    expect(page.locator("#announcer")).to_have_text("1 kund")
    expect(page.locator("#q")).to_be_focused()

    page.goto("/outbox")
    page.locator("#outbox-filter-failed").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=failed"))
    expect(page.locator("#outbox-filter-failed")).to_have_attribute("aria-current", "page")
    expect(page.locator("#outbox-filter-failed")).to_be_focused()


def test_the_swap_check_finds_a_swap_nobody_hears(demo_ids, live_server, chromium):
    """swap_check.js itself: a swap that changes the page out of sight of focus and of any
    live region is reported."""
    from tests.browser.conftest import SWAP_CHECK, TIMEOUT_MS

    context = chromium.new_context(locale="sv-SE", base_url=live_server, viewport=PHONE)
    context.set_default_timeout(TIMEOUT_MS)
    unheard: list[str] = []
    context.expose_function("__vipSwapProblem", lambda problem: unheard.append(problem))
    context.add_init_script(path=str(SWAP_CHECK))
    try:
        page = context.new_page()
        page.goto("/login")
        page.wait_for_load_state()
        page.evaluate(
            """() => {
              const button = document.createElement("button");
              button.id = "silent";
              button.setAttribute("hx-get", "/healthz");
              button.setAttribute("hx-target", "#silent-target");
              const target = document.createElement("div");
              target.id = "silent-target";
              document.querySelector("main").append(button, target);
              htmx.process(button);
            }"""
        )
        page.locator("#silent").click()
        expect(page.locator("#silent-target")).to_have_text("ok")
        page.evaluate("() => window.__vipSwapFlush()")
        page.evaluate("() => 0")  # the report reaches Python on the next call
        assert len(unheard) == 1, unheard
        assert "button#silent" in unheard[0] and "no live region changed" in unheard[0]
    finally:
        context.close()
