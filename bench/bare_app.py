"""The yardstick for bench/throughput.py: the pages it measures (Customer details' VIP
information, the customers list, the renewals overview) rendered by a bare Flask app with
one Jinja template each, reading the same rows with SQLAlchemy Core (capped counts, one
page of 25, the page's authorization counts or renewal lines, as the app does). No
session, login, CSRF, permission checks, audit of denials, Babel, security headers or htmx
conventions: what Python, Flask and Jinja cost on this machine for these pages' data, so
that the app's pages can be read against it as well as against a fixed string. Served by
gunicorn like the app: `gunicorn --chdir bench bare_app:app`, with DATABASE_URL (and
PGOPTIONS for a schema) set; the list and the overview take the user's email (`?as=`)
in place of a session."""

from __future__ import annotations

import os
from datetime import date, timedelta

import sqlalchemy as sa
from flask import Flask, abort, render_template_string, request

engine = sa.create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)
app = Flask(__name__)

CUSTOMER = sa.text(
    "SELECT id, company_name, vip_id, status, country, market_segment, anniversary_date,"
    " admin_name, admin_email, created_at FROM customers WHERE id = :id"
)
INVENTORY = sa.text(
    "SELECT p.name, p.sku, SUM(l.quantity) AS purchased,"
    " (SELECT COUNT(*) FROM license_assignments a"
    "   WHERE a.customer_id = o.customer_id AND a.product_id = p.id) AS assigned"
    " FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id"
    " WHERE o.customer_id = :id GROUP BY p.id, p.name, p.sku, o.customer_id ORDER BY p.name"
)
RENEWALS = sa.text(
    "SELECT vendor_order_number, order_date, term_ends_on FROM orders"
    " WHERE customer_id = :id AND order_type = 'renewal' ORDER BY order_date DESC LIMIT 20"
)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ c.company_name }}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/">VIP Reseller Console</a><nav><a href="/">Dashboard</a>
<a href="/customers">Customers</a><a href="/renewals">Renewals</a><a href="/returns">Returns</a>
<a href="/outbox">Outbox</a><a href="/team">Team</a></nav></header><main>
<h1>{{ c.company_name }}</h1><nav class="tabs">{% for tab in tabs %}
<a href="/customers/{{ c.id }}/{{ tab }}">{{ tab|title }}</a>{% endfor %}</nav>
<h2>VIP information</h2><dl class="facts">
<dt>Company name</dt><dd>{{ c.company_name }}</dd><dt>VIP ID</dt><dd>{{ c.vip_id }}</dd>
<dt>Status</dt><dd>{{ c.status }}</dd><dt>Country</dt><dd>{{ c.country }}</dd>
<dt>Market segment</dt><dd>{{ c.market_segment }}</dd>
<dt>Anniversary date</dt><dd>{{ c.anniversary_date }}</dd>
<dt>VIP admin</dt><dd>{{ c.admin_name }} &lt;{{ c.admin_email }}&gt;</dd>
<dt>Created</dt><dd>{{ c.created_at }}</dd></dl>
<h3>Licenses</h3><table><thead><tr><th>Product</th><th>Purchased</th><th>Assigned</th>
<th>Available</th></tr></thead><tbody>{% for row in inventory %}<tr><td>{{ row.name }}
<span>{{ row.sku }}</span></td><td>{{ "{:,}".format(row.purchased) }}</td>
<td>{{ "{:,}".format(row.assigned) }}</td><td>{{ "{:,}".format(row.purchased - row.assigned) }}
</td></tr>{% endfor %}</tbody></table>
<h3>Renewal history</h3><table><tbody>{% for row in renewals %}<tr>
<td>{{ row.order_date }}</td><td>{{ row.vendor_order_number }}</td><td>{{ row.term_ends_on }}</td>
</tr>{% else %}<tr><td>No renewals yet.</td></tr>{% endfor %}</tbody></table>
</main></body></html>"""

TABS = ("info", "plans", "orders", "renewals", "timeline", "history")


@app.get("/bare/customers/<int:customer_id>")
def details(customer_id: int):
    with engine.connect() as connection:
        customer = connection.execute(CUSTOMER, {"id": customer_id}).mappings().first()
        if customer is None:
            abort(404)
        inventory = connection.execute(INVENTORY, {"id": customer_id}).mappings().all()
        renewals = connection.execute(RENEWALS, {"id": customer_id}).mappings().all()
    return render_template_string(
        PAGE, c=customer, inventory=inventory, renewals=renewals, tabs=TABS
    )


# -- the customers list and the renewals overview -------------------------------------------

CAP = 1000  # the app's COUNT_CAP: counts stop at 1,001
PAGE_SIZE = 25
TODAY = date.fromisoformat(os.environ.get("VIP_TODAY") or date.today().isoformat())
RESELLER = sa.text("SELECT reseller_id FROM users WHERE email = :email")
STATUS_COUNT = sa.text(
    "SELECT COUNT(*) FROM (SELECT id FROM customers WHERE reseller_id = :r AND status = :status"
    " LIMIT :cap) AS counted"
)
CUSTOMERS_COUNT = sa.text(
    "SELECT COUNT(*) FROM (SELECT id FROM customers WHERE reseller_id = :r LIMIT :cap) AS counted"
)
CUSTOMERS_PAGE = sa.text(
    "SELECT id, company_name, vip_id, admin_email, status, anniversary_date FROM customers"
    " WHERE reseller_id = :r ORDER BY company_name, id LIMIT :limit OFFSET :offset"
)
AUTHORIZATION_COUNTS = sa.text(
    "SELECT customer_id, COUNT(*) AS pending,"
    " SUM(CASE WHEN order_due_on < :today THEN 1 ELSE 0 END) AS overdue"
    " FROM purchase_authorizations WHERE status = 'pending' AND customer_id IN :ids"
    " GROUP BY customer_id"
).bindparams(sa.bindparam("ids", expanding=True))
OVERVIEW_WHERE = (
    " FROM customers WHERE reseller_id = :r AND anniversary_date BETWEEN :low AND :high"
)
OVERVIEW_COUNT = sa.text(f"SELECT COUNT(*) FROM (SELECT id{OVERVIEW_WHERE} LIMIT :cap) AS counted")
OVERVIEW_PAGE = sa.text(
    "SELECT id, company_name, vip_id, status, anniversary_date"
    f"{OVERVIEW_WHERE} ORDER BY anniversary_date, company_name, id LIMIT :limit OFFSET :offset"
)
RENEWAL_LINES = sa.text(
    "SELECT c.id AS customer_id, p.name, p.sku, SUM(l.quantity) AS purchased,"
    " SUM(CASE WHEN l.status = 'returned' THEN l.quantity ELSE l.returned_quantity END)"
    " AS returned,"
    " (SELECT COUNT(*) FROM license_assignments a"
    "   WHERE a.customer_id = c.id AND a.product_id = p.id) AS assigned"
    " FROM customers c"
    " JOIN orders o ON o.customer_id = c.id AND o.term_ends_on = c.anniversary_date"
    " JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id"
    " WHERE c.id IN :ids GROUP BY c.id, p.id, p.name, p.sku ORDER BY p.name, p.sku"
).bindparams(sa.bindparam("ids", expanding=True))

CHROME = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><a href="/">VIP Reseller Console</a><nav><a href="/">Dashboard</a>
<a href="/customers">Customers</a><a href="/renewals">Renewals</a><a href="/returns">Returns</a>
<a href="/outbox">Outbox</a><a href="/team">Team</a></nav></header><main><h1>{{ title }}</h1>
<form method="get"><input type="search" name="q" aria-label="Search">
<select name="status">{% for status, count in statuses %}<option value="{{ status }}">
{{ status|title }} ({{ count }})</option>{% endfor %}</select><button>Search</button></form>
<p>{{ total }} {{ noun }}</p><table><thead><tr>{% for h in headers %}<th>{{ h }}</th>
{% endfor %}</tr></thead><tbody>"""
PAGER = (
    """</tbody></table><nav><a href="?page={{ page + 1 }}">Next</a></nav></main></body></html>"""
)
LIST_PAGE = (
    CHROME
    + """{% for c in rows %}<tr><td><a href="/customers/{{ c.id }}/info">{{ c.company_name }}</a>
</td><td>{{ c.vip_id }}</td><td>{{ c.admin_email }}</td><td>{% set n = counts.get(c.id) %}
{% if n %}{{ n.pending }} pending{% if n.overdue %} · {{ n.overdue }} delayed{% endif %}
{% else %}—{% endif %}</td><td>{{ c.status|title }}</td><td>{{ c.anniversary_date or "—" }}</td>
</tr>{% endfor %}"""
    + PAGER
)
OVERVIEW_PAGE_TEMPLATE = (
    CHROME
    + """{% for c in rows %}<tr><td><a href="/customers/{{ c.id }}/renewals">
{{ c.company_name }}</a> {{ c.vip_id }}</td><td>{{ c.anniversary_date }}
({{ (c.anniversary_date - today).days }} days)</td><td>{{ c.status|title }}</td><td><ul>
{% for line in lines.get(c.id, []) %}<li>{{ line.name }} {{ line.sku }}:
{{ "{:,}".format(line.purchased - (line.returned or 0)) }} ({{ line.assigned }} assigned)
</li>{% endfor %}</ul></td></tr>{% endfor %}"""
    + PAGER
)
STATUSES = ("active", "pending", "delayed", "inactive")


def _page() -> int:
    return max(1, request.args.get("page", 1, type=int))


@app.get("/bare/customers")
def customers_list():
    page = _page()
    with engine.connect() as connection:
        reseller = connection.execute(RESELLER, {"email": request.args["as"]}).scalar_one()
        total = connection.execute(CUSTOMERS_COUNT, {"r": reseller, "cap": CAP + 1}).scalar()
        rows = (
            connection.execute(
                CUSTOMERS_PAGE,
                {"r": reseller, "limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE},
            )
            .mappings()
            .all()[:PAGE_SIZE]
        )
        counts = {
            row.customer_id: row
            for row in connection.execute(
                AUTHORIZATION_COUNTS, {"today": TODAY, "ids": [row["id"] for row in rows]}
            )
        }
        statuses = [
            (
                status,
                connection.execute(
                    STATUS_COUNT, {"r": reseller, "status": status, "cap": CAP + 1}
                ).scalar(),
            )
            for status in STATUSES
        ]
    return render_template_string(
        LIST_PAGE,
        title="Customers",
        noun="customers",
        total=total,
        rows=rows,
        counts=counts,
        statuses=statuses,
        page=page,
        headers=(
            "Company name",
            "VIP ID",
            "VIP admin",
            "Purchase authorizations",
            "Status",
            "Anniversary date",
        ),
    )


@app.get("/bare/renewals")
def renewals_overview():
    page = _page()
    window = {"low": TODAY - timedelta(days=30), "high": TODAY + timedelta(days=90)}
    with engine.connect() as connection:
        reseller = connection.execute(RESELLER, {"email": request.args["as"]}).scalar_one()
        total = connection.execute(OVERVIEW_COUNT, {"r": reseller, "cap": CAP + 1, **window})
        rows = (
            connection.execute(
                OVERVIEW_PAGE,
                {"r": reseller, "limit": PAGE_SIZE + 1, "offset": (page - 1) * PAGE_SIZE, **window},
            )
            .mappings()
            .all()[:PAGE_SIZE]
        )
        # SQLite hands a raw statement's dates back as text.
        rows = [
            {**row, "anniversary_date": date.fromisoformat(str(row["anniversary_date"]))}
            for row in rows
        ]
        lines: dict[int, list] = {}
        for line in connection.execute(RENEWAL_LINES, {"ids": [row["id"] for row in rows]}):
            if line.purchased - (line.returned or 0) > 0:
                lines.setdefault(line.customer_id, []).append(line)
    return render_template_string(
        OVERVIEW_PAGE_TEMPLATE,
        title="Renewals",
        noun="customers",
        total=total.scalar(),
        rows=rows,
        lines=lines,
        statuses=[],
        today=TODAY,
        page=page,
        headers=("Customer", "Anniversary date", "Status", "Licenses to renew"),
    )
