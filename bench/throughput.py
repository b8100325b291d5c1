"""Throughput and latency under gunicorn (the README's production server): the Customer
details page, the customers list and the renewals overview, each against a bare Flask +
Jinja render of the same rows (bench/bare_app.py: Core statements and one template, no
session, login, CSRF, Babel or security hooks) under the same gunicorn settings. Target:
each page at least 1.0 of its bare render, and p95 at most 50 ms with 16 connections.
A fixed string (`/healthz`, through the same request hooks) is printed as information,
and the dashboard section's refresh unchanged (204) against changed (rendered).

The load generator is wrk (Debian's `wrk` package) on loopback, with bench/wrk_report.lua
for the latency percentiles."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
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

TARGET = 1.0  # each page against the bare render of its rows
P95_TARGET = 50.0  # ms, with 16 connections
REFRESHED = "order_due"  # the dashboard section whose refresh is measured
REPORT = Path(__file__).with_name("wrk_report.lua")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(
    args,
    customers: int,
    port: int,
    workers: int,
    target: str = "app:app",
    chdir: Path = ROOT,
    extra: dict | None = None,
) -> subprocess.Popen:
    config = _config(args, customers)
    env = {
        **os.environ,
        **(extra or {}),
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


@dataclass(frozen=True)
class Load:
    """One wrk run: requests per second and latency percentiles (ms)."""

    rps: float
    p50: float
    p95: float
    p99: float


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int) -> Load:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(REPORT)]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    report = dict(re.findall(r"^(P\d+|BAD) (\d+)$", output, re.M))
    assert report["BAD"] == "0", output  # every answer 2xx (or the refresh's 204)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    return Load(rps, *(int(report[f"P{p}"]) / 1000 for p in (50, 95, 99)))


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def shown_tag(port: int, cookie: str, section: str) -> str:
    """The version the dashboard shows of `section` (its refresh sends it back)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", "/", headers={"Cookie": cookie})
    page = connection.getresponse().read().decode()
    found = re.search(rf'id="section-{section}"[^>]*?"X-VIP-Shown": "([0-9a-f]+)"', page, re.S)
    return found[1]


def main() -> None:
    args = arguments(
        __doc__,
        customers=(int, 100_000, "customers in the database served"),
        seconds=(int, 8, "seconds per measurement"),
        rounds=(int, 3, "interleaved rounds; the median is reported"),
        workers=(int, 2, "gunicorn sync workers"),
        connections=(int, 16, "concurrent connections"),
    )
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (Debian: apt-get install wrk)")
    app = bench_app(args, args.customers)
    customer_id = sample_customer_id(app)
    port, bare_port, rendering_port = free_port(), free_port(), free_port()
    server = start_gunicorn(args, args.customers, port, args.workers)
    # the same app keeping no rendered region: what a page costs when its data changed
    rendering_server = start_gunicorn(
        args, args.customers, rendering_port, args.workers, extra={"VIP_CACHE_TYPE": "NullCache"}
    )
    bare_server = start_gunicorn(
        args, args.customers, bare_port, args.workers, "bare_app:app", ROOT / "bench"
    )
    pages = {  # name -> (the app's path, the bare render's path)
        "Customer details": (f"/customers/{customer_id}/info", f"/bare/customers/{customer_id}"),
        "customers list": ("/customers", f"/bare/customers?as={ADMIN}"),
        "renewals overview": ("/renewals", f"/bare/renewals?as={ADMIN}"),
    }
    try:
        cookie = session_cookie(port)
        rendering_cookie = session_cookie(rendering_port)
        tag = shown_tag(port, cookie, REFRESHED)
        section = f"/dashboard/sections/{REFRESHED}"
        refresh = {"Cookie": cookie, "HX-Request": "true", "X-VIP-Background": "1"}
        runs = {  # name -> (port, path, headers)
            "/healthz (fixed string)": (port, "/healthz", {}),
            **{
                f"{name}: app": (port, app_path, {"Cookie": cookie})
                for name, (app_path, _) in pages.items()
            },
            **{
                f"{name}: bare": (bare_port, bare_path, {})
                for name, (_, bare_path) in pages.items()
            },
            **{
                f"{name}: app, rendered every time": (
                    rendering_port,
                    app_path,
                    {"Cookie": rendering_cookie},
                )
                for name, (app_path, _) in pages.items()
            },
            "dashboard refresh, unchanged (204)": (port, section, {**refresh, "X-VIP-Shown": tag}),
            "dashboard refresh, changed (rendered)": (port, section, refresh),
        }

        def measure(name: str, seconds: int) -> Load:
            at, path, headers = runs[name]
            return wrk(f"http://127.0.0.1:{at}{path}", headers, seconds, args.connections)

        for name in runs:  # warm every worker
            measure(name, 2)
        loads: dict[str, list[Load]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name in runs:
                loads[name].append(measure(name, args.seconds))
    finally:
        for process in (server, bare_server, rendering_server):
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
    rps = {name: median([load.rps for load in found]) for name, found in loads.items()}
    rows = [
        [
            name,
            f"{rps[name]:,.0f}",
            ", ".join(f"{load.rps:,.0f}" for load in found),
            f"{median([load.p50 for load in found]):.1f}",
            f"{median([load.p95 for load in found]):.1f}",
        ]
        for name, found in loads.items()
    ]
    body = table(["route", "requests/s (median)", "rounds", "p50 ms", "p95 ms"], rows)
    ratios = []
    for name in pages:
        ratio = rps[f"{name}: app"] / rps[f"{name}: bare"]
        rendered = rps[f"{name}: app, rendered every time"] / rps[f"{name}: bare"]
        p95 = median([load.p95 for load in loads[f"{name}: app"]])
        ratios.append(
            f"| {name} | {ratio:.2f} | {'ok' if ratio >= TARGET else 'NOT MET'} "
            f"| {rendered:.2f} "
            f"| {rps[f'{name}: app'] / rps['/healthz (fixed string)']:.2f} "
            f"| {p95:.1f} | {'ok' if p95 <= P95_TARGET else 'NOT MET'} |"
        )
    body += (
        "\n\n| page | app / bare render | ≥ 1.0 | rendered every time / bare (information) "
        "| app / fixed string (information) | p95 ms | ≤ 50 ms |\n"
        "|---|---|---|---|---|---|---|\n" + "\n".join(ratios) + "\n"
    )
    unchanged = rps["dashboard refresh, unchanged (204)"]
    changed = rps["dashboard refresh, changed (rendered)"]
    body += (
        f"\nDashboard refresh ({section}): unchanged {unchanged:,.0f} requests/s, changed "
        f"{changed:,.0f} requests/s ({unchanged / changed:.1f}x).\n"
        f"\ngunicorn {args.workers} sync workers for the app and {args.workers} for the bare "
        f"render, wrk (2 threads, {args.connections} connections, {args.seconds} s per "
        f"measurement, medians of {args.rounds} interleaved rounds), {args.customers:,} "
        "customers, loopback, the load generator on the same 2 cores. Latency is wrk's, "
        "closed loop: each of the 16 connections sends its next request when the answer "
        "arrives, so it includes the wait for a free worker. The app serves a page's "
        "results from its cached regions while the reseller's data is unchanged (README, "
        '"Performance"), as a repeated request finds them; "rendered every time" is the '
        "same app with VIP_CACHE_TYPE=NullCache, what a request costs right after a change.\n"
    )
    print(body)
    write_results("Throughput under gunicorn", args, Machine.read(args, app), body)


if __name__ == "__main__":
    main()
