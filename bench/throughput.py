"""Throughput: requests per second of Customer details under gunicorn (the README's
production server), over the same app and server answering `/healthz` (a fixed string from
Flask, through the same request hooks). Target: at least 0.5.

A third figure reads the page against a yardstick: a bare Flask + Jinja render of the same
rows (bench/bare_app.py: three Core statements and one template, no session, login,
CSRF, Babel or security hooks) under the same gunicorn settings.

The load generator is wrk (Debian's `wrk` package) on loopback; without it, a bounded Python
client (threads, one connection per request) drives both routes the same way.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import (
    ADMIN,
    PASSWORD,
    ROOT,
    TODAY,
    Machine,
    _config,
    arguments,
    bench_app,
    sample_customer_id,
    table,
    write_results,
)

TARGET = 0.5
PORT = 5077


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(
    args, customers: int, port: int, workers: int, target: str = "app:app", chdir: Path = ROOT
) -> subprocess.Popen:
    config = _config(args, customers)
    env = {
        **os.environ,
        "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "bench-secret-key-0123456789",
        "VIP_TODAY": TODAY.isoformat(),
        "SESSION_COOKIE_SECURE": "0",
    }
    if args.db == "postgres":
        env["PGOPTIONS"] = f"-csearch_path=bench_{customers}"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--no-control-socket",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ],
        cwd=chdir,
        env=env,
        start_new_session=True,
    )
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("gunicorn did not start")


def session_cookie(port: int) -> str:
    """Signs in through the real login form (with its CSRF token); returns the cookie."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/login")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = response.getheader("Set-Cookie", "").split(";")[0]
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    body = f"csrf_token={token[1]}&email={ADMIN}&password={PASSWORD}".encode()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request(
        "POST",
        "/login",
        body=body,
        headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
    )
    response = connection.getresponse()
    response.read()
    assert response.status == 303, response.status
    return response.getheader("Set-Cookie").split(";")[0]


def wrk_rps(url: str, cookie: str, seconds: int, connections: int) -> float:
    output = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", f"Cookie: {cookie}", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    assert errors is None, output
    return float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])


def python_rps(port: int, path: str, cookie: str, seconds: int, connections: int) -> float:
    done = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker():
        while time.perf_counter() < stop:
            connection = http.client.HTTPConnection("127.0.0.1", port)
            connection.request("GET", path, headers={"Cookie": cookie})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            with lock:
                done[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return done[0] / (time.perf_counter() - started)


def main() -> None:
    args = arguments(
        __doc__,
        customers=(int, 100_000, "customers in the database served"),
        seconds=(int, 10, "seconds per measurement"),
        rounds=(int, 3, "interleaved rounds; the median is reported"),
        workers=(int, os.cpu_count() or 2, "gunicorn workers"),
        connections=(int, 8, "concurrent connections"),
    )
    app = bench_app(args, args.customers)
    customer_id = sample_customer_id(app)
    port, bare_port = free_port(), free_port()
    server = start_gunicorn(args, args.customers, port, args.workers)
    bare_server = start_gunicorn(
        args, args.customers, bare_port, args.workers, "bare_app:app", ROOT / "bench"
    )
    bare_path = f"/bare/customers/{customer_id}"
    try:
        cookie = session_cookie(port)
        details = f"/customers/{customer_id}/info"
        use_wrk = shutil.which("wrk") is not None
        generator = "wrk" if use_wrk else "Python threads"

        def measure(path: str) -> float:
            # The fixed string goes without the session cookie: no user is loaded for it.
            sent = cookie if path == details else "x=1"
            at = bare_port if path == bare_path else port
            if use_wrk:
                return wrk_rps(f"http://127.0.0.1:{at}{path}", sent, args.seconds, args.connections)
            return python_rps(at, path, sent, args.seconds, args.connections)

        measure(details), measure("/healthz"), measure(bare_path)  # warm every worker
        fixed, page, bare = [], [], []
        for _ in range(args.rounds):
            fixed.append(measure("/healthz"))
            page.append(measure(details))
            bare.append(measure(bare_path))
    finally:
        for process in (server, bare_server):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
    fixed_rps, page_rps = sorted(fixed)[len(fixed) // 2], sorted(page)[len(page) // 2]
    bare_rps = sorted(bare)[len(bare) // 2]
    ratio = page_rps / fixed_rps
    body = table(
        ["route", "requests/s (median)", "rounds"],
        [
            ["/healthz (fixed string)", f"{fixed_rps:,.0f}", ", ".join(f"{x:,.0f}" for x in fixed)],
            [
                f"Customer details ({details})",
                f"{page_rps:,.0f}",
                ", ".join(f"{x:,.0f}" for x in page),
            ],
            [
                "bare Flask + Jinja, same rows (bench/bare_app.py)",
                f"{bare_rps:,.0f}",
                ", ".join(f"{x:,.0f}" for x in bare),
            ],
        ],
    )
    body += (
        f"\n\nRatio page / fixed string: **{ratio:.2f}** (target ≥ {TARGET}: "
        f"{'ok' if ratio >= TARGET else 'NOT MET'}). gunicorn {args.workers} sync workers, "
        f"{generator}, {args.connections} connections, {args.seconds} s per measurement, "
        f"{args.customers:,} customers, loopback.\n"
        f"\nYardstick: the bare render reaches {bare_rps / fixed_rps:.2f} of the fixed string; "
        f"the app's page reaches {page_rps / bare_rps:.2f} of the bare render.\n"
    )
    print(body)
    write_results("Throughput under gunicorn", args, Machine.read(args, app), body)


if __name__ == "__main__":
    main()
