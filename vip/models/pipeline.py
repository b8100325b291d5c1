"""The renewal pipeline's summary (vip/services/pipeline_summary.py): what each customer
adds to the pipeline, and the sums per reseller and day that the chart reads, so that it
reads a bounded number of rows whatever the size of the portfolio.

An entry is an anniversary date a customer counts on, of one of two kinds:
- `open`: the customer's current anniversary, with its current-term licenses;
- `renewed`: a new anniversary a renewal moved the customer to (the renewal order's
  `term_ends_on`), with that term's licenses.
Both net of returns. Neither depends on today: the chart decides the status."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from vip.extensions import db

OPEN = "open"
RENEWED = "renewed"


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
    """The sum of the entries of a reseller, kind and day: customers and licenses."""

    __tablename__ = "pipeline_days"

    reseller_id: Mapped[int] = mapped_column(ForeignKey("resellers.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    customers: Mapped[int]
    licenses: Mapped[int]
