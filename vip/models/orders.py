from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.authorizations import PurchaseAuthorization
from vip.models.catalog import Product
from vip.models.customers import Customer
from vip.models.enums import enum_column
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow


class OrderType(StrEnum):
    NEW = "new"
    ADD_ON = "add_on"
    RENEWAL = "renewal"
    IMPORTED = "imported"  # the licenses a customer held when its reseller imported it


class OrderStatus(StrEnum):
    PLACED = "placed"
    RETURNED = "returned"


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_date", "customer_id", "order_date"),
        Index("ix_orders_customer_term", "customer_id", "term_ends_on"),
        # Return windows closing soon (the dashboard): placed orders by order date.
        Index("ix_orders_status_date", "status", "order_date", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    vendor_order_number: Mapped[str] = mapped_column(String(20))
    order_type: Mapped[OrderType] = mapped_column(enum_column(OrderType))
    authorization_id: Mapped[int | None] = mapped_column(
        ForeignKey("purchase_authorizations.id"), unique=True
    )
    order_date: Mapped[date]
    duration_months: Mapped[int]
    # The anniversary the order's licenses run to: the licenses of the current term are the
    # lines of the orders whose term ends on the customer's anniversary date.
    term_ends_on: Mapped[date]
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus))
    # The customer's PO number of an imported order (others carry it on the authorization).
    customer_po_number: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    authorization: Mapped[PurchaseAuthorization | None] = relationship()
    created_by: Mapped[User | None] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(back_populates="order", order_by="OrderLine.id")

    @property
    def has_return_window(self) -> bool:
        """Returns apply to orders placed in this console; an imported opening order has no
        return window (its licenses were bought before the customer came here)."""
        return self.order_type != OrderType.IMPORTED

    @property
    def last_day_of_term(self) -> date:
        """Licenses run to the day before the anniversary they end on."""
        return self.term_ends_on - timedelta(days=1)


# A vendor order number is recorded once, whatever its letter case.
Index("uq_orders_vendor_number_upper", func.upper(Order.vendor_order_number), unique=True)


class OrderLine(db.Model):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    # The SKU ordered: the product's own for new and add-on orders, its renewal SKU for a
    # renewal. Kept as ordered, whatever the catalog says later.
    sku: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int]
    returned_quantity: Mapped[int] = mapped_column(default=0)
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus))

    order: Mapped[Order] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()


class ReturnAuthorization(db.Model):
    __tablename__ = "return_authorizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[ReturnStatus] = mapped_column(enum_column(ReturnStatus))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decision_comment: Mapped[str | None] = mapped_column(Text)

    order: Mapped[Order] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    lines: Mapped[list[ReturnAuthorizationLine]] = relationship(
        back_populates="return_authorization", order_by="ReturnAuthorizationLine.id"
    )


class ReturnAuthorizationLine(db.Model):
    __tablename__ = "return_authorization_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_authorization_id: Mapped[int] = mapped_column(
        ForeignKey("return_authorizations.id"), index=True
    )
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    quantity: Mapped[int]

    return_authorization: Mapped[ReturnAuthorization] = relationship(back_populates="lines")
    order_line: Mapped[OrderLine] = relationship()
