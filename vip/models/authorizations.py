from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, and_
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.catalog import LicenseType, Product
from vip.models.customers import Customer
from vip.models.enums import enum_column
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow


class AuthorizationStatus(StrEnum):
    PENDING = "pending"
    ORDERED = "ordered"
    CANCELLED = "cancelled"


class PurchaseAuthorization(db.Model):
    __tablename__ = "purchase_authorizations"
    __table_args__ = (
        Index("ix_pa_customer_created", "customer_id", "created_at"),
        # The job's and the dashboard's date ranges, first rows in (date, id) order; with
        # the customer, the job's overdue authorizations are read from the index alone.
        Index("ix_pa_status_due", "status", "order_due_on", "id", "customer_id"),
        # The customers list's pending/overdue counts per customer of a page.
        Index("ix_pa_customer_status_due", "customer_id", "status", "order_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(9), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    license_type: Mapped[LicenseType] = mapped_column(enum_column(LicenseType))
    deployment_date: Mapped[date]
    customer_po_number: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[AuthorizationStatus] = mapped_column(enum_column(AuthorizationStatus))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_on: Mapped[date]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    order_due_on: Mapped[date]
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    cancelled_by: Mapped[User | None] = relationship(foreign_keys=[cancelled_by_id])
    lines: Mapped[list[PurchaseAuthorizationLine]] = relationship(
        back_populates="authorization", order_by="PurchaseAuthorizationLine.id"
    )

    @hybrid_method
    def is_overdue(self, today: date) -> bool:
        """R4, its one definition: still pending after its order-due date (from day 15),
        in Python and, as `PurchaseAuthorization.is_overdue(today)`, in SQL."""
        return self.status == AuthorizationStatus.PENDING and self.order_due_on < today

    @is_overdue.expression
    def is_overdue(cls, today: date):  # noqa: N805 - SQLAlchemy hands the class
        return and_(cls.status == AuthorizationStatus.PENDING, cls.order_due_on < today)


class PurchaseAuthorizationLine(db.Model):
    __tablename__ = "purchase_authorization_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_authorizations.id"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity: Mapped[int]

    authorization: Mapped[PurchaseAuthorization] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()
