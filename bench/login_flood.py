"""A flood of failed sign-ins and another tenant's writes (docs/security.md S41, issue 15
row 2), on SQLite under gunicorn.

For each tree of the code (`--before DIR`, e.g. a checkout of the commit before the fix,
and this one), in a temporary folder: an SQLite database with two resellers (production's
scrypt cost), gunicorn with 4 workers, throttling off (S47 would refuse most of the flood
from one address, which is not what this measures). Then, for `--seconds`, `--clients`
threads send failed sign-ins as fast as the server answers (half for a known email, half
for an unknown one) while the main thread times a cheap write of the other reseller (one
`UPDATE` in its own `BEGIN IMMEDIATE` transaction, as the app writes) every 0.2 s; and the
same writes for a few seconds with no flood, as the baseline.

    .venv/bin/python bench/login_flood.py --before /path/to/old/checkout
"""

from __future__ import annotations

import http.client
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from harness import ROOT, Machine, arguments, table, write_results
from throughput import free_port

PASSWORD = "flood-bench-password-2026"
KNOWN = "admin@flood-a.example"


SETUP = textwrap.dedent(
    """
    import sys
    from vip import create_app
    from vip.extensions import db
    from vip.models import Reseller, Role
    from vip.services.accounts import create_user

    app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "SECRET_KEY": "flood"},
                     instance_path=sys.argv[2])
    with app.test_request_context():
        db.create_all()
        for name, email in (("Flood A AB", sys.argv[3]), ("Flood B AB", "admin@flood-b.example")):
            reseller = Reseller(name=name, country="SE", time_zone="Europe/Stockholm")
            db.session.add(reseller)
            db.session.commit()
            create_user(email=email, name=name + " Admin", password=sys.argv[4],
                        role=Role.RESELLER_ADMIN, reseller=reseller)
    """
)

WSGI = textwrap.dedent(
    """
    from vip import create_app

    app = create_app(instance_path={instance!r})
    """
)


def start(code: Path, folder: Path, port: int) -> tuple[subprocess.Popen, Path]:
    database = folder / "flood.db"
    instance = folder / "instance"
    instance.mkdir()
    (instance / "config.py").write_text("RATELIMIT_ENABLED = False\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": f"{folder}:{code}",
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "flood-bench-secret-key",
        "SESSION_COOKIE_SECURE": "0",
    }
    subprocess.run(
        [sys.executable, "-c", SETUP, env["DATABASE_URL"], str(instance), KNOWN, PASSWORD],
        env=env,
        cwd=folder,
        check=True,
    )
    (folder / "flood_wsgi.py").write_text(WSGI.format(instance=str(instance)))
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--no-control-socket",
            "--workers",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "flood_wsgi:app",
        ],
        cwd=folder,
        env=env,
        start_new_session=True,
    )
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/login")
            connection.getresponse().read()
            return server, database
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("gunicorn did not start")


def failed_logins(port: int, email: str, stop: float, counted: list[int]) -> None:
    """Failed sign-ins until `stop`; each answer's status is appended to `counted` (400,
    or 500 when the server gave up waiting for the database)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)[1]
    body = f"csrf_token={token}&email={email}&password=not-the-password-at-all".encode()
    while time.perf_counter() < stop:
        connection.request(
            "POST",
            "/login",
            body=body,
            headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
        )
        answer = connection.getresponse()
        answer.read()
        counted.append(answer.status)


def timed_writes(database: Path, seconds: float) -> list[float]:
    connection = sqlite3.connect(database, timeout=30, isolation_level=None)
    times = []
    stop = time.perf_counter() + seconds
    number = 0
    while time.perf_counter() < stop:
        number += 1
        started = time.perf_counter()
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE resellers SET contact_phone = ? WHERE name = 'Flood B AB'", (str(number),)
        )
        connection.execute("COMMIT")
        times.append(time.perf_counter() - started)
        time.sleep(0.2)
    connection.close()
    return times


def measure(code: Path, seconds: int, clients: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="vip-flood-") as temp:
        port = free_port()
        server, database = start(code, Path(temp), port)
        try:
            baseline = timed_writes(database, 5)
            counted: list[int] = []
            stop = time.perf_counter() + seconds
            threads = [
                threading.Thread(
                    target=failed_logins,
                    args=(port, KNOWN if n % 2 == 0 else f"nobody{n}@flood.example", stop, counted),
                )
                for n in range(clients)
            ]
            for thread in threads:
                thread.start()
            time.sleep(1)  # the flood is under way
            flooded = timed_writes(database, seconds - 2)
            for thread in threads:
                thread.join()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return {
        "baseline": baseline,
        "flooded": flooded,
        "logins_per_second": len(counted) / seconds,
        "errors": sum(1 for status in counted if status >= 500),
    }


def row(label: str, result: dict) -> list:
    ms = [t * 1000 for t in result["flooded"]]
    base = [t * 1000 for t in result["baseline"]]
    return [
        label,
        f"{result['logins_per_second']:.1f}",
        f"{statistics.median(base):.1f}",
        f"{statistics.median(ms):.1f}",
        f"{sorted(ms)[int(len(ms) * 0.95) - 1]:.1f}",
        f"{max(ms):.1f}",
        len(ms),
        result["errors"],
    ]


def main() -> None:
    args = arguments(
        __doc__.splitlines()[0],
        before=(str, "", "a checkout of the code before the fix, measured first"),
        seconds=(int, 20, "seconds of flood"),
        clients=(int, 12, "flooding clients"),
    )
    rows = []
    if args.before:
        rows.append(
            row(f"before ({args.before})", measure(Path(args.before), args.seconds, args.clients))
        )
    rows.append(row("this tree", measure(ROOT, args.seconds, args.clients)))
    body = table(
        [
            "code",
            "failed sign-ins/s",
            "write, no flood: median ms",
            "write under flood: median ms",
            "p95 ms",
            "max ms",
            "writes",
            "sign-ins answered 500",
        ],
        rows,
    )
    body += (
        f"\n\n{args.clients} clients sending failed sign-ins for {args.seconds} s to gunicorn "
        "(4 sync workers, production scrypt cost, throttling off); the write is another "
        "reseller's one-row UPDATE in its own BEGIN IMMEDIATE transaction, every 0.2 s. "
        "A 500 is a sign-in that waited longer than the busy timeout (10 s) for the write "
        "lock: 'database is locked'.\n"
    )
    print(body)
    write_results(
        "Failed sign-in flood and another tenant's writes", args, Machine.read(args), body
    )


if __name__ == "__main__":
    main()
