"""The yardstick for bench/throughput.py: Customer details' VIP information rendered by a
bare Flask app with one Jinja template, reading the same rows with SQLAlchemy Core in three
statements. No session, login, CSRF, permission checks, audit of denials, Babel, security
headers or htmx conventions: what Python, Flask and Jinja cost on this machine for this
page's data, so that the app's page can be read against it as well as against a fixed
string. Served by gunicorn like the app: `gunicorn --chdir bench bare_app:app`, with
DATABASE_URL (and PGOPTIONS for a schema) set."""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, abort, render_template_string

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
