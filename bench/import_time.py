"""Customer import: the time to check and import a CSV file of 10,000 rows (one customer
per row, the worst case: every row a customer, an opening order and an invitation mail)
into an empty console with one reseller. Target: under 30 seconds on SQLite.

The database is made afresh in bench/data/ (SQLite) or a schema `bench_import` (PostgreSQL)
and removed after the run."""

from __future__ import annotations

import random
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from harness import DATA, Machine, _config, arguments, table, write_results

from vip import create_app
from vip.extensions import db
from vip.models import Reseller, Role
from vip.services import customer_import
from vip.services.accounts import create_user
from vip.services.catalog import load_catalog

TARGET_SECONDS = 30.0
TODAY = date(2026, 11, 29)


def sample_file(rows: int) -> bytes:
    rng = random.Random(5)
    lines = [
        "company_name;vip_id;admin_name;admin_email;anniversary_date;license_type;sku;quantity"
    ]
    for n in range(rows):
        anniversary = TODAY + timedelta(days=rng.randrange(1, 360))
        lines.append(
            f"Kund {n} AB;{4_000_000_000 + n};Admin {n};admin{n}@kund{n}.example;"
            f"{anniversary.isoformat()};Team;65910101BA01A12;{rng.randint(1, 50)}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def main() -> None:
    args = arguments(__doc__, rows=(int, 10_000, "rows in the file"))
    if args.db == "sqlite":
        DATA.mkdir(parents=True, exist_ok=True)
        path = DATA / "sqlite-import.db"
        path.unlink(missing_ok=True)
        config = _config(args, 0)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
        schema = None
    else:
        schema = "bench_import"
        engine = sa.create_engine(args.url)
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        config = _config(args, 0)
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"options": f"-csearch_path={schema}"}
        }
    with tempfile.TemporaryDirectory() as outbox:
        config["VIP_OUTBOX_DIR"] = outbox
        app = create_app(config)
        data = sample_file(args.rows)
        with app.test_request_context():
            db.create_all()
            load_catalog()
            reseller = Reseller(name="Import Bench AB", country="SE", time_zone="Europe/Stockholm")
            db.session.add(reseller)
            db.session.commit()
            admin = create_user(
                email="admin@importbench.example",
                name="Bench Admin",
                password="bench-password-2026-lång",
                role=Role.RESELLER_ADMIN,
                reseller=reseller,
            )
            started = time.perf_counter()
            check = customer_import.check_file(
                data=data, file_name="bench.csv", default_language="sv", today=TODAY
            )
            checked = time.perf_counter()
            assert check.valid, check.problems[:3]
            result = customer_import.import_customers(
                user=admin, check=check, invite=True, today=TODAY
            )
            done = time.perf_counter()
            db.session.remove()
            db.engine.dispose()
    if args.db == "sqlite":
        Path(path).unlink(missing_ok=True)
    else:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    total = done - started
    body = table(
        ["rows", "customers", "check (s)", "import (s)", "total (s)", "target"],
        [
            [
                f"{args.rows:,}",
                f"{result.customers:,}",
                f"{checked - started:.1f}",
                f"{done - checked:.1f}",
                f"{total:.1f}",
                f"< {TARGET_SECONDS:.0f} s ({'ok' if total < TARGET_SECONDS else 'OVER'})",
            ]
        ],
    )
    print(body)
    write_results("Customer import", args, Machine.read(args), body)


if __name__ == "__main__":
    main()
