"""Job scaling: `vip tick` with the same number of due items on 10,000 and on 100,000
customers (target: at most 1.5x), and a tick with nothing due on 100,000 customers (target:
under one second).

The job works on its own copy of the generated data (SQLite: a copy of the file; PostgreSQL:
a schema generated for the job), moved in bulk past all its deadlines (as a year of daily
ticks would leave it) and measured more than a year after the data's "today". Each measured day
then adds `--due` customers whose renewal reminder falls due that day, so the due items are
exactly those, whatever the table sizes.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
from datetime import UTC, datetime, timedelta

from harness import (
    DATA,
    TODAY,
    Machine,
    _config,
    arguments,
    bench_app,
    table,
    write_results,
)
from sqlalchemy import func, insert, select, update

from vip import create_app
from vip.extensions import db
from vip.models import (
    AuthorizationStatus,
    Customer,
    CustomerStatus,
    Notification,
    PurchaseAuthorization,
    Reseller,
)

TARGET = 1.5
SETTLED_ON = TODAY + timedelta(days=400)  # every generated deadline lies before this day


def job_app(args, customers: int):
    """An app on the job's own copy of a generated database of `customers`."""
    if args.db == "sqlite":
        bench_app(args, customers)  # makes sure the source exists
        source = DATA / f"sqlite-{customers}.db"
        target = DATA / f"sqlite-job-{customers}.db"
        if not target.exists():  # the backup API copies the WAL's pages too
            with sqlite3.connect(source) as original, sqlite3.connect(target) as copy:
                original.backup(copy)
        config = _config(args, customers)
        config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{target}"
        return create_app(config)
    return bench_app(args, customers, schema=f"bench_job_{customers}")


def settle(app) -> None:
    """Moves the generated data past all its deadlines, in bulk: pending authorizations are
    closed and every customer with an anniversary is inactive, as a year of daily ticks
    would leave them. Nothing of it is due on the measured days, only what each day adds."""
    with app.app_context():
        db.session.execute(
            update(PurchaseAuthorization)
            .where(PurchaseAuthorization.status == AuthorizationStatus.PENDING)
            .values(status=AuthorizationStatus.CANCELLED)
        )
        db.session.execute(
            update(Customer)
            .where(
                Customer.anniversary_date.is_not(None),
                Customer.anniversary_date < SETTLED_ON - timedelta(days=30),
            )
            .values(status=CustomerStatus.INACTIVE, status_before_delay=None)
        )
        db.session.execute(
            update(Customer)
            .where(Customer.status == CustomerStatus.DELAYED)
            .values(status=CustomerStatus.INVITED, status_before_delay=None)
        )
        db.session.commit()


def add_due_customers(app, day, count: int) -> None:
    """`count` active customers whose renewal_due reminder falls due on `day`."""
    with app.app_context():
        reseller_id = db.session.scalar(select(Reseller.id).order_by(Reseller.id).limit(1))
        start = db.session.scalar(select(func.max(Customer.id))) + 1
        now = datetime.now(UTC)
        rows = [
            {
                "id": start + n,
                "reseller_id": reseller_id,
                "company_name": f"Due {day.isoformat()} {n}",
                "country": "SE",
                "market_segment": "commercial",
                "admin_name": "Due Admin",
                "admin_email": f"due{start + n}@due.example",
                "admin_language": "sv",
                "vip_id": f"{8_000_000_000 + start + n}",
                "status": CustomerStatus.ACTIVE.value,
                "anniversary_date": day + timedelta(days=30),
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ]
        db.session.execute(insert(Customer), rows)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(
                select(
                    func.setval(
                        func.pg_get_serial_sequence("customers", "id"),
                        select(func.max(Customer.id)).scalar_subquery(),
                    )
                )
            )
        db.session.commit()


def tick_seconds(app, day) -> tuple[float, int]:
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Notification))
    started = time.perf_counter()
    result = app.test_cli_runner().invoke(
        args=["vip", "tick", "--today", day.isoformat(), "--no-send"]
    )
    seconds = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    with app.app_context():
        queued = db.session.scalar(select(func.count()).select_from(Notification)) - before
    return seconds, queued


def main() -> None:
    args = arguments(
        __doc__,
        small=(int, 10_000, "customers"),
        large=(int, 100_000, "customers"),
        due=(int, 500, "due items per measured tick"),
        runs=(int, 5, "measured ticks per size"),
    )
    apps = {size: job_app(args, size) for size in (args.small, args.large)}
    for app in apps.values():
        settle(app)
    # Where earlier runs stopped: each run uses days not used before.
    with apps[args.small].app_context():
        used = db.session.scalar(
            select(func.max(Customer.anniversary_date)).where(Customer.company_name.like("Due %"))
        )
    first_day = max(SETTLED_ON, (used - timedelta(days=29)) if used else SETTLED_ON)
    times: dict[int, list[float]] = {size: [] for size in apps}
    idle: list[float] = []
    for run in range(args.runs):
        day = first_day + timedelta(days=2 * run)
        for size, app in apps.items():  # interleaved, so machine noise hits both sizes
            add_due_customers(app, day, args.due)
            seconds, queued = tick_seconds(app, day)
            assert queued == args.due, (size, queued)
            times[size].append(seconds)
        seconds, queued = tick_seconds(apps[args.large], day + timedelta(days=1))
        assert queued == 0
        idle.append(seconds)
    small, large = statistics.median(times[args.small]), statistics.median(times[args.large])
    ratio = large / small
    rows = [
        [
            f"{args.due} due items",
            f"{small:.2f}",
            f"{large:.2f}",
            f"{ratio:.2f}x",
            "ok" if ratio <= TARGET else "OVER",
        ],
        [
            "nothing due",
            "",
            f"{statistics.median(idle):.2f}",
            "",
            "ok" if statistics.median(idle) < 1 else "OVER (target < 1 s)",
        ],
    ]
    body = table(["tick", f"s at {args.small:,}", f"s at {args.large:,}", "ratio", "target"], rows)
    body += (
        f"\n\nMedian of {args.runs} ticks (`vip tick --today D --no-send`, in-process), the sizes "
        "interleaved; each measured day has exactly the due items added for it.\n"
    )
    print(body)
    write_results("Job scaling", args, Machine.read(args, apps[args.large]), body)


if __name__ == "__main__":
    main()
