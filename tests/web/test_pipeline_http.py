"""The renewal pipeline chart (GET /renewals/pipeline, and at the top of the renewals
overview) and the customer's Timeline tab over HTTP: partials for htmx, full pages
otherwise, SVG that parses as XML, the same numbers in the SVG and in the table as the
service computes, localized month labels and dates, the events in date order with today
marked, escaping (S15), and tenancy (S10)."""

from __future__ import annotations

import html as htmllib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from babel.dates import format_date as babel_format_date
from sqlalchemy import update

from tests.conftest import HX, TODAY, product_id
from tests.support import in_app
from vip.extensions import db
from vip.models import Customer, CustomerStatus, Order, OrderLine, OrderStatus, OrderType, User
from vip.services.authorizations import (
    LineInput,
    cancel_purchase_authorization,
    create_purchase_authorization,
)
from vip.services.customers import create_customer
from vip.services.orders import record_order
from vip.services.pipeline import STATUS_ORDER, renewal_pipeline
from vip.services.renewals import record_renewal
from vip.services.terms import add_months
from vip.web.charts import nice_ticks

SVG = "{http://www.w3.org/2000/svg}"
SV_MONTHS = ["nov", "dec", "jan", "feb", "mars", "apr", "maj", "juni", "juli", "aug", "sep", "okt"]
EN_MONTHS = ["Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct"]


# --- helpers -------------------------------------------------------------------------------


def set_language(app, user, language: str) -> None:
    with in_app(app):
        db.session.execute(update(User).where(User.id == user.id).values(language=language))
        db.session.commit()


def svgs(page: str) -> list[ET.Element]:
    """Every <svg> of the page, parsed as XML (they are not nested)."""
    found = re.findall(r"<svg\b.*?</svg>", page, re.S)
    assert found, "no <svg>"
    return [ET.fromstring(text) for text in found]


def chart_svg(page: str, figure_id: str) -> ET.Element:
    match = re.search(rf'<figure[^>]*id="{figure_id}".*?(<svg\b.*?</svg>)', page, re.S)
    assert match, figure_id
    return ET.fromstring(match.group(1))


def text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


class _Cells(HTMLParser):
    """The pipeline table's cells: (month, status, measure) -> the number shown."""

    def __init__(self):
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}
        self._key = None

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "td" and "data-month" in values:
            self._key = (values["data-month"], values["data-status"], values["data-measure"])
            self.cells[self._key] = ""

    def handle_data(self, data):
        if self._key:
            self.cells[self._key] += data

    def handle_endtag(self, tag):
        if tag == "td":
            self._key = None


def table_cells(page: str) -> dict[tuple[str, str, str], int]:
    parser = _Cells()
    parser.feed(page)
    return {key: int(re.sub(r"\D", "", value)) for key, value in parser.cells.items()}


def service_cells(app, reseller_id: int, today: date = TODAY) -> dict:
    with in_app(app):
        pipeline = renewal_pipeline(reseller_id=reseller_id, today=today)
    cells = {}
    for month in pipeline.months:
        key = month.month.strftime("%Y-%m")
        for status in STATUS_ORDER:
            tally = month.tally(status)
            cells[(key, status.value, "customers")] = tally.customers
            cells[(key, status.value, "licenses")] = tally.licenses
        cells[(key, "total", "customers")] = month.total.customers
        cells[(key, "total", "licenses")] = month.total.licenses
    return cells


_serial = iter(range(1, 10_000))


def add_customer(app, tenant, name: str, anniversary: date, lines: dict[str, int]) -> int:
    with in_app(app):
        serial = next(_serial)
        customer = create_customer(
            user=db.session.get(User, tenant.admin.id),
            today=TODAY,
            company_name=name,
            country="SE",
            market_segment="commercial",
            admin_name="Kund Admin",
            admin_email=f"it{serial}@pipeline-http.example",
            admin_language="sv",
        )
        order = Order(
            customer_id=customer.id,
            vendor_order_number=f"PH{serial:08d}",
            order_type=OrderType.NEW,
            order_date=add_months(anniversary, -12),
            duration_months=12,
            term_ends_on=anniversary,
            status=OrderStatus.PLACED,
        )
        db.session.add(order)
        for product, quantity in lines.items():
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
        customer.status = CustomerStatus.ACTIVE
        db.session.commit()
        return customer.id


@pytest.fixture
def known(app, tenants) -> dict[str, int]:
    """Tenant a's pipeline seen on TODAY (29 Nov 2026: November 2026 to October 2027), and
    tenant b's customer whose numbers must never show in it."""
    ids = {
        "Alfa AB": add_customer(app, tenants.a, "Alfa AB", date(2026, 11, 10), {"Photoshop": 5}),
        "Bravo AB": add_customer(
            app, tenants.a, "Bravo AB", date(2026, 12, 15), {"Photoshop": 3, "Illustrator": 2}
        ),
        "Charlie AB": add_customer(
            app, tenants.a, "Charlie AB", date(2027, 1, 5), {"Photoshop": 4}
        ),
        "Delta AB": add_customer(app, tenants.a, "Delta AB", date(2026, 12, 20), {"Photoshop": 6}),
        "Echo AB": add_customer(app, tenants.a, "Echo AB", date(2027, 10, 31), {"InDesign": 1}),
        "Foxtrot AB": add_customer(
            app, tenants.a, "Foxtrot AB", date(2027, 11, 1), {"Photoshop": 9}
        ),
        "Other AB": add_customer(app, tenants.b, "Other AB", date(2026, 12, 15), {"Photoshop": 50}),
    }
    with in_app(app):
        record_renewal(
            user=db.session.get(User, tenants.a.sales.id),
            customer_id=ids["Delta AB"],
            today=TODAY,
            vendor_order_number="PHRENEW001",
            order_date=TODAY,
            quantities={product_id("Photoshop", "team", "commercial"): 6},
        )
    return ids


# The numbers `known` gives, by month and status (customers, licenses).
EXPECTED = {
    ("2026-11", "overdue"): (1, 5),
    ("2026-12", "window_open"): (1, 5),
    ("2026-12", "renewed"): (1, 6),
    ("2027-01", "upcoming"): (1, 4),
    ("2027-10", "upcoming"): (1, 1),
}


# --- the pipeline chart --------------------------------------------------------------------


def test_nice_ticks_are_round_steps_from_zero():
    assert nice_ticks(0) == [0, 1]
    assert nice_ticks(1) == [0, 1]
    assert nice_ticks(2) == [0, 1, 2]
    assert nice_ticks(3) == [0, 1, 2, 3]
    assert nice_ticks(7) == [0, 2, 4, 6, 8]
    assert nice_ticks(11) == [0, 5, 10, 15]
    assert nice_ticks(40) == [0, 10, 20, 30, 40]
    assert nice_ticks(1234) == [0, 500, 1000, 1500]
    assert nice_ticks(99_000) == [0, 20_000, 40_000, 60_000, 80_000, 100_000]


@pytest.mark.parametrize("role", ["admin", "sales"])
def test_pipeline_is_a_partial_for_htmx_and_a_page_otherwise(
    client, tenants, login_as, known, role
):
    login_as(getattr(tenants.a, role))
    partial = client.get("/renewals/pipeline", headers=HX)
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200
    assert body.lstrip().startswith('<section id="renewal-pipeline"')
    assert "<html" not in body
    assert "HX-Request" in partial.headers.get("Vary", "")

    page = client.get("/renewals/pipeline")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<html" in html and 'id="renewal-pipeline"' in html
    assert "HX-Request" in page.headers.get("Vary", "")


def test_the_renewals_overview_loads_the_chart_after_the_page_its_filters_swap_only_the_results(
    client, tenants, login_as, known
):
    login_as(tenants.a.admin)
    page = client.get("/renewals").get_data(as_text=True)
    assert page.count('id="renewal-pipeline"') == 1
    assert page.index('id="renewal-pipeline"') < page.index('id="renewal-filter"')
    # The chart loads after the page (its sums grow with the portfolio; the page must not)
    slot = page[page.index('id="renewal-pipeline"') : page.index('id="renewal-filter"')]
    assert 'hx-get="/renewals/pipeline"' in slot and 'hx-trigger="load"' in slot
    assert "<svg" not in slot
    chart = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    assert table_cells(chart)[("2026-12", "renewed", "licenses")] == 6
    assert 'hx-trigger="vip:changed from:body"' in chart  # and again after any change

    filtered = client.get("/renewals?stage=window_open", headers=HX).get_data(as_text=True)
    assert filtered.lstrip().startswith('<div id="renewal-results"')
    assert "renewal-pipeline" not in filtered


def test_every_svg_parses_as_xml_and_is_labelled(client, tenants, login_as, known):
    login_as(tenants.a.admin)
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    parsed = svgs(page)
    charts = [svg for svg in parsed if svg.get("role") == "img"]
    assert len(charts) == 2
    for svg in charts:
        title_id, desc_id = svg.get("aria-labelledby").split()
        title = svg.find(f"{SVG}title")
        desc = svg.find(f"{SVG}desc")
        assert (title.get("id"), desc.get("id")) == (title_id, desc_id)
        assert text(title) and text(desc)
    # The table fallback, inside a <details>.
    assert re.search(r"<details[^>]*>\s*<summary>[^<]+</summary>", page)
    assert "<table" in page.split("<details", 1)[1]


def test_the_table_shows_the_services_numbers(app, client, tenants, login_as, known):
    login_as(tenants.a.admin)
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    cells = table_cells(page)

    assert cells == service_cells(app, tenants.a.reseller.id)
    shown = {
        (month, status): (cells[(month, status, "customers")], cells[(month, status, "licenses")])
        for month, status, measure in cells
        if status != "total" and cells[(month, status, measure)]
    }
    assert shown == EXPECTED  # tenant b's 50 licenses, and Foxtrot (month 13), are not there
    assert cells[("2026-12", "total", "licenses")] == 11


@pytest.mark.parametrize("measure", ["customers", "licenses"])
def test_the_svg_segments_show_the_services_numbers(app, client, tenants, login_as, known, measure):
    login_as(tenants.a.sales)  # English
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    svg = chart_svg(page, f"pipeline-{measure}")
    expected = {
        (month, status): value
        for (month, status, each), value in service_cells(app, tenants.a.reseller.id).items()
        if each == measure and status != "total" and value
    }
    seen = {}
    labels = {
        "renewed": "Renewed",
        "overdue": "Anniversary passed, not renewed",
        "window_open": "Renewal window open",
        "upcoming": "Upcoming",
    }
    for bar in svg.iter(f"{SVG}g"):
        if "bar" not in bar.get("class", "").split():
            continue
        month = bar.get("data-month")
        for rect in bar.findall(f"{SVG}rect"):
            status, value = rect.get("data-status"), int(rect.get("data-value"))
            seen[(month, status)] = value
            title = text(rect.find(f"{SVG}title"))
            year, number = int(month[:4]), int(month[5:])
            month_name = babel_format_date(date(year, number, 1), "MMMM y", locale="en")
            noun = "customer" if measure == "customers" else "license"
            assert (
                title
                == f"{month_name}, {labels[status]}: {value} {noun}{'s' if value != 1 else ''}"
            )
            assert float(rect.get("height")) > 0
    assert seen == expected
    assert expected  # the fixture has something to draw


def test_stacked_segments_touch_and_scale_with_the_ticks(client, tenants, login_as, known):
    login_as(tenants.a.admin)
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    svg = chart_svg(page, "pipeline-licenses")
    ticks = [text(t) for t in svg.iter(f"{SVG}text") if t.get("class") == "tick-label"]
    assert ticks == ["0", "5", "10", "15"]  # December's 11 licenses is the highest bar
    december = next(g for g in svg.iter(f"{SVG}g") if g.get("data-month") == "2026-12")
    rects = december.findall(f"{SVG}rect")
    assert [r.get("data-status") for r in rects] == ["renewed", "window_open"]  # bottom up
    bottom = float(rects[0].get("y")) + float(rects[0].get("height"))
    assert (
        abs(float(rects[0].get("y")) - (float(rects[1].get("y")) + float(rects[1].get("height"))))
        < 0.02
    )
    per_license = float(rects[0].get("height")) / 6
    assert abs(float(rects[1].get("height")) - 5 * per_license) < 0.05
    baseline = next(line for line in svg.iter(f"{SVG}line") if line.get("class") == "baseline")
    assert abs(float(baseline.get("y1")) - bottom) < 0.05


@pytest.mark.parametrize(("language", "months"), [("sv", SV_MONTHS), ("en", EN_MONTHS)])
def test_month_labels_follow_the_language(app, client, tenants, login_as, known, language, months):
    set_language(app, tenants.a.admin, language)
    login_as(tenants.a.admin)
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    for measure in ("customers", "licenses"):
        svg = chart_svg(page, f"pipeline-{measure}")
        labels = [text(t) for t in svg.iter(f"{SVG}text") if t.get("class") == "month-label"]
        years = [text(t) for t in svg.iter(f"{SVG}text") if t.get("class") == "year-label"]
        assert labels == months
        assert years == ["2026", "2027"]
    long_name = babel_format_date(date(2027, 1, 1), "MMMM y", locale=language)
    assert f">{long_name}</th>" in page


def test_the_legend_names_every_status_and_the_table_opens_from_a_summary(
    client, tenants, login_as, known
):
    login_as(tenants.a.sales)  # English
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    legend = re.search(r'<ul class="chart-legend".*?</ul>', page, re.S).group(0)
    for label in (
        "Renewed",
        "Anniversary passed, not renewed",
        "Renewal window open",
        "Upcoming",
    ):
        assert label in htmllib.unescape(legend)
    assert "<summary>Show as table</summary>" in page
    for status in STATUS_ORDER:
        assert f"url(#pipeline-pattern-{status})" in legend
        assert f'id="pipeline-pattern-{status}"' in page


def test_an_empty_pipeline_draws_empty_months(client, tenants, login_as):
    login_as(tenants.a.admin)
    page = client.get("/renewals/pipeline", headers=HX).get_data(as_text=True)
    svg = chart_svg(page, "pipeline-customers")
    assert not [r for r in svg.iter(f"{SVG}rect") if r.get("data-status")]
    assert set(table_cells(page).values()) == {0}


def test_the_pipeline_is_refused_to_a_vip_admin(client, tenants, login_as, known):
    login_as(tenants.a.vip_admin)
    assert client.get("/renewals/pipeline").status_code == 403
    assert client.get("/renewals/pipeline", headers=HX).status_code == 403


def test_the_other_reseller_sees_only_its_own_pipeline(app, client, tenants, login_as, known):
    login_as(tenants.b.admin)
    cells = table_cells(client.get("/renewals/pipeline", headers=HX).get_data(as_text=True))
    assert cells == service_cells(app, tenants.b.reseller.id)
    assert cells[("2026-12", "window_open", "licenses")] == 50
    assert (
        sum(v for (m, s, measure), v in cells.items() if s == "total" and measure == "customers")
        == 1
    )


# --- the Timeline tab ----------------------------------------------------------------------


@pytest.fixture
def dated(app, tenants) -> dict:
    """Tenant a's customer: an authorization ordered on 5 October 2026 (the anniversary a
    year on), one overdue (Försenad) and one cancelled in November, and the tenant's own
    pending one created on TODAY."""
    with in_app(app):
        sales = db.session.get(User, tenants.a.sales.id)
        photoshop = product_id("Photoshop", "team", "commercial")

        def authorization(created_on: date):
            return create_purchase_authorization(
                user=sales,
                customer_id=tenants.a.customer.id,
                today=created_on,
                license_type="team",
                lines=[LineInput(product_id=photoshop, quantity=2)],
                deployment_date=created_on,
                customer_po_number=None,
            )

        ordered = authorization(date(2026, 10, 1))
        record_order(
            user=sales,
            pa_id=ordered.id,
            today=date(2026, 10, 5),
            vendor_order_number="TLORDER001",
            order_date=date(2026, 10, 5),
            duration_months=12,
        )
        overdue = authorization(date(2026, 11, 1))
        cancelled = authorization(date(2026, 11, 2))
        cancel_purchase_authorization(
            user=sales, pa_id=cancelled.id, today=date(2026, 11, 3), now=datetime.now(UTC)
        )
        numbers = {
            "ordered": ordered.number,
            "overdue": overdue.number,
            "cancelled": cancelled.number,
            "today": tenants.a.authorization.number,
        }
        assert db.session.get(Customer, tenants.a.customer.id).anniversary_date == date(2027, 10, 5)
    return numbers


def timeline_items(page: str) -> list[tuple[str, str, str]]:
    """The events list: (kind, date, text) in the order shown."""
    listing = re.search(r'<ol class="timeline-events".*?</ol>', page, re.S).group(0)
    return [
        (kind, day, " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", body)).split()))
        for kind, day, body in re.findall(
            r'<li class="[^"]*" data-kind="([^"]+)" data-date="([^"]+)"[^>]*>(.*?)</li>',
            listing,
            re.S,
        )
    ]


def test_timeline_tab_is_a_page_or_the_tabs_partial(client, tenants, login_as, dated):
    login_as(tenants.a.sales)  # English
    url = f"/customers/{tenants.a.customer.id}/timeline"
    page = client.get(url)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<html" in html
    assert re.search(r'id="tab-timeline"[^>]*aria-selected="true"[^>]*>Timeline</a>', html)

    partial = client.get(url, headers=HX)
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200
    assert body.lstrip().startswith('<div id="customer-tabs"')
    assert "<html" not in body
    assert 'id="customer-timeline"' in body
    assert "HX-Request" in partial.headers.get("Vary", "")


def test_every_tab_links_to_the_timeline(client, tenants, login_as, dated):
    login_as(tenants.a.admin)
    html = client.get(f"/customers/{tenants.a.customer.id}/info").get_data(as_text=True)
    link = re.search(r'<a role="tab" id="tab-timeline"[^>]*>', html).group(0)
    assert f'hx-get="/customers/{tenants.a.customer.id}/timeline"' in link


def test_timeline_svg_is_well_formed_and_marks_today(client, tenants, login_as, dated):
    login_as(tenants.a.sales)  # English
    body = client.get(f"/customers/{tenants.a.customer.id}/timeline", headers=HX).get_data(
        as_text=True
    )
    chart = next(svg for svg in svgs(body) if svg.get("role") == "img")
    title_id, desc_id = chart.get("aria-labelledby").split()
    assert chart.find(f"{SVG}title").get("id") == title_id
    assert chart.find(f"{SVG}desc").get("id") == desc_id
    today = next(g for g in chart.iter(f"{SVG}g") if g.get("class") == "today-marker")
    assert today.get("data-date") == TODAY.isoformat()
    assert [text(t) for t in today.iter(f"{SVG}text")] == ["Today"]
    line = today.find(f"{SVG}line")
    assert line.get("x1") == line.get("x2")
    marks = [g for g in chart.iter(f"{SVG}g") if "event" in g.get("class", "").split()]
    kinds = sorted(g.get("data-kind") for g in marks)
    assert kinds == sorted(kind for kind, _, _ in timeline_items(body) if kind != "today")
    overdue = [g for g in marks if "overdue" in g.get("class").split()]
    assert [g.get("data-date") for g in overdue] == ["2026-11-15"]
    assert "Delayed" in text(overdue[0].find(f"{SVG}title"))
    # Months on the axis: October 2026 (the earliest event) to November 2027 (access removal).
    labels = [text(t) for t in chart.iter(f"{SVG}text") if t.get("class") == "month-label"]
    assert labels[0] == "Oct" and labels[-1] == "Nov" and len(labels) == 14


def test_timeline_lists_the_events_in_date_order_with_their_dates(
    app, client, tenants, login_as, dated
):
    login_as(tenants.a.admin)  # Swedish
    body = client.get(f"/customers/{tenants.a.customer.id}/timeline", headers=HX).get_data(
        as_text=True
    )
    items = timeline_items(body)
    assert [(kind, day) for kind, day, _ in items] == [
        ("authorization_created", "2026-10-01"),
        ("order", "2026-10-05"),
        ("return_window", "2026-10-05"),
        ("authorization_created", "2026-11-01"),
        ("authorization_created", "2026-11-02"),
        ("order_due", "2026-11-15"),
        ("authorization_created", "2026-11-29"),
        ("today", "2026-11-29"),
        ("order_due", "2026-12-13"),
        ("renewal_window", "2027-09-05"),
        ("anniversary", "2027-10-05"),
        ("grace", "2027-10-05"),
        ("access_removal", "2027-11-04"),
    ]

    def sv(day: date) -> str:
        return babel_format_date(day, "medium", locale="sv")

    texts = {(kind, day): words for kind, day, words in items}
    assert texts[("order", "2026-10-05")].startswith(f"{sv(date(2026, 10, 5))} ")
    assert "TLORDER001" in texts[("order", "2026-10-05")]
    assert texts[("return_window", "2026-10-05")].startswith(
        f"{sv(date(2026, 10, 5))} – {sv(date(2026, 10, 19))} "
    )
    assert texts[("renewal_window", "2027-09-05")].startswith(
        f"{sv(date(2027, 9, 5))} – {sv(date(2027, 10, 4))} "
    )
    assert texts[("grace", "2027-10-05")].startswith(
        f"{sv(date(2027, 10, 5))} – {sv(date(2027, 11, 3))} "
    )
    assert texts[("anniversary", "2027-10-05")] == f"{sv(date(2027, 10, 5))} Årsdag"
    assert dated["overdue"] in texts[("order_due", "2026-11-15")]
    assert texts[("order_due", "2026-11-15")].endswith("Försenad")
    assert "Försenad" not in texts[("order_due", "2026-12-13")]
    assert dated["cancelled"] in texts[("authorization_created", "2026-11-02")]
    assert texts[("today", "2026-11-29")].startswith(f"{sv(TODAY)} ")


def test_timeline_of_a_customer_without_dates(app, client, tenants, login_as):
    with in_app(app):
        customer = create_customer(
            user=db.session.get(User, tenants.a.admin.id),
            today=TODAY,
            company_name="Tom Kund AB",
            country="SE",
            market_segment="commercial",
            admin_name="Kund Admin",
            admin_email="it@tom.example",
            admin_language="sv",
        )
        customer_id = customer.id
    login_as(tenants.a.admin)
    body = client.get(f"/customers/{customer_id}/timeline", headers=HX).get_data(as_text=True)
    assert [kind for kind, _, _ in timeline_items(body)] == ["today"]
    assert 'class="empty"' in body
    svgs(body)  # still well-formed


def test_s15_a_scripted_name_is_escaped_in_the_timeline(app, client, tenants, login_as, dated):
    with in_app(app):
        db.session.execute(
            update(Customer)
            .where(Customer.id == tenants.a.customer.id)
            .values(company_name="<script>alert(1)</script> & Co")
        )
        db.session.commit()
    login_as(tenants.a.admin)
    body = client.get(f"/customers/{tenants.a.customer.id}/timeline", headers=HX).get_data(
        as_text=True
    )
    assert "<script>alert(1)</script>" not in body
    chart = next(svg for svg in svgs(body) if svg.get("role") == "img")
    assert "<script>alert(1)</script> & Co" in text(chart.find(f"{SVG}title"))


@pytest.mark.parametrize("headers", [{}, HX], ids=["page", "htmx"])
def test_s10_another_resellers_customer_timeline_answers_404(
    client, tenants, login_as, dated, headers
):
    login_as(tenants.b.admin)
    response = client.get(f"/customers/{tenants.a.customer.id}/timeline", headers=headers)
    assert response.status_code == 404
    assert tenants.a.customer.company_name not in response.get_data(as_text=True)


def test_the_timeline_is_refused_to_a_vip_admin(client, tenants, login_as, dated):
    login_as(tenants.a.vip_admin)
    assert client.get(f"/customers/{tenants.a.customer.id}/timeline").status_code == 403
