from __future__ import annotations

from enum import StrEnum

from sqlalchemy import String, false
from sqlalchemy.orm import Mapped, mapped_column

from vip.extensions import db
from vip.models.enums import enum_column


class LicenseType(StrEnum):
    ENTERPRISE = "enterprise"
    TEAM = "team"


class MarketSegment(StrEnum):
    COMMERCIAL = "commercial"
    GOVERNMENT = "government"
    EDUCATION = "education"


class Product(db.Model):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    license_type: Mapped[LicenseType] = mapped_column(enum_column(LicenseType))
    market_segment: Mapped[MarketSegment] = mapped_column(enum_column(MarketSegment))
    education_device: Mapped[bool] = mapped_column(default=False)
    # Consumables (such as Stock credit packs) never count towards a discount level.
    consumable: Mapped[bool] = mapped_column(default=False, server_default=false())
    renewal_sku: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
