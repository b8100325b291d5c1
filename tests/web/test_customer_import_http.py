"""Kunder → Importera over HTTP: upload, problems at their rows (and as CSV), preview,
import, progress for a large file, sample files, CSRF, roles and tenant isolation."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import HX
from vip.extensions import db
from vip.models import Customer, Notification, User

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "import"


@pytest.fixture
def app_config(tmp_path):
    return {"VIP_IMPORT_DIR": str(tmp_path / "imports")}


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def upload(client, data: bytes, name: str = "kunder.csv", invite: bool = True, headers=None):
    form = {"file": (io.BytesIO(data), name)}
    if invite:
        form["invite"] = "1"
    return client.post(
        "/customers/import", data=form, content_type="multipart/form-data", headers=headers or {}
    )


def token_of(page: str) -> str:
    marker = "/customers/import/"
    start = page.index(marker, page.index('id="import-result"')) + len(marker)
    return page[start : start + 32]


def customers_of(app, reseller_id: int) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(Customer).where(Customer.reseller_id == reseller_id)
        )


def set_language(app, user_id: int, language: str) -> None:
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


@pytest.fixture
def admin(app, tenants, login_as):
    set_language(app, tenants.a.admin.id, "en")
    login_as(tenants.a.admin)
    return tenants.a.admin


def test_the_import_page_offers_the_upload_and_both_sample_files(client, admin):
    page = client.get("/customers/import").text
    assert 'enctype="multipart/form-data"' in page and 'name="file"' in page
    assert "/customers/import/sample-sv.csv" in page and "/customers/import/sample-en.csv" in page
    assert "/customers/import" in client.get("/customers").text  # linked from Customers


@pytest.mark.parametrize("language", ["sv", "en"])
def test_each_sample_file_imports_as_it_is(app, client, admin, tenants, language):
    sample = client.get(f"/customers/import/sample-{language}.csv")
    assert sample.status_code == 200 and sample.mimetype == "text/csv"
    response = upload(client, sample.data, f"sample-{language}.csv")
    assert response.status_code == 200, response.text
    assert 'id="import-customers">2<' in response.text


def test_a_file_with_problems_lists_them_and_writes_nothing(app, client, admin, tenants):
    before = customers_of(app, tenants.a.reseller.id)
    existing = tenants.b.customer.vip_id
    data = fixture("every-problem.csv").replace(b"EXISTING1", existing.encode())
    response = upload(client, data, headers=HX)
    assert response.status_code == 422
    page = response.text
    assert page.startswith('<section id="import-result"') and "<html" not in page
    assert 'id="import-problem-count">12<' in page
    assert "This VIP ID already exists in the console." in page
    assert "Reseller B" not in page  # never whose
    assert "Nothing was imported." in page
    assert customers_of(app, tenants.a.reseller.id) == before
    # Every problem as CSV, with row and column.
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/customers/import/{token_of(page)}/problems.csv").text.lstrip("\ufeff")
            )
        )
    )
    assert rows[0] == ["Row", "Column", "Problem"] and len(rows) == 13
    assert ["10", "vip_id", "This VIP ID already exists in the console."] in rows


def test_a_valid_file_previews_then_imports(app, client, admin, tenants):
    before = customers_of(app, tenants.a.reseller.id)
    response = upload(client, fixture("excel-sv-cp1252-semicolon.csv"), headers=HX)
    assert response.status_code == 200
    page = response.text
    assert 'id="import-customers">4<' in page and "Invitations to mail" in page
    assert customers_of(app, tenants.a.reseller.id) == before  # a preview writes nothing
    token = token_of(page)
    done = client.post(f"/customers/import/{token}/run", headers=HX)
    assert done.status_code == 204 and done.headers["HX-Redirect"].startswith("/customers")
    assert customers_of(app, tenants.a.reseller.id) == before + 4
    listing = client.get("/customers?q=Åkerblom").text
    assert "Åkerblom Arkitekter AB" in listing
    # The same upload cannot run twice.
    client.post(f"/customers/import/{token}/run")
    assert customers_of(app, tenants.a.reseller.id) == before + 4


def test_without_javascript_the_import_redirects_with_a_message(app, client, admin, tenants):
    page = upload(client, fixture("utf8-bom-comma.csv"), invite=False).text
    assert "<html" in page
    response = client.post(f"/customers/import/{token_of(page)}/run")
    assert response.status_code == 303
    assert "2 customers were imported" in client.get(response.headers["Location"]).text
    with app.app_context():
        assert not db.session.scalar(
            select(Notification.id).where(Notification.recipient == "dana@delta.example")
        )


def test_a_large_file_imports_in_the_background_with_progress(app, client, admin, tenants):
    header = "company_name,admin_name,admin_email,anniversary_date,license_type,sku,quantity\n"
    rows = "".join(
        f"Bolag {n} AB,Admin {n},admin{n}@bolag.example,2027-06-01,Team,65910101BA01A12,"
        f"{n % 9 + 1}\n"
        for n in range(1_200)
    )
    page = upload(client, (header + rows).encode(), invite=False, headers=HX).text
    token = token_of(page)
    started = client.post(f"/customers/import/{token}/run", headers=HX)
    assert started.status_code == 200
    assert 'hx-trigger="every 1s"' in started.text or "were imported" in started.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = client.get(f"/customers/import/{token}/progress", headers=HX).text
        if "were imported" in state:
            break
        assert "<progress" in state
        time.sleep(0.2)
    assert "1,200 customers were imported" in state or "1200 customers were imported" in state
    assert customers_of(app, tenants.a.reseller.id) >= 1_200


def test_no_file_is_refused_at_the_field(client, admin):
    response = client.post("/customers/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file." in response.text


def test_only_a_partner_admin_imports(app, client, tenants, login_as):
    login_as(tenants.a.sales)
    assert client.get("/customers/import").status_code == 403
    assert upload(client, fixture("utf8-bom-comma.csv")).status_code == 403


def test_another_resellers_upload_is_not_found(app, client, tenants, login_as, admin):
    page = upload(client, fixture("utf8-bom-comma.csv")).text
    token = token_of(page)
    client.post("/logout")
    set_language(app, tenants.b.admin.id, "en")
    login_as(tenants.b.admin)
    assert client.get(f"/customers/import/{token}/progress").status_code == 404
    assert client.post(f"/customers/import/{token}/run").status_code == 404
    assert client.get(f"/customers/import/{token}/problems.csv").status_code == 404
    assert customers_of(app, tenants.b.reseller.id) == 1


def test_the_swedish_page(app, client, tenants, login_as):
    set_language(app, tenants.a.admin.id, "sv")
    login_as(tenants.a.admin)
    page = client.get("/customers/import").text
    assert "Importera kunder" in page and "Kontrollera filen" in page


@pytest.mark.parametrize("csrf", [True])
def test_the_upload_needs_its_csrf_token(app, client, tenants, csrf):
    import re

    from tests.conftest import PASSWORD

    app.config["WTF_CSRF_ENABLED"] = csrf
    login_page = client.get("/login").text
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    signed_in = client.post(
        "/login",
        data={"email": tenants.a.admin.email, "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 303
    assert upload(client, fixture("utf8-bom-comma.csv")).status_code == 400
    page = client.get("/customers/import").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"file": (io.BytesIO(fixture("utf8-bom-comma.csv")), "k.csv"), "csrf_token": token}
    response = client.post("/customers/import", data=form, content_type="multipart/form-data")
    assert response.status_code == 200
    assert customers_of(app, tenants.a.reseller.id) == 1  # checked, not imported


def test_a_customer_imported_without_invitation_can_be_invited_later(app, client, admin, tenants):
    page = upload(client, fixture("utf8-bom-comma.csv"), invite=False).text
    client.post(f"/customers/import/{token_of(page)}/run")
    with app.app_context():
        customer_id = db.session.scalar(select(Customer.id).where(Customer.vip_id == "6600000001"))
    info = client.get(f"/customers/{customer_id}/info").text
    assert "No VIP invitation has been sent to dana@delta.example yet." in info
    response = client.post(f"/customers/{customer_id}/invitation/resend")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(
            select(Notification.id).where(
                Notification.recipient == "dana@delta.example", Notification.kind == "invitation"
            )
        )
    # Sent now (VIP information shows it, never its link: S57).
    after = client.get(f"/customers/{customer_id}/info").text
    assert "Sent to dana@delta.example." in after and "/invitations/" not in after
