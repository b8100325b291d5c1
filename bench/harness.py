"""What every bench script shares: a generated database per size (kept under bench/data/
for SQLite, a schema per size on PostgreSQL), an app bound to it, a signed-in test client,
a SQL statement counter, medians, and the RESULTS.md writer.

Run the scripts from the repository root with the project's venv, e.g.
`.venv/bin/python bench/queries_per_page.py --db sqlite`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy import delete, event, select  # noqa: E402

from vip import create_app  # noqa: E402
from vip.extensions import db  # noqa: E402

DATA = ROOT / "bench" / "data"
RESULTS = ROOT / "bench" / "RESULTS.md"
TODAY = date(2026, 11, 29)  # every generated database and every app run share this "today"
PASSWORD = "bench-password-2026-lång"
RESELLER = "Bench Reseller AB"
ADMIN = "admin@benchresellerab.example"
VIP_ADMIN = "console@bench.example"


def arguments(description: str, **extra) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--url",
        default=os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL"),
        help="PostgreSQL URL (default: BENCH_DATABASE_URL or TEST_DATABASE_URL)",
    )
    for name, (kind, default, help_text) in extra.items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=kind, default=default, help=help_text
        )
    args = parser.parse_args()
    if args.db == "postgres" and not args.url:
        parser.error("--db postgres needs --url or BENCH_DATABASE_URL")
    return args


def _config(args, customers: int, schema: str | None = None) -> dict:
    config = {
        "SECRET_KEY": "bench",
        "TESTING": False,
        "WTF_CSRF_ENABLED": False,
        "SESSION_COOKIE_SECURE": False,
        "VIP_TODAY": TODAY.isoformat(),
        "VIP_OUTBOX_DIR": str(DATA / "outbox"),
        # The scripts time pages, not the throttling (the calendar feed is throttled per link).
        "RATELIMIT_ENABLED": False,
        # In-process they time and count what a page costs when it renders: a repeated
        # request would find the page's regions kept (vip/web/cached_regions.py);
        # bench/throughput.py measures both under gunicorn.
        "VIP_CACHED_REGIONS": False,
    }
    if args.db == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{DATA / f'sqlite-{customers}.db'}"
    else:
        config["SQLALCHEMY_DATABASE_URI"] = args.url
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"options": f"-csearch_path={schema or f'bench_{customers}'}"}
        }
    return config


def bench_app(args, customers: int, schema: str | None = None):
    """An app on a database of `customers` generated customers (made on first use); on
    PostgreSQL in the schema `bench_<customers>` or the one given."""
    from flask_migrate import upgrade

    from vip.generate import generate_portfolio, record_sent_reminders
    from vip.models import Customer, Role, User, VipAdminCustomer
    from vip.services.accounts import create_user

    if args.db == "postgres":
        engine = sa.create_engine(args.url)
        with engine.begin() as connection:
            name = schema or f"bench_{customers}"
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{name}"'))
        engine.dispose()
    app = create_app(_config(args, customers, schema))
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        count = db.session.scalar(select(sa.func.count()).select_from(Customer))
        if count < customers:
            print(f"generating {customers - count:,} customers on {args.db} ...", flush=True)
            with app.test_request_context():
                report = generate_portfolio(customers=customers - count, today=TODAY, seed=7)
            print(f"  done in {report.seconds:.0f} s", flush=True)
        # Databases generated before the generator wrote the sent reminders get them here.
        record_sent_reminders(today=TODAY)
        db.session.remove()
    busy = sample_customer_id(app)
    with app.app_context():
        console_user = db.session.scalar(select(User).where(User.email == VIP_ADMIN))
        if console_user is None:
            with app.test_request_context():
                create_user(
                    email=VIP_ADMIN,
                    name="Console Bench",
                    password=PASSWORD,
                    role=Role.VIP_ADMIN,
                    customer=db.session.get(Customer, busy),
                )
        elif db.session.get(VipAdminCustomer, (console_user.id, busy)) is None:
            db.session.execute(
                delete(VipAdminCustomer).where(VipAdminCustomer.user_id == console_user.id)
            )
            db.session.add(VipAdminCustomer(user_id=console_user.id, customer_id=busy))
            db.session.commit()
        db.session.remove()
    return app


def signed_in_client(app, email: str = ADMIN):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.status_code
    return client


@contextmanager
def statement_counter(app):
    """Counts the SQL statements sent while the block runs."""
    counted = {"n": 0}
    with app.app_context():
        engine = db.engine

    def count(*_args, **_kwargs):
        counted["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield counted
    finally:
        event.remove(engine, "before_cursor_execute", count)


def sample_customer_id(app) -> int:
    """A busy customer: the one with the most orders among the first 200, which also has
    purchase authorizations, licenses and assignments (the generator gives them all)."""
    from vip.models import Order

    with app.app_context():
        row = db.session.execute(
            select(Order.customer_id, sa.func.count())
            .where(Order.customer_id <= 200)
            .group_by(Order.customer_id)
            .order_by(sa.func.count().desc(), Order.customer_id)
            .limit(1)
        ).first()
        return row[0]


def pages(app) -> dict[str, tuple[str, str]]:
    """Page name -> (who, path): the pages the performance targets (README, "Performance")
    measure, and the dashboard's."""
    from vip.models import Customer

    customer_id = sample_customer_id(app)
    with app.app_context():
        vip_id = db.session.get(Customer, customer_id).vip_id
        db.session.remove()
    return {
        "customers list": ("admin", "/customers"),
        "customers search, common word": ("admin", "/customers?q=nord"),
        "customers search, one VIP ID": ("admin", f"/customers?q={vip_id}"),
        "customers status filter": ("admin", "/customers?status=delayed"),
        # The deepest pages that exist at both sizes (1,000 customers: 40 pages of 25, and
        # 313 in the renewals overview), so both sizes read and render a full page.
        "customers page 40": ("admin", "/customers?page=40"),
        "details: info": ("admin", f"/customers/{customer_id}/info"),
        "details: plans": ("admin", f"/customers/{customer_id}/plans"),
        "details: orders": ("admin", f"/customers/{customer_id}/orders"),
        "details: renewals": ("admin", f"/customers/{customer_id}/renewals"),
        "details: timeline": ("admin", f"/customers/{customer_id}/timeline"),
        "details: history": ("admin", f"/customers/{customer_id}/history"),
        "renewals overview": ("admin", "/renewals"),
        "renewals overview page 12": ("admin", "/renewals?page=12"),
        "renewal pipeline chart": ("admin", "/renewals/pipeline"),
        "dashboard (its seven sections)": ("admin", "/"),
        "outbox with tomorrow's preview": ("admin", "/outbox"),
        "admin console": ("vip_admin", f"/console/{customer_id}"),
    }


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def timed(function, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        out.append(time.perf_counter() - started)
    return out


@dataclass
class Machine:
    description: str

    @classmethod
    def read(cls, args, app=None) -> Machine:
        cpu = platform.processor() or platform.machine()
        try:
            model = next(
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            )
        except (OSError, StopIteration):
            model = cpu
        version = ""
        if app is not None:
            with app.app_context():
                if args.db == "postgres":
                    version = db.session.scalar(sa.text("SHOW server_version"))
                else:
                    version = db.session.scalar(sa.text("select sqlite_version()"))
        return cls(
            f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{args.db} {version}".strip()
        )


def write_results(title: str, args, machine: Machine, body: str) -> None:
    """Replaces this script's section (same title and database) in bench/RESULTS.md."""
    command = " ".join(["python", *[arg for arg in sys.argv]])
    command = re.sub(r"postgresql\S*@", "postgresql://…@", command)
    heading = f"## {title} ({args.db})"
    section = (
        f"{heading}\n\n"
        f"- command: `{command}`\n"
        f"- date: {datetime.now().strftime('%Y-%m-%d %H:%M')}\n"
        f"- database: {args.db}\n"
        f"- machine: {machine.description}\n\n"
        f"{body.strip()}\n"
    )
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n")
    print(f"written to {RESULTS.relative_to(ROOT)}")


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)
