"""Page time ratio: server time (median of warm requests, in-process WSGI) of each measured
page at 100,000 customers over the same page at 1,000. Target: at most 1.5x."""

from __future__ import annotations

from harness import (
    VIP_ADMIN,
    Machine,
    arguments,
    bench_app,
    median_ms,
    pages,
    signed_in_client,
    table,
    timed,
    write_results,
)

TARGET = 1.5


def page_times(app, repeat: int) -> dict[str, float]:
    clients = {"admin": signed_in_client(app), "vip_admin": signed_in_client(app, VIP_ADMIN)}
    result = {}
    for name, (who, path) in pages(app).items():
        client = clients[who]

        def request(client=client, path=path):
            response = client.get(path)
            assert response.status_code == 200, path

        timed(request, 3)  # warm
        result[name] = median_ms(timed(request, repeat))
    return result


def main() -> None:
    args = arguments(
        __doc__,
        small=(int, 1_000, "customers"),
        large=(int, 100_000, "customers"),
        repeat=(int, 30, "requests per page and size"),
    )
    small_app = bench_app(args, args.small)
    large_app = bench_app(args, args.large)
    # Interleave the two sizes (small, large, small, large) so machine noise hits both.
    first_small, first_large = (
        page_times(small_app, args.repeat),
        page_times(large_app, args.repeat),
    )
    second_small, second_large = (
        page_times(small_app, args.repeat),
        page_times(large_app, args.repeat),
    )
    rows, worst = [], 0.0
    for name in first_small:
        small = min(first_small[name], second_small[name])
        large = min(first_large[name], second_large[name])
        ratio = large / small
        worst = max(worst, ratio)
        rows.append(
            [
                name,
                f"{small:.1f}",
                f"{large:.1f}",
                f"{ratio:.2f}x",
                "ok" if ratio <= TARGET else "OVER",
            ]
        )
    body = table(
        ["page", f"ms at {args.small:,}", f"ms at {args.large:,}", "ratio", f"≤ {TARGET}x"], rows
    )
    body += (
        f"\n\nMedian of {args.repeat} warm requests per page, in-process (Flask test client, "
        "no network); the lower of two interleaved rounds per size. Worst ratio: "
        f"{worst:.2f}x.\n"
    )
    print(body)
    write_results("Page time ratio", args, Machine.read(args, large_app), body)


if __name__ == "__main__":
    main()
