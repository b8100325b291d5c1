"""The renewal pipeline's summary (vip/services/pipeline_summary.py): what each customer
adds to the pipeline, and the sums per reseller and day that the chart reads, so that it
reads a bounded number of rows whatever the size of the portfolio.

An entry is an anniversary date a customer counts on, of one of two kinds:
- `open`: the customer's current anniversary, with its current-term licenses;
- `renewed`: a new anniversary a renewal moved the customer to (the renewal order's
  `term_ends_on`), with that term's licenses.
Both net of returns. Neither depends on today: the chart decides the status.

The same tables count the calendar feed's deadlines per customer and day
(vip/services/calendar_feed.py), `licenses` then holding the number of rows:
- `order_due`: pending purchase authorizations, by order-due date;
- `placed`: placed orders with a return window, by order date (the window closes
  `orders.return_window_closes_after` it);
- `3yc_ends`: running three-year commitments, by end date.
The anniversaries' deadlines are the `open` entries' customers."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vip.extensions import db

OPEN = "open"
RENEWED = "renewed"
ORDER_DUE = "order_due"
PLACED = "placed"
COMMITMENT_ENDS = "3yc_ends"
#: The kinds that count deadlines (`licenses`: how many of the customer's rows).
DEADLINE_KINDS = (ORDER_DUE, PLACED, COMMITMENT_ENDS)


class PipelineEntry(db.Model):
    """What one customer adds to the pipeline on one day. No foreign key to customers:
    the entries of a customer deleted in a transaction are taken back in that transaction,
    after its delete."""

    __tablename__ = "pipeline_entries"

    customer_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    reseller_id: Mapped[int]
    licenses: Mapped[int]


class PipelineDay(db.Model):
    """The sum of the entries of a reseller, kind and day: customers and licenses (or, for
    the DEADLINE_KINDS, deadlines)."""

    __tablename__ = "pipeline_days"

    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    customers: Mapped[int]
    licenses: Mapped[int]
