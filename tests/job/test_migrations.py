"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime
import os
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from vip import create_app
from vip.extensions import db
from vip.models.customer_search import is_search_index


def include_object(obj, name, type_, reflected, compare_to):
    """As migrations/env.py: the search index is not in the metadata, by design."""
    return not (reflected and compare_to is None and is_search_index(name))


def _fresh_database(request, tmp_path):
    if request.config.getoption("--db") == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}", {}, None
    url = os.environ["TEST_DATABASE_URL"]
    schema = f"mig_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))

    def drop():
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()

    return url, {"connect_args": {"options": f"-csearch_path={schema}"}}, drop


def _migration_app(request, tmp_path):
    """An app on a fresh, empty database (SQLite file or PostgreSQL schema), and the
    callable that drops it afterwards (None on SQLite)."""
    url, options, drop = _fresh_database(request, tmp_path)
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SQLALCHEMY_ENGINE_OPTIONS": options,
            "SECRET_KEY": "x",
            "TESTING": True,
        }
    )
    return app, drop


def _insert_order_of_every_type(engine) -> None:
    from vip.models import OrderType

    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO resellers (id, name, country, time_zone, created_at) "
                "VALUES (1, 'R', 'SE', 'Europe/Stockholm', '2026-01-01 00:00:00')"
            )
        )
        connection.execute(
            sa.text(
                "INSERT INTO customers (id, reseller_id, company_name, country, market_segment,"
                " admin_name, admin_email, admin_language, vip_id, status, search_key,"
                " created_at, updated_at) VALUES (1, 1, 'C AB', 'SE', 'commercial', 'A',"
                " 'a@c.example', 'sv', '1234567890', 'active', '', '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00')"
            )
        )
        for number, kind in enumerate(OrderType, start=1):
            connection.execute(
                sa.text(
                    "INSERT INTO orders (id, customer_id, vendor_order_number, order_type,"
                    " order_date, duration_months, term_ends_on, status, created_at)"
                    " VALUES (:id, 1, :number, :kind, '2026-01-01', 12, '2027-01-01',"
                    " 'placed', '2026-01-01 00:00:00')"
                ),
                {"id": number, "number": f"V{number}", "kind": kind.value},
            )
        with pytest.raises(sa.exc.IntegrityError), connection.begin_nested():
            connection.execute(
                sa.text(
                    "INSERT INTO orders (id, customer_id, vendor_order_number, order_type,"
                    " order_date, duration_months, term_ends_on, status, created_at)"
                    " VALUES (99, 1, 'v1', 'new', '2026-01-01', 12, '2027-01-01',"
                    " 'placed', '2026-01-01 00:00:00')"
                )
            )
        connection.execute(sa.text("DELETE FROM orders"))
        connection.execute(sa.text("DELETE FROM customers"))
        connection.execute(sa.text("DELETE FROM resellers"))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings(
    "ignore:autogenerate skipping metadata-specified expression-based index"
)
def test_migrations_create_the_models_schema_and_go_back_down(request, tmp_path):
    app, drop = _migration_app(request, tmp_path)
    try:
        with app.app_context():
            upgrade()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(
                    connection,
                    opts={
                        "compare_type": True,
                        "render_as_batch": True,
                        "include_object": include_object,
                    },
                )
                differences = compare_metadata(context, db.metadata)
            assert differences == [], differences
            # What the comparison cannot see: the expression index that keeps vendor order
            # numbers unique in any case survives the table rebuilds of later migrations,
            # and the order types' CHECK constraint admits every type of the model.
            indexes = {i["name"] for i in sa.inspect(db.engine).get_indexes("orders")}
            if db.engine.dialect.name == "sqlite":  # reflected by name only there
                with db.engine.connect() as connection:
                    indexes |= set(
                        connection.scalars(
                            sa.text("SELECT name FROM sqlite_master WHERE tbl_name = 'orders'")
                        )
                    )
            assert "uq_orders_vendor_number_upper" in indexes
            _insert_order_of_every_type(db.engine)
            tables = set(sa.inspect(db.engine).get_table_names())
            assert {
                "customers",
                "purchase_authorizations",
                "notifications",
                "audit_events",
                "license_assignments",
            } <= tables
            downgrade(revision="base")
            assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
            db.session.remove()
            db.engine.dispose()
    finally:
        if drop:
            drop()


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.text(sql))]


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_s55_the_vip_admin_link_migration_carries_each_vip_admin_over_and_back(request, tmp_path):
    """Before: a VIP admin has one `users.customer_id`. After: the same pair in
    `vip_admin_customers`, the column gone, the rows referring to users intact; a second
    customer added afterwards is dropped by going down, which keeps the first."""
    app, drop = _migration_app(request, tmp_path)
    try:
        with app.app_context():
            upgrade(revision="ad46b91eecc8")
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO resellers (id, name, country, time_zone, created_at) "
                        "VALUES (1, 'R', 'SE', 'Europe/Stockholm', '2026-01-01 00:00:00')"
                    )
                )
                for number in (1, 2):
                    connection.execute(
                        sa.text(
                            "INSERT INTO customers (id, reseller_id, company_name, country,"
                            " market_segment, admin_name, admin_email, admin_language, vip_id,"
                            " status, search_key, created_at, updated_at) VALUES (:id, 1,"
                            " :name, 'SE', 'commercial', 'A', 'a@c.example', 'sv', :vip_id,"
                            " 'active', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                        ),
                        {"id": number, "name": f"C{number} AB", "vip_id": f"123456789{number}"},
                    )
                for user_id, email, role, reseller_id, customer_id in (
                    (1, "admin@r.example", "reseller_admin", 1, None),
                    (2, "vip1@c.example", "vip_admin", None, 1),
                    (3, "vip2@c.example", "vip_admin", None, 2),
                ):
                    connection.execute(
                        sa.text(
                            "INSERT INTO users (id, email, name, password_hash, role,"
                            " reseller_id, customer_id, language, active, failed_logins,"
                            " session_version, created_at) VALUES (:id, :email, 'N', '-',"
                            " :role, :reseller_id, :customer_id, 'sv', :active, 0, 1,"
                            " '2026-02-03 04:05:06')"
                        ),
                        {
                            "id": user_id,
                            "email": email,
                            "role": role,
                            "reseller_id": reseller_id,
                            "customer_id": customer_id,
                            "active": True,
                        },
                    )
                # Rows that refer to a user: SQLite's rebuild of `users` must keep them.
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_events (actor_id, actor_label, action, details, at)"
                        " VALUES (2, 'vip1@c.example', 'login.succeeded', '{}',"
                        " '2026-02-03 04:05:06')"
                    )
                )
            upgrade(revision="e1a3c5b7d9f2")
            assert _rows(db.engine, "SELECT actor_id FROM audit_events") == [(2,)]
            if db.engine.dialect.name == "sqlite":  # enforced again after the migration
                assert _rows(db.engine, "PRAGMA foreign_keys") == [(1,)]
            assert sorted(
                _rows(db.engine, "SELECT user_id, customer_id FROM vip_admin_customers")
            ) == [(2, 1), (3, 2)]
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns("users")}
            assert "customer_id" not in columns
            # Emails stay unique in any case (the index survives SQLite's table rebuild).
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO users (id, email, name, password_hash, role, language,"
                        " active, failed_logins, session_version, created_at) VALUES (9,"
                        " 'VIP1@c.example', 'N', '-', 'vip_admin', 'sv', :active, 0, 1,"
                        " '2026-02-03 04:05:06')"
                    ),
                    {"active": True},
                )
            # vip1 administers customer 2 too; going down keeps its first customer.
            with db.engine.begin() as connection:
                connection.execute(
                    sa.text(
                        "INSERT INTO vip_admin_customers (user_id, customer_id, added_at)"
                        " VALUES (2, 2, '2026-03-01 00:00:00')"
                    )
                )
            downgrade(revision="ad46b91eecc8")
            assert sorted(_rows(db.engine, "SELECT id, customer_id FROM users")) == [
                (1, None),
                (2, 1),
                (3, 2),
            ]
            assert "vip_admin_customers" not in sa.inspect(db.engine).get_table_names()
            assert _rows(db.engine, "SELECT actor_id FROM audit_events") == [(2,)]
            db.session.remove()
            db.engine.dispose()
    finally:
        if drop:
            drop()


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_the_deadline_days_migration_fills_the_summary_as_the_sessions_keep_it(request, tmp_path):
    """The demo's deadlines per day as kept by its sessions; going down to d5f7b9c1e3a6
    drops them (and nothing else of the pipeline), coming back up fills them again, equal
    to what the sessions kept and to a from-scratch computation."""
    from sqlalchemy import select, true

    from vip.demo import load_demo
    from vip.models import Customer, Order, OrderStatus, OrderType, PipelineDay
    from vip.models.pipeline import DEADLINE_KINDS
    from vip.services import pipeline_summary

    app, drop = _migration_app(request, tmp_path)

    def days() -> dict:
        rows = db.session.execute(
            select(PipelineDay.kind, PipelineDay.day, PipelineDay.customers, PipelineDay.licenses)
        )
        db.session.rollback()
        return {(kind, day): (customers, count) for kind, day, customers, count in rows}

    def scratch() -> dict:
        sums: dict = {}
        for query in pipeline_summary.entry_queries(true()):
            for _customer, _reseller, kind, day, count in db.session.execute(query):
                customers, total = sums.get((kind, day), (0, 0))
                sums[(kind, day)] = (customers + 1, total + int(count))
        db.session.rollback()
        return sums

    try:
        with app.app_context(), app.test_request_context():
            upgrade()
            load_demo(today=datetime.date(2026, 12, 5))
            # An imported order too: it has no return window, so it is no deadline.
            customer = db.session.scalar(select(Customer).order_by(Customer.id))
            db.session.add(
                Order(
                    customer_id=customer.id,
                    vendor_order_number="IMPORTED-1",
                    order_type=OrderType.IMPORTED,
                    order_date=datetime.date(2026, 12, 1),
                    duration_months=12,
                    term_ends_on=datetime.date(2027, 12, 1),
                    status=OrderStatus.PLACED,
                )
            )
            db.session.commit()
            kept = days()
            assert {kind for kind, _day in kept} >= set(DEADLINE_KINDS), kept
            assert kept == scratch()
            downgrade(revision="d5f7b9c1e3a6")
            assert days() == {
                key: value for key, value in kept.items() if key[0] not in DEADLINE_KINDS
            }
            upgrade()
            assert days() == kept
            db.session.remove()
            db.engine.dispose()
    finally:
        if drop:
            drop()
