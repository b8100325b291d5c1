"""Renewals over HTTP: the Översikt av förlängningar (R8) with its filters, pages and CSV
export (S18 formula neutralising, S15 escaping), recording a renewal order in its dialog
(R9), the customer's Renewals tab and the renewal badges, with S10 (another reseller's
customers answer 404 and never appear) and S13 (CSRF)."""

from __future__ import annotations

import csv
import html as htmllib
import io
import re
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select, update

from tests.conftest import HX, PASSWORD, TODAY, product_id
from tests.support import in_app
from vip.extensions import db
from vip.models import (
    AuditEvent,
    Customer,
    CustomerStatus,
    LicenseAssignment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    User,
)
from vip.services.customers import create_customer
from vip.services.terms import add_months

PHOTOSHOP_RENEWAL_SKU = "65910202BA02A12"
ILLUSTRATOR_RENEWAL_SKU = "65910303BA02A12"
ENGLISH_HEADERS = [
    "Company name",
    "VIP ID",
    "VIP admin",
    "Customer status",
    "Renewal status",
    "Anniversary date",
    "Renewal window opens",
    "Access removed on",
    "Product",
    "SKU",
    "Renewal SKU",
    "Licenses",
    "Assigned",
    "Suggested renewal quantity",
    "Discount level",
    "3YC state",
    "3YC minimum",
    "3YC ends",
]
SWEDISH_HEADERS = [
    "Företagsnamn",
    "VIP ID",
    "VIP-administratör",
    "Kundstatus",
    "Förlängningsstatus",
    "Årsdag",
    "Förlängningsperioden öppnar",
    "Åtkomsten tas bort",
    "Produkt",
    "SKU",
    "Förlängnings-SKU",
    "Licenser",
    "Tilldelade",
    "Föreslaget antal att förlänga",
    "Rabattnivå",
    "3YC-läge",
    "3YC-minimum",
    "3YC upphör",
]


# --- helpers -------------------------------------------------------------------------------


def text_of(page: str) -> str:
    """The page's text, tags dropped and whitespace folded, for reading messages."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def element(page: str, tag: str, id_: str) -> str:
    match = re.search(rf'<{tag}\b[^>]*\bid="{re.escape(id_)}"[^>]*>.*?</{tag}>', page, re.S)
    assert match, f"no <{tag} id={id_}>"
    return match.group(0)


def input_tag(page: str, name: str) -> str:
    match = re.search(rf'<input[^>]*\bname="{re.escape(name)}"[^>]*>', page)
    assert match, f"no input {name}"
    return match.group(0)


def attr(tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', tag)
    return htmllib.unescape(match.group(1)) if match else None


def set_language(app, user, language: str) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user.id).values(language=language))
        db.session.commit()


def due_customer(
    app,
    tenant,
    name: str,
    anniversary: date | None,
    *,
    lines=(("Photoshop", 5),),
    assigned=(),
    raw_name: str | None = None,
) -> int:
    """A customer of `tenant` whose current term runs to `anniversary`, holding `lines`
    (product name, quantity) with `assigned` (product name, user email) in use.
    `raw_name` is written as is, past the service's whitespace folding."""
    with in_app(app):
        admin = db.session.get(User, tenant.admin.id)
        customer = create_customer(
            user=admin,
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name="Kund Admin",
            admin_email=f"it-{re.sub(r'[^a-z0-9]', '', name.lower())[:30]}@kund.example",
            admin_language="sv",
        )
        if anniversary is not None:
            order = Order(
                customer_id=customer.id,
                vendor_order_number=f"NEW{customer.id:08d}",
                order_type=OrderType.NEW,
                order_date=add_months(anniversary, -12),
                duration_months=12,
                term_ends_on=anniversary,
                status=OrderStatus.PLACED,
            )
            db.session.add(order)
            for product, quantity in lines:
                db.session.add(
                    OrderLine(
                        order=order,
                        product_id=product_id(product, "team", "commercial"),
                        sku="SKU-" + product[:10],
                        quantity=quantity,
                        status=OrderStatus.PLACED,
                    )
                )
            customer.anniversary_date = anniversary
            customer.status = CustomerStatus.ACTIVE  # its VIP admin accepted the invitation
            customer.invitations[0].accepted_at = customer.invitations[0].created_at
        for product, email in assigned:
            db.session.add(
                LicenseAssignment(
                    customer_id=customer.id,
                    product_id=product_id(product, "team", "commercial"),
                    user_email=email,
                )
            )
        if raw_name is not None:
            customer.company_name = raw_name
        db.session.commit()
        return customer.id


def customer_row(app, customer_id: int) -> dict:
    with in_app(app):
        customer = db.session.get(Customer, customer_id)
        return {
            "anniversary": customer.anniversary_date,
            "status": customer.status,
            "vip_id": customer.vip_id,
            "name": customer.company_name,
        }


def snapshot(app, *, ignore_denials: bool = True) -> dict:
    """What recording a renewal may change. A 404 or 403 audits the denial (S22)."""
    audit_filter = (
        [~AuditEvent.action.like("access.denied%")] if ignore_denials else [AuditEvent.id > 0]
    )
    with in_app(app):
        return {
            "orders": db.session.scalar(select(func.count()).select_from(Order)),
            "lines": db.session.scalar(select(func.count()).select_from(OrderLine)),
            "audit": db.session.scalar(
                select(func.count()).select_from(AuditEvent).where(*audit_filter)
            ),
            "customers": sorted(
                db.session.execute(
                    select(Customer.id, Customer.status, Customer.anniversary_date)
                ).all()
            ),
            "mail": sorted(db.session.execute(select(Notification.id, Notification.status)).all()),
        }


def panel_of(page: str, customer_id: int) -> str:
    """The customer's renewal panel of the Renewals tab (it holds nested divs)."""
    match = re.search(
        rf'<div id="renewal-panel-{customer_id}".*?(?=<div id="dialog-slot")', page, re.S
    )
    assert match, f"no renewal panel {customer_id}"
    return match.group(0)


def row_ids(page: str) -> list[int]:
    """The customers of the overview, in the order shown."""
    return [int(n) for n in re.findall(r'<tbody id="renewal-row-(\d+)"', page)]


def read_csv(response) -> tuple[str, list[list[str]]]:
    """The export's delimiter and rows (header first), parsed back with the csv module."""
    body = response.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    body = body[1:]
    delimiter = ";" if body.split("\r\n", 1)[0].count(";") > 0 else ","
    return delimiter, list(csv.reader(io.StringIO(body, newline=""), delimiter=delimiter))


@pytest.fixture
def admin(tenants, login_as):
    """Tenant a's reseller_admin (Swedish UI), signed in."""
    return login_as(tenants.a.admin)


# The standard overview of tenant a: anniversaries at these offsets from today. Names are
# plain ASCII so that sorting by name agrees on SQLite and PostgreSQL.
OFFSETS = {
    "Hotel AB": 91,  # not yet listed
    "Alfa AB": 90,  # upcoming
    "Golf AB": 45,  # upcoming
    "Charlie AB": 31,  # upcoming
    "India AB": 30,  # window open
    "Bravo AB": 1,  # window open
    "Foxtrot AB": 0,  # in grace
    "Delta AB": -29,  # in grace
    "Echo AB": -30,  # overdue (access removed today)
    "Juliett AB": -31,  # gone from the overview
}
LISTED = {name for name, offset in OFFSETS.items() if -30 <= offset <= 90}


@pytest.fixture
def overview(app, tenants) -> dict[str, int]:
    """Tenant a's customers of OFFSETS, and one of tenant b's in its window: name -> id."""
    ids = {
        name: due_customer(
            app,
            tenants.a,
            name,
            TODAY + timedelta(days=offset),
            lines=(("Photoshop", 5), ("Illustrator", 3)),
            assigned=(("Illustrator", f"user@{name[:4].lower()}.example"),),
        )
        for name, offset in OFFSETS.items()
    }
    ids["Other Reseller AB"] = due_customer(
        app, tenants.b, "Other Reseller AB", TODAY + timedelta(days=10)
    )
    return ids


def names_of(overview: dict[str, int], ids: list[int]) -> list[str]:
    by_id = {value: key for key, value in overview.items()}
    return [by_id[i] for i in ids]


# --- R8 the overview page ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_r8_overview_is_a_full_page_or_the_results_partial(
    client, tenants, login_as, overview, role
):
    login_as(getattr(tenants.a, role))
    full = client.get("/renewals")
    assert full.status_code == 200
    page = full.get_data(as_text=True)
    assert "<html" in page and 'id="renewal-filter"' in page
    assert '<div id="renewal-results"' in page
    assert "HX-Request" in full.headers.get("Vary", "")

    partial = client.get("/renewals", headers=HX)
    assert partial.status_code == 200
    fragment = partial.get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="renewal-results"')
    assert "<html" not in fragment and 'id="renewal-filter"' not in fragment
    assert "HX-Request" in partial.headers.get("Vary", "")
    assert set(names_of(overview, row_ids(fragment))) == LISTED
    assert row_ids(fragment) == row_ids(page)


def test_r8_overview_lists_customers_from_90_days_before_to_the_end_of_grace(
    app, client, admin, overview
):
    set_language(app, _user(app, "a-admin@example.com"), "en")
    page = client.get("/renewals").get_data(as_text=True)
    shown = names_of(overview, row_ids(page))
    assert set(shown) == LISTED
    assert "Hotel AB" not in page and "Juliett AB" not in page
    # S10: never another reseller's customer.
    assert "Other Reseller AB" not in page
    # Sorted by anniversary by default.
    assert shown == sorted(LISTED, key=OFFSETS.get)
    expected_stage = {
        "Alfa AB": "upcoming",
        "Golf AB": "upcoming",
        "Charlie AB": "upcoming",
        "India AB": "window_open",
        "Bravo AB": "window_open",
        "Foxtrot AB": "in_grace",
        "Delta AB": "in_grace",
        "Echo AB": "overdue",
    }
    for name, stage in expected_stage.items():
        row = element(page, "tbody", f"renewal-row-{overview[name]}")
        assert f'class="badge renewal-{stage}"' in row, name
    # Each renewable product with its renewal SKU, current, assigned and suggested count.
    row = element(page, "tbody", f"renewal-row-{overview['Bravo AB']}")
    cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    # (after the anniversary, status, level and 3YC cells that span the customer's rows)
    assert cells[2:4] == ["Nivå 1", "–"] or cells[2:4] == ["Level 1", "–"]
    assert cells[4].startswith("Illustrator")
    assert [ILLUSTRATOR_RENEWAL_SKU, "3", "1", "3"] == cells[5:9]
    assert cells[10].startswith("Photoshop")
    assert [PHOTOSHOP_RENEWAL_SKU, "5", "0", "5"] == cells[11:15]
    bravo = text_of(row)
    assert "1 day to the anniversary" in bravo
    assert "window opens Oct 31, 2026" in bravo
    assert "access removed Dec 30, 2026" in bravo
    # Recording a renewal is offered once the window is open, not before it.
    assert f"/customers/{overview['Bravo AB']}/renewal/new" in row
    upcoming = element(page, "tbody", f"renewal-row-{overview['Alfa AB']}")
    assert "/renewal/new" not in upcoming


def _user(app, email: str) -> User:
    with in_app(app):
        user = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(user)
        return user


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stage=upcoming", {"Alfa AB", "Golf AB", "Charlie AB"}),
        ("stage=window_open", {"India AB", "Bravo AB"}),
        ("stage=in_grace", {"Foxtrot AB", "Delta AB"}),
        ("stage=overdue", {"Echo AB"}),
        ("window=30", {"India AB", "Bravo AB", "Foxtrot AB", "Delta AB", "Echo AB"}),
        ("window=60", LISTED - {"Alfa AB"}),
        ("window=90", LISTED),
        ("window=60&stage=upcoming", {"Golf AB", "Charlie AB"}),
        ("window=30&stage=upcoming", set()),
        ("q=golf", {"Golf AB"}),
        ("q=GOLF&stage=upcoming", {"Golf AB"}),
        ("q=golf&stage=overdue", set()),
        ("q=user%40", set()),  # assigned users' emails are not searched
        ("q=it-alfaab%40kund", {"Alfa AB"}),  # the VIP admin's email is
        ("q=Other+Reseller", set()),  # S10
        ("q=Hotel", set()),
    ],
)
def test_r8_filters_narrow_the_overview(client, admin, overview, query, expected):
    response = client.get(f"/renewals?{query}", headers=HX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert set(names_of(overview, row_ids(page))) == expected
    if not expected:
        assert 'class="empty"' in page
    # The export link carries the same filter.
    export = attr(re.search(r'<a[^>]*id="renewal-export"[^>]*>', page).group(0), "href")
    assert export.startswith("/renewals/export.csv")
    for part in query.split("&"):
        key, value = part.split("=")
        if key != "q":
            assert f"{key}={value}" in export


def test_r8_search_by_vip_id(app, client, admin, overview):
    vip_id = customer_row(app, overview["Charlie AB"])["vip_id"]
    page = client.get(f"/renewals?q={vip_id}", headers=HX).get_data(as_text=True)
    assert names_of(overview, row_ids(page)) == ["Charlie AB"]
    other = customer_row(app, overview["Other Reseller AB"])["vip_id"]
    page = client.get(f"/renewals?q={other}", headers=HX).get_data(as_text=True)
    assert row_ids(page) == []


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("anniversary", "anniversary", False),
        ("-anniversary", "anniversary", True),
        ("name", "name", False),
        ("-name", "name", True),
        ("vip_id", "vip_id", False),
        ("-vip_id", "vip_id", True),
    ],
)
def test_r8_sort(app, client, admin, overview, sort, key, reverse):
    page = client.get(f"/renewals?sort={sort}", headers=HX).get_data(as_text=True)
    rows = {name: customer_row(app, overview[name]) for name in LISTED}
    expected = sorted(LISTED, key=lambda name: rows[name][key], reverse=reverse)
    assert names_of(overview, row_ids(page)) == expected
    # The hidden field keeps the sort for the next filter submit (full page).
    full = client.get(f"/renewals?sort={sort}").get_data(as_text=True)
    assert attr(input_tag(full, "sort"), "value") == sort


@pytest.mark.parametrize("app_config", [{"VIP_PAGE_SIZE": 3}])
def test_r8_pages(client, tenants, login_as, overview):
    login_as(tenants.a.sales)  # English UI
    ordered = sorted(LISTED, key=OFFSETS.get)
    seen = []
    for number in (1, 2, 3):
        page = client.get(f"/renewals?page={number}", headers=HX).get_data(as_text=True)
        shown = names_of(overview, row_ids(page))
        assert len(shown) == (3 if number < 3 else 2)
        assert f"Page {number} of 3" in text_of(page)
        seen += shown
    assert seen == ordered
    # Out of range pages show the nearest one.
    last = client.get("/renewals?page=99", headers=HX).get_data(as_text=True)
    assert names_of(overview, row_ids(last)) == ordered[6:]
    first = client.get("/renewals?page=0", headers=HX).get_data(as_text=True)
    assert names_of(overview, row_ids(first)) == ordered[:3]
    # The filter carries across pages.
    graced = client.get("/renewals?window=30&page=2", headers=HX).get_data(as_text=True)
    assert names_of(overview, row_ids(graced)) == ["Bravo AB", "India AB"]
    assert 'rel="prev"' in graced and "window=30" in graced


@pytest.mark.parametrize(
    "query",
    [
        "window=45",
        "window=abc",
        "window=-1",
        "stage=bogus",
        "stage=UPCOMING",
        "sort=drop+table",
        "sort=--name",
        "sort=password",
        "page=abc",
        "page=-5",
        "page=99999999999999999999999",
        "q=%00%01%1f",
        "q=" + "x" * 500,
        "q=%25",
        "q=_",
        "q=%5C",
        "q='%3B--",
    ],
)
def test_r8_unknown_filter_values_are_ignored(client, admin, overview, query):
    response = client.get(f"/renewals?{query}", headers=HX)
    assert response.status_code == 200
    shown = set(names_of(overview, row_ids(response.get_data(as_text=True))))
    if query.startswith(("window", "stage", "sort", "page")):
        assert shown == LISTED  # as if the value had not been given
    else:
        assert shown <= LISTED
    export = client.get(f"/renewals/export.csv?{query}")
    assert export.status_code == 200


def test_r8_literal_percent_and_underscore_in_search(app, client, admin, tenants):
    plain = due_customer(app, tenants.a, "Plain Name AB", TODAY + timedelta(days=10))
    odd = due_customer(app, tenants.a, "Fifty % Off_Shop AB", TODAY + timedelta(days=10))
    page = client.get("/renewals?q=%25", headers=HX).get_data(as_text=True)
    assert row_ids(page) == [odd]
    page = client.get("/renewals?q=_", headers=HX).get_data(as_text=True)
    assert row_ids(page) == [odd]
    page = client.get("/renewals?q=plain", headers=HX).get_data(as_text=True)
    assert row_ids(page) == [plain]


def test_r8_vip_admin_is_refused_the_overview_and_the_export(client, tenants, login_as, overview):
    login_as(tenants.a.vip_admin)
    assert client.get("/renewals").status_code == 403
    assert client.get("/renewals", headers=HX).status_code == 403
    export = client.get("/renewals/export.csv")
    assert export.status_code == 403
    assert "Alfa AB" not in export.get_data(as_text=True)


def test_s10_other_resellers_overview_shows_only_its_own(app, client, tenants, login_as, overview):
    login_as(tenants.b.sales)
    page = client.get("/renewals").get_data(as_text=True)
    assert row_ids(page) == [overview["Other Reseller AB"]]
    for name in LISTED:
        assert name not in page
    _, rows = read_csv(client.get("/renewals/export.csv"))
    assert {row[0] for row in rows[1:]} == {"Other Reseller AB"}


def test_r8_overview_runs_a_constant_number_of_queries(app, client, admin, tenants):
    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            due_customer(
                app,
                tenants.a,
                f"Kund {n:03d} AB",
                TODAY + timedelta(days=n % 120 - 30),
                lines=(("Photoshop", 5), ("Illustrator", 2), ("InDesign", 1)),
                assigned=(("Photoshop", f"p{n}@kund.example"), ("InDesign", f"i{n}@kund.example")),
            )

    def statements(url: str) -> int:
        with app.app_context():
            engine = db.engine
        seen: list[str] = []

        def count(conn, cursor, statement, parameters, context, executemany):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get(url)
            assert response.status_code == 200
            response.get_data()
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    add(3, 0)
    client.get("/renewals")  # warm up
    small = statements("/renewals")
    small_hx = statements("/renewals?stage=window_open&sort=name")
    page = client.get("/renewals").get_data(as_text=True)
    assert len(row_ids(page)) == 3
    add(27, 3)
    page = client.get("/renewals").get_data(as_text=True)
    assert len(row_ids(page)) == 25  # a full page, with the pagination
    assert statements("/renewals") == small
    assert statements("/renewals?stage=window_open&sort=name") == small_hx


# --- R8 the CSV export ---------------------------------------------------------------------


def test_r8_export_is_streamed_utf8_csv_with_a_bom(client, admin, overview):
    response = client.get("/renewals/export.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        response.headers["Content-Disposition"] == 'attachment; filename="renewals-2026-11-29.csv"'
    )
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.count(b"\xef\xbb\xbf") == 1
    assert body.endswith(b"\r\n")


def test_r8_export_in_swedish_uses_semicolons_and_swedish_headers(app, client, admin, overview):
    delimiter, rows = read_csv(client.get("/renewals/export.csv"))
    assert delimiter == ";"
    assert rows[0] == SWEDISH_HEADERS
    vip_id = customer_row(app, overview["Bravo AB"])["vip_id"]
    bravo = [row for row in rows[1:] if row[0] == "Bravo AB"]
    anniversary = TODAY + timedelta(days=1)
    assert bravo == [
        [
            "Bravo AB",
            vip_id,
            "it-bravoab@kund.example",
            "Aktiv",
            "Förlängningsperioden öppen",
            anniversary.isoformat(),  # Swedish short date
            (anniversary - timedelta(days=30)).isoformat(),
            (anniversary + timedelta(days=30)).isoformat(),
            "Illustrator",
            "65910303BA01A12",
            ILLUSTRATOR_RENEWAL_SKU,
            "3",
            "1",
            "3",
            "1",  # its discount level; no three-year commitment
            "",
            "",
            "",
        ],
        [
            "Bravo AB",
            vip_id,
            "it-bravoab@kund.example",
            "Aktiv",
            "Förlängningsperioden öppen",
            anniversary.isoformat(),
            (anniversary - timedelta(days=30)).isoformat(),
            (anniversary + timedelta(days=30)).isoformat(),
            "Photoshop",
            "65910202BA01A12",
            PHOTOSHOP_RENEWAL_SKU,
            "5",
            "0",
            "5",
            "1",
            "",
            "",
            "",
        ],
    ]


def test_r8_export_follows_the_language_switch_to_english(app, client, admin, overview):
    switched = client.post("/language", data={"language": "en", "next": "/renewals"})
    assert switched.status_code == 303
    delimiter, rows = read_csv(client.get("/renewals/export.csv"))
    assert delimiter == ","
    assert rows[0] == ENGLISH_HEADERS
    echo = [row for row in rows[1:] if row[0] == "Echo AB"]
    assert [row[8] for row in echo] == ["Illustrator", "Photoshop"]
    anniversary = TODAY - timedelta(days=30)  # 30 October 2026
    assert echo[0][3:8] == ["Active", "Overdue, access removed", "10/30/26", "9/30/26", "11/29/26"]
    # And the user's stored language is what the next session gets.
    assert _user(app, "a-admin@example.com").language == "en"
    assert anniversary.month == 10


def test_r8_export_in_the_users_own_language(client, tenants, login_as, overview):
    login_as(tenants.a.sales)  # English user
    delimiter, rows = read_csv(client.get("/renewals/export.csv"))
    assert delimiter == "," and rows[0] == ENGLISH_HEADERS


def test_r8_export_has_one_row_per_customer_and_product(app, client, admin, overview, tenants):
    empty = due_customer(app, tenants.a, "Nothing Left AB", TODAY + timedelta(days=5), lines=())
    returned = due_customer(
        app, tenants.a, "All Returned AB", TODAY + timedelta(days=5), lines=(("Photoshop", 2),)
    )
    with in_app(app):
        db.session.execute(
            update(OrderLine)
            .where(OrderLine.order_id.in_(select(Order.id).where(Order.customer_id == returned)))
            .values(status=OrderStatus.RETURNED)
        )
        db.session.commit()
    _, rows = read_csv(client.get("/renewals/export.csv"))
    keys = [(row[0], row[8]) for row in rows[1:]]
    assert len(keys) == len(set(keys))
    assert sorted(keys) == sorted(
        (name, product) for name in LISTED for product in ("Illustrator", "Photoshop")
    )
    assert all(len(row) == len(SWEDISH_HEADERS) for row in rows)
    # A customer with nothing to renew is on the page but has no rows to export.
    page = client.get("/renewals", headers=HX).get_data(as_text=True)
    assert empty in row_ids(page) and returned in row_ids(page)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "stage=upcoming",
        "stage=window_open",
        "stage=in_grace",
        "stage=overdue",
        "window=30",
        "window=60",
        "window=90&sort=-name",
        "q=a+ab&sort=vip_id",
        "q=o&stage=in_grace&sort=-anniversary",
        "stage=nonsense&window=7",
    ],
)
def test_r8_export_applies_the_filters_exactly_as_the_page(app, client, admin, overview, query):
    page = client.get(f"/renewals?{query}", headers=HX).get_data(as_text=True)
    page_vip_ids = [customer_row(app, i)["vip_id"] for i in row_ids(page)]
    _, rows = read_csv(client.get(f"/renewals/export.csv?{query}"))
    export_vip_ids = []
    for row in rows[1:]:
        if not export_vip_ids or export_vip_ids[-1] != row[1]:
            export_vip_ids.append(row[1])
    assert export_vip_ids == page_vip_ids  # same customers, same order


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("http://evil")',
        "+1",
        "-2",
        "@SUM(A1)",
        "\tTabbed AB",
        "\rReturn AB",
        "=1+1;cmd",
    ],
)
def test_s18_export_neutralises_formulas(app, client, admin, tenants, name):
    due_customer(app, tenants.a, "Formula Placeholder", TODAY + timedelta(days=3), raw_name=name)
    for language in ("sv", "en"):
        client.post("/language", data={"language": language})
        delimiter, rows = read_csv(client.get("/renewals/export.csv"))
        assert delimiter == (";" if language == "sv" else ",")
        cells = [row[0] for row in rows[1:]]
        assert cells == ["'" + name]
        # No cell at all starts with a formula character.
        for row in rows:
            for cell in row:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_s18_vip_admin_email_column_is_neutralised_too(app, client, admin, tenants):
    customer_id = due_customer(app, tenants.a, "Email Formula AB", TODAY + timedelta(days=3))
    with in_app(app):
        db.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(admin_email="=cmd|'/c calc'!A0@evil.example")
        )
        db.session.commit()
    _, rows = read_csv(client.get("/renewals/export.csv"))
    assert rows[1][2] == "'=cmd|'/c calc'!A0@evil.example"


def test_s18_harmless_text_and_numbers_are_not_prefixed(app, client, admin, tenants):
    due_customer(app, tenants.a, "Acme 1=1 AB", TODAY + timedelta(days=3))
    _, rows = read_csv(client.get("/renewals/export.csv"))
    assert rows[1][0] == "Acme 1=1 AB"
    assert rows[1][11:15] == ["5", "0", "5", "1"]


def test_s15_script_in_a_name_is_literal_in_csv_and_escaped_in_html(app, client, admin, tenants):
    name = "<script>alert(1)</script>"
    customer_id = due_customer(app, tenants.a, name, TODAY + timedelta(days=3))
    _, rows = read_csv(client.get("/renewals/export.csv"))
    assert rows[1][0] == name
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    for url, headers in (
        ("/renewals", {}),
        ("/renewals", HX),
        ("/renewals?q=script", HX),
        (f"/customers/{customer_id}/renewals", {}),
        (f"/customers/{customer_id}/renewal/new", HX),
        (f"/customers/{customer_id}/renewal/new", {}),
    ):
        page = client.get(url, headers=headers).get_data(as_text=True)
        assert escaped in page, url
        assert "<script>alert(1)" not in page, url


def test_r8_quotes_semicolons_and_newlines_survive_a_csv_round_trip(app, client, admin, tenants):
    name = 'Semi;colon, "Quoted"\nNew line AB'
    due_customer(app, tenants.a, "Round Trip", TODAY + timedelta(days=3), raw_name=name)
    for language in ("sv", "en"):
        client.post("/language", data={"language": language})
        _, rows = read_csv(client.get("/renewals/export.csv"))
        assert len(rows) == 2
        assert rows[1][0] == name
        assert rows[1][8] == "Photoshop"


def test_s10_export_has_only_the_resellers_own_customers(app, client, admin, overview):
    _, rows = read_csv(client.get("/renewals/export.csv"))
    names = {row[0] for row in rows[1:]}
    assert names == LISTED
    other = customer_row(app, overview["Other Reseller AB"])["vip_id"]
    assert all(row[1] != other for row in rows)
    _, rows = read_csv(client.get(f"/renewals/export.csv?q={other}"))
    assert rows[1:] == []


# --- R9 the renewal dialog -----------------------------------------------------------------


@pytest.fixture
def due(app, tenants) -> int:
    """Tenant a's customer 10 days before its anniversary (9 December 2026), with Photoshop
    5 and Illustrator 3 (2 of them assigned), and a queued reminder of this cycle."""
    customer_id = due_customer(
        app,
        tenants.a,
        "Förnyas AB",
        TODAY + timedelta(days=10),
        lines=(("Photoshop", 5), ("Illustrator", 3)),
        assigned=(("Illustrator", "one@kund.example"), ("Illustrator", "two@kund.example")),
    )
    with in_app(app):
        db.session.add(
            Notification(
                customer_id=customer_id,
                kind="renewal_due",
                cycle_key=(TODAY + timedelta(days=10)).isoformat(),
                recipient="it@kund.example",
                subject="Förnya",
                body_text="x",
                body_html="<p>x</p>",
                status=NotificationStatus.QUEUED,
            )
        )
        db.session.commit()
    return customer_id


def renewal_form(**overrides) -> dict:
    data = {
        "vendor_order_number": "RENEW123456",
        "order_date": TODAY.isoformat(),
    }
    data.update(overrides)
    return data


def quantities(app, **by_product) -> dict:
    with in_app(app):
        return {
            f"quantity-{product_id(name, 'team', 'commercial')}": str(q)
            for name, q in by_product.items()
        }


def test_r9_dialog_is_an_htmx_dialog_or_a_full_page(app, client, tenants, login_as, due):
    login_as(tenants.a.sales)
    with in_app(app):
        photoshop = product_id("Photoshop", "team", "commercial")
        illustrator = product_id("Illustrator", "team", "commercial")
    response = client.get(f"/customers/{due}/renewal/new", headers=HX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<dialog id="renewal-dialog"')
    assert "<html" not in page
    assert "Förnyas AB" in page
    assert PHOTOSHOP_RENEWAL_SKU in page and ILLUSTRATOR_RENEWAL_SKU in page
    assert attr(input_tag(page, f"quantity-{photoshop}"), "value") == "5"
    assert attr(input_tag(page, f"quantity-{illustrator}"), "value") == "3"
    assert attr(input_tag(page, f"quantity-{illustrator}"), "min") == "2"  # assigned
    date_input = input_tag(page, "order_date")
    assert attr(date_input, "value") == TODAY.isoformat()
    assert attr(date_input, "max") == TODAY.isoformat()
    assert attr(date_input, "min") == "2026-11-09"  # the window opened 30 days before
    assert attr(input_tag(page, "vendor_order_number"), "value") in (None, "")
    form = re.search(r'<form id="renewal-form"[^>]*>', page).group(0)
    assert attr(form, "hx-post") == f"/customers/{due}/renewal"
    assert "December 9, 2026" in page

    full = client.get(f"/customers/{due}/renewal/new")
    assert full.status_code == 200
    page = full.get_data(as_text=True)
    assert "<html" in page and 'id="renewal-form"' in page
    assert 'id="renewal-dialog"' not in page
    assert attr(re.search(r'<form id="renewal-form"[^>]*>', page).group(0), "hx-post") is None
    assert attr(input_tag(page, f"quantity-{photoshop}"), "value") == "5"


def test_r9_dialog_without_an_anniversary_redirects_to_the_tab(client, tenants, login_as):
    login_as(tenants.a.sales)
    response = client.get(f"/customers/{tenants.a.customer.id}/renewal/new")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].endswith(f"/customers/{tenants.a.customer.id}/renewals")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "has no anniversary date yet" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"vendor_order_number": ""}, "vendor_order_number", "Use 6 to 20 letters and digits."),
        ({"vendor_order_number": "AB1"}, "vendor_order_number", "Use 6 to 20 letters and digits."),
        (
            {"vendor_order_number": "NEW;DROP TABLE"},
            "vendor_order_number",
            "Use 6 to 20 letters and digits.",
        ),
        ({"order_date": ""}, "order_date", "Enter the order date."),
        ({"order_date": "2026-02-30"}, "order_date", "Not a valid date value."),
        ({"order_date": "2026-11-30"}, "order_date", "The order date cannot be in the future."),
        (
            {"order_date": "2026-11-07"},
            "order_date",
            "A renewal of the anniversary date December 9, 2026 is ordered from "
            "November 9, 2026 to January 8, 2027.",
        ),
        (
            {"Photoshop": "abc"},
            "Photoshop",
            "Enter a whole number (0 leaves the product out).",
        ),
        ({"Photoshop": ""}, "Photoshop", "Enter a whole number (0 leaves the product out)."),
        ({"Photoshop": "-1"}, "Photoshop", "Enter 0 or more."),
        ({"Photoshop": "10001"}, "Photoshop", "At most 10 000 licenses per product."),
        (
            {"Illustrator": "1"},
            "Illustrator",
            "2 licenses of Illustrator are assigned to users: renew at least 2, or ask the "
            "VIP admin to unassign some first.",
        ),
    ],
)
def test_r9_invalid_renewal_answers_422_at_the_field_and_writes_nothing(
    app, client, tenants, login_as, due, change, field, message
):
    login_as(tenants.a.sales)
    data = renewal_form()
    data.update(quantities(app, Photoshop=5, Illustrator=3))
    for key, value in change.items():
        if key in ("Photoshop", "Illustrator"):
            with in_app(app):
                data[f"quantity-{product_id(key, 'team', 'commercial')}"] = value
        else:
            data[key] = value
    before = snapshot(app)
    response = client.post(f"/customers/{due}/renewal", data=data, headers=HX)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert page.lstrip().startswith('<dialog id="renewal-dialog"')
    if field in ("Photoshop", "Illustrator"):
        with in_app(app):
            name = f"quantity-{product_id(field, 'team', 'commercial')}"
    else:
        name = field
    tag = input_tag(page, name)
    assert attr(tag, "aria-invalid") == "true"
    assert f"{name}-error" in (attr(tag, "aria-describedby") or "")
    error = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    assert error and message in text_of(error.group(1))
    # What the user typed is kept.
    for key, value in data.items():
        if key.startswith("quantity-"):
            assert attr(input_tag(page, key), "value") == value
    assert snapshot(app) == before
    # Without htmx the page comes back with the same error.
    plain = client.post(f"/customers/{due}/renewal", data=data)
    assert plain.status_code == 422
    assert "<html" in plain.get_data(as_text=True)
    assert snapshot(app) == before


def test_r9_renewing_nothing_is_refused(app, client, tenants, login_as):
    customer_id = due_customer(app, tenants.a, "Noll AB", TODAY + timedelta(days=10))
    login_as(tenants.a.sales)
    before = snapshot(app)
    data = {**renewal_form(), **quantities(app, Photoshop=0)}
    response = client.post(f"/customers/{customer_id}/renewal", data=data, headers=HX)
    assert response.status_code == 422
    assert "Renew at least one product." in text_of(response.get_data(as_text=True))
    # A product the customer does not hold is refused too.
    data = {**renewal_form(), **quantities(app, Photoshop=5, InDesign=2)}
    response = client.post(f"/customers/{customer_id}/renewal", data=data, headers=HX)
    assert response.status_code == 422
    assert "not among the customer's licenses" in text_of(response.get_data(as_text=True))
    assert snapshot(app) == before


def test_r9_vendor_order_number_already_recorded_is_refused(app, client, tenants, login_as, due):
    login_as(tenants.a.sales)
    before = snapshot(app)
    data = {
        **renewal_form(vendor_order_number=f"new{due:08d}"),
        **quantities(app, Photoshop=5, Illustrator=3),
    }
    response = client.post(f"/customers/{due}/renewal", data=data, headers=HX)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert attr(input_tag(page, "vendor_order_number"), "aria-invalid") == "true"
    assert "This vendor order number is already recorded." in text_of(page)
    assert snapshot(app) == before


def test_r9_htmx_renewal_moves_the_anniversary_and_answers_the_oob_updates(
    app, client, tenants, login_as, due
):
    login_as(tenants.a.sales)
    data = {**renewal_form(), **quantities(app, Photoshop=4, Illustrator=3)}
    response = client.post(f"/customers/{due}/renewal", data=data, headers=HX)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<html" not in page
    flash = element(page, "div", "flash")
    assert 'hx-swap-oob="innerHTML"' in flash
    assert (
        "Renewal RENEW123456 was recorded. The anniversary date moved from December 9, 2026 "
        "to December 9, 2027." in text_of(flash)
    )
    row = element(page, "tbody", f"renewal-row-{due}")
    assert 'hx-swap-oob="true"' in row and "RENEW123456" in row
    panel = re.search(rf'<div id="renewal-panel-{due}"[^>]*>', page).group(0)
    assert 'hx-swap-oob="true"' in panel
    assert "December 9, 2027" in text_of(page)
    assert re.search(rf'<span id="renewal-badge-{due}" hx-swap-oob="true"></span>', page)
    assert response.headers["HX-Reswap"] == "none"  # the dialog closes, by event
    assert response.headers["HX-Trigger-After-Settle"] == "vip:dialog-close"

    assert customer_row(app, due)["anniversary"] == date(2027, 12, 9)
    with in_app(app):
        order = db.session.scalar(select(Order).where(Order.vendor_order_number == "RENEW123456"))
        assert order.order_type == OrderType.RENEWAL
        assert order.customer_id == due and order.authorization_id is None
        assert order.order_date == TODAY and order.term_ends_on == date(2027, 12, 9)
        assert order.created_by_id == tenants.a.sales.id
        assert sorted((line.sku, line.quantity) for line in order.lines) == sorted(
            [(PHOTOSHOP_RENEWAL_SKU, 4), (ILLUSTRATOR_RENEWAL_SKU, 3)]
        )
        # The reminders of the renewed cycle are called off.
        reminder = db.session.scalar(select(Notification).where(Notification.kind == "renewal_due"))
        assert reminder.status == NotificationStatus.CANCELLED
        event_ = db.session.scalar(
            select(AuditEvent).where(AuditEvent.action == "renewal.recorded")
        )
        assert event_.customer_id == due and event_.actor_id == tenants.a.sales.id

    # A second post of the same form renews nothing twice.
    again = client.post(
        f"/customers/{due}/renewal",
        data={**data, "vendor_order_number": "RENEW654321"},
        headers=HX,
    )
    assert again.status_code == 422
    assert customer_row(app, due)["anniversary"] == date(2027, 12, 9)


def test_r9_plain_renewal_redirects_to_the_info_tab_with_its_history(
    app, client, tenants, login_as, due
):
    login_as(tenants.a.sales)  # English UI
    data = {**renewal_form(), **quantities(app, Photoshop=5, Illustrator=2)}
    response = client.post(f"/customers/{due}/renewal", data=data)
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/customers/{due}/info")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Renewal RENEW123456 was recorded." in text_of(page)
    text = text_of(_history(page))
    assert "Renewal history" in text
    assert "RENEW123456" in text
    assert f"Photoshop {PHOTOSHOP_RENEWAL_SKU} × 5" in text
    assert f"Illustrator {ILLUSTRATOR_RENEWAL_SKU} × 2" in text
    assert "a Sales" in text  # who recorded it
    assert "Nov 29, 2026" in text  # the order date
    # The anniversary moved on the VIP information too.
    assert "December 9, 2027" in text_of(page)


def _history(page: str) -> str:
    match = re.search(r'<section class="renewal-history".*?</section>', page, re.S)
    assert match, "no renewal history"
    return match.group(0)


def test_r9_renewal_history_in_swedish(app, client, tenants, login_as, due):
    login_as(tenants.a.admin)  # Swedish UI
    data = {
        **renewal_form(vendor_order_number="SVE123456"),
        **quantities(app, Photoshop=5, Illustrator=2),
    }
    assert client.post(f"/customers/{due}/renewal", data=data).status_code == 303
    page = client.get(f"/customers/{due}/info").get_data(as_text=True)
    text = text_of(_history(page))
    assert "Förlängningshistorik" in text
    assert "SVE123456" in text and "a Admin" in text
    assert f"Photoshop {PHOTOSHOP_RENEWAL_SKU} × 5" in text


def test_r9_no_renewal_history_before_the_first_renewal(client, tenants, login_as, due):
    login_as(tenants.a.sales)
    page = client.get(f"/customers/{due}/info").get_data(as_text=True)
    assert "No renewal recorded yet." in text_of(_history(page))


def test_s10_renewal_of_another_resellers_customer_answers_404(app, client, tenants, login_as, due):
    other = due_customer(app, tenants.b, "B Förnyas AB", TODAY + timedelta(days=10))
    login_as(tenants.a.admin)
    before = snapshot(app)
    assert client.get(f"/customers/{other}/renewal/new").status_code == 404
    assert client.get(f"/customers/{other}/renewal/new", headers=HX).status_code == 404
    data = {**renewal_form(), **quantities(app, Photoshop=5)}
    response = client.post(f"/customers/{other}/renewal", data=data)
    assert response.status_code == 404
    assert client.post(f"/customers/{other}/renewal", data=data, headers=HX).status_code == 404
    assert client.get(f"/customers/{other}/renewals").status_code == 404
    assert client.get("/customers/999999/renewal/new").status_code == 404
    assert snapshot(app) == before
    assert customer_row(app, other)["anniversary"] == TODAY + timedelta(days=10)


def test_r9_vip_admin_cannot_record_a_renewal(app, client, tenants, login_as):
    customer_id = tenants.a.customer.id
    with in_app(app):
        db.session.execute(
            update(Customer)
            .where(Customer.id == customer_id)
            .values(anniversary_date=TODAY + timedelta(days=10))
        )
        db.session.commit()
    login_as(tenants.a.vip_admin)
    before = snapshot(app)
    assert client.get(f"/customers/{customer_id}/renewal/new").status_code == 403
    data = {**renewal_form(), **quantities(app, Photoshop=5)}
    assert client.post(f"/customers/{customer_id}/renewal", data=data).status_code == 403
    assert client.post(f"/customers/{customer_id}/renewal", data=data, headers=HX).status_code == (
        403
    )
    assert snapshot(app) == before


def test_r9_renewal_over_get_is_not_allowed(client, tenants, login_as, due):
    login_as(tenants.a.sales)
    assert client.get(f"/customers/{due}/renewal").status_code == 405


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_s13_renewal_without_csrf_token_answers_400_and_writes_nothing(app, client, tenants, due):
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    signed_in = client.post(
        "/login",
        data={"email": tenants.a.sales.email, "password": PASSWORD, "csrf_token": token},
    )
    assert signed_in.status_code == 303
    data = {**renewal_form(), **quantities(app, Photoshop=5, Illustrator=3)}
    before = snapshot(app)
    assert client.post(f"/customers/{due}/renewal", data=data).status_code == 400
    assert (
        client.post(f"/customers/{due}/renewal", data={**data, "csrf_token": "forged"}).status_code
        == 400
    )
    htmx = client.post(f"/customers/{due}/renewal", data=data, headers=HX)
    assert htmx.status_code == 400 and htmx.headers.get("HX-Refresh") == "true"
    assert snapshot(app) == before
    # The dialog's own token works.
    dialog = client.get(f"/customers/{due}/renewal/new", headers=HX).get_data(as_text=True)
    token = _csrf_token(dialog)
    ok = client.post(f"/customers/{due}/renewal", data={**data, "csrf_token": token}, headers=HX)
    assert ok.status_code == 200
    assert customer_row(app, due)["anniversary"] == date(2027, 12, 9)


# --- R8/R9 the customer's Renewals tab and the badges -------------------------------------


def test_r8_renewals_tab_shows_the_stage_dates_and_products(app, client, tenants, login_as, due):
    login_as(tenants.a.sales)
    response = client.get(f"/customers/{due}/renewals")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    panel = panel_of(page, due)
    assert 'class="badge renewal-window_open"' in panel
    text = text_of(panel)
    assert "Renewal window open" in text
    assert "10 days to the anniversary" in text
    assert "Renewal window opens November 9, 2026" in text
    assert "Anniversary date December 9, 2026" in text
    assert "Access removed on January 8, 2027" in text
    assert f"Photoshop 65910202BA01A12 {PHOTOSHOP_RENEWAL_SKU} 5 0 5" in text
    assert f"Illustrator 65910303BA01A12 {ILLUSTRATOR_RENEWAL_SKU} 3 2 3" in text
    assert f'href="/customers/{due}/renewal/new"' in panel
    # htmx asks for the tab only.
    partial = client.get(f"/customers/{due}/renewals", headers=HX).get_data(as_text=True)
    assert "<html" not in partial and f'id="renewal-panel-{due}"' in partial


def test_r8_renewals_tab_before_the_overview_and_without_anniversary(
    app, client, tenants, login_as
):
    later = due_customer(app, tenants.a, "Senare AB", date(2027, 6, 1))
    login_as(tenants.a.sales)
    text = text_of(client.get(f"/customers/{later}/renewals").get_data(as_text=True))
    assert (
        "Anniversary date June 1, 2027. Renewable licenses appear here and in the renewals "
        "overview from March 3, 2027 (90 days before)." in text
    )
    upcoming = due_customer(app, tenants.a, "Snart AB", TODAY + timedelta(days=60))
    page = client.get(f"/customers/{upcoming}/renewals").get_data(as_text=True)
    panel = panel_of(page, upcoming)
    assert 'class="badge renewal-upcoming"' in panel
    assert "window opens in 30 days" in text_of(panel)
    assert "A renewal order can be recorded from December 29, 2026." in text_of(panel)
    assert "/renewal/new" not in panel
    none = client.get(f"/customers/{tenants.a.customer.id}/renewals").get_data(as_text=True)
    assert "No anniversary date yet" in text_of(none)


BADGE = re.compile(r'<span id="renewal-badge-(\d+)" class="badge renewal-([a-z_]+)">')


def badges(page: str) -> dict[int, str]:
    return {int(cid): stage for cid, stage in BADGE.findall(page)}


@pytest.mark.parametrize(
    ("offset", "stage"),
    [
        (200, None),
        (31, None),  # upcoming: in the overview, but no badge yet
        (30, "window_open"),
        (1, "window_open"),
        (0, "in_grace"),
        (-29, "in_grace"),
        (-30, "overdue"),
        (-90, "overdue"),
    ],
)
def test_r8_badges_on_the_list_and_details_from_30_days_before(
    app, client, tenants, login_as, offset, stage
):
    customer_id = due_customer(app, tenants.a, "Märkt AB", TODAY + timedelta(days=offset))
    login_as(tenants.a.admin)
    listing = client.get("/customers").get_data(as_text=True)
    details = client.get(f"/customers/{customer_id}/info").get_data(as_text=True)
    header = re.search(r'<p class="subtitle">.*?</p>', details, re.S).group(0)
    if stage is None:
        assert customer_id not in badges(listing)
        assert badges(header) == {}
    else:
        assert badges(listing).get(customer_id) == stage
        assert badges(header) == {customer_id: stage}


@pytest.mark.parametrize(
    ("app_config", "stage"),
    [
        ({"VIP_TODAY": "2026-12-15"}, None),  # AD-31
        ({"VIP_TODAY": "2026-12-16"}, "window_open"),  # AD-30
        ({"VIP_TODAY": "2027-01-15"}, "in_grace"),  # AD
        ({"VIP_TODAY": "2027-02-13"}, "in_grace"),  # AD+29
        ({"VIP_TODAY": "2027-02-14"}, "overdue"),  # AD+30
    ],
)
def test_r8_badges_follow_the_apps_clock(app, client, tenants, login_as, stage):
    customer_id = due_customer(app, tenants.a, "Klocka AB", date(2027, 1, 15))
    login_as(tenants.a.admin)
    listing = client.get("/customers").get_data(as_text=True)
    assert badges(listing).get(customer_id) == stage


def test_r9_no_badge_after_a_renewal(app, client, tenants, login_as, due):
    login_as(tenants.a.sales)
    assert badges(client.get("/customers").get_data(as_text=True)).get(due) == "window_open"
    data = {**renewal_form(), **quantities(app, Photoshop=5, Illustrator=3)}
    assert client.post(f"/customers/{due}/renewal", data=data).status_code == 303
    assert due not in badges(client.get("/customers").get_data(as_text=True))
    details = client.get(f"/customers/{due}/info").get_data(as_text=True)
    assert badges(details) == {}
    # And the customer left the overview.
    assert due not in row_ids(client.get("/renewals").get_data(as_text=True))


def test_r9_renewal_in_grace_and_after_access_removal(app, client, tenants, login_as):
    """Late renewals are allowed until the window closes; an inactive customer is active
    again."""
    late = due_customer(app, tenants.a, "Sen AB", TODAY - timedelta(days=30))
    with in_app(app):
        db.session.execute(
            update(Customer).where(Customer.id == late).values(status=CustomerStatus.INACTIVE)
        )
        db.session.commit()
    login_as(tenants.a.sales)
    dialog = client.get(f"/customers/{late}/renewal/new", headers=HX).get_data(as_text=True)
    assert attr(input_tag(dialog, "order_date"), "value") == TODAY.isoformat()
    data = {**renewal_form(vendor_order_number="LATE123456"), **quantities(app, Photoshop=5)}
    response = client.post(f"/customers/{late}/renewal", data=data, headers=HX)
    assert response.status_code == 200
    row = customer_row(app, late)
    assert row["anniversary"] == add_months(TODAY - timedelta(days=30), 12)
    assert row["status"] == CustomerStatus.ACTIVE
    assert 'class="badge status-active"' in response.get_data(as_text=True)


def test_r11_after_the_window_a_renewal_keeps_its_dates_and_a_new_order_starts_over(
    app, client, tenants, login_as
):
    """The renewal window closes at AD+30 (the issue's rule): a renewal ordered later is
    refused at the order date, the dialog says why and offers no back-dated date, and an
    order placed now, through a purchase authorization, starts a new term (R11: reactivates)."""
    gone = due_customer(app, tenants.a, "Utgången AB", TODAY - timedelta(days=45))
    with in_app(app):
        db.session.execute(
            update(Customer).where(Customer.id == gone).values(status=CustomerStatus.INACTIVE)
        )
        db.session.commit()
    login_as(tenants.a.sales)
    data = {**renewal_form(vendor_order_number="LATE999999"), **quantities(app, Photoshop=5)}
    response = client.post(f"/customers/{gone}/renewal", data=data, headers=HX)
    assert response.status_code == 422
    assert 'id="order_date-error"' in response.get_data(as_text=True)
    assert customer_row(app, gone)["status"] == CustomerStatus.INACTIVE
    dialog = client.get(f"/customers/{gone}/renewal/new", headers=HX).get_data(as_text=True)
    order_date_input = dialog.split('id="order_date"')[1].split(">")[0]
    assert 'value=""' in order_date_input  # no back-dated order date offered
    assert "The renewal window closed on" in dialog

    from vip.services.authorizations import LineInput, create_purchase_authorization
    from vip.services.orders import record_order

    with in_app(app):
        sales = db.session.get(User, tenants.a.sales.id)
        pa = create_purchase_authorization(
            user=sales,
            customer_id=gone,
            today=TODAY,
            license_type="team",
            lines=[LineInput(product_id=product_id("Photoshop", "team", "commercial"), quantity=3)],
            deployment_date=TODAY,
            customer_po_number=None,
        )
        order = record_order(
            user=sales,
            pa_id=pa.id,
            today=TODAY,
            vendor_order_number="NEWTERM001",
            order_date=TODAY,
            duration_months=12,
        )
        assert order.order_type == "new"
    row = customer_row(app, gone)
    assert row["status"] == CustomerStatus.ACTIVE
    assert row["anniversary"] == add_months(TODAY, 12)
