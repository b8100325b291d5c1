"""Page time ratio: server time (median of warm requests, in-process WSGI) of each measured
page at 100,000 customers over the same page at 1,000. Target: at most 1.5x.

Besides the pages of `harness.pages`: the customers search for words found in 5 to 30 % of
the generated names (chosen from the large database's names, the share printed at both
sizes: three spread over the name order, and the first and the last in it of the words
that start the names they are in, which sit together), and the calendar feed of the
partner admin, fetched in full and fetched again with its ETag (304); the full
document's size is printed."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime

from harness import (
    ADMIN,
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
from sqlalchemy import select

TARGET = 1.5


def common_words(app, low: float = 0.05, high: float = 0.30, count: int = 3) -> list[str]:
    """Words of the customers' names found in `low` to `high` of them: the least, the
    middle and the most common of those."""
    from vip.extensions import db
    from vip.models import Customer

    with app.app_context():
        names = db.session.scalars(select(Customer.company_name)).all()
        db.session.remove()
    found = Counter(
        word for name in names for word in set(re.findall(r"[^\W\d_]{3,}", name.casefold()))
    )
    chosen = sorted(
        (share, word) for word, seen in found.items() if low <= (share := seen / len(names)) <= high
    )
    if len(chosen) <= count:
        return [word for _share, word in chosen]
    picks = [0, len(chosen) // 2, len(chosen) - 1][:count]
    return [chosen[index][1] for index in picks]


def clustered_words(app, low: float = 0.05, high: float = 0.30) -> list[str]:
    """Beginnings of names (three letters) found at the start of `low` to `high` of them:
    words whose matches sit together in the name order, the first and the last of them in
    that order (the last is the worst case for a walk of the name index)."""
    from vip.extensions import db
    from vip.models import Customer

    with app.app_context():
        names = db.session.scalars(select(Customer.company_name)).all()
        db.session.remove()
    found = Counter(name.casefold()[:3] for name in names if name[:3].isalpha())
    chosen = sorted(
        (min(names_with(start, names)), start)
        for start, seen in found.items()
        if low <= seen / len(names) <= high
    )
    return [chosen[0][1], chosen[-1][1]] if len(chosen) > 1 else [s for _n, s in chosen]


def names_with(start: str, names: list[str]) -> list[str]:
    return [name for name in names if name.casefold().startswith(start)]


def word_share(app, word: str) -> float:
    from vip.extensions import db
    from vip.models import Customer

    with app.app_context():
        names = db.session.scalars(select(Customer.company_name)).all()
        db.session.remove()
    return sum(word in name.casefold() for name in names) / len(names)


def calendar_token(app) -> str:
    """A new calendar link of the partner admin (the previous one revoked)."""
    from vip.extensions import db
    from vip.models import User
    from vip.services.calendar_feed import create_feed

    with app.app_context(), app.test_request_context():
        user = db.session.scalar(select(User).where(User.email == ADMIN))
        token = create_feed(user=user, now=datetime.now(UTC))
        db.session.remove()
    return token


def page_times(app, repeat: int, words: list[str]) -> tuple[dict[str, float], dict[str, int]]:
    """Page name -> median ms, and the calendar feed's size in bytes."""
    clients = {"admin": signed_in_client(app), "vip_admin": signed_in_client(app, VIP_ADMIN)}
    requests = {name: (clients[who], path, {}, 200) for name, (who, path) in pages(app).items()}
    for word in words:
        requests[f"customers search, common word {word!r}"] = (
            clients["admin"],
            f"/customers?q={word}",
            {},
            200,
        )
    feed = f"/calendar/{calendar_token(app)}.ics"
    anonymous = app.test_client()
    first = anonymous.get(feed)
    requests["calendar feed, full document"] = (anonymous, feed, {}, 200)
    requests["calendar feed, unchanged (If-None-Match: 304)"] = (
        anonymous,
        feed,
        {"If-None-Match": first.headers["ETag"]},
        304,
    )
    result = {}
    for name, (client, path, headers, status) in requests.items():

        def request(client=client, path=path, headers=headers, status=status):
            response = client.get(path, headers=headers)
            response.get_data()
            assert response.status_code == status, (path, response.status_code)

        timed(request, 2 if "full document" in name else 3)  # warm
        times = timed(request, max(3, repeat // 6) if "full document" in name else repeat)
        result[name] = median_ms(times)
    return result, {
        "feed bytes": len(first.get_data()),
        "feed events": first.get_data().count(b"BEGIN:VEVENT"),
    }


def main() -> None:
    args = arguments(
        __doc__,
        small=(int, 1_000, "customers"),
        large=(int, 100_000, "customers"),
        repeat=(int, 30, "requests per page and size"),
    )
    small_app = bench_app(args, args.small)
    large_app = bench_app(args, args.large)
    words = common_words(large_app)
    words += [word for word in clustered_words(large_app) if word not in words]
    shares = {word: (word_share(small_app, word), word_share(large_app, word)) for word in words}
    # Interleave the two sizes (small, large, small, large) so machine noise hits both.
    (first_small, small_feed), (first_large, large_feed) = (
        page_times(small_app, args.repeat, words),
        page_times(large_app, args.repeat, words),
    )
    (second_small, _), (second_large, _) = (
        page_times(small_app, args.repeat, words),
        page_times(large_app, args.repeat, words),
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
        f"\n\nMedian of {args.repeat} warm requests per page ({max(3, args.repeat // 6)} of the "
        "full calendar feed), in-process (Flask test client, no network), every page rendered "
        "(its cached regions off); the lower of two "
        f"interleaved rounds per size. Worst ratio: {worst:.2f}x.\n"
        "\nCommon words, share of the names that contain them at "
        f"{args.small:,} / {args.large:,} customers: "
        + ", ".join(f"{word!r} {a:.1%} / {b:.1%}" for word, (a, b) in shares.items())
        + ".\n"
        f"\nCalendar feed of the partner admin: {small_feed['feed events']:,} events, "
        f"{small_feed['feed bytes'] / 1e6:.2f} MB at {args.small:,} customers; "
        f"{large_feed['feed events']:,} events, {large_feed['feed bytes'] / 1e6:.1f} MB at "
        f"{args.large:,} (the deadlines from 30 days back to 400 days ahead).\n"
    )
    print(body)
    write_results("Page time ratio", args, Machine.read(args, large_app), body)


if __name__ == "__main__":
    main()
