"""CSV export memory: peak Python memory (tracemalloc) while exporting the renewals overview
at 1,000 and at 100,000 customers. The export is streamed, so the peak must stay within a
small constant of the small export's, however many rows the large one has."""

from __future__ import annotations

import time
import tracemalloc

from harness import Machine, arguments, bench_app, signed_in_client, table, write_results

LIMIT_MB = 5.0  # the large export may use at most this much more than the small one


def export(app) -> tuple[int, int, float, float]:
    """(rows, bytes, peak MB, seconds) of one export, read chunk by chunk like a browser."""
    client = signed_in_client(app)
    client.get("/renewals/export.csv").close()  # warm: templates, catalog, connections
    tracemalloc.start()
    started = time.perf_counter()
    response = client.get("/renewals/export.csv", buffered=False)
    assert response.is_streamed
    size = lines = 0
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        size += len(data)
        lines += data.count(b"\r\n")
    response.close()
    seconds = time.perf_counter() - started
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines - 1, size, peak / 2**20, seconds


def main() -> None:
    args = arguments(__doc__, small=(int, 1_000, "customers"), large=(int, 100_000, "customers"))
    results = {size: export(bench_app(args, size)) for size in (args.small, args.large)}
    small, large = results[args.small], results[args.large]
    rows = [
        [f"{size:,}", f"{r[0]:,}", f"{r[1] / 2**20:.1f}", f"{r[2]:.2f}", f"{r[3]:.1f}"]
        for size, r in results.items()
    ]
    body = table(["customers", "CSV rows", "CSV MB", "peak MB (tracemalloc)", "seconds"], rows)
    growth = large[2] - small[2]
    body += (
        f"\n\nPeak memory grows by {growth:.2f} MB for {large[0] / max(small[0], 1):.0f}x the "
        f"rows ({'ok' if growth <= LIMIT_MB else 'OVER'}: at most {LIMIT_MB} MB): the rows are "
        "written in chunks of 500 from a query read in batches (`yield_per`).\n"
    )
    print(body)
    write_results("CSV export memory", args, Machine.read(args), body)


if __name__ == "__main__":
    main()
