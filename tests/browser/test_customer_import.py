"""Kunder → Importera in a real browser, in Swedish: upload a file with problems (listed in
place, by row and column, nothing imported), upload the corrected file, see the preview,
import, and find the customers in the list. And the Reseller settings page by keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.test_foundation_flows import collect_errors, sign_in
from tests.browser.test_purchase_authorizations import screenshot

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"


@pytest.fixture
def app_config(tmp_path):
    return {"VIP_IMPORT_DIR": str(tmp_path / "imports")}


def csv_file(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "text/csv", "buffer": data}


def test_import_a_file_after_fixing_its_problems(page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.goto(f"{live_server}/customers")
    page.get_by_role("link", name="Importera").click()
    expect(page.get_by_role("heading", name="Importera kunder")).to_be_visible()
    page.evaluate("window.__marker = 1")

    # A file with problems: listed in place, with row and column; nothing imported.
    bad = (
        (FIXTURES / "every-problem.csv")
        .read_bytes()
        .replace(b"EXISTING1", tenants.b.customer.vip_id.encode())
    )
    page.locator("#import-file").set_input_files(csv_file("kunder.csv", bad))
    page.get_by_role("button", name="Kontrollera filen").click()
    problems = page.locator("#import-problems tbody tr")
    expect(problems).to_have_count(12)
    expect(page.locator("#import-result")).to_contain_text("Ingenting importerades")
    expect(problems.nth(0)).to_contain_text("Okänd SKU NOSUCHSKU.")
    expect(page.locator("#import-result")).to_contain_text("Det här VIP ID:t finns redan")
    assert page.evaluate("window.__marker") == 1, "checking the file reloaded the page"
    screenshot(page, "customer-import-problems.png")

    # The corrected file: a preview, then the import.
    good = (FIXTURES / "excel-sv-cp1252-semicolon.csv").read_bytes()
    page.locator("#import-file").set_input_files(csv_file("kunder.csv", good))
    page.get_by_role("button", name="Kontrollera filen").click()
    expect(page.locator("#import-customers")).to_have_text("4")
    expect(page.locator("#import-problems")).to_have_count(0)
    screenshot(page, "customer-import-preview.png")
    page.locator("#import-run").click()
    expect(page).to_have_url(f"{live_server}/customers?sort=name")
    expect(page.locator("#flash")).to_contain_text("4 kunder importerades")
    page.locator("#q").fill("Åkerblom")
    expect(page.locator("#customer-results")).to_contain_text("Åkerblom Arkitekter AB")
    expect(page.locator("#customer-results")).to_contain_text("5500000001")
    assert errors == []


def test_reseller_settings_by_keyboard(page, live_server, tenants):
    errors = collect_errors(page)
    sign_in(page, live_server, tenants.a.admin.email)
    page.get_by_role("link", name="Inställningar").click()
    expect(page.get_by_role("heading", name="Inställningar för återförsäljaren")).to_be_visible()
    expect(page.locator("#name")).to_be_focused()
    page.locator("#contact_email").fill("order@a.example")
    page.locator("#contact_phone").fill("+46 8 555 000 11")
    page.locator("#contact_phone").press("Enter")
    expect(page.locator("#flash")).to_contain_text("Inställningarna för återförsäljaren sparades.")
    expect(page.locator("#contact_email")).to_have_value("order@a.example")
    # Bad input: the error at its field, in Swedish.
    page.locator("#contact_email").fill("inte en adress")
    page.locator("#contact_email").press("Enter")
    expect(page.locator("#contact_email-error")).to_have_text("Ange en giltig e-postadress.")
    expect(page.locator("#contact_email")).to_have_attribute("aria-invalid", "true")
    screenshot(page, "reseller-settings-error.png")
    assert errors == []
