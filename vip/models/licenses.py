from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vip.extensions import db
from vip.models.catalog import Product
from vip.models.customers import Customer
from vip.models.tenancy import User
from vip.models.types import UTCDateTime, utcnow


class LicenseAssignment(db.Model):
    """A license of one product given to one user by the VIP admin."""

    __tablename__ = "license_assignments"
    __table_args__ = (UniqueConstraint("customer_id", "product_id", "user_email"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    user_email: Mapped[str] = mapped_column(String(254))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    product: Mapped[Product] = relationship()
    assigned_by: Mapped[User | None] = relationship()
