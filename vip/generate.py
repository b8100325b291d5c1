"""`vip generate`: a distributor-size portfolio for benchmarks, written with bulk inserts.

Per customer: 0-30 purchase authorizations (pending, overdue, ordered, cancelled), the
orders of the ordered ones with their lines, license assignments, an anniversary spread over
the year, and a few percent Försenad. Ids are allocated here so that child rows can be
written in the same batch pass; PostgreSQL loads through COPY, SQLite through executemany,
and PostgreSQL's sequences are moved past the new ids afterwards.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as day_time

from flask import current_app
from sqlalchemy import String, cast, exists, func, insert, literal, select

from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Invitation,
    LicenseAssignment,
    LicenseType,
    MarketSegment,
    Notification,
    NotificationStatus,
    Order,
    OrderLine,
    OrderStatus,
    OrderType,
    Product,
    PurchaseAuthorization,
    PurchaseAuthorizationLine,
    Reseller,
    Role,
    User,
)
from vip.models.customers import search_key
from vip.models.types import UTCDateTime
from vip.services.accounts import create_user
from vip.services.authorizations import order_window_days
from vip.services.catalog import load_catalog
from vip.services.change_count import note_resellers
from vip.services.deadlines import GRACE_DAYS, REMINDER_DAYS
from vip.services.pipeline_summary import rebuild as rebuild_pipeline_summary
from vip.services.terms import add_months, months_to_anniversary

BATCH = 20_000
PA_NUMBERS = 900_000  # "PA-" + 6 digits: the whole number space the design allows
NAMES_A = ("Nord", "Syd", "Öst", "Väst", "Fjäll", "Kust", "Skog", "Sjö", "Berg", "Dal", "Ljus")
NAMES_B = ("bygg", "media", "design", "data", "konsult", "teknik", "arkitekter", "gruppen")
FORMS = ("AB", "HB", "Oy", "AS", "ApS", "kommun", "skola")


@dataclass
class GenerationReport:
    customers: int = 0
    authorizations: int = 0
    authorization_lines: int = 0
    orders: int = 0
    order_lines: int = 0
    assignments: int = 0
    delayed: int = 0
    reminders: int = 0  # sent reminder mails, as the daily job would have left them
    seconds: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)


def _next_id(model) -> int:
    return (db.session.scalar(select(func.max(model.id))) or 0) + 1


def _rows_to_db(table, rows: list[dict]) -> None:
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        columns = list(rows[0])
        raw = connection.connection.driver_connection
        names = ", ".join(f'"{name}"' for name in columns)
        with raw.cursor().copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[name] for name in columns])
    else:
        connection.execute(table.insert(), rows)
    rows.clear()


def _fix_sequences(models: Iterable) -> None:
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return
    for model in models:
        highest = select(func.coalesce(func.max(model.id), 1)).scalar_subquery()
        sequence = func.pg_get_serial_sequence(model.__table__.name, "id")
        connection.execute(select(func.setval(sequence, highest)))


def _products() -> dict[tuple[LicenseType, MarketSegment], list[Product]]:
    """The seats a portfolio holds: active subscription products (no consumables)."""
    grouped: dict[tuple[LicenseType, MarketSegment], list[Product]] = {}
    for product in db.session.scalars(
        select(Product).where(
            Product.active.is_(True),
            Product.education_device.is_(False),
            Product.consumable.is_(False),
        )
    ):
        grouped.setdefault((product.license_type, product.market_segment), []).append(product)
    return grouped


def record_sent_reminders(*, today: date) -> int:
    """The reminder mails the daily ticks before `today` would have sent, as sent rows
    in the outbox: each stage the current anniversary reached before today, once. A stage
    that begins today is left to today's tick. Idempotent (only the missing ones), in one
    INSERT ... SELECT per stage. Returns how many it added."""
    sent_at = datetime.combine(today - timedelta(days=1), day_time(6), tzinfo=UTC)
    before = db.session.scalar(select(func.count()).select_from(Notification))
    for kind, from_day in REMINDER_DAYS:
        cycle = cast(Customer.anniversary_date, String)
        rows = select(
            Customer.id,
            literal(kind),
            cycle,
            Customer.admin_email,
            Customer.admin_language,
            literal(f"({kind}, generated)"),
            literal(""),
            literal(""),
            literal(NotificationStatus.SENT.value),
            literal(1),
            literal(sent_at, UTCDateTime()),
            literal(sent_at, UTCDateTime()),
        ).where(
            Customer.anniversary_date.is_not(None),
            Customer.anniversary_date < today - timedelta(days=from_day),
            Customer.anniversary_date > today - timedelta(days=365),
            ~exists().where(
                Notification.customer_id == Customer.id,
                Notification.kind == kind,
                Notification.cycle_key == cycle,
            ),
        )
        db.session.execute(
            insert(Notification).from_select(
                [
                    "customer_id",
                    "kind",
                    "cycle_key",
                    "recipient",
                    "language",
                    "subject",
                    "body_text",
                    "body_html",
                    "status",
                    "attempts",
                    "created_at",
                    "sent_at",
                ],
                rows,
            )
        )
    db.session.commit()
    # Counted, not summed from rowcount: PostgreSQL's driver reports -1 for INSERT ... SELECT.
    return db.session.scalar(select(func.count()).select_from(Notification)) - before


def generate_portfolio(
    *, customers: int, today: date, seed: int = 1, reseller_name: str = "Bench Reseller AB"
) -> GenerationReport:
    """Adds `customers` customers (and everything they own) to one reseller."""
    started = time.perf_counter()
    rng = random.Random(seed)
    report = GenerationReport()
    if db.session.scalar(select(func.count()).select_from(Product)) == 0:
        load_catalog()
    reseller = db.session.scalar(select(Reseller).where(Reseller.name == reseller_name))
    if reseller is None:
        reseller = Reseller(name=reseller_name, country="SE", time_zone="Europe/Stockholm")
        db.session.add(reseller)
        db.session.commit()
        slug = "".join(ch for ch in reseller_name.lower() if ch.isalnum())[:20]
        create_user(
            email=f"admin@{slug}.example",
            name="Bench Admin",
            password="bench-password-2026-lång",
            role=Role.RESELLER_ADMIN,
            reseller=reseller,
        )
    creator_id = db.session.scalar(
        select(User.id).where(User.reseller_id == reseller.id).order_by(User.id).limit(1)
    )
    catalog = _products()
    taken_vip_ids = set(db.session.scalars(select(Customer.vip_id)))
    taken_numbers = set(db.session.scalars(select(PurchaseAuthorization.number)))
    free_numbers = PA_NUMBERS - len(taken_numbers)

    ids = {
        model: _next_id(model)
        for model in (
            Customer,
            Invitation,
            PurchaseAuthorization,
            PurchaseAuthorizationLine,
            Order,
            OrderLine,
            LicenseAssignment,
        )
    }
    buffers: dict = {model: [] for model in ids}
    window_days = order_window_days()  # VIP_PA_ORDER_WINDOW_DAYS, as the web path uses
    window = timedelta(days=window_days)
    invitation_validity = timedelta(days=current_app.config["VIP_INVITATION_VALID_DAYS"])

    def take(model) -> int:
        value = ids[model]
        ids[model] += 1
        return value

    def flush(force: bool = False) -> None:
        if force or any(len(rows) >= BATCH for rows in buffers.values()):
            for model in ids:  # parents before children
                _rows_to_db(model.__table__, buffers[model])

    # Average authorizations per customer, capped by the number space that remains.
    mean_pas = min(15.0, 0.95 * free_numbers / max(customers, 1))
    number_pool = iter(
        rng.sample(
            [n for n in range(100_000, 1_000_000) if f"PA-{n}" not in taken_numbers],
            min(free_numbers, int(mean_pas * customers * 1.2) + 100),
        )
    )
    segments = list(MarketSegment)
    for index in range(customers):
        customer_id = take(Customer)
        while True:
            vip_id = str(rng.randrange(10**9, 10**10))
            if vip_id not in taken_vip_ids:
                taken_vip_ids.add(vip_id)
                break
        segment = rng.choices(segments, weights=(80, 10, 10))[0]
        license_type = rng.choice(list(LicenseType))
        products = catalog[(license_type, segment)]
        # A few customers still without an order; the others have a first order from
        # which the anniversary derives, spread so that anniversaries cover the coming year.
        has_orders = rng.random() < 0.95
        first_order_on = today - timedelta(days=rng.randrange(30, 395)) if has_orders else None
        anniversary = add_months(first_order_on, 12) if first_order_on else None
        # Some VIP admins never accepted their invitation, orders or not.
        accepted = has_orders and rng.random() < 0.96
        status = CustomerStatus.ACTIVE if accepted else CustomerStatus.INVITED
        if anniversary is not None and (today - anniversary).days >= GRACE_DAYS:
            status = CustomerStatus.INACTIVE
        count = min(30, int(rng.expovariate(1 / mean_pas))) if mean_pas else 0
        if has_orders:
            count = max(count, 1)  # the first order's authorization
        overdue_here = False
        created_at = datetime.combine(today - timedelta(days=400), day_time(9), tzinfo=UTC)
        name = f"{rng.choice(NAMES_A)}{rng.choice(NAMES_B)} {index + 1} {rng.choice(FORMS)}"
        admin_email = f"admin{customer_id}@kund{customer_id}.example"
        customer_row = {
            "id": customer_id,
            "reseller_id": reseller.id,
            "company_name": name,
            "country": "SE",
            "market_segment": segment.value,
            "admin_name": f"Admin {index + 1}",
            "admin_email": admin_email,
            "admin_language": "sv" if rng.random() < 0.8 else "en",
            "vip_id": vip_id,
            "status": status.value,
            "status_before_delay": None,
            "anniversary_date": anniversary,
            "search_key": search_key(name, vip_id, admin_email),
            "created_at": created_at,
            "updated_at": created_at,
        }
        buffers[Customer].append(customer_row)
        if not accepted:
            buffers[Invitation].append(
                {
                    "id": take(Invitation),
                    "customer_id": customer_id,
                    "email": admin_email,
                    "nonce": f"{rng.getrandbits(192):048x}",
                    "created_at": created_at,
                    "expires_on": created_at.date() + invitation_validity,
                    "accepted_at": None,
                    "revoked_at": None,
                }
            )
        licensed: dict[int, int] = {}
        for pa_index in range(count):
            serial = next(number_pool, None)
            if serial is None:  # the PA- number space is used up
                break
            pa_id = take(PurchaseAuthorization)
            number = f"PA-{serial}"
            first = has_orders and pa_index == 0
            roll = rng.random()
            if first:
                pa_status = AuthorizationStatus.ORDERED
            elif not has_orders:
                pa_status = AuthorizationStatus.PENDING
            elif roll < 0.65:
                pa_status = AuthorizationStatus.ORDERED
            elif roll < 0.85:
                pa_status = AuthorizationStatus.CANCELLED
            else:
                pa_status = AuthorizationStatus.PENDING
            order_date = None
            if first:
                # Ordered within its window: the order that set the anniversary.
                created_on = first_order_on - timedelta(days=rng.randrange(0, window_days))
                order_date = first_order_on
            elif pa_status == AuthorizationStatus.PENDING:
                # Mostly within the window; now and then overdue (Försenad).
                if rng.random() < 0.97:
                    age = rng.randrange(0, window_days)
                else:
                    age = rng.randrange(window_days + 1, window_days + 26)
                created_on = today - timedelta(days=age)
            else:
                created_on = today - timedelta(days=rng.randrange(15, 330))
                if pa_status == AuthorizationStatus.ORDERED:
                    # An add-on of the current term: ordered on the day it was created,
                    # after the first order and before the anniversary.
                    last_day = min(today, anniversary - timedelta(days=1))
                    created_on = min(max(created_on, first_order_on), last_day)
                    order_date = created_on
            overdue_here |= pa_status == AuthorizationStatus.PENDING and created_on + window < today
            created = datetime.combine(created_on, day_time(10), tzinfo=UTC)
            buffers[PurchaseAuthorization].append(
                {
                    "id": pa_id,
                    "number": number,
                    "customer_id": customer_id,
                    "license_type": license_type.value,
                    "deployment_date": created_on,
                    "customer_po_number": f"PO-{pa_index + 1}" if rng.random() < 0.3 else None,
                    "status": pa_status.value,
                    "created_at": created,
                    "created_on": created_on,
                    "created_by_id": creator_id,
                    "order_due_on": created_on + window,
                    "cancelled_at": created + timedelta(days=2)
                    if pa_status == AuthorizationStatus.CANCELLED
                    else None,
                    "cancelled_by_id": creator_id
                    if pa_status == AuthorizationStatus.CANCELLED
                    else None,
                }
            )
            lines = rng.sample(products, k=min(len(products), 1 + int(rng.random() < 0.4)))
            quantities = []
            for product in lines:
                quantity = rng.randrange(1, 25)
                quantities.append((product, quantity))
                buffers[PurchaseAuthorizationLine].append(
                    {
                        "id": take(PurchaseAuthorizationLine),
                        "authorization_id": pa_id,
                        "product_id": product.id,
                        "quantity": quantity,
                    }
                )
            report.by_status[pa_status.value] = report.by_status.get(pa_status.value, 0) + 1
            report.authorizations += 1
            report.authorization_lines += len(lines)
            if order_date is None:
                continue
            order_id = take(Order)
            buffers[Order].append(
                {
                    "id": order_id,
                    "customer_id": customer_id,
                    "vendor_order_number": f"G{order_id:011d}",
                    "order_type": (OrderType.NEW if first else OrderType.ADD_ON).value,
                    "authorization_id": pa_id,
                    "order_date": order_date,
                    "duration_months": 12
                    if first
                    else months_to_anniversary(order_date, anniversary),
                    "term_ends_on": anniversary,
                    "status": OrderStatus.PLACED.value,
                    "created_at": datetime.combine(order_date, day_time(11), tzinfo=UTC),
                    "created_by_id": creator_id,
                }
            )
            for product, quantity in quantities:
                buffers[OrderLine].append(
                    {
                        "id": take(OrderLine),
                        "order_id": order_id,
                        "product_id": product.id,
                        "sku": product.sku,
                        "quantity": quantity,
                        "returned_quantity": 0,
                        "status": OrderStatus.PLACED.value,
                    }
                )
                licensed[product.id] = licensed.get(product.id, 0) + quantity
            report.orders += 1
            report.order_lines += len(quantities)
        for product_id, quantity in licensed.items():
            for number in range(rng.randrange(0, min(quantity, 8) + 1)):
                buffers[LicenseAssignment].append(
                    {
                        "id": take(LicenseAssignment),
                        "customer_id": customer_id,
                        "product_id": product_id,
                        "user_email": f"user{number}.{product_id}@kund{customer_id}.example",
                        "assigned_at": created_at,
                        "assigned_by_id": None,
                    }
                )
                report.assignments += 1
        if overdue_here and status in (CustomerStatus.ACTIVE, CustomerStatus.INVITED):
            customer_row["status_before_delay"] = status.value
            customer_row["status"] = CustomerStatus.DELAYED.value
            report.delayed += 1
        report.customers += 1
        flush()
    flush(force=True)
    _fix_sequences(ids)
    # The bulk inserts bypass the session that keeps the pipeline's summary up to date.
    rebuild_pipeline_summary(reseller_id=reseller.id)
    note_resellers([reseller.id])
    db.session.commit()
    report.reminders = record_sent_reminders(today=today)
    # Fresh statistics, so the planners know a reseller's customers are many and start a
    # search from its trigram index (SQLite has none until ANALYZE runs). Only the tables
    # written: a bare ANALYZE on PostgreSQL would visit every schema of the database.
    connection = db.session.connection()
    for model in ids:
        connection.exec_driver_sql(f'ANALYZE "{model.__table__.name}"')
    db.session.commit()
    report.seconds = time.perf_counter() - started
    return report
