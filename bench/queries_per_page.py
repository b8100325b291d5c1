"""Queries per page: SQL statements per request of each measured page, at 1,000 and at
100,000 customers. They must be equal (README, "Performance")."""

from __future__ import annotations

from harness import (
    VIP_ADMIN,
    Machine,
    arguments,
    bench_app,
    pages,
    signed_in_client,
    statement_counter,
    table,
    write_results,
)


def count_queries(app) -> dict[str, int]:
    clients = {"admin": signed_in_client(app), "vip_admin": signed_in_client(app, VIP_ADMIN)}
    counts = {}
    for name, (who, path) in pages(app).items():
        client = clients[who]
        assert client.get(path).status_code == 200, path  # warm
        with statement_counter(app) as counted:
            response = client.get(path)
        assert response.status_code == 200, path
        counts[name] = counted["n"]
    return counts


def main() -> None:
    args = arguments(__doc__, small=(int, 1_000, "customers"), large=(int, 100_000, "customers"))
    small_app = bench_app(args, args.small)
    large_app = bench_app(args, args.large)
    small, large = count_queries(small_app), count_queries(large_app)
    rows = [
        [name, small[name], large[name], "yes" if small[name] == large[name] else "NO"]
        for name in small
    ]
    body = table(["page", f"{args.small:,} customers", f"{args.large:,} customers", "equal"], rows)
    print(body)
    write_results("Queries per page", args, Machine.read(args, large_app), body)
    if any(row[-1] == "NO" for row in rows):
        raise SystemExit("query counts differ between sizes")


if __name__ == "__main__":
    main()
