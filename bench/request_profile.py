"""Function calls per request: an in-process cProfile of the pages the throughput target
measures (details, customers list, renewals overview) and of a dashboard section's refresh,
changed and unchanged. Call counts do not depend on the machine's load, unlike times."""

from __future__ import annotations

import cProfile
import pstats

from harness import Machine, arguments, bench_app, pages, signed_in_client, table, write_results

#: What each column counts: (file suffix, function name or None for every function there).
COUNTED = {
    "werkzeug.local (proxies)": ("werkzeug/local.py", None),
    "get_translations": ("flask_babel/__init__.py", "get_translations"),
    "user loads": ("vip/web/auth.py", "load_user"),
}


def profile(client, path: str, repeat: int, headers=None) -> dict[str, int]:
    assert client.get(path, headers=headers).status_code in (200, 204), path  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(repeat):
        client.get(path, headers=headers).get_data()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    counts = {"function calls": sum(value[1] for value in stats.values()) // repeat}
    for column, (suffix, name) in COUNTED.items():
        counts[column] = (
            sum(
                value[1]
                for (file, _line, function), value in stats.items()
                if file.endswith(suffix) and name in (None, function)
            )
            // repeat
        )
    return counts


def main() -> None:
    args = arguments(
        __doc__, customers=(int, 1_000, "customers"), repeat=(int, 50, "requests per page")
    )
    app = bench_app(args, args.customers)
    client = signed_in_client(app)
    measured = {name: pages(app)[name][1] for name in ("details: info", "customers list")}
    measured["renewals overview"] = "/renewals"
    rows = []
    for name, path in measured.items():
        rows.append([name, *profile(client, path, args.repeat).values()])
    section = "/dashboard/sections/order_due"
    htmx = {"HX-Request": "true", "X-VIP-Background": "1"}
    shown = client.get(section, headers=htmx).get_data(as_text=True)
    tag = shown.split('"X-VIP-Shown": "', 1)[1].split('"', 1)[0] if "X-VIP-Shown" in shown else ""
    rows.append(
        ["dashboard section, changed", *profile(client, section, args.repeat, htmx).values()]
    )
    unchanged = {**htmx, "X-VIP-Shown": tag}
    rows.append(
        [
            "dashboard section, unchanged (204)",
            *profile(client, section, args.repeat, unchanged).values(),
        ]
    )
    body = table(["request", "function calls", *COUNTED], rows)
    body += (
        f"\n\nPer request, {args.repeat} warm requests each, in-process (Flask test client), "
        f"{args.customers:,} customers; cProfile call counts, independent of the machine's load."
    )
    print(body)
    write_results("Function calls per request", args, Machine.read(args, app), body)


if __name__ == "__main__":
    main()
