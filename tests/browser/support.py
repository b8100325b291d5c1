"""What the every-screen browser tests share (README, "Every screen, every user"): the
screen sizes, axe-core (vendored in tests/browser/vendor/axe-core/), the demo's users, and
`Sweep`, which opens pages and dialogs and writes down what is wrong with them: sideways
scroll at 390 and 640 px, and axe-core's serious and critical violations."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import expect

from tests.conftest import PASSWORD

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
    "/customers/N/commitment/answer",
}

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
#: The browser's locale for each of the app's languages.
LOCALES = {"sv": "sv-SE", "en": "en-GB"}


def run_axe(page, context: str = "document") -> list[str]:
    """axe-core's serious and critical violations on the page (or in `context`, a CSS
    selector), one line per rule with its first targets."""
    return page.evaluate(
        """async (selector) => {
          const context = selector === "document" ? document : document.querySelector(selector);
          const results = await axe.run(context, { resultTypes: ["violations"] });
          return results.violations
            .filter((v) => v.impact === "serious" || v.impact === "critical")
            .map((v) => `${v.impact} ${v.id}: ${v.help} at ` +
                        v.nodes.slice(0, 4).map((n) => n.target.join(" ")).join(", "));
        }""",
        context,
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

    def check(self, label: str) -> None:
        page = self.page
        page.set_viewport_size(PHONE)
        overflow = horizontal_overflow(page)
        if overflow:
            self.problems.append(f"{label} at 390 px: {overflow}")
        for violation in run_axe(page):
            self.problems.append(f"{label}: {violation}")
        page.set_viewport_size(ZOOMED_LAPTOP)
        overflow = horizontal_overflow(page)
        if overflow:
            self.problems.append(f"{label} at 640 px: {overflow}")
        page.set_viewport_size(PHONE)

    def visit(self, path: str) -> None:
        response = self.page.goto(path)
        assert response is not None
        self.page.wait_for_load_state()
        label = f"[{self.language}] {path}"
        expect(self.page.locator("html")).to_have_attribute("lang", self.language)
        self.check(label)
        for opener in dialog_openers(self.page):
            self.check_dialog(label, opener)

    def check_dialog(self, label: str, opener: str) -> None:
        page = self.page
        name = page.locator(opener).inner_text().strip()
        self.dialogs.add(re.sub(r"\d+", "N", page.locator(opener).get_attribute("hx-get")))
        page.locator(opener).click()
        expect(page.locator("dialog[open]")).to_be_visible()
        self.check_open_dialog(f"{label} dialog {name!r}")
        page.keyboard.press("Escape")
        expect(page.locator("dialog")).to_have_count(0)

    def check_open_dialog(self, label: str) -> None:
        """The open dialog fits 390 and 640 px without scrolling sideways; axe finds nothing
        serious or critical in it."""
        page = self.page
        dialog = page.locator("dialog[open]")
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


def sweep_for(new_context, language: str) -> Sweep:
    """A phone-sized browser context in `language` with axe-core loaded on every page."""
    context = new_context(locale=LOCALES[language], viewport=PHONE)
    context.add_init_script(path=str(AXE))
    return Sweep(context.new_page(), language)
